// The "runner" task kind end to end: `pgjobs worker` with long-lived Python
// runners (python3 -m pgjobs.runner) of the small Django project under
// tests/python/djangoproject, against the tests' real PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

constexpr char kPython[] = "/usr/bin/python3";

std::string PythonPath() {
  return testing::SourceDir() + "/src/python:" + testing::SourceDir() +
         "/tests/python/djangoproject";
}

class RunnerKindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgjobs-runner.XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // The Django runner, serving what `serves` lists (a JSON array), with the
  // extra runner settings `extra` (",\"key\": value..."); `modules` after the
  // settings module.
  std::string DjangoRunner(const std::string& serves, const std::string& extra = "",
                           const std::string& modules = "\"testproj.tasks\"") {
    return "{\"django\": {\"kind\": \"runner\", \"command\": [\"" + std::string(kPython) +
           "\", \"-m\", \"pgjobs.runner\", \"--django-settings\", \"testproj.settings\", " +
           modules + "], \"env\": {\"PYTHONPATH\": \"" + PythonPath() +
           "\", \"PYTHONDONTWRITEBYTECODE\": \"1\", \"PGJOBS_TEST_DSN\": \"" + schema_.dsn() +
           "\"}, \"serves\": " + serves + ", \"retry_base\": \"100ms\", \"kill_grace\": \"2s\"" +
           extra + "}}";
  }
  std::string Config(const std::string& tasks, int concurrency = 2) {
    std::string path = dir_ + "/pgjobs.conf";
    std::ofstream(path) << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
                        << "\", \"worker\": {\"queues\": {\"default\": " << concurrency
                        << "}, \"lease\": \"5s\", \"poll_interval\": \"100ms\"}, \"tasks\": "
                        << tasks << "}\n";
    return path;
  }
  std::unique_ptr<ChildProcess> StartWorker(const std::string& config) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BinaryPath(), "worker", "--config", config},
        dir_ + "/worker.log");
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  std::string Enqueue(const std::string& task, const std::string& args = "{}",
                      const std::string& more = "") {
    return Q("SELECT " + S() + ".enqueue('" + task + "', '" + args + "'" + more + ")");
  }
  bool Finished(const std::string& id, std::chrono::milliseconds timeout = 30s) {
    return Eventually(
        [&] { return Q("SELECT count(*) FROM " + S() + ".job_history WHERE id = " + id) == "1"; },
        timeout);
  }
  std::string History(const std::string& id, const std::string& expr) {
    return Q("SELECT " + expr + " FROM " + S() + ".job_history WHERE id = " + id);
  }

  TestSchema schema_;
  std::string dir_;
};

TEST_F(RunnerKindTest, DjangoTasksRunThroughTheRunnerWithResultsProgressErrorsAndRetries) {
  auto worker =
      StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*", "testproj.tasks.double"])")));
  std::string sync = Enqueue("testproj.tasks.sync_all_platforms", R"({"platforms": 4})");
  std::string cleanup = Enqueue("testproj.tasks.cleanup_old_data", R"({"days": 30})");
  std::string flaky = Enqueue("testproj.tasks.flaky", R"({"succeed_on": 3})");
  std::string plain = Enqueue("testproj.tasks.double", R"({"x": 21})");
  std::string bad = Enqueue("testproj.tasks.unencodable_result", "{}", ", max_attempts => 1");
  std::string discard = Enqueue("testproj.tasks.give_up");
  for (const std::string& id : {sync, cleanup, flaky, plain, bad, discard}) {
    ASSERT_TRUE(Finished(id)) << "job " << id << "\n" << worker->Log();
  }
  EXPECT_EQ("succeeded|4|{\"done\": 4, \"total\": 4}",
            History(sync, "state || '|' || (result->>'synced') || '|' || progress"));
  EXPECT_EQ("{\"days\": 30, \"dry_run\": false, \"time_zone\": \"UTC\"}",
            History(cleanup, "result::text"));
  EXPECT_EQ("succeeded|3|{\"attempt\": 3}",
            History(flaky, "state || '|' || attempt || '|' || result"));
  EXPECT_EQ("error|ValueError: attempt 1 failed on purpose",
            History(flaky, "(errors->0->>'kind') || '|' || (errors->0->>'error')"));
  EXPECT_HAS(History(flaky, "errors->0->>'traceback'"), "in flaky");
  EXPECT_EQ("42", History(plain, "result::text"));
  EXPECT_EQ("failed", History(bad, "state"));
  EXPECT_HAS(History(bad, "errors->0->>'error'"),
             "the result of task testproj.tasks.unencodable_result cannot be encoded as JSON");
  EXPECT_EQ("failed|1|the account is gone",
            History(discard, "state || '|' || attempt || '|' || (errors->0->>'error')"));
  // What a task prints goes to the worker's log with its job id.
  EXPECT_HAS(worker->Log(), "job_id=" + sync + ": synced 4 platforms");
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(20s).value_or(-1)) << worker->Log();
}

