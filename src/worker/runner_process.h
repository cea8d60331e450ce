// One long-lived runner process (task kind "runner"): started with Launch()
// like a command, then fed jobs on stdin and read line by line on stdout
// (runner_protocol.h). Its stderr is logged line by line with the job id it
// is running, and the tail is kept for the message when it dies.
//
// Not thread-safe: one thread at a time uses a RunnerProcess (the pool hands
// it to one executor per job). The destructor kills the process group and
// reaps the child if it still runs.
#ifndef PGJOBS_WORKER_RUNNER_PROCESS_H_
#define PGJOBS_WORKER_RUNNER_PROCESS_H_

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgjobs/status.h"
#include "worker/process_launch.h"

namespace pgjobs::worker {

class RunnerProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts spec (argv[0] resolved to path). max_line_bytes bounds one stdout line.
  static Result<std::unique_ptr<RunnerProcess>> Start(const CommandSpec& spec,
                                                      const std::string& path,
                                                      std::string runner_name,
                                                      std::shared_ptr<spdlog::logger> log);
  RunnerProcess(const RunnerProcess&) = delete;
  RunnerProcess& operator=(const RunnerProcess&) = delete;
  ~RunnerProcess();

  enum class Event {
    kLine,     // *line holds one stdout line, without its newline
    kTimeout,  // `until` passed first
    kExited,   // the process has ended and stdout is drained (call Reap)
    kTooLong,  // a stdout line is longer than max_line_bytes
  };
  // Reads stdout and stderr until a whole stdout line is there, the process
  // exits, or until passes (an until in the past only takes what is there).
  Event Next(Clock::time_point until, std::string* line);
  // Writes text to stdin, waiting while the pipe is full until deadline.
  Status Send(const std::string& text, Clock::time_point deadline);

  // Waits until the "ready" line and returns the task names it lists.
  Result<std::vector<std::string>> AwaitReady(Clock::time_point deadline);

  void SignalGroup(int sig);
  bool HasExited();
  // Reaps the process (which must have exited) and says how it ended, e.g.
  // "exited with status 3" or "was killed by signal 9 (Killed)".
  std::string Reap();
  // Closes stdin (a runner exits at end of input) and returns; Finish() then
  // waits for the exit, SIGKILLing the group at kill_at.
  void CloseStdin();
  std::string Finish(Clock::time_point kill_at);

  pid_t pid() const { return pid_; }
  void set_job(int64_t job_id) { job_id_ = job_id; }
  std::string stderr_tail() const;
  // Resident memory of the runner process (not its children); 0 if unknown.
  size_t RssBytes() const;
  int jobs_done = 0;

 private:
  RunnerProcess(Launched launched, pid_t pid, std::string name, size_t max_line_bytes,
                std::shared_ptr<spdlog::logger> log);
  void ReadStdout();
  void ReadStderr();
  void LogStderrLines();
  bool TakeLine(std::string* line);

  ChildProcess child_;
  ParentFds fds_;
  pid_t pid_;
  bool reaped_ = false;
  std::string name_;
  size_t max_line_bytes_;
  std::shared_ptr<spdlog::logger> log_;
  std::string stdout_buf_;
  std::string stderr_buf_;   // the unfinished stderr line
  std::string stderr_tail_;  // the last bytes of stderr
  int64_t job_id_ = 0;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_RUNNER_PROCESS_H_
