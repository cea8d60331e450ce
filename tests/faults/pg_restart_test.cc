// PostgreSQL restarts under load: while a producer enqueues, two workers run
// jobs and a scheduler fires schedules, the server is stopped with
// `pg_ctl stop -m immediate` (a crash) and started again three times, then
// every pgjobs session is ended with pg_terminate_backend. The processes
// recover by themselves; every enqueue the producer saw commit runs and
// succeeds, and each stall (from the fault to the first new job done) is
// measured.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "pg/connection.h"
#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(PostgresRestarts, ImmediateRestartsAndTerminatedSessionsLoseNoCommittedJob) {
  OwnCluster cluster;
  const std::string dsn = cluster.dsn();
  Migrate(dsn);
  Scratch scratch;
  std::string script = scratch.RecordScript(0);
  const int restarts = Size(2, 3);  // the short run: two crashes, the full size three
  const auto settle = Size(3s, 20s);

  // Schedules every second make "rec" jobs too (counted apart).
  for (int i = 0; i < 5; ++i) {
    Q(dsn, "INSERT INTO pgjobs.schedules (name, kind, cron, task) VALUES ('s" + std::to_string(i) +
               "', 'cron', '* * * * * *', 'rec') RETURNING id");
  }
  std::vector<std::unique_ptr<testing::ChildProcess>> procs;
  for (int i = 0; i < 2; ++i) {
    WorkerSpec w;
    w.dsn = dsn;
    w.schema = "pgjobs";
    w.tag = "w" + std::to_string(i);
    w.script = script;
    w.lease = "10s";
    procs.push_back(StartWorker(scratch, w));
  }
  procs.push_back(StartScheduler(scratch, dsn, "pgjobs", "s0"));
  Producer producer(dsn);
  std::this_thread::sleep_for(settle);

  // The time from the fault until a job enqueued after it is done.
  auto stall = [&](Clock::time_point fault) {
    int64_t id = 0;
    while (id == 0) {
      pg::Connection conn(dsn, nullptr, "faults checker");
      auto rows = conn.ExecSql("INSERT INTO pgjobs.jobs (task) VALUES ('rec') RETURNING id");
      if (rows.ok()) id = rows->Int(0, 0);
      else std::this_thread::sleep_for(50ms);
      EXPECT_LT(Since(fault), 60.0) << "the server did not come back";
      if (Since(fault) > 60) return -1.0;
    }
    bool done = testing::Eventually(
        [&] { return Q(dsn, "SELECT count(*) FROM pgjobs.job_history WHERE id = " +
                                std::to_string(id)) == "1"; },
        30s);
    EXPECT_TRUE(done) << "job " << id << " enqueued after the fault never ran";
    return done ? Since(fault) : -1.0;
  };

  std::vector<std::string> stalls, downtimes;
  std::vector<double> stall_values;
  for (int i = 0; i < restarts; ++i) {
    auto fault = Clock::now();
    cluster.StopImmediate();
    std::this_thread::sleep_for(1s);
    cluster.Start();
    downtimes.push_back(std::to_string(Since(fault)).substr(0, 4));
    double s = stall(fault);
    ASSERT_GT(s, 0) << procs[0]->Log().substr(0, 4000);
    stall_values.push_back(s);
    stalls.push_back(std::to_string(s).substr(0, 4));
    std::this_thread::sleep_for(settle);
  }
  auto fault = Clock::now();
  std::string terminated = Q(
      dsn, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
           "application_name LIKE 'pgjobs %' AND application_name <> 'pgjobs tests'");
  double terminate_stall = stall(fault);
  ASSERT_GT(terminate_stall, 0) << procs[0]->Log().substr(0, 4000);
  std::this_thread::sleep_for(settle);
  producer.Stop();
  procs.back()->Signal(SIGTERM);
  EXPECT_EQ(0, procs.back()->Wait(15s).value_or(-1)) << procs.back()->Log();
  ASSERT_TRUE(testing::Eventually(
      [&] { return Q(dsn, "SELECT count(*) FROM pgjobs.jobs") == "0"; }, 120s))
      << Q(dsn, "SELECT count(*) FROM pgjobs.jobs");

  std::set<int64_t> history;
  {
    pg::Connection conn(dsn, nullptr, "faults checker");
    auto rows = conn.ExecSql("SELECT id FROM pgjobs.job_history WHERE state = 'succeeded'");
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    for (size_t i = 0; i < rows->size(); ++i) history.insert(rows->Int(i, 0));
  }
  int64_t lost = 0;
  for (int64_t id : producer.acked) lost += history.count(id) == 0 ? 1 : 0;
  int64_t unsure_present = 0;
  for (int64_t id : producer.unsure) unsure_present += history.count(id);
  std::vector<JobRun> runs = ReadJobLog(scratch.JobLog());
  std::map<int64_t, int> per_job = RunsPerJob(runs);

  Figures f("postgres_restarts");
  f.Set("restarts", int64_t{restarts});
  f.Set("downtime_s", Join(downtimes, "/"));
  f.Set("stall_s", Join(stalls, "/"));
  f.Set("sessions_terminated", terminated);
  f.Set("terminate_stall_s", terminate_stall);
  f.Set("acked_enqueues", static_cast<int64_t>(producer.acked.size()));
  f.Set("failed_commits", producer.failed_commits);
  f.Set("unknown_outcome_jobs", static_cast<int64_t>(producer.unsure.size()));
  f.Set("unknown_outcome_jobs_present", unsure_present);
  f.Set("lost", lost);
  f.Set("history_succeeded", static_cast<int64_t>(history.size()));
  f.Set("scheduled_jobs", Q(dsn, "SELECT count(*) FROM pgjobs.job_history WHERE schedule_id IS NOT NULL"));
  f.Set("duplicate_runs", static_cast<int64_t>(runs.size() - per_job.size()));
  f.Set("duplicate_ticks",
        Q(dsn, "SELECT count(*) - count(DISTINCT (schedule_id, scheduled_for)) FROM "
               "pgjobs.job_history WHERE schedule_id IS NOT NULL"));
  f.Print();

  EXPECT_EQ(0, lost);
  EXPECT_EQ("0", Q(dsn, "SELECT count(*) FROM pgjobs.job_history WHERE state <> 'succeeded'"));
  EXPECT_EQ(history.size(), per_job.size()) << "every job in history ran, and only those";
  // Only the commits the producer saw fail can be missing; none it saw succeed.
  EXPECT_EQ(static_cast<int64_t>(history.size()),
            static_cast<int64_t>(producer.acked.size()) + unsure_present + restarts + 1 +
                std::stoll(Q(dsn, "SELECT count(*) FROM pgjobs.job_history WHERE schedule_id IS "
                                  "NOT NULL")));
  // The scheduler fired again after the last fault, and never twice a tick.
  EXPECT_NE("0", Q(dsn, "SELECT count(*) FROM pgjobs.job_history WHERE schedule_id IS NOT NULL "
                        "AND created_at > now() - interval '" +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                               Clock::now() - fault).count()) + " seconds'"));
  EXPECT_EQ("0", Q(dsn, "SELECT count(*) - count(DISTINCT (schedule_id, scheduled_for)) FROM "
                        "pgjobs.job_history WHERE schedule_id IS NOT NULL"));
  for (double s : stall_values) EXPECT_GT(s, 0);
}

}  // namespace
}  // namespace pgjobs::faults
