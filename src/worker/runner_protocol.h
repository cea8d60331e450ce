// The JSON-lines protocol between the worker and a long-lived "runner"
// process (README, "Runner protocol"). One JSON object per line, UTF-8.
//
// Worker -> runner, on the runner's stdin:
//   {"type":"job","id":42,"task":"app.tasks.sync","args":{...},"attempt":1,
//    "max_attempts":4,"queue":"default","deadline":1764930000.5}
//      deadline: Unix seconds at which the attempt is stopped, or null.
//   {"type":"stop","id":42,"reason":"timeout"}
//      sent just before SIGTERM: the job is being stopped (reason "timeout",
//      "cancelled", "lease lost" or "worker shutdown").
//   end of file: finish the current job, then exit.
//
// Runner -> worker, on the runner's stdout:
//   {"type":"ready","protocol":1,"tasks":["app.tasks.sync", ...]}
//      once, after start-up: the task names it can run.
//   {"type":"progress","id":42,"progress":{...}}        any number per job
//   exactly one outcome per job:
//   {"type":"success","id":42,"result":<any JSON, optional>}
//   {"type":"failure","id":42,"error":"ValueError: bad","traceback":"..."}
//   {"type":"retry","id":42,"after":30,"error":"..."}  back later, no attempt used
//   {"type":"discard","id":42,"error":"..."}           failed for good
// Anything else on stdout is a protocol error; logs go to stderr.
#ifndef PGJOBS_WORKER_RUNNER_PROTOCOL_H_
#define PGJOBS_WORKER_RUNNER_PROTOCOL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/handler.h"
#include "pgjobs/status.h"

namespace pgjobs::worker {

inline constexpr int kRunnerProtocolVersion = 1;

// The job line for job (with its trailing newline); deadline in Unix seconds.
std::string EncodeRunnerJob(const Job& job, std::optional<double> deadline_unix_seconds);
std::string EncodeRunnerStop(int64_t job_id, std::string_view reason);

struct RunnerMessage {
  enum class Type { kReady, kProgress, kSuccess, kFailure, kRetry, kDiscard };
  Type type = Type::kFailure;
  int64_t id = 0;                       // every type but kReady
  std::vector<std::string> tasks;       // kReady
  std::string json;                     // kProgress: the progress; kSuccess: the result ("" = none)
  std::string error;                    // kFailure, kRetry, kDiscard
  std::string traceback;                // kFailure, optional
  std::optional<double> after_seconds;  // kRetry; none: the task's retry_base

  bool is_outcome() const { return type != Type::kReady && type != Type::kProgress; }
};

// Parses one line of a runner's stdout (without its newline). A line that is
// not a protocol message is an InvalidArgument error that quotes the line
// (cut to 200 bytes) and says what is wrong with it.
Result<RunnerMessage> ParseRunnerLine(std::string_view line);

// The handler result of an outcome message; retry_base for "retry" without "after".
HandlerResult RunnerOutcome(const RunnerMessage& message, std::chrono::milliseconds retry_base);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_RUNNER_PROTOCOL_H_
