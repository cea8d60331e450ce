// Black-box tests of what the daemons tell systemd (Type=notify units): a
// datagram socket owned by the test stands in for $NOTIFY_SOCKET and records
// READY=1 (only once the schema is checked), WATCHDOG=1 (when WATCHDOG_USEC
// asks for it) and STOPPING=1 (on SIGTERM); a schema that is not migrated is
// a clear start-up error with its own exit status, never READY=1.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::TestSchema;

// A bound AF_UNIX datagram socket, like the one systemd passes in
// $NOTIFY_SOCKET, and every message it received.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }
  // Waits up to timeout for the next message; "" on timeout.
  std::string Next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return "";
    received_.emplace_back(buf, static_cast<size_t>(n));
    return received_.back();
  }
  // Reads messages until one equals want or timeout passes.
  bool WaitFor(const std::string& want, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (Next(left) == want) return true;
    }
    return false;
  }
  int Count(const std::string& message) const {
    int n = 0;
    for (const std::string& m : received_) n += m == message ? 1 : 0;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> received_;
};

class SystemdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgjobs-notify.XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
    socket_ = std::make_unique<NotifySocket>(dir_ + "/notify");
    ASSERT_TRUE(socket_->bound());
    config_ = dir_ + "/pgjobs.conf";
    std::ofstream(config_) << "{\"tasks\": {\"noop\": {\"kind\": \"command\", \"command\": "
                              "[\"/bin/true\"]}}}";
  }
  void TearDown() override {
    socket_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  std::unique_ptr<ChildProcess> Start(const std::string& daemon, const std::string& schema,
                                      std::map<std::string, std::string> env = {}) {
    env["NOTIFY_SOCKET"] = socket_->path();
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BinaryPath(), daemon, "--config", config_, "--dsn",
                                 schema_.dsn(), "--schema", schema},
        dir_ + "/" + daemon + ".log", env);
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }

  TestSchema schema_;
  std::string dir_;
  std::string config_;
  std::unique_ptr<NotifySocket> socket_;
};

TEST_F(SystemdNotifyTest, TheWorkerIsReadyAfterItsSchemaCheckPingsTheWatchdogAndSaysStopping) {
  auto worker = Start("worker", schema_.name(), {{"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(socket_->WaitFor("READY=1", 20s)) << worker->Log();
  // READY=1 came after the worker checked the schema and registered.
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + schema_.name() + ".workers"));
  EXPECT_TRUE(socket_->WaitFor("WATCHDOG=1", 2s));
  EXPECT_TRUE(socket_->WaitFor("WATCHDOG=1", 2s));
  worker->Signal(SIGTERM);
  EXPECT_TRUE(socket_->WaitFor("STOPPING=1", 5s)) << worker->Log();
  EXPECT_EQ(0, worker->Wait(30s).value_or(-1)) << worker->Log();
  EXPECT_EQ(1, socket_->Count("READY=1"));
}

TEST_F(SystemdNotifyTest, TheSchedulerIsReadyAndPingsTheWatchdogOnlyWhenAsked) {
  auto scheduler = Start("scheduler", schema_.name());
  ASSERT_TRUE(socket_->WaitFor("READY=1", 20s)) << scheduler->Log();
  EXPECT_EQ("", socket_->Next(1s)) << "no WATCHDOG_USEC, so no WATCHDOG=1";
  scheduler->Signal(SIGTERM);
  EXPECT_TRUE(socket_->WaitFor("STOPPING=1", 5s)) << scheduler->Log();
  EXPECT_EQ(0, scheduler->Wait(30s).value_or(-1)) << scheduler->Log();

  auto again = Start("scheduler", schema_.name(), {{"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(socket_->WaitFor("READY=1", 20s)) << again->Log();
  EXPECT_TRUE(socket_->WaitFor("WATCHDOG=1", 2s));
  // A watchdog meant for another process (WATCHDOG_PID) is not ours.
  again->Signal(SIGTERM);
  EXPECT_EQ(0, again->Wait(30s).value_or(-1));
  auto other =
      Start("scheduler", schema_.name(), {{"WATCHDOG_USEC", "400000"}, {"WATCHDOG_PID", "1"}});
  ASSERT_TRUE(socket_->WaitFor("READY=1", 20s)) << other->Log();
  EXPECT_EQ("", socket_->Next(1s));
  other->Signal(SIGTERM);
  EXPECT_EQ(0, other->Wait(30s).value_or(-1));
}

TEST_F(SystemdNotifyTest, ASchemaThatIsNotMigratedIsAClearErrorAndNeverReady) {
  for (const char* daemon : {"worker", "scheduler"}) {
    auto process = Start(daemon, "not_migrated_yet");
    EXPECT_EQ(5, process->Wait(30s).value_or(-1)) << daemon << ": " << process->Log();
    EXPECT_NE(std::string::npos, process->Log().find("pgjobs migrate"))
        << daemon << ": " << process->Log();
    EXPECT_EQ("", socket_->Next(100ms)) << daemon << " must not say READY=1";
  }
}

TEST_F(SystemdNotifyTest, TheSchedulerNeverLogsAJobsArgsAtTheDefaultLevel) {
  Q("INSERT INTO " + schema_.name() +
    ".schedules (name, task, kind, every, args) VALUES ('s', 'noop', 'interval', "
    "interval '1 second', '{\"password\": \"hunter2\"}') RETURNING id");
  auto scheduler = Start("scheduler", schema_.name());
  ASSERT_TRUE(socket_->WaitFor("READY=1", 20s)) << scheduler->Log();
  ASSERT_TRUE(testing::Eventually(
      [&] { return Q("SELECT count(*) FROM " + schema_.name() + ".jobs") != "0"; }, 10s));
  scheduler->Signal(SIGTERM);
  EXPECT_EQ(0, scheduler->Wait(30s).value_or(-1));
  EXPECT_NE(std::string::npos, scheduler->Log().find("scheduler exited fired="))
      << "the log was written: " << scheduler->Log();
  EXPECT_EQ(std::string::npos, scheduler->Log().find("hunter2")) << scheduler->Log();
}

}  // namespace
}  // namespace pgjobs
