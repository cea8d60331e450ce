// Black-box tests of `pgjobs enqueue`'s args from a file or standard input,
// and of the warning printed when a job or schedule names a task that no
// live worker handles.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/cli_run.h"
#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::CliRun;
using testing::TestSchema;

class EnqueueCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgjobs-enq.XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
  }
  void TearDown() override {
    if (worker_) {
      worker_->Signal(SIGTERM);
      worker_->Wait(10s);
    }
    std::system(("rm -rf " + dir_).c_str());
  }

  // pgjobs --dsn ... --schema ... ARGS
  CliRun Run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", schema_.name()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(dir_, all, stdin_text);
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  std::string File(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // A real worker serving queue "default" with tasks send_email and cleanup.
  void StartWorker() {
    std::string config =
        File("pgjobs.conf", "{\"dsn\": \"" + schema_.dsn() + "\", \"schema\": \"" + S() +
                                "\", \"worker\": {\"queues\": {\"default\": 1}}, \"tasks\": {"
                                "\"send_email\": {\"kind\": \"sql\", \"sql\": \"SELECT 1\"}, "
                                "\"cleanup\": {\"kind\": \"sql\", \"sql\": \"SELECT 1\"}}}");
    worker_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{testing::BinaryPath(), "worker", "--config", config},
        dir_ + "/worker.log");
    ASSERT_TRUE(testing::Eventually([&] {
      return Q("SELECT count(*) FROM " + S() + ".workers") == "1";
    })) << worker_->Log();
  }

  TestSchema schema_;
  std::string dir_;
  std::unique_ptr<testing::ChildProcess> worker_;
};

TEST_F(EnqueueCliTest, ArgsFileCarriesArgsBiggerThanTheKernelAllowsOnACommandLine) {
  std::string blob(200 * 1024, 'a');  // over the 128 KiB limit of one argv string
  std::string path = File("args.json", "{\"blob\": \"" + blob + "\"}\n");
  CliRun r = Run({"enqueue", "t", "--args-file", path});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ(r.out, Q("SELECT id FROM " + S() + ".jobs") + "\n");
  EXPECT_EQ(std::to_string(blob.size()),
            Q("SELECT octet_length(args->>'blob') FROM " + S() + ".jobs"));
}

