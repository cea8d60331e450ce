// What the pgjobs-bench commands share: their flags, the wall clock used in
// every reported time, error reporting and logging.
//
// Output contract (tools/bench/run.sh parses it): stdout carries only the
// lines named by each command (READY, one final JSON line); everything else,
// logs included, goes to stderr.
#ifndef PGJOBS_TOOLS_BENCH_BENCH_COMMON_H_
#define PGJOBS_TOOLS_BENCH_BENCH_COMMON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pgjobs/status.h"

namespace spdlog {
class logger;
}

namespace pgjobs::bench {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // a failure at run time
inline constexpr int kExitUsage = 2;  // bad flags

// Flags every command takes.
struct CommonFlags {
  std::string dsn;                // --dsn, required
  std::string queue = "default";  // --queue, default "default"
  std::string schema = "pgjobs";  // --schema, default "pgjobs"
  // --broker postgres|redis (enqueue, worker, reset): the tool sets the
  // queue's broker; --redis-url is where the worker reads from and what
  // reset clears. Unset: the queue's broker is left as it is.
  std::string broker;
  std::string redis_url;
  // The Redis keys' prefix: "pgjobs-bench-<schema>".
  std::string redis_prefix() const { return "pgjobs-bench-" + schema; }
};

struct EnqueueFlags {
  int64_t count = 0;  // --count, required
  int batch = 1000;   // --batch: jobs per EnqueueMany call (bulk mode), default 1000
  // --gap-ms: latency mode, one Enqueue per slot on a steady schedule.
  std::optional<double> gap_ms;
  bool stamp = false;  // --stamp: args {"t": <wall ms just before the call>}
  bool paced() const { return stamp || gap_ms.has_value(); }
};

struct WorkerFlags {
  int concurrency = 0;                     // --concurrency, required
  int64_t exit_after = 0;                  // --exit-after (or --exit-when-empty)
  // --exit-when-empty: stop once the queue has no job left, pending or
  // running, so that several workers can share one backlog.
  bool exit_when_empty = false;
  std::optional<int> prefetch;             // --prefetch; default WorkerOptions'
  std::optional<int> completion_batch;     // --completion-batch; default WorkerOptions'
  std::optional<int> completion_flush_ms;  // --completion-flush-ms; default WorkerOptions'
  double max_seconds = 600;                // --max-seconds: give up (exit 1) after this long
  // --task-config: a pgjobs configuration file whose one task (kind command
  // or runner) runs "noop" instead of the in-process no-op handler.
  std::string task_config;
};

struct SchedulesFlags {
  int count = 10000;               // --count: schedules to create
  std::string cron = "* * * * *";  // --cron: every schedule's expression
  double seconds = 130;            // --seconds: how long the schedulers run
  int schedulers = 1;              // --schedulers: how many run at once
  double fire_ahead = 30;          // --fire-ahead: seconds (0: off), as scheduler.fire_ahead
};

// Wall-clock milliseconds since the Unix epoch, with sub-millisecond digits.
double WallMs();

// Prints "pgjobs-bench: <message>" to stderr and returns the exit code.
int Fail(const Status& status);

// The bench's logger: stderr, warn level. The first call also makes it
// spdlog's default, so that nothing logs to stdout.
std::shared_ptr<spdlog::logger> StderrLogger();

// Checks that flags.dsn reaches a database whose schema is fully migrated.
// Unavailable when it cannot connect; FailedPrecondition saying "run
// pgjobs-bench reset" when the schema is missing or behind.
Status CheckSchemaReady(const CommonFlags& flags);

// Sets the queue's broker when --broker was given (checking --redis-url and
// the build's Redis support for redis).
Status ApplyBroker(const CommonFlags& flags, bool needs_url);
// Deletes the queue's Redis streams (reset --redis-url).
Status ClearRedis(const CommonFlags& flags);

int RunReset(const CommonFlags& flags);
int RunEnqueue(const CommonFlags& flags, const EnqueueFlags& enqueue);
int RunWorker(const CommonFlags& flags, const WorkerFlags& worker);
int RunSchedules(const CommonFlags& flags, const SchedulesFlags& schedules);

}  // namespace pgjobs::bench

#endif  // PGJOBS_TOOLS_BENCH_BENCH_COMMON_H_
