// Black-box tests of the pgjobs binary: real processes, real signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::Eventually;
using testing::QueryValue;
using testing::RunToEnd;
using testing::TestSchema;

class WorkerProcessTest : public ::testing::Test {
 protected:
  // Writes a config file with the given "tasks" object and worker settings.
  std::string Config(const std::string& tasks, const std::string& worker_extra = "") {
    std::string path = dir_ + "/pgjobs.conf";
    std::ofstream(path) << "{\n  // written by the test\n  \"dsn\": \"" << schema_.dsn()
                        << "\",\n  \"schema\": \"" << schema_.name()
                        << "\",\n  \"worker\": {\"queues\": {\"default\": 2}, \"lease\": \"3s\", "
                           "\"rescue_interval\": \"500ms\""
                        << worker_extra << "},\n  \"tasks\": " << tasks << "\n}\n";
    return path;
  }
  std::unique_ptr<ChildProcess> StartWorker(const std::string& config) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BinaryPath(), "worker", "--config", config},
        dir_ + "/worker.log");
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Insert(const std::string& task, const std::string& args = "{}") {
    testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, args) VALUES ('" + task +
                                        "', '" + args + "')");
  }
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-e2e"};
  const std::string dir_ = tmp_.path();
};

TEST_F(WorkerProcessTest, ACommandTaskGetsArgsOnStdinAndEnvironmentAndItsStdoutIsTheResult) {
  std::string script = Script("echo.sh", "read args; printf '{\"args\": %s, \"id\": %s, \"task\": \"%s\", "
                                         "\"attempt\": %s, \"queue\": \"%s\"}' \"$args\" "
                                         "\"$PGJOBS_JOB_ID\" \"$PGJOBS_TASK\" \"$PGJOBS_ATTEMPT\" "
                                         "\"$PGJOBS_QUEUE\"; echo '{\"pct\": 50}' >&3");
  auto worker = StartWorker(Config("{\"echo\": {\"kind\": \"command\", \"command\": [\"" + script + "\"]}}"));
  Insert("echo", "{\"x\": 1}");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }))
      << worker->Log();
  std::string id = Q("SELECT id FROM " + S() + ".job_history");
  EXPECT_EQ("{\"id\": " + id + ", \"args\": {\"x\": 1}, \"task\": \"echo\", \"queue\": \"default\", "
            "\"attempt\": 1}",
            Q("SELECT result FROM " + S() + ".job_history"));
  EXPECT_EQ("{\"pct\": 50}", Q("SELECT progress FROM " + S() + ".job_history"));
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(10s).value_or(-1)) << worker->Log();
}

TEST_F(WorkerProcessTest, NonJsonStdoutIsKeptAsAStringAndMegabytesFailWithAClearError) {
  std::string config = Config(
      "{\"text\": {\"kind\": \"command\", \"command\": [\"/bin/echo\", \"plain words\"]},"
      " \"huge\": {\"kind\": \"command\", \"command\": [\"/bin/sh\", \"-c\", \"head -c 3000000 /dev/zero\"],"
      "  \"max_result_bytes\": 1000000}}");
  auto worker = StartWorker(config);
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts) VALUES ('text', 1), ('huge', 1)");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "2"; }))
      << worker->Log();
  EXPECT_EQ("\"plain words\"", Q("SELECT result FROM " + S() + ".job_history WHERE task = 'text'"));
  std::string error = Q("SELECT state || ': ' || (errors->0->>'error') FROM " + S() +
                        ".job_history WHERE task = 'huge'");
  EXPECT_NE(std::string::npos, error.find("failed: the command printed 3000000 bytes")) << error;
  EXPECT_NE(std::string::npos, error.find("max_result_bytes")) << error;
}

