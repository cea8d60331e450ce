// Runs real processes (mostly /bin/sh -c scripts) through RunCommand.
#include "worker/command_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace pgjobs::worker {
namespace {

using End = CommandOutcome::End;
using std::chrono::milliseconds;

CommandSpec Shell(std::string script) {
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", std::move(script)};
  return spec;
}

CommandOutcome RunOk(const CommandSpec& spec, const ProgressCallback& on_progress = nullptr,
                     const std::atomic<bool>* cancel = nullptr) {
  Result<CommandOutcome> outcome = RunCommand(spec, on_progress, cancel);
  EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
  return outcome.ok() ? std::move(outcome).value() : CommandOutcome{};
}

bool UnderValgrind() {
  const char* preload = getenv("LD_PRELOAD");
  return preload != nullptr && std::string(preload).find("vgpreload") != std::string::npos;
}

// An orphaned grandchild is reaped by init, maybe not at once.
bool IsGoneOrZombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  if (!(stat >> pid_field >> comm >> state)) return true;
  return state == "Z";
}

// A file in /tmp with the given content and mode, removed at the end.
class TempFile {
 public:
  TempFile(const std::string& content, mode_t mode) {
    int fd = mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    fchmod(fd, mode);
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_ = "/tmp/pgjobs-runner-test-XXXXXX";
};

TEST(CommandRunnerTest, ExitCodeIsPassedThrough) {
  CommandOutcome outcome = RunOk(Shell("exit 7"));
  EXPECT_EQ(outcome.end, End::kExited);
  EXPECT_EQ(outcome.exit_code, 7);
  EXPECT_EQ(outcome.term_signal, 0);
}

TEST(CommandRunnerTest, StdoutIsCaptured) {
  CommandOutcome outcome = RunOk(Shell("echo hello; echo world"));
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.stdout_data, "hello\nworld\n");
  EXPECT_EQ(outcome.stdout_total_bytes, 12u);
  EXPECT_FALSE(outcome.stdout_truncated);
}

TEST(CommandRunnerTest, ProgramIsFoundInPath) {
  CommandSpec spec;
  spec.argv = {"echo", "from", "path"};
  EXPECT_EQ(RunOk(spec).stdout_data, "from path\n");
}

TEST(CommandRunnerTest, StdinDataIsDeliveredAndThenClosed) {
  CommandSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data = std::string(300000, 'x') + "end";  // more than a pipe buffer
  CommandOutcome outcome = RunOk(spec);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.stdout_data, spec.stdin_data);
}

TEST(CommandRunnerTest, EnvEntriesAreAddedToTheInheritedEnvironment) {
  setenv("PGJOBS_TEST_INHERITED", "inherited", 1);
  setenv("PGJOBS_TEST_OVERRIDDEN", "old", 1);
  CommandSpec spec = Shell("echo \"$PGJOBS_TEST_INHERITED $PGJOBS_TEST_OVERRIDDEN $EXTRA\"");
  spec.env = {{"PGJOBS_TEST_OVERRIDDEN", "new"}, {"EXTRA", "a b"}};
  EXPECT_EQ(RunOk(spec).stdout_data, "inherited new a b\n");
  unsetenv("PGJOBS_TEST_INHERITED");
  unsetenv("PGJOBS_TEST_OVERRIDDEN");
}

TEST(CommandRunnerTest, ProgressLinesAreDeliveredInOrder) {
  CommandSpec spec = Shell(
      "echo \"fd=$PGJOBS_PROGRESS_FD\"; echo 50 >&3; "
      "i=0; while [ $i -lt 100 ]; do echo $i >&3; i=$((i+1)); done; printf last >&3");
  std::vector<std::string> lines;
  CommandOutcome outcome = RunOk(spec, [&](std::string_view line) { lines.emplace_back(line); });
  EXPECT_EQ(outcome.stdout_data, "fd=3\n");
  std::vector<std::string> expected = {"50"};
  for (int i = 0; i < 100; ++i) expected.push_back(std::to_string(i));
  expected.push_back("last");  // unterminated at EOF
  EXPECT_EQ(lines, expected);
}

TEST(CommandRunnerTest, LongProgressLinesAreCut) {
  CommandSpec spec = Shell("printf '1234567890\\n\\nab\\n' >&3");
  spec.max_progress_line_bytes = 5;
  std::vector<std::string> lines;
  RunOk(spec, [&](std::string_view line) { lines.emplace_back(line); });
  EXPECT_EQ(lines, (std::vector<std::string>{"12345", "", "ab"}));
}

