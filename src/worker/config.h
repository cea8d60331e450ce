// The configuration file of `pgjobs worker` (default /etc/pgjobs/pgjobs.conf):
// JSON with // and /* */ comments allowed. Every key is documented in the
// README; an unknown key is an error that suggests the nearest known one.
#ifndef PGJOBS_WORKER_CONFIG_H_
#define PGJOBS_WORKER_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "pgjobs/status.h"
#include "pgjobs/scheduler.h"
#include "pgjobs/worker.h"

namespace pgjobs::worker {

struct TaskConfig {
  enum class Kind { kCommand, kSql, kRunner };
  std::string name;
  Kind kind = Kind::kCommand;
  // kind "command": argv, no shell. The program must exist at start-up.
  std::vector<std::string> command;
  std::map<std::string, std::string> env;  // added to the worker's environment
  std::string working_dir;                 // default: the worker's
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM -> SIGKILL, default 5 s
  size_t max_result_bytes = 1 << 20;       // stdout limit, default 1 MiB
  // kind "sql": one statement; $1 is the job's args as jsonb.
  std::string sql;
  // kind "runner" (README, "Runner tasks"): command, env, working_dir,
  // kill_grace and max_result_bytes as for "command", plus:
  std::vector<std::string> serves;  // task names; "prefix.*" serves every task it reports so named
  int pool_size = 0;                // runner processes; 0 (default): the worker's total concurrency
  int max_jobs_per_runner = 0;      // replaced after this many jobs; 0 (default): never
  size_t max_memory_per_runner = 0;  // replaced when RSS is above this after a job; 0: never
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(60)};  // until "ready"
  // All kinds.
  TaskOptions options;  // timeout (default none), retry base/max
};

struct Config {
  std::string dsn;                 // "dsn"; PGJOBS_DSN overrides
  std::string schema = "pgjobs";   // "schema"; PGJOBS_SCHEMA overrides
  std::string log_level = "info";  // "log_level": trace debug info warn error
  WorkerOptions worker;            // "worker": {...}
  SchedulerOptions scheduler;      // "scheduler": {...}
  std::vector<TaskConfig> tasks;   // "tasks": {"name": {...}}
  std::string web;                 // "web": {...} as JSON text, read by `pgjobs web`; "" none
};

// Parses and validates config text; source names the file in messages.
Result<Config> ParseConfig(const std::string& text, const std::string& source);
// Reads path (an error names the path when it cannot be read).
Result<Config> LoadConfigFile(const std::string& path);
// Applies PGJOBS_DSN and PGJOBS_SCHEMA from the environment.
void ApplyEnvironment(Config& config);

// "emails=4,reports=1" -> {"emails": 4, "reports": 1}.
Result<std::map<std::string, int>> ParseQueueList(const std::string& text);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_CONFIG_H_