TEST_F(WorkerProcessTest, KillNineOfAWorkerMidJobRunsTheJobAgainElsewhereAndItFinishesOnce) {
  // First run: marks that it started and hangs. Later runs: succeed at once.
  std::string marker = dir_ + "/started";
  std::string script = Script("once.sh", "if [ -e " + marker + " ]; then echo '\"second run\"'; exit 0; fi\n"
                                         "touch " + marker + "\nexec sleep 60");
  std::string config = Config("{\"once\": {\"kind\": \"command\", \"command\": [\"" + script + "\"]}}");
  auto first = StartWorker(config);
  Insert("once");
  ASSERT_TRUE(Eventually([&] { return access(marker.c_str(), F_OK) == 0; })) << first->Log();
  kill(-first->pid(), SIGKILL);  // the worker and its child, like a lost host
  first->Signal(SIGKILL);
  first->Wait(5s);
  auto second = StartWorker(config);
  // The lease is 3 s: the job comes back within seconds of that.
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }, 20s))
      << second->Log();
  EXPECT_EQ("succeeded|2|\"second run\"|worker_lost",
            Q("SELECT concat_ws('|', state, attempt, result, errors->0->>'kind') FROM " + S() + ".job_history"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(WorkerProcessTest, SigtermDrainsRunningJobsThenExitsZero) {
  std::string config = Config(
      "{\"nap\": {\"kind\": \"command\", \"command\": [\"/bin/sh\", \"-c\", \"sleep 1; echo done\"]}}");
  auto worker = StartWorker(config);
  Insert("nap");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'running'") == "1"; }));
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(15s).value_or(-1)) << worker->Log();
  EXPECT_EQ("succeeded", Q("SELECT state FROM " + S() + ".job_history"));
}

TEST_F(WorkerProcessTest, SigtermPastTheDrainTimeoutGivesTheJobBackAtOnce) {
  std::string config = Config(
      "{\"forever\": {\"kind\": \"command\", \"command\": [\"/bin/sleep\", \"60\"], \"kill_grace\": \"1s\"}}",
      ", \"drain_timeout\": \"500ms\"");
  auto worker = StartWorker(config);
  Insert("forever");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'running'") == "1"; }));
  auto t0 = std::chrono::steady_clock::now();
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(15s).value_or(-1)) << worker->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ("pending|0|given_back", Q("SELECT concat_ws('|', state, attempt, errors->0->>'kind') FROM " +
                                      S() + ".jobs"));
}

TEST_F(WorkerProcessTest, ASecondSigtermStopsAtOnceAndGivesBack) {
  std::string config = Config(
      "{\"forever\": {\"kind\": \"command\", \"command\": [\"/bin/sleep\", \"60\"], \"kill_grace\": \"1s\"}}",
      ", \"drain_timeout\": \"60s\"");
  auto worker = StartWorker(config);
  Insert("forever");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".jobs WHERE state = 'running'") == "1"; }));
  worker->Signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(10s).value_or(-1)) << worker->Log();
  EXPECT_EQ("pending", Q("SELECT state FROM " + S() + ".jobs"));
}

TEST_F(WorkerProcessTest, TimeoutSendsSigtermThenSigkillAndTheAttemptFails) {
  std::string config = Config(
      "{\"slow\": {\"kind\": \"command\", \"command\": [\"/bin/sh\", \"-c\", \"trap '' TERM; sleep 30\"],"
      " \"timeout\": \"500ms\", \"kill_grace\": \"300ms\"}}");
  auto worker = StartWorker(config);
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts) VALUES ('slow', 1)");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }, 10s))
      << worker->Log();
  EXPECT_EQ("failed|timeout", Q("SELECT state || '|' || (errors->0->>'kind') FROM " + S() + ".job_history"));
}

TEST_F(WorkerProcessTest, ExitCode75RetriesLaterWithoutUsingAnAttempt) {
  std::string marker = dir_ + "/tried";
  std::string script = Script("later.sh", "if [ -e " + marker + " ]; then exit 0; fi; touch " + marker + "; exit 75");
  auto worker = StartWorker(Config("{\"later\": {\"kind\": \"command\", \"command\": [\"" + script +
                                   "\"], \"retry_base\": \"100ms\"}}"));
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts) VALUES ('later', 1)");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }))
      << worker->Log();
  EXPECT_EQ("succeeded|1|retry_later", Q("SELECT concat_ws('|', state, attempt, errors->0->>'kind') FROM " +
                                        S() + ".job_history"));
}

TEST_F(WorkerProcessTest, ASqlTaskRunsItsStatementWithTheArgsAndStoresTheFirstRow) {
  testing::Execute(schema_.dsn(), "CREATE TABLE " + S() + ".totals (n int)");
  std::string config = Config("{\"add\": {\"kind\": \"sql\", \"sql\": \"INSERT INTO " + S() +
                              ".totals SELECT ($1::jsonb->>'n')::int RETURNING n, n * 2 AS twice\"}}");
  auto worker = StartWorker(config);
  Insert("add", "{\"n\": 21}");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }))
      << worker->Log();
  EXPECT_EQ("{\"n\": 21, \"twice\": 42}", Q("SELECT result FROM " + S() + ".job_history"));
  EXPECT_EQ("21", Q("SELECT n FROM " + S() + ".totals"));
}