TEST(CommandRunnerTest, StdoutBeyondTheLimitIsCountedButNotKept) {
  CommandSpec spec;
  spec.argv = {"head", "-c", "5000000", "/dev/zero"};
  spec.max_stdout_bytes = 1000;
  CommandOutcome outcome = RunOk(spec);
  EXPECT_EQ(outcome.end, End::kExited);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_EQ(outcome.stdout_data, std::string(1000, '\0'));
  EXPECT_EQ(outcome.stdout_total_bytes, 5000000u);
  EXPECT_TRUE(outcome.stdout_truncated);
}

TEST(CommandRunnerTest, StderrKeepsOnlyTheTail) {
  CommandSpec spec = Shell("i=0; while [ $i -lt 2000 ]; do echo line$i >&2; i=$((i+1)); done");
  spec.stderr_tail_bytes = 20;
  std::string all;
  for (int i = 0; i < 2000; ++i) all += "line" + std::to_string(i) + "\n";
  EXPECT_EQ(RunOk(spec).stderr_tail, all.substr(all.size() - 20));
}

TEST(CommandRunnerTest, WorkingDirectoryIsUsed) {
  CommandSpec spec = Shell("pwd");
  spec.working_dir = "/";
  EXPECT_EQ(RunOk(spec).stdout_data, "/\n");
}

TEST(CommandRunnerTest, TimeoutSendsSigtermToTheProcessGroup) {
  // The trap runs once `sleep` (same process group) dies of the SIGTERM.
  CommandSpec spec = Shell("trap 'echo got-term; exit 3' TERM; sleep 30");
  spec.timeout = milliseconds(300);
  CommandOutcome outcome = RunOk(spec);
  EXPECT_EQ(outcome.end, End::kTimedOut);
  EXPECT_EQ(outcome.stdout_data, "got-term\n");
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_GE(outcome.elapsed, milliseconds(300));
  EXPECT_LT(outcome.elapsed, milliseconds(3000));
}

TEST(CommandRunnerTest, TimeoutEscalatesToSigkillWhenSigtermIsIgnored) {
  // `sleep` inherits the ignored SIGTERM; the timeout leaves sh time to set the trap.
  CommandSpec spec = Shell("trap '' TERM; while :; do sleep 0.05; done");
  spec.timeout = milliseconds(400);
  spec.kill_grace = milliseconds(200);
  CommandOutcome outcome = RunOk(spec);
  EXPECT_EQ(outcome.end, End::kTimedOut);
  EXPECT_EQ(outcome.term_signal, SIGKILL);
  EXPECT_GE(outcome.elapsed, milliseconds(600));
  EXPECT_LT(outcome.elapsed, milliseconds(3000));
}

TEST(CommandRunnerTest, CancelStopsASleepingChild) {
  std::atomic<bool> cancel{false};
  CommandSpec spec = Shell("echo started >&3; exec sleep 30");
  CommandOutcome outcome = RunOk(
      spec, [&](std::string_view line) { cancel = (line == "started"); }, &cancel);
  EXPECT_EQ(outcome.end, End::kCancelled);
  EXPECT_EQ(outcome.term_signal, SIGTERM);
  EXPECT_LT(outcome.elapsed, milliseconds(3000));
}

TEST(CommandRunnerTest, CancelFromAnotherThreadIsNoticed) {
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    cancel = true;
  });
  CommandOutcome outcome = RunOk(Shell("exec sleep 30"), nullptr, &cancel);
  canceller.join();
  EXPECT_EQ(outcome.end, End::kCancelled);
  EXPECT_LT(outcome.elapsed, milliseconds(3000));
}

TEST(CommandRunnerTest, DeathBySignalIsReportedAsSignaled) {
  CommandOutcome outcome = RunOk(Shell("kill -9 $$"));
  EXPECT_EQ(outcome.end, End::kSignaled);
  EXPECT_EQ(outcome.term_signal, SIGKILL);
}

TEST(CommandRunnerTest, MissingProgramIsReportedWithAClearMessage) {
  CommandSpec spec;
  spec.argv = {"pgjobs-no-such-program"};
  Result<CommandOutcome> outcome = RunCommand(spec, nullptr, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), Status::Code::kNotFound);
  EXPECT_NE(outcome.status().message().find("cannot run pgjobs-no-such-program: not found in PATH"),
            std::string::npos)
      << outcome.status().message();
}

TEST(CommandRunnerTest, MissingAbsolutePathIsReportedWithErrnoText) {
  CommandSpec spec;
  spec.argv = {"/usr/bin/pgjobs-nope"};
  Result<CommandOutcome> outcome = RunCommand(spec, nullptr, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message(),
            "cannot run /usr/bin/pgjobs-nope: No such file or directory");
}