TEST_F(RunnerKindTest, OneRunnerPerSlotKeepsItsDatabaseConnectionAcrossJobs) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*"])"), 1));
  std::string first = Enqueue("testproj.tasks.sync_all_platforms", R"({"platforms": 1})");
  ASSERT_TRUE(Finished(first)) << worker->Log();
  std::string second = Enqueue("testproj.tasks.sync_all_platforms", R"({"platforms": 1})");
  ASSERT_TRUE(Finished(second)) << worker->Log();
  EXPECT_EQ(History(first, "result->>'runner_pid'"), History(second, "result->>'runner_pid'"));
  EXPECT_EQ(History(first, "result->>'backend_pid'"), History(second, "result->>'backend_pid'"));
}

TEST_F(RunnerKindTest, ATimedOutJobGetsSigtermThenAFreshRunnerTakesTheNextJob) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*"])"), 1));
  std::string slow = Enqueue("testproj.tasks.slow", R"({"seconds": 60})",
                             ", max_attempts => 1, timeout => interval '1 second'");
  ASSERT_TRUE(Finished(slow)) << worker->Log();
  EXPECT_EQ("failed|timeout", History(slow, "state || '|' || (errors->0->>'kind')"));
  EXPECT_HAS(History(slow, "errors->0->>'error'"), "TimeLimitExceeded");
  // The task caught the stop to clean up, inside its time limit's SIGTERM.
  EXPECT_HAS(worker->Log(), "job_id=" + slow + ": slow: cleaning up after timeout");
  std::string next = Enqueue("testproj.tasks.whoami");
  ASSERT_TRUE(Finished(next)) << worker->Log();
  EXPECT_EQ("succeeded", History(next, "state"));
}

TEST_F(RunnerKindTest, ATaskThatKillsItsOwnProcessIsAFailedAttemptOfKindRunnerDied) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*"])"), 1));
  std::string id = Enqueue("testproj.tasks.kill_own_process", "{}", ", max_attempts => 1");
  ASSERT_TRUE(Finished(id)) << worker->Log();
  EXPECT_EQ("failed|runner_died", History(id, "state || '|' || (errors->0->>'kind')"));
  EXPECT_HAS(History(id, "errors->0->>'error'"),
             "was killed by signal 9 (Killed) while it ran the job");
  std::string next = Enqueue("testproj.tasks.whoami");
  ASSERT_TRUE(Finished(next)) << worker->Log();
  EXPECT_EQ("succeeded", History(next, "state"));
}

TEST_F(RunnerKindTest, ARunnerKilledWithKill9MidJobIsReplacedAndTheJobRetried) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*"])"), 1));
  const std::string path = dir_ + "/go";
  std::string id = Enqueue("testproj.tasks.wait_for_file", "{\"path\": \"" + path + "\"}");
  ASSERT_TRUE(Eventually([&] { return access((path + ".pid").c_str(), F_OK) == 0; }, 30s))
      << worker->Log();
  std::ifstream pid_file(path + ".pid");
  int pid = 0;
  pid_file >> pid;
  ASSERT_GT(pid, 1);
  ASSERT_EQ(0, kill(pid, SIGKILL));
  ASSERT_TRUE(Finished(id)) << worker->Log();
  EXPECT_EQ("succeeded|2|attempt 2",
            History(id, "state || '|' || attempt || '|' || (result #>> '{}')"));
  EXPECT_EQ("runner_died", History(id, "errors->0->>'kind'"));
  EXPECT_HAS(History(id, "errors->0->>'error'"), "(pid " + std::to_string(pid) + ")");
}

TEST_F(RunnerKindTest, RunnersAreReplacedAfterMaxJobsPerRunner) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["testproj.tasks.whoami"])",
                                                ", \"pool_size\": 1, \"max_jobs_per_runner\": 2"),
                                   1));
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(Enqueue("testproj.tasks.whoami"));
    ASSERT_TRUE(Finished(ids.back())) << worker->Log();
  }
  std::vector<std::string> pids;
  for (const std::string& id : ids) pids.push_back(History(id, "result::text"));
  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_EQ(pids[2], pids[3]);
  EXPECT_NE(pids[1], pids[2]);
  EXPECT_HAS(worker->Log(), "it ran max_jobs_per_runner=2 jobs");
}

