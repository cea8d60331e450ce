// How a command runs (see command_runner.h for the contract):
//
//  1. The program is resolved in the parent (ResolveProgram), and argv, envp
//     and every pipe are prepared before fork(), so that the child only makes
//     async-signal-safe calls between fork() and execve(). This matters because
//     the worker is multi-threaded: another thread may hold the malloc lock.
//  2. All descriptors are created close-on-exec (pipe2, F_DUPFD_CLOEXEC) and
//     kept above fd 3; the child dup2()s its ends onto 0-3 and closes the rest.
//  3. The child reports a failure before or at execve() as {stage, errno} on a
//     close-on-exec pipe; EOF on that pipe means execve() succeeded.
//  4. The parent runs one poll() loop over stdin, stdout, stderr, progress and
//     a pidfd (which becomes readable when the child exits), waking at least
//     every 100 ms to check the timeout and `cancel`.
//  5. The child is noticed with waitid(WNOWAIT) and signalled while it is still
//     a zombie, so its pid cannot have been reused when we kill(-pgid, ...).
//     After reaping, what the pipes hold is drained for at most 100 ms: a
//     grandchild that keeps stdout open cannot hang us.
//
// SIGPIPE: writing to the stdin of a child that has exited raises SIGPIPE,
// whose default action would kill the whole worker. We do not change the
// process-wide disposition (that belongs to main()); instead each write()
// blocks SIGPIPE in the calling thread and, if that write failed with EPIPE,
// consumes the SIGPIPE it raised before restoring the thread's signal mask.
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
constexpr int kMaxFdFallback = 65536;   // close() loop bound when close_range() is missing
constexpr char kProgressFdEnv[] = "PGJOBS_PROGRESS_FD";

std::string ErrnoText(int err) {
  const char* text = strerrordesc_np(err);  // unlike strerror(), thread-safe
  return text != nullptr ? text : "error " + std::to_string(err);
}

// ---------------------------------------------------------------------------
// Descriptors.

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Moves fd above kProgressFd, so that the child's dup2() onto 0-3 can never
// overwrite it (and never be a no-op that leaves close-on-exec set).
Status KeepAboveStdFds(UniqueFd* fd) {
  if (fd->get() > kProgressFd) return Status::Ok();
  const int moved = fcntl(fd->get(), F_DUPFD_CLOEXEC, kProgressFd + 1);
  if (moved < 0) return Status::Unavailable("fcntl(F_DUPFD_CLOEXEC): " + ErrnoText(errno));
  fd->Reset(moved);
  return Status::Ok();
}

Status MakePipe(Pipe* pipe) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Status::Unavailable("pipe2: " + ErrnoText(errno));
  pipe->read.Reset(fds[0]);
  pipe->write.Reset(fds[1]);
  PGJOBS_RETURN_IF_ERROR(KeepAboveStdFds(&pipe->read));
  return KeepAboveStdFds(&pipe->write);
}

Status SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return Status::Unavailable("fcntl(O_NONBLOCK): " + ErrnoText(errno));
  }
  return Status::Ok();
}

// write() that cannot kill the process with SIGPIPE (see the top of the file).
ssize_t WriteWithoutSigpipe(int fd, const char* data, std::size_t size) {
  sigset_t sigpipe, pending, old_mask;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  const ssize_t written = write(fd, data, size);
  const int saved_errno = errno;
  if (written < 0 && saved_errno == EPIPE && !was_pending) {
    const timespec zero{};
    while (sigtimedwait(&sigpipe, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved_errno;
  return written;
}

// ---------------------------------------------------------------------------
// Preparing the child's argv and environment.

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Status ValidateSpec(const CommandSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status::InvalidArgument("cannot run a command with an empty argv[0]");
  }
  const std::string prefix = "cannot run " + spec.argv[0] + ": ";
  for (const std::string& arg : spec.argv) {
    if (HasNul(arg)) return Status::InvalidArgument(prefix + "an argument contains a NUL byte");
  }
  for (const auto& [key, value] : spec.env) {
    if (key.empty() || key.find('=') != std::string::npos || HasNul(key) || HasNul(value)) {
      return Status::InvalidArgument(prefix + "invalid environment variable name or value '" + key +
                                     "'");
    }
  }
  if (HasNul(spec.working_dir)) {
    return Status::InvalidArgument(prefix + "the working directory contains a NUL byte");
  }
  return Status::Ok();
}

// The worker's environment, minus the names that spec.env or we set.
std::vector<std::string> BuildEnvironment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string key(text.substr(0, text.find('=')));
    if (key != kProgressFdEnv && extra.count(key) == 0) env.emplace_back(text);
  }
  for (const auto& [key, value] : extra) {
    if (key != kProgressFdEnv) env.push_back(key + "=" + value);
  }
  env.push_back(std::string(kProgressFdEnv) + "=" + std::to_string(kProgressFd));
  return env;
}

