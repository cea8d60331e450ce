// The store side of the operations commands and the SQL API they rest on:
// pgjobs.cancel / pgjobs.retry for applications, the pause check inside the
// claim, retry_of and cancelled_by carried into history by the worker's own
// statements, and which index serves `jobs list` on a large history.
#include "store/job_admin.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "store/job_store.h"
#include "store/queue_admin.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

class JobAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = SqlCatalog::Load(S());
    ASSERT_TRUE(catalog.ok());
    catalog_ = std::make_unique<SqlCatalog>(std::move(*catalog));
    conn_ = std::make_unique<pg::Connection>(schema_.dsn(), catalog_.get(), "test");
  }
  std::string S() { return schema_.name(); }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string Insert(const std::string& task, const std::string& queue = "default") {
    return Q("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('" + task + "', '" + queue +
             "') RETURNING id");
  }
  // The error of sql, "" when it succeeds.
  std::string SqlError(const std::string& sql) {
    pg::Connection conn(schema_.dsn(), nullptr, "test");
    auto rows = conn.ExecSql(sql);
    return rows.ok() ? "" : rows.status().message();
  }

  TestSchema schema_;
  std::unique_ptr<SqlCatalog> catalog_;
  std::unique_ptr<pg::Connection> conn_;
};

TEST_F(JobAdminTest, SqlCancelOfAPendingJobMovesItToHistoryAndOfARunningOneRequestsTheStop) {
  std::string pending = Insert("t");
  EXPECT_EQ("cancelled", Q("SELECT " + S() + ".cancel(" + pending + ", 'app:billing')"));
  EXPECT_EQ("cancelled|app:billing",
            Q("SELECT state || '|' || cancelled_by FROM " + S() + ".job_history WHERE id = " + pending));
  std::string running = Insert("t");
  auto claimed = store::Claim(*conn_, "default", "{t}", 1, "w1", 30);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(1u, claimed->size());
  EXPECT_EQ("stopping", Q("SELECT " + S() + ".cancel(" + running + ")"));
  EXPECT_EQ("running|true", Q("SELECT state || '|' || cancel_requested FROM " + S() + ".jobs"));
  // The worker's completion carries who cancelled into history.
  store::Completion c;
  c.id = (*claimed)[0].id;
  c.token = (*claimed)[0].token;
  c.attempt = (*claimed)[0].attempt;
  c.outcome = store::Outcome::kCancelled;
  auto done = store::Complete(*conn_, "w1", {c});
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ("cancelled|true", Q("SELECT state || '|' || (cancelled_by IS NOT NULL) FROM " + S() +
                             ".job_history WHERE id = " + running));
}

TEST_F(JobAdminTest, ARunningJobCancelledAfterItsWorkerWasLostIsNotRunAgain) {
  std::string id = Insert("t");
  auto claimed = store::Claim(*conn_, "default", "{t}", 1, "w1", 30);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(1u, claimed->size());
  EXPECT_EQ("stopping", Q("SELECT " + S() + ".cancel(" + id + ", 'ops')"));
  // The worker died: its lease runs out and a rescuer finds it.
  Exec("UPDATE " + S() + ".jobs SET lease_expires_at = now() - interval '1 second'");
  auto rescued = store::RescueExpired(*conn_, 10);
  ASSERT_TRUE(rescued.ok()) << rescued.status().message();
  EXPECT_EQ(std::vector<int64_t>{std::stoll(id)}, rescued->cancelled);
  EXPECT_TRUE(rescued->retried.empty());
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
  EXPECT_EQ("cancelled|ops|worker_lost",
            Q("SELECT state || '|' || cancelled_by || '|' || (errors->-1->>'kind') FROM " + S() +
              ".job_history WHERE id = " + id));
}

