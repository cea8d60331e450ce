// The operations commands against real worker processes: a cancel stops a
// running command within 2 s (the control NOTIFY, not the 10 s heartbeat of
// a 30 s lease), a retry runs a failed job again, a pause stops claims and a
// resume restarts them, and `workers stop` makes a worker drain and exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/e2e/cli_run.h"
#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::CliRun;
using testing::Eventually;
using testing::TestSchema;

class OperationsWorkerTest : public ::testing::Test {
 protected:
  // A worker with a 30 s lease: its heartbeat comes every 10 s, so anything
  // faster than that came through the control channel.
  std::unique_ptr<ChildProcess> StartWorker(const std::string& tasks) {
    std::string path = dir_ + "/pgjobs.conf";
    std::ofstream(path) << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
                        << "\", \"worker\": {\"queues\": {\"default\": 2}, \"lease\": \"30s\", "
                           "\"poll_interval\": \"10s\", \"drain_timeout\": \"20s\"}, \"tasks\": "
                        << tasks << "}";
    auto worker = std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BinaryPath(), "worker", "--config", path},
        dir_ + "/worker.log");
    EXPECT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".workers") == "1"; }))
        << worker->Log();
    return worker;
  }
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }
  static std::string Task(const std::string& name, const std::string& program) {
    return "{\"" + name + "\": {\"kind\": \"command\", \"command\": [\"" + program + "\"]}}";
  }
  CliRun Run(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", S()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(dir_, all);
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  std::string Insert(const std::string& task, int max_attempts = 4) {
    return Q("INSERT INTO " + S() + ".jobs (task, max_attempts) VALUES ('" + task + "', " +
             std::to_string(max_attempts) + ") RETURNING id");
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-opw"};
  const std::string dir_ = tmp_.path();
};

TEST_F(OperationsWorkerTest, CancellingARunningCommandStopsItWithinTwoSecondsAndRecordsWho) {
  std::string pid_file = dir_ + "/pid";
  auto worker = StartWorker(Task("hang", Script("hang.sh", "echo $$ > " + pid_file + "\nexec sleep 60")));
  std::string id = Insert("hang");
  ASSERT_TRUE(Eventually([&] { return testing::ReadFile(pid_file).size() > 1; })) << worker->Log();
  pid_t pid = std::stoi(testing::ReadFile(pid_file));
  auto start = std::chrono::steady_clock::now();
  CliRun r = Run({"jobs", "cancel", id});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "is running: its worker stops it within 2 s");
  ASSERT_TRUE(Eventually([&] { return kill(pid, 0) != 0; }, 2s)) << worker->Log();
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT state FROM " + S() + ".job_history WHERE id = " + id) == "cancelled";
  }, 2s)) << worker->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  std::string by = Q("SELECT cancelled_by FROM " + S() + ".job_history WHERE id = " + id);
  EXPECT_HAS(by, "@");
  r = Run({"jobs", "show", id});
  EXPECT_HAS(r.out, "cancelled   " + by);
  EXPECT_HAS(r.out, "[cancelled]");
}

TEST_F(OperationsWorkerTest, RetryOfAFailedJobRunsItAgainAndTheNewJobPointsAtTheOld) {
  std::string marker = dir_ + "/failed-once";
  auto worker = StartWorker(Task("flaky", Script("flaky.sh",
      "if [ -e " + marker + " ]; then echo '\"second\"'; exit 0; fi\ntouch " + marker + "\nexit 1")));
  std::string id = Insert("flaky", 1);
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT state FROM " + S() + ".job_history WHERE id = " + id) == "failed";
  }, 30s)) << worker->Log();
  CliRun r = Run({"jobs", "retry", id, "--json"});
  ASSERT_EQ(0, r.rc) << r.err;
  json retried = json::parse(r.out);
  std::string new_id = std::to_string(retried["id"].get<int64_t>());
  // Latency is not the point here: the worker may find the job by its poll.
  r = Run({"jobs", "wait", new_id, "--timeout", "25s"});
  EXPECT_EQ(0, r.rc) << r.err << worker->Log();
  EXPECT_EQ("\"second\"\n", r.out);
  EXPECT_EQ("succeeded|" + id, Q("SELECT state || '|' || retry_of FROM " + S() +
                                 ".job_history WHERE id = " + new_id));
}

TEST_F(OperationsWorkerTest, PauseStopsClaimsAtOnceLeavingJobsPendingAndResumeRestartsThem) {
  auto worker = StartWorker(Task("quick", "/bin/true"));
  Insert("quick");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }))
      << worker->Log();
  ASSERT_EQ(0, Run({"queues", "pause", "default"}).rc);
  for (int i = 0; i < 5; ++i) Insert("quick");
  // The NOTIFY of the inserts wakes the worker; its claims find the queue paused.
  auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ("5", Q("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'pending'"));
    std::this_thread::sleep_for(50ms);
  }
  CliRun r = Run({"queues", "list", "--json"});
  EXPECT_EQ(true, json::parse(r.out)[0]["paused"]);
  auto resumed = std::chrono::steady_clock::now();
  ASSERT_EQ(0, Run({"queues", "resume", "default"}).rc);
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "6"; }, 5s))
      << worker->Log();
  // Woken by the resume's NOTIFY, not by the 10 s poll.
  EXPECT_LT(std::chrono::steady_clock::now() - resumed, 2s);
}

TEST_F(OperationsWorkerTest, WorkersStopMakesTheWorkerLetItsJobFinishThenExitZero) {
  std::string started = dir_ + "/started";
  auto worker = StartWorker(Task("slow", Script("slow.sh", "touch " + started + "\nsleep 1\necho '\"done\"'")));
  std::string id = Insert("slow");
  ASSERT_TRUE(Eventually([&] { return access(started.c_str(), F_OK) == 0; })) << worker->Log();
  json workers = json::parse(Run({"workers", "list", "--json"}).out);
  ASSERT_EQ(1u, workers.size());
  EXPECT_EQ(1, workers[0]["running"]);
  EXPECT_EQ(worker->pid(), workers[0]["pid"].get<int>());
  CliRun r = Run({"workers", "stop", workers[0]["id"].get<std::string>()});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ(0, worker->Wait(8s).value_or(-1)) << worker->Log();
  EXPECT_EQ("succeeded", Q("SELECT state FROM " + S() + ".job_history WHERE id = " + id));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".workers"));
  EXPECT_HAS(worker->Log(), "stop requested through the database");
}

}  // namespace
}  // namespace pgjobs
