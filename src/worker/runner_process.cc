#include "worker/runner_process.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include "worker/runner_protocol.h"

namespace pgjobs::worker {
namespace {

using Clock = RunnerProcess::Clock;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kStderrTailBytes = 4096;
constexpr std::size_t kStderrLineBytes = 8192;  // a longer stderr line is logged in pieces
constexpr std::chrono::milliseconds kDrainAfterExit{100};

int MillisUntil(Clock::time_point until) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
}

// Reads what fd has now into out; false at EOF or on an error (fd closed).
bool ReadInto(UniqueFd& fd, std::string& out) {
  char buffer[kReadChunk];
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    } else {
      fd.Reset();
      return false;
    }
  }
  return true;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigdescr_np(sig);
    return "was killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
  }
  return "ended (its exit status was lost)";
}

}  // namespace

Result<std::unique_ptr<RunnerProcess>> RunnerProcess::Start(const CommandSpec& spec,
                                                            const std::string& path,
                                                            std::string runner_name,
                                                            std::shared_ptr<spdlog::logger> log) {
  PGJOBS_RETURN_IF_ERROR(ValidateSpec(spec));
  Result<Launched> launched = Launch(spec, path);
  if (!launched.ok()) return launched.status();
  launched->fds.progress_r.Reset();  // progress comes as protocol lines on stdout
  const pid_t pid = launched->child.pid();
  return std::unique_ptr<RunnerProcess>(new RunnerProcess(std::move(launched).value(), pid,
                                                          std::move(runner_name),
                                                          spec.max_stdout_bytes, std::move(log)));
}

RunnerProcess::RunnerProcess(Launched launched, pid_t pid, std::string name, size_t max_line_bytes,
                             std::shared_ptr<spdlog::logger> log)
    : child_(std::move(launched.child)),
      fds_(std::move(launched.fds)),
      pid_(pid),
      name_(std::move(name)),
      max_line_bytes_(max_line_bytes),
      log_(std::move(log)) {}

RunnerProcess::~RunnerProcess() {
  if (!stderr_buf_.empty()) {
    stderr_buf_ += '\n';
    LogStderrLines();
  }
}

bool RunnerProcess::TakeLine(std::string* line) {
  const std::size_t newline = stdout_buf_.find('\n');
  if (newline == std::string::npos) return false;
  line->assign(stdout_buf_, 0, newline);
  if (!line->empty() && line->back() == '\r') line->pop_back();
  stdout_buf_.erase(0, newline + 1);
  return true;
}

void RunnerProcess::ReadStdout() { ReadInto(fds_.stdout_r, stdout_buf_); }

void RunnerProcess::ReadStderr() {
  std::string chunk;
  const bool open = ReadInto(fds_.stderr_r, chunk);
  AppendTail(stderr_tail_, chunk, kStderrTailBytes);
  stderr_buf_ += chunk;
  if (!open && !stderr_buf_.empty()) stderr_buf_ += '\n';
  LogStderrLines();
}

void RunnerProcess::LogStderrLines() {
  std::size_t start = 0;
  while (true) {
    std::size_t newline = stderr_buf_.find('\n', start);
    if (newline == std::string::npos && stderr_buf_.size() - start < kStderrLineBytes) break;
    if (newline == std::string::npos) newline = start + kStderrLineBytes;
    std::string_view text(stderr_buf_.data() + start, newline - start);
    if (job_id_ != 0) {
      log_->info("runner stderr runner={} pid={} job_id={}: {}", name_, pid_, job_id_, text);
    } else {
      log_->info("runner stderr runner={} pid={}: {}", name_, pid_, text);
    }
    start = std::min(newline + 1, stderr_buf_.size());
  }
  stderr_buf_.erase(0, start);
}

