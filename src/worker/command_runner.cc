// How a command runs (see command_runner.h for the contract):
//
//  1. The child is started by Launch() (process_launch.h): resolved program,
//     everything prepared before fork(), pipes above fd 3, exec failures
//     reported on a close-on-exec pipe.
//  2. The parent runs one poll() loop over stdin, stdout, stderr, progress and
//     a pidfd (which becomes readable when the child exits), waking at least
//     every 100 ms to check the timeout and `cancel`.
//  3. The child is noticed with waitid(WNOWAIT) and signalled while it is still
//     a zombie, so its pid cannot have been reused when we kill(-pgid, ...).
//     After reaping, what the pipes hold is drained for at most 100 ms: a
//     grandchild that keeps stdout open cannot hang us.
#include "worker/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "common/unique_fd.h"
#include "worker/process_launch.h"

namespace pgjobs::worker {
namespace {

using Clock = std::chrono::steady_clock;
using End = CommandOutcome::End;
using std::chrono::milliseconds;

constexpr milliseconds kPollSlice{100};       // how often timeout and cancel are checked
constexpr milliseconds kDrainAfterExit{100};  // reading what a reaped child left behind
constexpr milliseconds kExitPollSlice{5};     // exit polling when there is no pidfd
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kMaxReadsPerWakeup = 16;  // so one busy pipe cannot starve the others

// Splits the progress stream into lines cut to max_line bytes.
class LineSplitter {
 public:
  LineSplitter(std::size_t max_line, const ProgressCallback& on_line)
      : max_line_(max_line), on_line_(on_line) {}

  void Feed(std::string_view data) {
    while (!data.empty()) {
      const std::size_t newline = data.find('\n');
      Keep(data.substr(0, newline));
      if (newline == std::string_view::npos) return;
      Emit();
      data.remove_prefix(newline + 1);
    }
  }

  // At EOF: an unterminated last line counts too.
  void Finish() {
    if (partial_) Emit();
  }

 private:
  void Keep(std::string_view part) {
    if (part.empty()) return;
    partial_ = true;
    line_.append(part.substr(0, max_line_ - line_.size()));
  }

  void Emit() {
    if (on_line_) on_line_(line_);
    line_.clear();
    partial_ = false;
  }

  const std::size_t max_line_;
  const ProgressCallback& on_line_;
  std::string line_;      // never longer than max_line_
  bool partial_ = false;  // bytes seen since the last newline
};

// ---------------------------------------------------------------------------
// The poll loop.

class Supervisor {
 public:
  Supervisor(const CommandSpec& spec, const ProgressCallback& on_progress,
             const std::atomic<bool>* cancel, Clock::time_point start, Launched launched)
      : spec_(spec),
        cancel_(cancel),
        start_(start),
        child_(std::move(launched.child)),
        fds_(std::move(launched.fds)),
        progress_(spec.max_progress_line_bytes, on_progress),
        buffer_(kReadChunk) {}

  CommandOutcome Run();

 private:
  bool Done(Clock::time_point now) const;
  bool AnyReaderOpen() const;
  void EnforceLimits(Clock::time_point now);
  std::optional<End> LimitReached(Clock::time_point now) const;
  int PollTimeoutMs(Clock::time_point now) const;
  void PollOnce(int timeout_ms);
  void WriteStdin();
  template <typename Sink>
  bool ReadAvailable(UniqueFd& fd, Sink sink);
  void ReadStdout();
  void ReadStderr();
  void ReadProgress();
  void ReapChild();
  void RecordStatus(int status);