TEST(CommandRunnerTest, NonExecutableFileIsReportedWithAClearMessage) {
  TempFile file("#!/bin/sh\necho hi\n", 0644);
  CommandSpec spec;
  spec.argv = {file.path()};
  Result<CommandOutcome> outcome = RunCommand(spec, nullptr, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find(file.path() + ": is not executable"), std::string::npos)
      << outcome.status().message();
}

TEST(CommandRunnerTest, ExecFailureInTheChildIsReported) {
  if (UnderValgrind()) GTEST_SKIP() << "valgrind dies when this execve() fails (EXEC FAILED)";
  TempFile file("#!/nonexistent/interpreter\n", 0755);
  CommandSpec spec;
  spec.argv = {file.path()};
  Result<CommandOutcome> outcome = RunCommand(spec, nullptr, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message(),
            "cannot run " + file.path() + ": No such file or directory");
}

TEST(CommandRunnerTest, BadWorkingDirectoryIsReported) {
  CommandSpec spec = Shell("true");
  spec.working_dir = "/nonexistent-pgjobs-dir";
  Result<CommandOutcome> outcome = RunCommand(spec, nullptr, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find(
                "cannot change to working directory '/nonexistent-pgjobs-dir': No such file"),
            std::string::npos)
      << outcome.status().message();
}

TEST(CommandRunnerTest, EmptyArgvIsRejected) {
  Result<CommandOutcome> outcome = RunCommand(CommandSpec{}, nullptr, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), Status::Code::kInvalidArgument);
}

TEST(CommandRunnerTest, ChildThatIgnoresLargeStdinDoesNotHangOrRaiseSigpipe) {
  CommandSpec spec;
  spec.argv = {"true"};
  spec.stdin_data = std::string(8 << 20, 'x');
  CommandOutcome outcome = RunOk(spec);
  EXPECT_EQ(outcome.end, End::kExited);
  EXPECT_EQ(outcome.exit_code, 0);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST(CommandRunnerTest, GrandchildHoldingStdoutDoesNotHangTheRun) {
  // The background sleep keeps stdout open after the shell exits.
  CommandOutcome outcome = RunOk(Shell("sleep 30 & echo $!"));
  EXPECT_EQ(outcome.end, End::kExited);
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_LT(outcome.elapsed, milliseconds(2000));
  const pid_t grandchild = std::atoi(outcome.stdout_data.c_str());
  ASSERT_GT(grandchild, 0);
  kill(grandchild, SIGKILL);
}

TEST(CommandRunnerTest, TimeoutKillsGrandchildrenToo) {
  CommandSpec spec = Shell("sleep 30 & echo $!; wait");
  spec.timeout = milliseconds(200);
  CommandOutcome outcome = RunOk(spec);
  EXPECT_EQ(outcome.end, End::kTimedOut);
  const pid_t grandchild = std::atoi(outcome.stdout_data.c_str());
  ASSERT_GT(grandchild, 0);
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(2000);
  while (!IsGoneOrZombie(grandchild) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(IsGoneOrZombie(grandchild));
}

TEST(CommandRunnerTest, OnlyStandardAndProgressFdsReachTheChild) {
  // Deliberately without close-on-exec, and above the child's fds 0-3.
  const int leaky = fcntl(STDERR_FILENO, F_DUPFD, 20);
  ASSERT_GE(leaky, 20);
  const std::string fd = std::to_string(leaky);
  CommandOutcome outcome = RunOk(
      Shell("for f in 0 1 2 3 " + fd + "; do test -e /proc/$$/fd/$f && printf \"$f \"; done"));
  close(leaky);
  EXPECT_EQ(outcome.stdout_data, "0 1 2 3 ");
}

TEST(CommandRunnerTest, ConcurrentRunsDoNotInterfere) {
  std::vector<std::thread> threads;
  std::vector<std::string> outputs(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(
        [i, &outputs] { outputs[i] = RunOk(Shell("echo " + std::to_string(i))).stdout_data; });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(outputs[i], std::to_string(i) + "\n");
}

TEST(CommandRunnerTest, ResolveProgramReturnsAnAbsolutePath) {
  Result<std::string> path = ResolveProgram("sh");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(path->front(), '/');
  EXPECT_EQ(access(path->c_str(), X_OK), 0);
}

TEST(CommandRunnerTest, ResolveProgramRejectsADirectory) {
  Result<std::string> path = ResolveProgram("/tmp");
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().message(), "cannot run /tmp: is a directory, not a program");
}

}  // namespace
}  // namespace pgjobs::worker
