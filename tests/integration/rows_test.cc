// pg::Rows, the one way results are read: every field type the code reads,
// NULLs, values at the edges of their type, many rows, and reads outside
// the result, against a real PostgreSQL.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "pg/connection.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

class RowsTest : public ::testing::Test {
 protected:
  pg::Rows Select(const std::string& sql) {
    auto rows = conn_.ExecSql(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? *rows : pg::Rows();
  }

  testing::TestSchema schema_;
  pg::Connection conn_{schema_.dsn(), nullptr, "rows test"};
};

TEST_F(RowsTest, ReadsEachTypeItsCallersUse) {
  pg::Rows r = Select(
      "SELECT 9223372036854775807::bigint, (-9223372036854775807 - 1)::bigint, 0::int, "
      "'Infinity'::float8, '-1.5e300'::float8, 'NaN'::float8, 0.1::float8, true AS yes, false, "
      "'', NULL::text, 'é\"\\n'::text, '{\"a\": [1, 2]}'::jsonb");
  ASSERT_EQ(1u, r.size());
  ASSERT_EQ(13u, r.columns());
  EXPECT_EQ(std::numeric_limits<int64_t>::max(), r.Int(0, 0));
  EXPECT_EQ(std::numeric_limits<int64_t>::min(), r.Int(0, 1));
  EXPECT_EQ(0, r.Int(0, 2));
  EXPECT_TRUE(std::isinf(r.Double(0, 3)) && r.Double(0, 3) > 0);
  EXPECT_EQ(-1.5e300, r.Double(0, 4));
  EXPECT_TRUE(std::isnan(r.Double(0, 5)));
  EXPECT_EQ(0.1, r.Double(0, 6));
  EXPECT_TRUE(r.Bool(0, 7));
  EXPECT_FALSE(r.Bool(0, 8));
  EXPECT_FALSE(r.IsNull(0, 9)) << "an empty string is not NULL";
  EXPECT_EQ("", r.Text(0, 9));
  EXPECT_TRUE(r.IsNull(0, 10));
  EXPECT_EQ("", r.Text(0, 10));
  EXPECT_EQ(0, r.Int(0, 10));
  EXPECT_EQ("é\"\\n", r.Text(0, 11));
  EXPECT_EQ("{\"a\": [1, 2]}", r.Text(0, 12));
  EXPECT_EQ("yes", r.ColumnName(7));
}

TEST_F(RowsTest, ManyRowsKeepTheirOrderAndCopiesShareTheResult) {
  pg::Rows copy;
  {
    pg::Rows r = Select(
        "SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('x', g) END, g % 2 = 0 "
        "FROM generate_series(1, 5000) g");
    copy = r;
  }
  ASSERT_EQ(5000u, copy.size());
  for (size_t i = 0; i < copy.size(); ++i) {
    int64_t g = static_cast<int64_t>(i) + 1;
    ASSERT_EQ(g, copy.Int(i, 0));
    ASSERT_EQ(g % 3 == 0, copy.IsNull(i, 1));
    ASSERT_EQ(g % 3 == 0 ? std::string() : std::string(static_cast<size_t>(g), 'x'),
              copy.Text(i, 1));
    ASSERT_EQ(g % 2 == 0, copy.Bool(i, 2));
  }
}

TEST_F(RowsTest, OutsideTheResultReadsAsNullAndTextThatIsNoNumberThrows) {
  pg::Rows empty = Select("SELECT 1 WHERE false");
  EXPECT_EQ(0u, empty.size());
  EXPECT_TRUE(empty.IsNull(0, 0));
  EXPECT_EQ(0, empty.Int(0, 0));
  EXPECT_EQ(0u, pg::Rows().size());
  EXPECT_TRUE(pg::Rows().IsNull(0, 0));
  pg::Rows r = Select("SELECT 'twelve', 'twelve'");
  EXPECT_TRUE(r.IsNull(0, 2));
  EXPECT_TRUE(r.IsNull(1, 0));
  EXPECT_ANY_THROW(r.Int(0, 0));
  EXPECT_ANY_THROW(r.Double(0, 1));
}

TEST_F(RowsTest, AffectedCountsRowsOfAStatementWithoutResultRows) {
  ASSERT_TRUE(conn_.ExecSql("CREATE TABLE " + schema_.name() + ".t (x int)").ok());
  pg::Rows r = Select("INSERT INTO " + schema_.name() + ".t SELECT generate_series(1, 7)");
  EXPECT_EQ(7u, r.affected());
  EXPECT_EQ(0u, r.size());
  EXPECT_EQ(0u, r.columns());
}

}  // namespace
}  // namespace pgjobs
