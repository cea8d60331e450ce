// Starting a child process for a task safely from a multi-threaded worker,
// shared by the "command" kind (command_runner.cc, one process per job) and
// the "runner" kind (runner_pool.cc, one long-lived process per slot). See
// the top of process_launch.cc for how the child is started.
#ifndef PGJOBS_WORKER_PROCESS_LAUNCH_H_
#define PGJOBS_WORKER_PROCESS_LAUNCH_H_

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "common/unique_fd.h"
#include "pgjobs/status.h"
#include "worker/command_runner.h"

namespace pgjobs::worker {

// strerror() text, thread-safe.
std::string ErrnoText(int err);

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

  pid_t pid() const { return pid_; }

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

// Checks argv, env and working_dir of spec for what execve() cannot take.
Status ValidateSpec(const CommandSpec& spec);

// Starts spec (program already resolved to path) in its own process group,
// with stdin, stdout, stderr and kProgressFd on pipes whose parent ends are
// returned, non-blocking. Returns only once execve() succeeded; a failure
// before or at execve() is an error naming the program and the reason.
Result<Launched> Launch(const CommandSpec& spec, const std::string& path);

Status SetNonBlocking(int fd);
// write() that cannot kill the process with SIGPIPE: EPIPE is returned instead.
ssize_t WriteWithoutSigpipe(int fd, const char* data, std::size_t size);

// Keeps the last `limit` bytes; trims only when twice that has piled up, so
// appending is amortised O(1) per byte. Call TrimTail() at the end.
void AppendTail(std::string& tail, std::string_view chunk, std::size_t limit);
void TrimTail(std::string& tail, std::size_t limit);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_PROCESS_LAUNCH_H_
