// Runs one program for one job: argv without a shell, data on stdin, stdout
// captured up to a limit, the tail of stderr kept, progress lines read from a
// separate file descriptor, and a time limit enforced with SIGTERM then SIGKILL.
//
// Thread-safe: RunCommand may be called from many threads at once; each call
// owns its child process and file descriptors and reaps the child before it
// returns (no zombies, no leaked descriptors, even on error paths).
#ifndef PGJOBS_WORKER_COMMAND_RUNNER_H_
#define PGJOBS_WORKER_COMMAND_RUNNER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/status.h"

namespace pgjobs::worker {

// The file descriptor number on which the child may write progress lines.
// The child also finds it in the environment as PGJOBS_PROGRESS_FD.
inline constexpr int kProgressFd = 3;

struct CommandSpec {
  // argv[0] is looked up in PATH when it has no '/'. Must not be empty.
  std::vector<std::string> argv;
  // Added to (or replacing entries of) the worker's own environment.
  std::map<std::string, std::string> env;
  // Written to the child's stdin, which is then closed. A child that exits
  // without reading it is fine (EPIPE is ignored).
  std::string stdin_data;
  // Empty: the worker's own working directory.
  std::string working_dir;
  // Zero: no time limit. Otherwise SIGTERM is sent to the child's process
  // group when it runs longer, and SIGKILL kill_grace later.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds kill_grace{5000};
  // stdout beyond this many bytes is read and counted but not kept.
  std::size_t max_stdout_bytes = 1 << 20;
  // Only the last stderr_tail_bytes of stderr are kept.
  std::size_t stderr_tail_bytes = 4096;
  // Progress lines longer than this are cut to this length.
  std::size_t max_progress_line_bytes = 8192;
};

struct CommandOutcome {
  enum class End {
    kExited,     // exit_code holds the exit status
    kSignaled,   // killed by signal term_signal (not by us)
    kTimedOut,   // we sent SIGTERM (and maybe SIGKILL) because of the timeout
    kCancelled,  // we sent SIGTERM (and maybe SIGKILL) because cancel became true
  };
  End end = End::kExited;
  int exit_code = -1;    // valid when end == kExited
  int term_signal = 0;   // the signal that ended the child, when it was one
  std::string stdout_data;  // at most max_stdout_bytes
  std::size_t stdout_total_bytes = 0;  // all bytes the child wrote to stdout
  bool stdout_truncated = false;       // stdout_total_bytes > max_stdout_bytes
  std::string stderr_tail;             // the last stderr_tail_bytes of stderr
  std::chrono::milliseconds elapsed{0};
};

// Called (on the calling thread) with each complete line the child writes to
// kProgressFd, without the trailing newline.
using ProgressCallback = std::function<void(std::string_view line)>;

// Runs the command to its end. Returns a non-ok Status only when the child
// could not be started at all (program not found, not executable, bad working
// directory, fork failure); the message names the program and the reason,
// e.g. "cannot run /usr/bin/nope: No such file or directory".
// The child runs in its own process group; a timeout or cancel signals the
// whole group. `cancel` may be null; it is checked at least every 100 ms.
Result<CommandOutcome> RunCommand(const CommandSpec& spec, const ProgressCallback& on_progress,
                                  const std::atomic<bool>* cancel);

// Finds argv0 the way RunCommand will: returns the absolute path of an
// executable file, or an error naming what is wrong ("not found in PATH",
// "is not executable"). Used to validate configuration at start-up.
Result<std::string> ResolveProgram(const std::string& argv0);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_COMMAND_RUNNER_H_