  const CommandSpec& spec_;
  const std::atomic<bool>* const cancel_;
  const Clock::time_point start_;
  ChildProcess child_;
  ParentFds fds_;
  LineSplitter progress_;
  std::vector<char> buffer_;
  CommandOutcome outcome_;
  std::size_t stdin_written_ = 0;
  std::optional<End> stop_reason_;  // set when we have sent SIGTERM
  Clock::time_point term_sent_at_;
  bool kill_sent_ = false;
  bool reaped_ = false;
  Clock::time_point drain_deadline_;
};

CommandOutcome Supervisor::Run() {
  if (spec_.stdin_data.empty()) fds_.stdin_w.Reset();
  while (!Done(Clock::now())) {
    if (!reaped_) EnforceLimits(Clock::now());
    PollOnce(PollTimeoutMs(Clock::now()));
    if (!reaped_ && child_.HasExited()) ReapChild();
  }
  outcome_.stdout_truncated = outcome_.stdout_total_bytes > spec_.max_stdout_bytes;
  TrimTail(outcome_.stderr_tail, spec_.stderr_tail_bytes);
  return std::move(outcome_);
}

bool Supervisor::Done(Clock::time_point now) const {
  return reaped_ && (!AnyReaderOpen() || now >= drain_deadline_);
}

bool Supervisor::AnyReaderOpen() const {
  return fds_.stdout_r.valid() || fds_.stderr_r.valid() || fds_.progress_r.valid();
}

std::optional<End> Supervisor::LimitReached(Clock::time_point now) const {
  if (cancel_ != nullptr && cancel_->load()) return End::kCancelled;
  if (spec_.timeout.count() > 0 && now - start_ >= spec_.timeout) return End::kTimedOut;
  return std::nullopt;
}

// SIGTERM when a limit is reached, SIGKILL kill_grace later.
void Supervisor::EnforceLimits(Clock::time_point now) {
  if (!stop_reason_) {
    const std::optional<End> reason = LimitReached(now);
    if (!reason || child_.HasExited()) return;  // a child that has ended is not stopped
    stop_reason_ = reason;
    term_sent_at_ = now;
    child_.SignalGroup(SIGTERM);
  } else if (!kill_sent_ && now - term_sent_at_ >= spec_.kill_grace) {
    kill_sent_ = true;
    child_.SignalGroup(SIGKILL);
  }
}

int Supervisor::PollTimeoutMs(Clock::time_point now) const {
  Clock::duration wait = kPollSlice;
  if (reaped_) {
    wait = std::min(wait, drain_deadline_ - now);
  } else if (stop_reason_ && !kill_sent_) {
    wait = std::min(wait, term_sent_at_ + spec_.kill_grace - now);
  } else if (!stop_reason_ && spec_.timeout.count() > 0) {
    wait = std::min(wait, start_ + spec_.timeout - now);
  }
  if (!reaped_ && !fds_.pidfd.valid() && !AnyReaderOpen())
    wait = std::min(wait, Clock::duration(kExitPollSlice));
  return static_cast<int>(
      std::max<milliseconds::rep>(0, std::chrono::ceil<milliseconds>(wait).count()));
}

void Supervisor::PollOnce(int timeout_ms) {
  struct Watch {
    UniqueFd* fd;
    short events;
    void (Supervisor::*on_ready)();
  };
  const std::array<Watch, 4> watches{{{&fds_.stdin_w, POLLOUT, &Supervisor::WriteStdin},
                                      {&fds_.stdout_r, POLLIN, &Supervisor::ReadStdout},
                                      {&fds_.stderr_r, POLLIN, &Supervisor::ReadStderr},
                                      {&fds_.progress_r, POLLIN, &Supervisor::ReadProgress}}};
  std::array<pollfd, 5> pfds{};
  std::array<void (Supervisor::*)(), 5> handlers{};
  nfds_t count = 0;
  for (const Watch& w : watches) {
    if (!w.fd->valid()) continue;
    handlers[count] = w.on_ready;
    pfds[count++] = pollfd{w.fd->get(), w.events, 0};
  }
  // The pidfd only wakes us up; Run() checks the child after every poll.
  if (fds_.pidfd.valid()) pfds[count++] = pollfd{fds_.pidfd.get(), POLLIN, 0};
  if (poll(pfds.data(), count, timeout_ms) <= 0) return;  // timeout or EINTR: Run() re-checks
  for (nfds_t i = 0; i < count; ++i) {
    if (pfds[i].revents != 0 && handlers[i] != nullptr) (this->*handlers[i])();
  }
}

// EPIPE (or any error) means the child will not read more: stop writing.
void Supervisor::WriteStdin() {
  const std::string& data = spec_.stdin_data;
  const ssize_t n = WriteWithoutSigpipe(fds_.stdin_w.get(), data.data() + stdin_written_,
                                        data.size() - stdin_written_);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n > 0) stdin_written_ += static_cast<std::size_t>(n);
  if (n <= 0 || stdin_written_ == data.size()) fds_.stdin_w.Reset();
}

// Reads what is there now, passing each chunk to sink. Closes fd and returns
// true at EOF (or on a read error).
template <typename Sink>
bool Supervisor::ReadAvailable(UniqueFd& fd, Sink sink) {
  for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
    const ssize_t n = read(fd.get(), buffer_.data(), buffer_.size());
    if (n > 0) {
      sink(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      fd.Reset();
      return true;
    } else if (errno != EINTR) {
      return false;
    }
  }
  return false;
}

void Supervisor::ReadStdout() {
  ReadAvailable(fds_.stdout_r, [this](std::string_view chunk) {
    outcome_.stdout_total_bytes += chunk.size();
    const std::size_t kept = outcome_.stdout_data.size();
    if (kept < spec_.max_stdout_bytes) {
      outcome_.stdout_data.append(chunk.substr(0, spec_.max_stdout_bytes - kept));
    }
  });
}

void Supervisor::ReadStderr() {
  ReadAvailable(fds_.stderr_r, [this](std::string_view chunk) {
    AppendTail(outcome_.stderr_tail, chunk, spec_.stderr_tail_bytes);
  });
}

void Supervisor::ReadProgress() {
  const bool eof =
      ReadAvailable(fds_.progress_r, [this](std::string_view chunk) { progress_.Feed(chunk); });
  if (eof) progress_.Finish();
}

// After a timeout or cancel, SIGKILL what is left of the group while the
// zombie still holds the group id: no straggler outlives a stopped job.
void Supervisor::ReapChild() {
  if (stop_reason_) child_.SignalGroup(SIGKILL);
  const int status = child_.Reap();
  outcome_.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start_);
  reaped_ = true;
  drain_deadline_ = Clock::now() + kDrainAfterExit;
  fds_.stdin_w.Reset();
  fds_.pidfd.Reset();
  RecordStatus(status);
}

void Supervisor::RecordStatus(int status) {
  if (WIFEXITED(status)) outcome_.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome_.term_signal = WTERMSIG(status);
  if (stop_reason_) {
    outcome_.end = *stop_reason_;
  } else {
    outcome_.end = WIFSIGNALED(status) ? End::kSignaled : End::kExited;
  }
}

}  // namespace

Result<CommandOutcome> RunCommand(const CommandSpec& spec, const ProgressCallback& on_progress,
                                  const std::atomic<bool>* cancel) {
  PGJOBS_RETURN_IF_ERROR(ValidateSpec(spec));
  Result<std::string> path = ResolveProgram(spec.argv[0]);
  if (!path.ok()) return path.status();
  const Clock::time_point start = Clock::now();
  Result<Launched> launched = Launch(spec, *path);
  if (!launched.ok()) return launched.status();
  Supervisor supervisor(spec, on_progress, cancel, start, std::move(launched).value());
  return supervisor.Run();
}

}  // namespace pgjobs::worker