TEST_F(JobAdminTest, AFailedAttemptOfAJobWhoseCancelWasRequestedEndsItAsCancelled) {
  std::string id = Insert("t");
  auto claimed = store::Claim(*conn_, "default", "{t}", 1, "w1", 30);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(1u, claimed->size());
  Exec("SELECT " + S() + ".cancel(" + id + ")");
  store::Completion c;
  c.id = (*claimed)[0].id;
  c.token = (*claimed)[0].token;
  c.attempt = (*claimed)[0].attempt;
  c.outcome = store::Outcome::kFailed;  // attempts remain: would be retried
  c.retry_in_seconds = 1;
  auto done = store::Complete(*conn_, "w1", {c});
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(1u, done->finished.size());
  EXPECT_EQ("cancelled", Q("SELECT state FROM " + S() + ".job_history WHERE id = " + id));
}

// A batch of successes is deleted without locking its rows first; a row that
// another transaction changes meanwhile is checked against the fence again
// once that transaction commits. Here a cancel is requested for one job (a
// success still ends it as succeeded) and the other is taken by a new claim
// (its old claim's success is dropped, the new claim is left alone).
TEST_F(JobAdminTest, ASuccessfulBatchThatWaitedOnChangedRowsObeysTheirFenceAfterTheWait) {
  std::string cancelled = Insert("t");
  std::string reclaimed = Insert("t");
  auto claimed = store::Claim(*conn_, "default", "{t}", 2, "w1", 30);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(2u, claimed->size());
  std::vector<store::Completion> batch(2);
  for (size_t i = 0; i < 2; ++i) {
    batch[i].id = (*claimed)[i].id;
    batch[i].token = (*claimed)[i].token;
    batch[i].attempt = 1;
    batch[i].outcome = store::Outcome::kSucceeded;
  }
  pg::Connection other(schema_.dsn(), nullptr, "test other");
  ASSERT_TRUE(other
                  .ExecSql("BEGIN; SELECT " + S() + ".cancel(" + cancelled + ", 'ops'); " +
                           "UPDATE " + S() + ".jobs SET lease_token = lease_token + 1 " +
                           "WHERE id = " + reclaimed)
                  .ok());
  auto pid = conn_->ExecSql("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  const std::string backend = pid->Text(0, 0);
  Result<store::CompleteResult> done = Status::Internal("the completion did not run");
  std::thread completion([&] { done = store::Complete(*conn_, "w1", batch); });
  bool waited = Eventually([&] {
    return Q("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = " + backend) != "0";
  });
  bool committed = other.ExecSql("COMMIT").ok();
  completion.join();
  ASSERT_TRUE(committed);
  ASSERT_TRUE(waited) << "the completion did not wait for the other transaction";
  ASSERT_TRUE(done.ok()) << done.status().message();
  ASSERT_EQ(1u, done->finished.size());
  EXPECT_EQ(std::stoll(cancelled), done->finished[0].id);
  ASSERT_EQ(1u, done->fenced_out.size());
  EXPECT_EQ(std::stoll(reclaimed), done->fenced_out[0].id);
  EXPECT_EQ("succeeded|ops", Q("SELECT state || '|' || cancelled_by FROM " + S() +
                               ".job_history WHERE id = " + cancelled));
  EXPECT_EQ("running|" + reclaimed, Q("SELECT state || '|' || id FROM " + S() + ".jobs"));
}

TEST_F(JobAdminTest, SqlCancelAndRetryRefuseUnknownAndUnsuitableJobsWithClearErrors) {
  EXPECT_HAS(SqlError("SELECT " + S() + ".cancel(999)"), "pgjobs.cancel: no job 999");
  std::string id = Insert("t");
  Exec("SELECT " + S() + ".cancel(" + id + ")");
  EXPECT_HAS(SqlError("SELECT " + S() + ".cancel(" + id + ")"),
             "pgjobs.cancel: job " + id + " has already finished (cancelled); nothing to cancel");
  EXPECT_HAS(SqlError("SELECT " + S() + ".retry(999)"), "pgjobs.retry: no job 999");
  std::string live = Insert("t");
  EXPECT_HAS(SqlError("SELECT " + S() + ".retry(" + live + ")"),
             "has not finished; only failed or cancelled jobs are retried");
  std::string again = Q("SELECT " + S() + ".retry(" + id + ")");
  EXPECT_EQ(id, Q("SELECT retry_of FROM " + S() + ".jobs WHERE id = " + again));
}

TEST_F(JobAdminTest, RetryOfAJobWhoseUniqueKeyALiveJobHoldsNamesThatJob) {
  std::string first = Q("SELECT " + S() + ".enqueue('t', unique_key => 'k')");
  Exec("SELECT " + S() + ".cancel(" + first + ")");
  std::string holder = Q("SELECT " + S() + ".enqueue('t', unique_key => 'k')");
  EXPECT_HAS(SqlError("SELECT " + S() + ".retry(" + first + ")"),
             "has unique_key k, which a live job (id " + holder + ") holds");
}

TEST_F(JobAdminTest, AClaimTakesNothingFromAPausedQueueAndEverythingOnceResumed) {
  Insert("t", "mail");
  Insert("t", "other");
  ASSERT_TRUE(store::SetQueuePaused(*conn_, *catalog_, "mail", true).ok());
  auto none = store::Claim(*conn_, "mail", "{t}", 10, "w1", 30);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(0u, none->size());
  auto other = store::Claim(*conn_, "other", "{t}", 10, "w1", 30);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(1u, other->size());  // other queues are not affected
  ASSERT_TRUE(store::SetQueuePaused(*conn_, *catalog_, "mail", false).ok());
  auto resumed = store::Claim(*conn_, "mail", "{t}", 10, "w1", 30);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(1u, resumed->size());
}

TEST_F(JobAdminTest, CheckQueueKnownSuggestsTheNearestQueue) {
  Insert("t", "emails");
  EXPECT_TRUE(store::CheckQueueKnown(*conn_, *catalog_, "emails").ok());
  Status st = store::CheckQueueKnown(*conn_, *catalog_, "emials");
  EXPECT_EQ(Status::Code::kNotFound, st.code());
  EXPECT_HAS(st.message(), "no queue \"emials\"; did you mean \"emails\"?");
}

TEST_F(JobAdminTest, JobListOnALargeHistoryReadsTheQueueIndexNewestFirst) {
  Exec("INSERT INTO " + S() + ".job_history (id, queue, task, args, priority, state, attempt, "
       "max_attempts, created_at, run_at, finished_at) SELECT g, 'q' || (g % 50), 't' || (g % 7), "
       "'{}', 5, CASE WHEN g % 100 = 0 THEN 'failed' ELSE 'succeeded' END, 1, 4, now(), now(), now() "
       "FROM generate_series(1, 200000) g");
  Exec("ANALYZE " + S() + ".job_history");
  store::JobFilter f;
  f.queue = "q7";
  f.limit = 20;
  auto jobs = store::JobAdmin(*conn_, *catalog_).List(f);
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(20u, jobs->size());
  EXPECT_EQ(199957, (*jobs)[0]["id"]);
  // The statement as the CLI sends it, with its values, explained.
  std::string sql = catalog_->Get("job_list");
  pg::Connection conn(schema_.dsn(), nullptr, "test");
  std::string plan;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams("EXPLAIN " + sql, {"q7", std::nullopt, std::nullopt, std::nullopt,
                                                 std::nullopt, "20", std::nullopt});
    if (!rows.ok()) return rows.status();
    for (size_t i = 0; i < rows->size(); ++i) plan += rows->Text(i, 0) + "\n";
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_HAS(plan, "queue_id_idx");
  EXPECT_HAS(plan, "Backward");
  std::string part = Q("SELECT relname FROM pg_class WHERE oid = (SELECT tableoid FROM " + S() +
                       ".job_history LIMIT 1)");
  EXPECT_EQ(std::string::npos, plan.find("Seq Scan on " + part + " ")) << plan;
  f.queue.reset();
  f.state = "failed";
  jobs = store::JobAdmin(*conn_, *catalog_).List(f);
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(200000, (*jobs)[0]["id"]);
  EXPECT_EQ(199900, (*jobs)[1]["id"]);
}

}  // namespace
}  // namespace pgjobs
