// Black-box tests of `pgjobs queues|workers|tasks|stats|doctor` against the
// built binary and a real PostgreSQL. Worker rows are written by hand here
// (what a worker's heartbeat writes), so each test controls what is live;
// operations_worker_test.cc runs real workers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "tests/e2e/cli_run.h"
#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using nlohmann::json;
using testing::CliRun;
using testing::TestSchema;

class OpsCliTest : public ::testing::Test {
 protected:
  CliRun Run(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", schema_.name()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(dir_, all);
  }
  json RunJson(const std::vector<std::string>& args, int rc = 0) {
    CliRun r = Run(args);
    EXPECT_EQ(rc, r.rc) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Insert(const std::string& task, const std::string& queue, int n = 1) {
    Exec("INSERT INTO " + S() + ".jobs (task, queue, run_at) SELECT '" + task + "', '" + queue +
         "', now() - interval '2 minutes' FROM generate_series(1, " + std::to_string(n) + ")");
  }
  // A worker row as a live worker's heartbeat keeps it.
  void Worker(const std::string& id, const std::string& queues, const std::string& tasks,
              const std::string& beat = "now()") {
    Exec("INSERT INTO " + S() + ".workers (id, host, pid, queues, tasks, version, heartbeat_at) "
         "VALUES ('" + id + "', 'host1', 4242, '" + queues + "', '" + tasks + "', '1.2.3', " + beat + ")");
  }
  // History rows: n jobs of task on queue that ran for run_s after waiting wait_s.
  void History(const std::string& queue, const std::string& task, const std::string& state,
               int n, double run_s, double wait_s) {
    Exec("INSERT INTO " + S() + ".job_history (id, queue, task, args, priority, state, attempt, "
         "max_attempts, created_at, run_at, started_at, finished_at) SELECT 100000 + g + "
         "(SELECT count(*) FROM " + S() + ".job_history), '" + queue + "', '" + task +
         "', '{}', 5, '" + state + "', 1, 4, now() - interval '1 hour', now() - make_interval(secs => " +
         std::to_string(run_s + wait_s) + "), now() - make_interval(secs => " + std::to_string(run_s) +
         "), now() FROM generate_series(1, " + std::to_string(n) + ") g");
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-ops"};
  const std::string dir_ = tmp_.path();
};

TEST_F(OpsCliTest, QueuesListShowsTheLastHourOldestPendingAndPausedAsTableAndJson) {
  Insert("send", "mail", 3);
  History("mail", "send", "succeeded", 4, 1, 1);
  History("mail", "send", "failed", 1, 1, 1);
  Exec("INSERT INTO " + S() + ".queues (name, paused) VALUES ('mail', true)");
  Worker("w1", "{\"mail\": 4}", "[\"send\"]");
  json queues = RunJson({"queues", "list", "--json"});
  ASSERT_EQ(1u, queues.size()) << queues.dump();
  const json& q = queues[0];
  EXPECT_EQ("mail", q["queue"]);
  EXPECT_EQ(3, q["pending"]);
  EXPECT_EQ(4, q["succeeded_1h"]);
  EXPECT_EQ(1, q["failed_1h"]);
  EXPECT_EQ(1, q["failed_24h"]);
  EXPECT_EQ(1, q["workers"]);
  EXPECT_EQ(true, q["paused"]);
  EXPECT_GE(q["oldest_pending_seconds"].get<double>(), 119.0);
  EXPECT_HAS(q["oldest_pending_run_at"].get<std::string>(), "T");
  CliRun r = Run({"queues", "list"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "QUEUE  PENDING  SCHEDULED  RUNNING  FAILED 24H  WORKERS  SUCCEEDED 1H  "
                    "FAILED 1H  OLDEST PENDING  PAUSED");
  std::istringstream row(r.out.substr(r.out.find("\nmail") + 1));
  std::vector<std::string> cells(10);
  for (std::string& cell : cells) row >> cell;
  EXPECT_EQ((std::vector<std::string>{"mail", "3", "0", "0", "1", "1", "4", "1", "2m", "paused"}),
            cells)
      << r.out;
}

TEST_F(OpsCliTest, PauseAndResumeSetTheQueueRowAndRefuseUnknownOrMalformedQueues) {
  Insert("send", "mail");
  CliRun r = Run({"queues", "pause", "mail"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "queue mail paused");
  EXPECT_EQ("t", Q("SELECT paused FROM " + S() + ".queues WHERE name = 'mail'"));
  r = Run({"queues", "resume", "mail"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("queue mail resumed\n", r.out);
  EXPECT_EQ("f", Q("SELECT paused FROM " + S() + ".queues WHERE name = 'mail'"));
  r = Run({"queues", "pause", "mial"});
  EXPECT_EQ(3, r.rc);
  EXPECT_HAS(r.err, "no queue \"mial\"; did you mean \"mail\"?");
  r = Run({"queues", "pause", "bad name'; --"});
  EXPECT_EQ(2, r.rc);
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".queues"));
}

TEST_F(OpsCliTest, QueuesSetNotifyTurnsTheInsertNotificationOffAndOnAndRefusesOtherValues) {
  Insert("send", "mail");
  CliRun r = Run({"queues", "set", "mail", "--notify", "off"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "queue mail: notify off (workers find its jobs by polling");
  EXPECT_EQ("f", Q("SELECT notify FROM " + S() + ".queues WHERE name = 'mail'"));
  EXPECT_EQ(false, RunJson({"queues", "list", "--json"})[0]["notify"]);
  r = Run({"queues", "set", "mail", "--notify", "maybe"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--notify \"maybe\" is not on or off");
  r = Run({"queues", "set", "mail"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "nothing to set; give --concurrency N|none, --rate N/PERIOD|none, --notify "
                    "on|off or --broker postgres|redis");
  r = Run({"queues", "set", "mial", "--notify", "on"});
  EXPECT_EQ(3, r.rc);
  EXPECT_EQ("f", Q("SELECT notify FROM " + S() + ".queues WHERE name = 'mail'"));
  ASSERT_EQ(0, Run({"queues", "set", "mail", "--notify", "on"}).rc);
  EXPECT_EQ("t", Q("SELECT notify FROM " + S() + ".queues WHERE name = 'mail'"));
}

TEST_F(OpsCliTest, WorkersListShowsEachWorkerAndStopMarksItThroughTheDatabase) {
  Worker("host1-1-aa", "{\"default\": 4, \"mail\": 2}", "[\"send\"]");
  Worker("host1-2-bb", "{\"default\": 1}", "[\"send\"]", "now() - interval '1 hour'");
  json workers = RunJson({"workers", "list", "--json"});
  ASSERT_EQ(2u, workers.size());
  EXPECT_EQ("host1-1-aa", workers[0]["id"]);
  EXPECT_EQ(6, workers[0]["concurrency"]);
  EXPECT_EQ(0, workers[0]["running"]);
  EXPECT_EQ(true, workers[0]["live"]);
  EXPECT_EQ(false, workers[1]["live"]);
  for (const char* key : {"host", "pid", "queues", "tasks", "version", "started_at", "heartbeat_at",
                          "stop_requested"}) {
    EXPECT_TRUE(workers[0].contains(key)) << key;
  }
  CliRun r = Run({"workers", "list"});
  ASSERT_EQ(0, r.rc);
  EXPECT_HAS(r.out, "host1-1-aa  host1  4242  default=4,mail=2  0/6");
  EXPECT_HAS(r.out, "60m ago");
  EXPECT_HAS(r.out, "silent");
  r = Run({"workers", "stop", "host1-1-aa"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "asked worker host1-1-aa to stop");
  EXPECT_EQ("t", Q("SELECT stop_requested FROM " + S() + ".workers WHERE id = 'host1-1-aa'"));
  r = Run({"workers", "stop", "host1-1-ab"});
  EXPECT_EQ(3, r.rc);
  EXPECT_HAS(r.err, "no worker \"host1-1-ab\"; did you mean \"host1-1-aa\"?");
  EXPECT_EQ("f", Q("SELECT stop_requested FROM " + S() + ".workers WHERE id = 'host1-2-bb'"));
}

TEST_F(OpsCliTest, TasksListWarnsForTasksWithPendingJobsThatNoLiveWorkerHandles) {
  Worker("w1", "{\"default\": 4}", "[\"send_email\", \"cleanup\"]");
  Insert("send_email", "default", 2);
  Insert("sned_email", "default", 1);
  CliRun r = Run({"tasks", "list"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "TASK");
  EXPECT_HAS(r.out, "send_email");
  EXPECT_HAS(r.err, "pgjobs: warning: no live worker handles task \"sned_email\" on queue "
                    "\"default\"; did you mean \"send_email\"?");
  EXPECT_EQ(std::string::npos, r.err.find("\"send_email\" on queue")) << r.err;
  json tasks = RunJson({"tasks", "list", "--json"});
  ASSERT_EQ(3u, tasks.size()) << tasks.dump();
  EXPECT_EQ("cleanup", tasks[0]["task"]);
  EXPECT_EQ(0, tasks[0]["pending"]);
  EXPECT_EQ(json::array({"w1"}), tasks[0]["workers"]);
  EXPECT_EQ(2, tasks[1]["pending"]);
  EXPECT_EQ(json::array(), tasks[1]["unserved_queues"]);
  EXPECT_EQ("sned_email", tasks[2]["task"]);
  EXPECT_EQ(json::array({"default"}), tasks[2]["unserved_queues"]);
}

TEST_F(OpsCliTest, StatsGivesThroughputFailureRateAndPercentilesPerQueueAndTask) {
  History("mail", "send", "succeeded", 9, 2, 1);
  History("mail", "send", "failed", 1, 12, 1);
  History("bulk", "load", "succeeded", 3, 1, 0.5);
  json stats = RunJson({"stats", "--since", "1h", "--queue", "mail", "--json"});
  EXPECT_EQ(3600, stats["since_seconds"]);
  const json& rows = stats["rows"];
  ASSERT_EQ(2u, rows.size()) << stats.dump();
  EXPECT_TRUE(rows[0]["task"].is_null());  // the whole queue first
  const json& send = rows[1];
  EXPECT_EQ("send", send["task"]);
  EXPECT_EQ(10, send["finished"]);
  EXPECT_EQ(1, send["failed"]);
  EXPECT_DOUBLE_EQ(0.1, send["failure_rate"].get<double>());
  EXPECT_NEAR(10.0 / 60, send["per_minute"].get<double>(), 0.001);
  EXPECT_NEAR(2.0, send["run_p50"].get<double>(), 0.01);
  EXPECT_GT(send["run_p99"].get<double>(), 10.0);
  EXPECT_NEAR(1.0, send["wait_p95"].get<double>(), 0.01);
  CliRun r = Run({"stats"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out,
             "QUEUE  TASK   FINISHED  PER MIN  SUCCEEDED  FAILED  CANCELLED  FAILURE RATE  RUN "
             "P50/P95/P99");
  EXPECT_HAS(r.out, "10.0%");
  EXPECT_HAS(r.out, "0.17");  // 10 jobs in an hour: not rounded to 0 per minute
  EXPECT_HAS(r.out, "bulk");
  r = Run({"stats", "--since", "an hour"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--since");
  r = Run({"stats", "--queue", "it's"});
  EXPECT_EQ(2, r.rc);
}

TEST_F(OpsCliTest, StatsWatchPrintsTheTableAgainEveryInterval) {
  History("mail", "send", "succeeded", 2, 1, 1);
  std::string out = dir_ + "/watch.out";
  testing::ChildProcess watch({testing::BinaryPath(), "--dsn", schema_.dsn(), "--schema", S(),
                               "stats", "--watch", "--interval", "200ms"},
                              out);
  auto tables = [&] {
    std::string text = testing::ReadFile(out);
    size_t n = 0;
    for (size_t at = text.find("QUEUE  TASK"); at != std::string::npos; at = text.find("QUEUE  TASK", at + 1)) ++n;
    return n;
  };
  EXPECT_TRUE(testing::Eventually([&] { return tables() >= 3; }, std::chrono::seconds(10)))
      << testing::ReadFile(out);
  CliRun r = Run({"stats", "--watch", "--interval", "0s"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--interval \"0s\" is zero");
}

TEST_F(OpsCliTest, DoctorFailsWithoutALiveWorkerWhileJobsWaitAndSaysWhatToDo) {
  Insert("send", "mail");
  CliRun r = Run({"doctor"});
  EXPECT_EQ(1, r.rc) << r.out;
  EXPECT_HAS(r.out, "fail  live_workers");
  EXPECT_HAS(r.out, "fix: start `pgjobs worker");
  EXPECT_HAS(r.out, "UNHEALTHY");
  json report = RunJson({"doctor", "--json"}, 1);
  EXPECT_EQ(false, report["healthy"]);
  std::vector<std::string> checks;
  for (const json& c : report["checks"]) checks.push_back(c["check"].get<std::string>());
  EXPECT_EQ((std::vector<std::string>{"database", "live_workers", "scheduler_leader",
                                      "expired_leases", "unhandled_tasks", "paused_queues",
                                      "old_transactions", "jobs_dead_tuples", "notify_queue",
                                      "history_partitions", "xid_age"}),
            checks);
  EXPECT_EQ("warn", report["checks"][4]["status"]);
  EXPECT_HAS(report["checks"][4]["detail"].get<std::string>(), "task \"send\" on queue \"mail\"");
  EXPECT_EQ("ok", report["checks"][5]["status"]);
  // A pause forgotten: the queue's jobs wait for nobody to resume it.
  Run({"queues", "pause", "mail"});
  report = RunJson({"doctor", "--json"}, 1);
  EXPECT_EQ("paused_queues", report["checks"][5]["check"]);
  EXPECT_EQ("warn", report["checks"][5]["status"]);
  EXPECT_HAS(report["checks"][5]["detail"].get<std::string>(),
             "queue \"mail\" is paused with 1 ready jobs");
  EXPECT_EQ("if the pause is over: `pgjobs queues resume mail`", report["checks"][5]["fix"]);
}

TEST_F(OpsCliTest, DoctorIdleThresholdNamesASessionIdleInTransactionAndRejectsBadDurations) {
  Worker("w1", "{\"mail\": 1}", "[\"send\"]");
  pg::Connection idle(schema_.dsn(), nullptr, "idle holder");
  ASSERT_TRUE(idle.ExecSql("BEGIN").ok());
  ASSERT_TRUE(idle.ExecSql("SELECT 1").ok());
  sleep(2);
  CliRun r = Run({"doctor"});
  EXPECT_EQ(0, r.rc) << r.out;
  EXPECT_HAS(r.out, "ok    old_transactions");
  r = Run({"doctor", "--idle-threshold", "1s"});
  EXPECT_EQ(0, r.rc) << r.out << r.err;  // a warning: still healthy
  EXPECT_HAS(r.out, "warn  old_transactions");
  EXPECT_HAS(r.out, "1 sessions idle in transaction");
  EXPECT_HAS(r.out, "fix: long transactions stop vacuum");
  r = Run({"doctor", "--idle-threshold", "0s"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--idle-threshold \"0s\" is zero");
  r = Run({"doctor", "--idle-threshold", "soon"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--idle-threshold");
  ASSERT_TRUE(idle.ExecSql("ROLLBACK").ok());
}

TEST_F(OpsCliTest, DoctorIsHealthyWithALiveWorkerAndExitsFourWhenTheDatabaseIsUnreachable) {
  Worker("w1", "{\"mail\": 1}", "[\"send\"]");
  Insert("send", "mail");
  CliRun r = Run({"doctor"});
  EXPECT_EQ(0, r.rc) << r.out;
  EXPECT_HAS(r.out, "ok    live_workers");
  EXPECT_HAS(r.out, "\nhealthy\n");
  r = testing::RunCli(dir_, {"--dsn", "host=/nonexistent dbname=x connect_timeout=2", "doctor", "--json"});
  EXPECT_EQ(4, r.rc);
  json report = json::parse(r.out, nullptr, false);
  EXPECT_EQ(false, report["healthy"]);
  EXPECT_EQ("database", report["checks"][0]["check"]);
}

}  // namespace
}  // namespace pgjobs