TEST_F(WorkerProcessTest, AFailingSqlTaskRecordsThePostgresErrorAndTheWorkerCarriesOn) {
  std::string config = Config(
      "{\"broken\": {\"kind\": \"sql\", \"sql\": \"SELECT no_such_column FROM " + S() + ".jobs\"},"
      " \"refresh\": {\"kind\": \"sql\", \"sql\": \"SELECT 1 AS ok\"}}");
  auto worker = StartWorker(config);
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts) VALUES ('broken', 1)");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "1"; }))
      << worker->Log();
  EXPECT_NE(std::string::npos, Q("SELECT errors->0->>'error' FROM " + S() + ".job_history")
                                   .find("no_such_column"));
  Insert("refresh");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "2"; }))
      << worker->Log();
  EXPECT_EQ("{\"ok\": 1}", Q("SELECT result FROM " + S() + ".job_history WHERE task = 'refresh'"));
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(10s).value_or(-1)) << worker->Log();
}

TEST_F(WorkerProcessTest, QueuesListShowsAQueueAWorkerServesEvenWithoutJobs) {
  auto worker = StartWorker(Config("{\"t\": {\"kind\": \"command\", \"command\": [\"/bin/true\"]}}",
                                   ", \"queues\": {\"default\": 1, \"quiet\": 2}"));
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".workers") == "1"; }))
      << worker->Log();
  auto [rc, out] = RunToEnd({testing::BinaryPath(), "--dsn", schema_.dsn(), "--schema", S(),
                             "queues", "list", "--json"});
  EXPECT_EQ(0, rc) << out;
  EXPECT_NE(std::string::npos, out.find("\"queue\": \"quiet\"")) << out;
}

TEST_F(WorkerProcessTest, BadConfigurationsAreRefusedWithAClearMessage) {
  struct Case {
    std::string text;
    std::string expected;
  } cases[] = {
      {"{ \"dsn\": \"x\",, }", "not valid JSON: parse error at line 1"},
      {"{\"worker\": {\"leese\": \"30s\"}, \"tasks\": {}}", "did you mean \"lease\""},
      {"{\"tasks\": {\"t\": {\"kind\": \"command\", \"command\": [\"/no/such/program\"]}}}",
       "/no/such/program"},
      {"{\"tasks\": {\"t\": {\"kind\": \"shell\"}}}", "must be \"command\", \"sql\" or \"runner\""},
      {"{\"worker\": {\"lease\": \"3 parsecs\"}}", "duration"},
  };
  for (const Case& c : cases) {
    std::string path = dir_ + "/bad.conf";
    std::ofstream(path) << c.text;
    auto [status, output] = RunToEnd({testing::BinaryPath(), "worker", "--config", path,
                                      "--dsn", schema_.dsn(), "--schema", S()});
    EXPECT_NE(0, status) << c.text;
    EXPECT_NE(std::string::npos, output.find(c.expected)) << c.text << " -> " << output;
  }
  auto [status, output] = RunToEnd({testing::BinaryPath(), "worker", "--config", dir_ + "/missing.conf"});
  EXPECT_EQ(2, status);  // bad input: exit 3 is for a job or schedule that does not exist
  EXPECT_NE(std::string::npos, output.find("cannot read configuration file")) << output;
}

TEST_F(WorkerProcessTest, CliEnqueueShowAndQueuesListWorkTogether) {
  std::vector<std::string> base = {testing::BinaryPath(), "--dsn", schema_.dsn(), "--schema", S()};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunToEnd(argv);
  };
  auto [rc, id] = with({"enqueue", "greet", "--args", "{\"who\": \"you\"}", "--priority", "7"});
  ASSERT_EQ(0, rc) << id;
  id = id.substr(0, id.find('\n'));  // a warning follows: no worker handles greet
  auto [rc2, shown] = with({"jobs", "show", id, "--json"});
  EXPECT_EQ(0, rc2);
  EXPECT_NE(std::string::npos, shown.find("\"priority\": 7")) << shown;
  auto [rc3, human] = with({"jobs", "show", id});
  EXPECT_NE(std::string::npos, human.find("no running worker handles task greet")) << human;
  auto [rc4, queues] = with({"queues", "list"});
  EXPECT_NE(std::string::npos, queues.find("default")) << queues;
  auto [rc5, bad] = with({"enqueue", "greet", "--args", "{nope"});
  EXPECT_EQ(2, rc5);
  EXPECT_NE(std::string::npos, bad.find("not valid JSON")) << bad;
  auto [rc6, missing] = with({"jobs", "show", "999999"});
  EXPECT_EQ(3, rc6);
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

}  // namespace
}  // namespace pgjobs