RunnerProcess::Event RunnerProcess::Next(Clock::time_point until, std::string* line) {
  while (true) {
    if (TakeLine(line)) return Event::kLine;
    if (stdout_buf_.size() > max_line_bytes_) return Event::kTooLong;
    if (!fds_.stdout_r.valid()) {
      // stdout closed: the runner is ending. Wait for it (briefly) so that
      // Reap() can say how it ended.
      if (HasExited() || Clock::now() >= until)
        return HasExited() ? Event::kExited : Event::kTimeout;
    }
    std::array<pollfd, 3> pfds{};
    nfds_t count = 0;
    for (const UniqueFd* fd : {&fds_.stdout_r, &fds_.stderr_r, &fds_.pidfd}) {
      if (fd->valid()) pfds[count++] = pollfd{fd->get(), POLLIN, 0};
    }
    int timeout = MillisUntil(until);
    if (!fds_.stdout_r.valid() && !fds_.pidfd.valid()) timeout = std::min(timeout, 5);
    const int ready = poll(pfds.data(), count, timeout);
    if (ready < 0 && errno != EINTR) return Event::kTimeout;
    if (fds_.stdout_r.valid()) ReadStdout();
    if (fds_.stderr_r.valid()) ReadStderr();
    if (fds_.pidfd.valid() && HasExited()) {
      // Gone: what it wrote before dying is still in the pipes.
      const Clock::time_point drain_until = Clock::now() + kDrainAfterExit;
      while ((fds_.stdout_r.valid() || fds_.stderr_r.valid()) && Clock::now() < drain_until) {
        if (fds_.stdout_r.valid()) ReadStdout();
        if (fds_.stderr_r.valid()) ReadStderr();
        if (fds_.stdout_r.valid() || fds_.stderr_r.valid()) poll(pfds.data(), 0, 5);
      }
      fds_.pidfd.Reset();
      if (TakeLine(line)) return Event::kLine;
      return Event::kExited;
    }
    if (ready == 0 && Clock::now() >= until) return Event::kTimeout;
  }
}

Status RunnerProcess::Send(const std::string& text, Clock::time_point deadline) {
  std::size_t written = 0;
  while (written < text.size()) {
    if (!fds_.stdin_w.valid()) return Status::Unavailable("the runner's stdin is closed");
    const ssize_t n =
        WriteWithoutSigpipe(fds_.stdin_w.get(), text.data() + written, text.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Clock::now() >= deadline) {
        return Status::Unavailable("the runner does not read its stdin");
      }
      // Keep its stdout and stderr flowing while we wait for room.
      if (fds_.stderr_r.valid()) ReadStderr();
      if (fds_.stdout_r.valid()) ReadStdout();
      pollfd pfd{fds_.stdin_w.get(), POLLOUT, 0};
      poll(&pfd, 1, 10);
      continue;
    }
    fds_.stdin_w.Reset();
    return Status::Unavailable("cannot write to the runner: " + ErrnoText(errno));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> RunnerProcess::AwaitReady(Clock::time_point deadline) {
  std::string line;
  while (true) {
    switch (Next(deadline, &line)) {
      case Event::kLine: {
        auto message = ParseRunnerLine(line);
        if (!message.ok()) return message.status();
        if (message->type != RunnerMessage::Type::kReady) {
          return Status::FailedPrecondition(
              "the runner's first line must be {\"type\":\"ready\",...}, not: " + line);
        }
        return message->tasks;
      }
      case Event::kTooLong:
        return Status::FailedPrecondition("the runner printed a line longer than " +
                                          std::to_string(max_line_bytes_) + " bytes");
      case Event::kExited:
        return Status::FailedPrecondition("it " + Reap() + " before it was ready");
      case Event::kTimeout:
        if (Clock::now() >= deadline) {
          return Status::Unavailable("it printed no \"ready\" line within startup_timeout");
        }
        break;
    }
  }
}

void RunnerProcess::SignalGroup(int sig) {
  if (!reaped_) child_.SignalGroup(sig);
}

bool RunnerProcess::HasExited() { return reaped_ || child_.HasExited(); }

std::string RunnerProcess::Reap() {
  if (reaped_) return "ended";
  // Stragglers of its group (a task's own children) go with it.
  child_.SignalGroup(SIGKILL);
  const int status = child_.Reap();
  reaped_ = true;
  return DescribeWaitStatus(status);
}

void RunnerProcess::CloseStdin() { fds_.stdin_w.Reset(); }

std::string RunnerProcess::Finish(Clock::time_point kill_at) {
  CloseStdin();
  std::string line;
  bool killed = false;
  while (!HasExited()) {
    Clock::time_point until = killed ? Clock::now() + std::chrono::milliseconds(100) : kill_at;
    if (Next(until, &line) == Event::kTimeout && !killed && Clock::now() >= kill_at) {
      SignalGroup(SIGKILL);
      killed = true;
    }
  }
  return Reap();
}

std::string RunnerProcess::stderr_tail() const {
  std::string tail = stderr_tail_;
  TrimTail(tail, kStderrTailBytes);
  return tail;
}

size_t RunnerProcess::RssBytes() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      size_t kb = 0;
      status >> kb;
      return kb * 1024;
    }
    status.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace pgjobs::worker
