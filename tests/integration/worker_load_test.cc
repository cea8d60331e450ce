// The worker under load and next to other workers: no deadlock between
// heartbeats, completions and rescues on a table analyzed in the worst
// state; claims that grow with short jobs and stay at the free slots with
// long ones, so an idle worker is never starved; a second connection for
// outcomes only while full batches wait.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "pg/connection.h"
#include "pgjobs/worker.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

class WorkerLoadTest : public ::testing::Test {
 protected:
  WorkerOptions Options(const std::string& id, int concurrency) {
    WorkerOptions o;
    o.dsn = schema_.dsn();
    o.schema = schema_.name();
    o.worker_id = id;
    o.queues = {{"default", concurrency}};
    o.logger =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return o;
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  int64_t Int(const std::string& sql) { return std::stoll(Q(sql)); }
  std::string S() { return schema_.name(); }
  int64_t Deadlocks() {
    return Int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
  }
  // Completer sessions opened since the test began whose last statement
  // wrote outcomes (the text of `complete` in sql/jobs.sql starts so).
  std::string WritingSessions() {
    return Q(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
        "'pgjobs worker completer' AND query LIKE '-- Records a batch of attempt outcomes%' "
        "AND backend_start >= '" +
        began_ + "'");
  }
  TestSchema schema_;
  const std::string began_ = Q("SELECT clock_timestamp()::text");
};

TEST_F(WorkerLoadTest, HeartbeatsCompletionsAndRescuesUnderStressNeverDeadlock) {
  constexpr int kJobs = 60000;
  // The table is analyzed while every job is pending: the state in which
  // completions and renewals used to be planned as scans of every running job.
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, args) SELECT 'work', "
                                  "jsonb_build_object('i', g) FROM generate_series(1, " +
                                      std::to_string(kJobs) + ") g");
  testing::Execute(schema_.dsn(), "ANALYZE " + S() + ".jobs");
  int64_t deadlocks_before = Deadlocks();

  // Short leases (a heartbeat every second), thousands held in memory, small
  // completion batches, frequent rescues, and a twentieth of the jobs failing
  // their first attempt so that completions also retry.
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) {
    WorkerOptions o = Options("stress-" + std::to_string(i), 4);
    o.lease = 3s;
    o.prefetch = 10000;
    o.completion_batch = 200;
    o.rescue_interval = 100ms;
    auto w = std::make_unique<Worker>(o);
    TaskOptions task;
    task.retry.base = 10ms;
    w->Register(
        "work",
        [](JobContext& ctx) {
          if (ctx.job().id % 20 == 0 && ctx.job().attempt == 1) {
            return HandlerResult::Failure("first attempts of every twentieth job fail");
          }
          std::this_thread::sleep_for(std::chrono::microseconds(300));
          return HandlerResult::Success();
        },
        task);
    ASSERT_TRUE(w->Start().ok());
    workers.push_back(std::move(w));
  }
  const std::string finished = "SELECT count(*) FROM " + S() + ".job_history";
  EXPECT_TRUE(Eventually([&] { return Int(finished) == kJobs; }, 240s)) << Q(finished);
  for (auto& w : workers) w->Stop(5s);

  // Every job finished once; the retried ones with their failed attempt.
  EXPECT_EQ(kJobs, Int("SELECT count(DISTINCT id) FROM " + S() + ".job_history WHERE state = "
                       "'succeeded'"));
  EXPECT_EQ(kJobs / 20, Int("SELECT count(*) FROM " + S() + ".job_history WHERE "
                            "jsonb_array_length(errors) >= 1 AND id % 20 = 0"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
  // Statistics reach pg_stat_database when the sessions end; the workers'
  // sessions ended with Stop.
  testing::Eventually([&] { return Deadlocks() > deadlocks_before; }, 2s);
  EXPECT_EQ(deadlocks_before, Deadlocks()) << "PostgreSQL detected a deadlock";
}

TEST_F(WorkerLoadTest, WithShortJobsTheClaimGrowsToLargeBatches) {
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task) SELECT 'quick' "
                                  "FROM generate_series(1, 20000)");
  Worker worker(Options("short-jobs", 2));
  worker.Register("quick", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker.Start().ok());
  // Far more than the two free slots are held at once once the run time of a
  // few jobs is known.
  std::atomic<int64_t> most{0};
  Eventually(
      [&] {
        int64_t held = Int("SELECT count(*) FROM " + S() + ".jobs WHERE lease_owner = "
                           "'short-jobs'");
        most = std::max<int64_t>(most, held);
        return most > 100 || Int("SELECT count(*) FROM " + S() + ".jobs") == 0;
      },
      30s);
  worker.Stop(5s);
  EXPECT_GT(most.load(), 100);
}

