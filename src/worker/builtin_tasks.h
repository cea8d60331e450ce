// Handlers for the task kinds a configuration file declares (README,
// "Running tasks"): "command" runs a program per job, "sql" runs a statement,
// "runner" feeds jobs to long-lived processes (runner_pool.h).
#ifndef PGJOBS_WORKER_BUILTIN_TASKS_H_
#define PGJOBS_WORKER_BUILTIN_TASKS_H_

#include <memory>
#include <string>
#include <vector>

#include "pgjobs/handler.h"
#include "pgjobs/status.h"
#include "worker/config.h"

namespace pgjobs::worker {

// Exit status of a command that means "retry later" (EX_TEMPFAIL from
// sysexits.h): the job goes back to the queue after the task's retry_base
// without using an attempt.
inline constexpr int kRetryLaterExitCode = 75;

// Checks what can be checked before any job runs: the program exists and is
// executable, the working directory exists.
Status CheckTask(const TaskConfig& task);

// The handler for task. dsn is used by "sql" tasks (one connection per
// concurrently running job, kept for reuse).
Result<Handler> MakeHandler(const TaskConfig& task, const std::string& dsn);

struct NamedHandler {
  std::string task;
  Handler handler;
  TaskOptions options;
};
// The handlers of one configured task: for "command" and "sql" the one of
// MakeHandler, named task.name; for "runner", starts its processes (pool_size,
// default the sum of the worker's queue concurrencies) and returns a handler
// for each task they serve. An error is a configuration or start-up fault.
Result<std::vector<NamedHandler>> MakeHandlers(const TaskConfig& task, const Config& config);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_BUILTIN_TASKS_H_
