// A concurrency limit set while a queue is claimed without one counts the
// jobs of claims that were under way (migration 0021): such a claim read the
// queue as unlimited, and its jobs land after set_queue_limits counted the
// running ones. A claim in a REPEATABLE READ transaction whose snapshot
// predates the limit is exactly that claim, held open for the test.
#include <gtest/gtest.h>

#include "pg/connection.h"
#include "store/job_store.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::QueryValue;
using testing::TestSchema;

class QueueLimitCountTest : public ::testing::Test {
 protected:
  QueueLimitCountTest()
      : catalog_(*SqlCatalog::Load(schema_.name())),
        late_(schema_.dsn(), &catalog_, "late claim"),
        conn_(schema_.dsn(), &catalog_, "limited claim") {}
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  std::string Running() {
    return Q("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'running'");
  }
  // What a limited claim of up to 4 jobs is allowed, and takes.
  std::pair<int, size_t> ClaimLimited() {
    auto claim = store::ClaimLimited(conn_, "default", "{t}", 4, "w2", 30, 4);
    EXPECT_TRUE(claim.ok()) << claim.status().message();
    if (!claim.ok()) return {-1, 0};
    EXPECT_TRUE(claim->limited);
    return {claim->allowed, claim->jobs.size()};
  }
  // A plain claim of 3 jobs that read the queue before the limit was set
  // and commits after it.
  void LateClaimOfThree() {
    ASSERT_TRUE(late_.ExecSql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1").ok());
    Exec("SELECT " + S() + ".set_queue_limits('default', true, 2, false, NULL, NULL)");
    auto claimed = store::Claim(late_, "default", "{t}", 3, "w1", 30);
    ASSERT_TRUE(claimed.ok()) << claimed.status().message();
    ASSERT_EQ(3u, claimed->size()) << "the claim saw the limit: the test shows nothing";
    ASSERT_TRUE(late_.ExecSql("COMMIT").ok());
  }

  TestSchema schema_;
  SqlCatalog catalog_;
  pg::Connection late_;
  pg::Connection conn_;
};

TEST_F(QueueLimitCountTest, AClaimUnderWayWhenALimitIsSetCountsAgainstIt) {
  Exec("INSERT INTO " + S() + ".jobs (task) SELECT 't' FROM generate_series(1, 10)");
  LateClaimOfThree();
  // set_queue_limits found nothing running; the three landed since.
  EXPECT_EQ("{}", Q("SELECT held_ids FROM " + S() + ".queues WHERE name = 'default'"));
  EXPECT_EQ("3", Running());
  EXPECT_EQ(std::make_pair(0, size_t{0}), ClaimLimited());
  EXPECT_EQ("3", Running());
  // The count found them and keeps them: after the minute in which running
  // jobs are counted directly, the held claims still include them.
  EXPECT_EQ("3", Q("SELECT cardinality(held_ids) FROM " + S() + ".queues"));
  Exec("UPDATE " + S() + ".queues SET limits_set_at = now() - interval '61 s'");
  EXPECT_EQ(std::make_pair(0, size_t{0}), ClaimLimited());
  // Each job that ends frees its place: two end, one place is free.
  Exec("DELETE FROM " + S() + ".jobs WHERE id IN (SELECT id FROM " + S() +
       ".jobs WHERE state = 'running' ORDER BY id LIMIT 2)");
  EXPECT_EQ(std::make_pair(1, size_t{1}), ClaimLimited());
  EXPECT_EQ("2", Running());
}

TEST_F(QueueLimitCountTest, ALowerLimitCountsEveryRunningJobAndRemovingItEndsLimitedClaims) {
  Exec("INSERT INTO " + S() + ".jobs (task) SELECT 't' FROM generate_series(1, 10)");
  LateClaimOfThree();
  EXPECT_EQ(std::make_pair(0, size_t{0}), ClaimLimited());
  // The late jobs end; two places are free, and a lower limit counts the
  // two jobs just claimed; removing it ends the limited claims.
  Exec("DELETE FROM " + S() + ".jobs WHERE state = 'running'");
  EXPECT_EQ(std::make_pair(2, size_t{2}), ClaimLimited());
  Exec("SELECT " + S() + ".set_queue_limits('default', true, 1, false, NULL, NULL)");
  EXPECT_EQ(std::make_pair(0, size_t{0}), ClaimLimited());
  Exec("SELECT " + S() + ".set_queue_limits('default', true, NULL, false, NULL, NULL)");
  auto claim = store::ClaimLimited(conn_, "default", "{t}", 4, "w2", 30, 4);
  ASSERT_TRUE(claim.ok()) << claim.status().message();
  EXPECT_FALSE(claim->limited);
}

}  // namespace
}  // namespace pgjobs
