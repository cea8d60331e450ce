// How a task's child process is started (see process_launch.h):
//
//  1. The program is resolved in the parent (ResolveProgram), and argv, envp
//     and every pipe are prepared before fork(), so that the child only makes
//     async-signal-safe calls between fork() and execve(). This matters because
//     the worker is multi-threaded: another thread may hold the malloc lock.
//  2. All descriptors are created close-on-exec (pipe2, F_DUPFD_CLOEXEC) and
//     kept above fd 3; the child dup2()s its ends onto 0-3 and closes the rest.
//  3. The child reports a failure before or at execve() as {stage, errno} on a
//     close-on-exec pipe; EOF on that pipe means execve() succeeded.
//
// SIGPIPE: writing to the stdin of a child that has exited raises SIGPIPE,
// whose default action would kill the whole worker. We do not change the
// process-wide disposition (that belongs to main()); instead each write()
// blocks SIGPIPE in the calling thread and, if that write failed with EPIPE,
// consumes the SIGPIPE it raised before restoring the thread's signal mask.
#include "worker/process_launch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>
#include <vector>

namespace pgjobs::worker {
namespace {

constexpr int kMaxFdFallback = 65536;  // close() loop bound when close_range() is missing
constexpr char kProgressFdEnv[] = "PGJOBS_PROGRESS_FD";

}  // namespace

std::string ErrnoText(int err) {
  const char* text = strerrordesc_np(err);  // unlike strerror(), thread-safe
  return text != nullptr ? text : "error " + std::to_string(err);
}

namespace {

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

}  // namespace

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

namespace {

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace pgjobs::worker
