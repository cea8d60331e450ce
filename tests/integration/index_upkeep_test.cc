// The hot table's index upkeep: after a backlog drains, the indexes of jobs
// are rebuilt down to the size of what is left; indexes that still serve
// many rows are left alone; leftovers of an interrupted rebuild are dropped.
#include <gtest/gtest.h>

#include <string>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "store/index_upkeep.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::QueryValue;
using testing::TestSchema;

class IndexUpkeepTest : public ::testing::Test {
 protected:
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  int64_t IndexBytes() {
    return std::stoll(Q("SELECT pg_indexes_size('" + S() + ".jobs')"));
  }
  void Backlog(int n) {
    testing::Execute(schema_.dsn(),
                     "INSERT INTO " + S() + ".jobs (task, args, queue, priority) SELECT 't' || "
                     "(g % 5), jsonb_build_object('i', g), 'q', g % 10 FROM generate_series(1, " +
                     std::to_string(n) + ") g");
  }
  Result<store::IndexUpkeep> Shrink(int64_t min_bytes) {
    auto catalog = SqlCatalog::Load(S());
    EXPECT_TRUE(catalog.ok());
    pg::Connection conn(schema_.dsn(), &*catalog, "test");
    return store::ShrinkJobIndexes(conn, min_bytes);
  }

  TestSchema schema_;
};

TEST_F(IndexUpkeepTest, IndexesOfADrainedBacklogAreRebuiltToTheSizeOfWhatIsLeft) {
  int64_t empty = IndexBytes();
  Backlog(200000);
  testing::Execute(schema_.dsn(), "DELETE FROM " + S() + ".jobs WHERE id > 100");
  testing::Execute(schema_.dsn(), "VACUUM ANALYZE " + S() + ".jobs");
  int64_t drained = IndexBytes();
  std::string count_sql =
      "SELECT count(*) FROM pg_index WHERE indrelid = '" + S() + ".jobs'::regclass";
  std::string indexes = Q(count_sql);
  ASSERT_GT(drained, empty + (8 << 20)) << "the backlog left no bloat: the test shows nothing";
  auto done = Shrink(1 << 20);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_GE(done->rebuilt.size(), 2u);  // at least the primary key and the claim index
  int64_t after = IndexBytes();
  EXPECT_LT(after, empty + (1 << 20)) << "before " << drained << ", after " << after;
  EXPECT_EQ("0", Q("SELECT count(*) FROM pg_index WHERE indrelid = '" + S() +
                   ".jobs'::regclass AND NOT indisvalid"));
  // Every index is still there and serves: the 100 jobs left are claimable.
  EXPECT_EQ("100", Q("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'pending'"));
  EXPECT_EQ(indexes, Q(count_sql)) << "an index was lost";
  // Nothing more to do the second time.
  done = Shrink(1 << 20);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_TRUE(done->rebuilt.empty());
}

TEST_F(IndexUpkeepTest, IndexesThatServeAStandingBacklogAreLeftAlone) {
  Backlog(100000);
  testing::Execute(schema_.dsn(), "VACUUM ANALYZE " + S() + ".jobs");
  std::string oids = Q("SELECT string_agg(indexrelid::text, ',' ORDER BY 1) FROM pg_index "
                       "WHERE indrelid = '" + S() + ".jobs'::regclass");
  auto done = Shrink(1 << 20);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_TRUE(done->rebuilt.empty());
  EXPECT_EQ(oids, Q("SELECT string_agg(indexrelid::text, ',' ORDER BY 1) FROM pg_index "
                    "WHERE indrelid = '" + S() + ".jobs'::regclass"));
}

TEST_F(IndexUpkeepTest, TheLeftoverOfAnInterruptedRebuildIsDropped) {
  Backlog(10);
  // A concurrent build that fails leaves an invalid index behind, as an
  // interrupted REINDEX CONCURRENTLY does with its _ccnew index.
  pg::Connection conn(schema_.dsn(), nullptr, "test");
  auto failed = conn.ExecSql("CREATE UNIQUE INDEX CONCURRENTLY jobs_queue_ccnew ON " + S() +
                             ".jobs (queue)");
  ASSERT_FALSE(failed.ok());
  ASSERT_EQ("1", Q("SELECT count(*) FROM pg_index WHERE indrelid = '" + S() +
                   ".jobs'::regclass AND NOT indisvalid"));
  auto done = Shrink(1 << 20);
  ASSERT_TRUE(done.ok()) << done.status().message();
  ASSERT_EQ(1u, done->dropped.size());
  EXPECT_NE(std::string::npos, done->dropped[0].find("jobs_queue_ccnew"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM pg_index WHERE indrelid = '" + S() +
                   ".jobs'::regclass AND NOT indisvalid"));
}

}  // namespace
}  // namespace pgjobs