// A NULL-terminated char* array for execve(), owning its strings.
class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> strings) : strings_(std::move(strings)) {
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  char* const* get() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// ---------------------------------------------------------------------------
// The child, between fork() and execve(): async-signal-safe calls only.

enum class ChildStage : int { kSetpgid, kChdir, kRedirect, kExec };

struct ChildError {
  int stage;
  int err;
};

struct ExecPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* working_dir;       // null: stay where we are
  std::array<int, 4> child_fds;  // become 0 (stdin), 1, 2 and kProgressFd
  int report_fd;
};

[[noreturn]] void FailChild(int report_fd, ChildStage stage) {
  const ChildError error{static_cast<int>(stage), errno};
  while (write(report_fd, &error, sizeof(error)) < 0 && errno == EINTR) {
  }
  _exit(127);
}

// Handlers would be reset by execve() anyway, but not before it, and ignored
// signals (SIGPIPE in many daemons) would stay ignored in the program.
void ResetSignalDispositions() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // may fail: fine
  }
}

// Everything we opened is close-on-exec; this also catches descriptors that
// other code in the worker opened without O_CLOEXEC. report_fd stays open.
void CloseOtherFds(int report_fd) {
  const int first = kProgressFd + 1;
  bool ok = report_fd == first || close_range(first, report_fd - 1, 0) == 0;
  ok = ok && close_range(report_fd + 1, ~0U, 0) == 0;
  if (ok) return;
  for (int fd = first; fd < kMaxFdFallback; ++fd) {
    if (fd != report_fd) close(fd);
  }
}

[[noreturn]] void RunChild(const ExecPlan& plan) {
  if (setpgid(0, 0) < 0) FailChild(plan.report_fd, ChildStage::kSetpgid);
  ResetSignalDispositions();
  if (plan.working_dir != nullptr && chdir(plan.working_dir) < 0) {
    FailChild(plan.report_fd, ChildStage::kChdir);
  }
  for (int target = 0; target <= kProgressFd; ++target) {
    if (dup2(plan.child_fds[target], target) < 0) FailChild(plan.report_fd, ChildStage::kRedirect);
  }
  CloseOtherFds(plan.report_fd);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  FailChild(plan.report_fd, ChildStage::kExec);
}

// All signals are blocked across fork() so that the child cannot run one of
// the worker's handlers before it has reset them.
pid_t ForkChild(const ExecPlan& plan) {
  sigset_t all, old_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  const pid_t pid = fork();
  if (pid == 0) RunChild(plan);
  const int saved_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved_errno;
  return pid;
}

// ---------------------------------------------------------------------------
// The parent's handle on the child.

