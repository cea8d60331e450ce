// A child process for black-box tests of the pgjobs binary: started with
// argv, output to a log file, signalled, waited for with a deadline, and
// killed (with its process group) when the object goes away.
#ifndef PGJOBS_TESTS_SUPPORT_CHILD_PROCESS_H_
#define PGJOBS_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgjobs::testing {

class ChildProcess {
 public:
  // stdout and stderr go to log_path (appended).
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const std::map<std::string, std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit status (WEXITSTATUS, or 128+signal) once it exits, nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

// Runs argv to completion (at most timeout) and returns {exit status, output}.
std::pair<int, std::string> RunToEnd(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                     const std::map<std::string, std::string>& env = {});

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_CHILD_PROCESS_H_