TEST_F(EnqueueCliTest, ArgsDashReadsTheArgsFromStandardInput) {
  CliRun r = Run({"enqueue", "t", "--args", "-"}, "{\"to\": \"a@b.c\"}\n");
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("{\"to\": \"a@b.c\"}", Q("SELECT args FROM " + S() + ".jobs"));
  r = Run({"enqueue", "t", "--args-file", "-"}, "{\"n\": 2}");
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(EnqueueCliTest, BadArgsFilesAreRefusedNamingTheFileAndEnqueueNothing) {
  CliRun r = Run({"enqueue", "t", "--args-file", dir_ + "/missing.json"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: --args-file: cannot read " + dir_ +
                        "/missing.json: No such file or directory");
  std::string array = File("array.json", "[1, 2]");
  r = Run({"enqueue", "t", "--args-file", array});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: " + array + ": args must be a JSON object, got a JSON array");
  r = Run({"enqueue", "t", "--args", "-"}, "");
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: --args -: standard input is empty");
  r = Run({"enqueue", "t", "--args", "{}", "--args-file", array});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--args excludes --args-file");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(EnqueueCliTest, ValuesItCannotHoldAreRefusedNamedNotWrappedCrashedOrDropped) {
  // A time after 2262-04-11 used to wrap into 1677-1816: the job ran now.
  CliRun r = Run({"enqueue", "t", "--at", "2300-01-01T00:00:00Z"});
  EXPECT_EQ(2, r.rc) << r.out;
  EXPECT_HAS(r.err, "--at: time \"2300-01-01T00:00:00Z\" is outside the years 1678-2261");
  r = Run({"schedules", "add", "far", "--cron", "0 3 * * *", "--task", "t", "--end",
           "9999-12-31T00:00:00Z"});
  EXPECT_EQ(2, r.rc) << r.out;
  EXPECT_HAS(r.err, "leave its end out");
  // A number beyond a double is valid JSON that pgjobs cannot read: it used
  // to abort the CLI (exit 134).
  r = Run({"enqueue", "t", "--args", "{\"a\": 1e400}"});
  EXPECT_EQ(2, r.rc) << r.err;
  EXPECT_HAS(r.err, "args are valid JSON that pgjobs cannot read: the number '1e400'");
  r = Run({"schedules", "add", "big", "--every", "1h", "--task", "t", "--args", "{\"a\": 1e400}"});
  EXPECT_EQ(2, r.rc) << r.err;
  EXPECT_HAS(r.err, "pass it as a string");
  // An empty key used to mean "no key": two jobs where one was asked for.
  r = Run({"enqueue", "t", "--unique-key", ""});
  EXPECT_EQ(2, r.rc) << r.out;
  EXPECT_HAS(r.err, "--unique-key is empty; give a key of 1-512 characters");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".schedules"));
  // The far end stays possible: the last year it can hold.
  r = Run({"enqueue", "t", "--at", "2261-12-31T00:00:00Z"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("2261", Q("SELECT extract(year FROM run_at) FROM " + S() + ".jobs"));
}

TEST_F(EnqueueCliTest, AMisspelledTaskIsEnqueuedWithAWarningNamingTheTasksLiveWorkersHandle) {
  StartWorker();
  CliRun r = Run({"enqueue", "sned_email"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ(Q("SELECT id FROM " + S() + ".jobs WHERE task = 'sned_email'") + "\n", r.out);
  EXPECT_HAS(r.err,
             "pgjobs: warning: no live worker handles task \"sned_email\" on queue "
             "\"default\"; did you mean \"send_email\"? Live workers on queue \"default\" "
             "handle \"cleanup\", \"send_email\". The job waits, with no attempt used");

  r = Run({"enqueue", "send_email"});
  EXPECT_EQ(0, r.rc);
  EXPECT_EQ("", r.err);  // a live worker handles it: nothing to say

  r = Run({"enqueue", "send_email", "--queue", "emails"});
  EXPECT_EQ(0, r.rc);
  EXPECT_HAS(r.err,
             "no live worker handles task \"send_email\" on queue \"emails\"; live "
             "workers run it on queue \"default\"");
  EXPECT_EQ("3", Q("SELECT count(*) FROM " + S() + ".all_jobs"));  // the worker may run one
}

TEST_F(EnqueueCliTest, AWorkerWhoseHeartbeatStoppedDoesNotCountAsLive) {
  Exec("INSERT INTO " + S() +
       ".workers (id, host, pid, queues, tasks, version, heartbeat_at) VALUES "
       "('gone', 'h', 1, '{\"default\": 1}', '[\"send_email\"]', 'x', now() - interval '10 min')");
  CliRun r = Run({"enqueue", "send_email"});
  EXPECT_EQ(0, r.rc);
  EXPECT_HAS(r.err,
             "no live worker handles task \"send_email\" on queue \"default\": no worker "
             "is running (none has sent a heartbeat within its lease)");
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(EnqueueCliTest, AWorkerIsLiveWhileItsHeartbeatIsYoungerThanItsLeasePlusTenSeconds) {
  // A worker killed with SIGKILL used to count as live for 5 minutes.
  Exec("INSERT INTO " + S() +
       ".workers (id, host, pid, queues, tasks, version, lease_seconds, heartbeat_at) VALUES "
       "('dead', 'h', 1, '{\"default\": 1}', '[\"send_email\"]', 'x', 30, "
       " now() - interval '45 s'), "
       "('beating', 'h', 2, '{\"mail\": 1}', '[\"send_email\"]', 'x', 30, "
       " now() - interval '25 s'), "
       "('old', 'h', 3, '{\"other\": 1}', '[\"send_email\"]', 'x', NULL, "
       " now() - interval '2 min')");
  CliRun r = Run({"workers", "list", "--json"});
  ASSERT_EQ(0, r.rc) << r.err;
  nlohmann::json listed = nlohmann::json::parse(r.out);
  ASSERT_EQ(3u, listed.size());
  EXPECT_EQ(false, listed[1]["live"]) << listed[1];  // "dead": 45 s > 30 s + 10 s
  EXPECT_EQ(true, listed[0]["live"]) << listed[0];   // "beating": 25 s
  EXPECT_EQ(true, listed[2]["live"]) << listed[2];   // no lease recorded: 5 minutes
  r = Run({"enqueue", "send_email"});
  EXPECT_EQ(0, r.rc);
  EXPECT_HAS(r.err, "no live worker handles task \"send_email\" on queue \"default\"");
  r = Run({"doctor", "--json"});
  EXPECT_HAS(r.out, "2 live workers");
  r = Run({"workers", "stop", "dead"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.err, "warning: worker dead is silent");
  r = Run({"workers", "stop", "beating"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("", r.err);
}

TEST_F(EnqueueCliTest, AScheduleForATaskNoLiveWorkerHandlesIsCreatedWithAWarning) {
  StartWorker();
  CliRun r = Run({"schedules", "add", "typo", "--every", "1h", "--task", "no_such_task"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "created schedule typo");
  EXPECT_HAS(r.err,
             "pgjobs: warning: no live worker handles task \"no_such_task\" on queue "
             "\"default\". Live workers on queue \"default\" handle \"cleanup\", "
             "\"send_email\". Its jobs wait");
  EXPECT_EQ("no_such_task", Q("SELECT task FROM " + S() + ".schedules WHERE name = 'typo'"));

  r = Run({"schedules", "update", "typo", "--task", "cleanup"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("", r.err);
  r = Run({"schedules", "update", "typo", "--task", "clenaup"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.err, "did you mean \"cleanup\"?");
}

}  // namespace
}  // namespace pgjobs