TEST_F(WorkerLoadTest, WithLongJobsAnIdleWorkerGetsWorkAtOnce) {
  constexpr auto kJob = 1500ms;
  std::atomic<int> running_a{0}, running_b{0}, most_together{0};
  auto handler = [&](std::atomic<int>& mine) {
    return [&](JobContext&) {
      mine++;
      most_together = std::max(most_together.load(), running_a.load() + running_b.load());
      std::this_thread::sleep_for(kJob);
      mine--;
      return HandlerResult::Success();
    };
  };
  Worker a(Options("worker-a", 2));
  a.Register("long", handler(running_a));
  ASSERT_TRUE(a.Start().ok());
  // Worker a learns how long the jobs take.
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task) VALUES ('long'), ('long')");
  ASSERT_TRUE(Eventually([&] { return a.Stats().succeeded == 2; }, 10s));

  Worker b(Options("worker-b", 2));
  b.Register("long", handler(running_b));
  ASSERT_TRUE(b.Start().ok());
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task) "
                                  "SELECT 'long' FROM generate_series(1, 4)");
  // Four jobs, four free slots: all four run together, two on each worker,
  // rather than two running on a while two wait in a's memory.
  EXPECT_TRUE(Eventually([&] { return most_together.load() == 4; }, kJob - 300ms))
      << "at most " << most_together.load() << " ran at once";
  EXPECT_TRUE(Eventually([&] { return a.Stats().succeeded + b.Stats().succeeded == 6; }, 10s));
  a.Stop(5s);
  b.Stop(5s);
  EXPECT_EQ(4, a.Stats().succeeded);
  EXPECT_EQ(2, b.Stats().succeeded);
}

// Jobs that run faster than their outcomes are written must not pile up as
// running: with the history table locked, outcomes cannot be written, and
// the worker stops claiming once two batches of them wait; when the lock
// goes, every job finishes.
TEST_F(WorkerLoadTest, ClaimsWaitWhileTheOutcomesOfJobsThatRanWaitToBeWritten) {
  constexpr int kJobs = 20000;
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task) SELECT 'noop' "
                                  "FROM generate_series(1, " + std::to_string(kJobs) + ")");
  pg::Connection blocker(schema_.dsn(), nullptr, "test lock holder");
  ASSERT_TRUE(blocker.ExecSql("BEGIN; LOCK TABLE " + S() + ".job_history IN EXCLUSIVE MODE").ok());
  WorkerOptions o = Options("held-back", 2);
  o.prefetch = 100;
  o.completion_batch = 100;
  Worker w(o);
  std::atomic<int> ran{0};
  w.Register("noop", [&](JobContext&) {
    ran++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(w.Start().ok());
  // Room for 102 jobs in memory, one batch being written, two waiting: once
  // the worker has run 300 jobs it stops claiming.
  ASSERT_TRUE(Eventually([&] { return ran.load() >= 300; }, 20s)) << ran.load();
  std::this_thread::sleep_for(1s);
  const int64_t running = Int("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'running'");
  EXPECT_LE(running, 102 + 3 * 100 + 100) << "ran " << ran.load();
  EXPECT_LE(ran.load(), 102 + 3 * 100 + 100);
  ASSERT_TRUE(blocker.ExecSql("ROLLBACK").ok());
  ASSERT_TRUE(Eventually([&] {
    return Int("SELECT count(*) FROM " + S() + ".job_history") == kJobs;
  }, 60s)) << Q("SELECT count(*) FROM " + S() + ".job_history");
  w.Stop(5s);
  EXPECT_EQ(kJobs, ran.load());
}

TEST_F(WorkerLoadTest, ASecondConnectionWritesOutcomesOnlyWhileFullBatchesWait) {
  WorkerOptions o = Options("writers", 4);
  o.completion_batch = 20;
  Worker worker(o);
  std::atomic<int> runs{0};
  worker.Register("noop", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());

  // One job at a time: never 20 outcomes waiting, so one connection writes.
  for (int i = 1; i <= 5; ++i) {
    testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task) VALUES ('noop')");
    ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == i; }, 10s)) << "job " << i;
  }
  EXPECT_EQ("1", WritingSessions());

  // A backlog of short jobs: outcomes come in bursts of a claim, far more
  // than one batch of 20, and the second connection takes full batches.
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() +
                                      ".jobs (task) SELECT 'noop' FROM generate_series(1, 3000)");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 3005; }, 60s))
      << worker.Stats().succeeded;
  EXPECT_EQ("2", WritingSessions());
  worker.Stop(5s);

  // Every outcome written once, by one of the two.
  EXPECT_EQ(3005, runs.load());
  EXPECT_EQ("3005|3005|3005|0", Q("SELECT concat_ws('|', count(*), count(DISTINCT id), "
                                  "count(*) FILTER (WHERE state = 'succeeded' AND attempt = 1), "
                                  "(SELECT count(*) FROM " +
                                  S() + ".jobs)) FROM " + S() + ".job_history"));
  EXPECT_EQ(0, worker.Stats().lost);
}

}  // namespace
}  // namespace pgjobs