// Owns a child process that leads its own process group. The destructor
// SIGKILLs the group and reaps the child if nobody has reaped it yet (error
// paths, or an exception thrown by the progress callback).
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess() {
    if (pid_ <= 0) return;
    SignalGroup(SIGKILL);
    Reap();
  }

  // True once the child has ended. It stays a zombie, keeping its pid and
  // process group id from being reused, until Reap().
  bool HasExited() const {
    siginfo_t info{};
    int rc;
    do {
      rc = waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 || info.si_pid == pid_;  // ECHILD: someone else reaped it
  }

  void SignalGroup(int sig) const {
    // ESRCH: the child died before its setpgid(); signal it alone.
    if (kill(-pid_, sig) < 0 && errno == ESRCH) kill(pid_, sig);
  }

  // Waits for the child and returns its wait status; -1 (neither exited nor
  // signalled) if it was lost, e.g. because SIGCHLD is set to SIG_IGN.
  int Reap() {
    int status = -1;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// The parent's ends of the pipes, all non-blocking, plus the child's pidfd.
struct ParentFds {
  UniqueFd stdin_w;
  UniqueFd stdout_r;
  UniqueFd stderr_r;
  UniqueFd progress_r;
  UniqueFd pidfd;  // invalid when pidfd_open() is unavailable
};

struct Launched {
  ChildProcess child;
  ParentFds fds;
};

Status ChildFailure(const CommandSpec& spec, const std::string& path, ChildError error) {
  std::string prefix = "cannot run " + spec.argv[0];
  if (path != spec.argv[0]) prefix += " (" + path + ")";
  prefix += ": ";
  const std::string reason = ErrnoText(error.err);
  switch (static_cast<ChildStage>(error.stage)) {
    case ChildStage::kChdir:
      return Status::FailedPrecondition(prefix + "cannot change to working directory '" +
                                        spec.working_dir + "': " + reason);
    case ChildStage::kExec:
      return error.err == ENOENT ? Status::NotFound(prefix + reason)
                                 : Status::FailedPrecondition(prefix + reason);
    case ChildStage::kSetpgid:
      return Status::Unavailable(prefix + "setpgid: " + reason);
    case ChildStage::kRedirect:
      return Status::Unavailable(prefix + "dup2: " + reason);
  }
  return Status::Internal(prefix + "unknown failure in the child");
}

// A descriptor that polls readable once the child has exited; invalid on
// kernels before 5.3. Called directly: glibc 2.36's <sys/pidfd.h> lacks
// extern "C", so its pidfd_open() does not link from C++.
UniqueFd OpenPidfd(pid_t pid) {
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

// Blocks until the child has called execve() (EOF) or reported a failure.
Status WaitForExec(const UniqueFd& report, ChildProcess& child, const CommandSpec& spec,
                   const std::string& path) {
  ChildError error{};
  ssize_t n;
  do {
    n = read(report.get(), &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  if (n == 0) return Status::Ok();
  child.Reap();
  if (n != sizeof(error)) return Status::Internal("cannot run " + spec.argv[0] + ": bad report");
  return ChildFailure(spec, path, error);
}

Result<Launched> Launch(const CommandSpec& spec, const std::string& path) {
  const std::string context = "cannot run " + spec.argv[0];
  Pipe in, out, err, progress, report;
  for (Pipe* p : {&in, &out, &err, &progress, &report}) {
    PGJOBS_RETURN_IF_ERROR(MakePipe(p).WithContext(context));
  }
  const CStringArray argv(spec.argv);
  const CStringArray envp(BuildEnvironment(spec.env));
  const ExecPlan plan{path.c_str(),
                      argv.get(),
                      envp.get(),
                      spec.working_dir.empty() ? nullptr : spec.working_dir.c_str(),
                      {in.read.get(), out.write.get(), err.write.get(), progress.write.get()},
                      report.write.get()};
  const pid_t pid = ForkChild(plan);
  if (pid < 0) return Status::Unavailable(context + ": fork: " + ErrnoText(errno));
  ChildProcess child(pid);
  setpgid(pid, pid);  // also from here, so kill(-pid) works at once; may fail after exec
  for (UniqueFd* fd : {&in.read, &out.write, &err.write, &progress.write, &report.write}) {
    fd->Reset();
  }
  PGJOBS_RETURN_IF_ERROR(WaitForExec(report.read, child, spec, path));
  ParentFds fds{std::move(in.write), std::move(out.read), std::move(err.read),
                std::move(progress.read), OpenPidfd(pid)};
  for (const UniqueFd* fd : {&fds.stdin_w, &fds.stdout_r, &fds.stderr_r, &fds.progress_r}) {
    PGJOBS_RETURN_IF_ERROR(SetNonBlocking(fd->get()).WithContext(context));
  }
  return Launched{std::move(child), std::move(fds)};
}

// ---------------------------------------------------------------------------
// Collecting output.

// Keeps the last `limit` bytes; trims only when twice that has piled up, so
// appending is amortised O(1) per byte. Call TrimTail() at the end.
void AppendTail(std::string& tail, std::string_view chunk, std::size_t limit) {
  if (chunk.size() >= limit) {
    tail.assign(chunk.substr(chunk.size() - limit));
    return;
  }
  tail.append(chunk);
  if (tail.size() > limit && tail.size() - limit > limit) tail.erase(0, tail.size() - limit);
}

void TrimTail(std::string& tail, std::size_t limit) {
  if (tail.size() > limit) tail.erase(0, tail.size() - limit);
}

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
