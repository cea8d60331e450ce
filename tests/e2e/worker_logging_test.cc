// Black-box tests of what `pgjobs worker` logs per job: every failed attempt,
// retry and final failure at the default level, successes only at debug, and
// never the job's args.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::Eventually;
using testing::TestSchema;

class WorkerLoggingTest : public ::testing::Test {
 protected:
  // A worker running tasks "flaky" (fails, two lines on stderr) and "fine".
  std::unique_ptr<ChildProcess> StartWorker(const std::vector<std::string>& extra = {}) {
    std::string config = dir_ + "/pgjobs.conf";
    std::ofstream(config)
        << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
        << "\", \"tasks\": {"
           "\"flaky\": {\"kind\": \"command\", \"retry_base\": \"100ms\", \"retry_max\": "
           "\"100ms\", \"command\": [\"/bin/sh\", \"-c\", "
           "\"echo first line of the error >&2; echo second line >&2; exit 3\"]},"
           "\"fine\": {\"kind\": \"command\", \"command\": [\"/bin/true\"]}}}";
    std::vector<std::string> argv = {testing::BinaryPath(), "worker", "--config", config};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, dir_ + "/worker.log");
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  // Inserts a job and returns its id.
  std::string Insert(const std::string& task, int max_attempts) {
    return Q("INSERT INTO " + S() + ".jobs (task, args, max_attempts) VALUES ('" + task +
             "', '{\"password\": \"hunter2\"}', " + std::to_string(max_attempts) +
             ") RETURNING id");
  }
  bool Finished(const std::string& id) {
    return Q("SELECT count(*) FROM " + S() + ".job_history WHERE id = " + id) == "1";
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-wlog"};
  const std::string dir_ = tmp_.path();
};

TEST_F(WorkerLoggingTest, EveryFailedAttemptRetryAndFinalFailureIsLoggedAtTheDefaultLevel) {
  auto worker = StartWorker();
  std::string id = Insert("flaky", 3);
  ASSERT_TRUE(Eventually([&] { return Finished(id); }, 30s)) << worker->Log();
  worker->Signal(SIGTERM);
  EXPECT_EQ(0, worker->Wait(10s).value_or(-1));
  std::string log = worker->Log();
  for (int attempt : {1, 2}) {
    EXPECT_HAS(log, "warning job attempt failed, will retry task=flaky job_id=" + id +
                        " attempt=" + std::to_string(attempt) +
                        "/3 retry_in=0.1s error=\"exit "
                        "status 3; stderr: first line of the error\"");
  }
  EXPECT_HAS(log, "error job failed for good: no attempts left task=flaky job_id=" + id +
                      " attempt=3/3 error=\"exit status 3; stderr: first line of the error\"");
  EXPECT_EQ(std::string::npos, log.find("second line")) << log;  // the first line only
  EXPECT_EQ(std::string::npos, log.find("hunter2")) << log;      // never the args
}

TEST_F(WorkerLoggingTest, SuccessesAreLoggedOnlyAtTheDebugLevel) {
  auto quiet = StartWorker();
  std::string first = Insert("fine", 4);
  ASSERT_TRUE(Eventually([&] { return Finished(first); })) << quiet->Log();
  quiet->Signal(SIGTERM);
  EXPECT_EQ(0, quiet->Wait(10s).value_or(-1));
  EXPECT_EQ(std::string::npos, quiet->Log().find("job succeeded")) << quiet->Log();

  auto chatty = StartWorker({"--log-level", "debug"});
  std::string second = Insert("fine", 4);
  ASSERT_TRUE(Eventually([&] { return Finished(second); })) << chatty->Log();
  chatty->Signal(SIGTERM);
  EXPECT_EQ(0, chatty->Wait(10s).value_or(-1));
  EXPECT_HAS(chatty->Log(), "debug job succeeded task=fine job_id=" + second + " attempt=1/4");
  EXPECT_EQ(std::string::npos, chatty->Log().find("hunter2")) << chatty->Log();
}

}  // namespace
}  // namespace pgjobs