TEST_F(RunnerKindTest, RunnersAreReplacedWhenAboveMaxMemoryPerRunner) {
  // Any Python process is above 1 MB: every runner is replaced after its job.
  auto worker =
      StartWorker(Config(DjangoRunner(R"(["testproj.tasks.whoami"])",
                                      ", \"pool_size\": 1, \"max_memory_per_runner\": \"1MB\""),
                         1));
  std::string first = Enqueue("testproj.tasks.whoami");
  ASSERT_TRUE(Finished(first)) << worker->Log();
  std::string second = Enqueue("testproj.tasks.whoami");
  ASSERT_TRUE(Finished(second)) << worker->Log();
  EXPECT_NE(History(first, "result::text"), History(second, "result::text"));
  EXPECT_HAS(worker->Log(), "MB) is above max_memory_per_runner (1.0 MB)");
}

TEST_F(RunnerKindTest, AGracefulStopLetsTheRunningJobFinishThenEndsTheRunners) {
  auto worker =
      StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*"])", ", \"pool_size\": 1"), 1));
  std::string who = Enqueue("testproj.tasks.whoami");
  ASSERT_TRUE(Finished(who)) << worker->Log();
  const int runner_pid = std::stoi(History(who, "result::text"));
  std::string id = Enqueue("testproj.tasks.slow", R"({"seconds": 2})");
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT state FROM " + S() + ".jobs WHERE id = " + id) == "running";
  })) << worker->Log();
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(30s).value_or(-1)) << worker->Log();
  EXPECT_EQ("succeeded|\"woke up\"", History(id, "state || '|' || result"));
  // The runner did not outlive the worker (it was its child, so it is gone,
  // not a zombie, once the worker has exited).
  EXPECT_NE(0, kill(runner_pid, 0)) << "runner " << runner_pid << " still runs";
}

TEST_F(RunnerKindTest, CancellingARunningJobStopsItsRunner) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["testproj.tasks.*"])"), 1));
  std::string id = Enqueue("testproj.tasks.slow", R"({"seconds": 60})");
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT state FROM " + S() + ".jobs WHERE id = " + id) == "running";
  })) << worker->Log();
  EXPECT_EQ("stopping", Q("SELECT " + S() + ".cancel_job(" + id + ")"));
  ASSERT_TRUE(Finished(id, 15s)) << worker->Log();
  EXPECT_EQ("cancelled", History(id, "state"));
  EXPECT_HAS(worker->Log(), "job_id=" + id + ": slow: cleaning up after cancelled");
}

TEST_F(RunnerKindTest, AnImportErrorInTheAppIsAClearErrorAtWorkerStart) {
  auto worker = StartWorker(Config(
      DjangoRunner(R"(["testproj.tasks.*"])", "", "\"testproj.tasks\", \"testproj.broken\"")));
  EXPECT_EQ(2, worker->Wait(60s).value_or(-1)) << worker->Log();
  std::string log = worker->Log();
  EXPECT_HAS(log, "runner django (" + std::string(kPython) + ", pid ");
  EXPECT_HAS(log, ") did not start: it exited with status 3 before it was ready");
  EXPECT_HAS(log, "ModuleNotFoundError: No module named 'testproj.does_not_exist'");
}

TEST_F(RunnerKindTest, AServedTaskTheRunnerDoesNotKnowIsAnErrorAtWorkerStart) {
  auto worker = StartWorker(Config(DjangoRunner(R"(["billing.tasks.*"])")));
  EXPECT_EQ(2, worker->Wait(60s).value_or(-1)) << worker->Log();
  EXPECT_HAS(worker->Log(),
             "runner django serves \"billing.tasks.*\" but reports no task whose "
             "name starts with \"billing.tasks.\"");
}

TEST_F(RunnerKindTest, OutputThatIsNotProtocolIsAnErrorThatNamesTheLine) {
  std::string script = dir_ + "/chatty.sh";
  std::ofstream(script) << "#!/bin/sh\n"
                           "echo '{\"type\":\"ready\",\"protocol\":1,\"tasks\":[\"chatty\"]}'\n"
                           "while read line; do echo 'Hello from the runner'; done\n";
  chmod(script.c_str(), 0755);
  auto worker = StartWorker(Config("{\"chatty\": {\"kind\": \"runner\", \"command\": [\"" + script +
                                   "\"], \"serves\": [\"chatty\"]}}"));
  std::string id = Enqueue("chatty", "{}", ", max_attempts => 1");
  ASSERT_TRUE(Finished(id)) << worker->Log();
  EXPECT_EQ("failed|runner_protocol", History(id, "state || '|' || (errors->0->>'kind')"));
  EXPECT_HAS(History(id, "errors->0->>'error'"),
             "the runner printed a line that is not a pgjobs protocol message (not JSON): "
             "\"Hello from the runner\"");
}

}  // namespace
}  // namespace pgjobs
