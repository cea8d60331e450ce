// Running jobs: a Worker claims jobs of its queues from PostgreSQL and runs
// them with the registered handlers, following the job protocol (README,
// "The job protocol").
//
//   pgjobs::WorkerOptions options;
//   options.dsn = "host=/run/postgresql dbname=app";
//   options.queues = {{"default", 4}};
//   pgjobs::Worker worker(options);
//   worker.Register("send_email", [](pgjobs::JobContext& ctx) {
//     send(ctx.job().args_json);
//     return pgjobs::HandlerResult::Success();
//   });
//   worker.Start();          // returns at once; threads do the work
//   ...
//   worker.Stop(std::chrono::seconds(30));  // drain, then give back
#ifndef PGJOBS_WORKER_H_
#define PGJOBS_WORKER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "pgjobs/handler.h"
#include "pgjobs/status.h"

namespace spdlog {
class logger;
}

namespace pgjobs {

struct RetryPolicy {
  // Delay before attempt n+1 is base * 2^(n-1), capped at max, with +-20%
  // jitter so that a burst of failures does not come back as a burst.
  std::chrono::milliseconds base{std::chrono::seconds(10)};  // default 10 s
  std::chrono::milliseconds max{std::chrono::hours(1)};      // default 1 h
};

struct TaskOptions {
  // Per-attempt time limit when the job sets none. 0 = none. Default 0.
  // At the limit the handler is asked to stop (stop_requested()); the attempt
  // counts as failed with a timeout error.
  std::chrono::milliseconds timeout{0};
  RetryPolicy retry;
};

// The Redis broker (README, "Redis broker"), used for the queues whose
// broker is 'redis' when this build has Redis support.
struct RedisOptions {
  // "redis://[:password@]host[:port][/db]" or "unix:///path[?db=N]". Empty
  // (the default): this worker claims Redis queues' jobs from PostgreSQL.
  std::string url;
  std::string password;               // "" (default): none, or the URL's
  std::string key_prefix = "pgjobs";  // stream keys: <prefix>:<queue>:<priority>
  // A job pushed to Redis and still not claimed after this long is pushed
  // again (its entry was lost with Redis' data). Default 30 s.
  std::chrono::milliseconds redispatch_after{std::chrono::seconds(30)};
  // At most this many jobs per queue wait in its streams unread by any
  // worker (bounds how far a later priority-9 job can queue behind lower
  // ones). Default 1000.
  int window = 1000;
};

struct WorkerOptions {
  std::string dsn;                 // libpq DSN; empty = libpq defaults
  std::string schema = "pgjobs";   // default "pgjobs"
  // Queue name -> how many jobs of it run at once. Required.
  std::map<std::string, int> queues;
  // A worker's claim on a job; renewed every lease/3 while the job runs.
  // If the worker dies, the job is rescued this long after the last renewal.
  std::chrono::milliseconds lease{std::chrono::seconds(30)};  // default 30 s
  // A job whose lease could not be renewed is told to stop this long before
  // the lease ends, so that it has ended before any worker may rescue it.
  // Default (0): lease/4. Tasks that take longer to end once told (a
  // command's kill_grace) need more; `pgjobs worker` sets it from the
  // configuration file. Longer than lease/4 and at most lease/2.
  std::chrono::milliseconds stop_margin{0};
  // How often to look for jobs without a NOTIFY. Default 2 s.
  std::chrono::milliseconds poll_interval{std::chrono::seconds(2)};
  // How often this worker returns expired leases (any worker's) to the queue.
  std::chrono::milliseconds rescue_interval{std::chrono::seconds(5)};  // default 5 s
  // Jobs claimed beyond the free slots, kept ready in memory.
  // kPrefetchAuto (the default) adapts it per queue to the jobs' run time:
  // as many as the queue's executors finish in 250 ms (at most a tenth of
  // the lease), at most 1000, and none until a job of the queue has finished
  // or when jobs take longer than that; so short jobs are claimed in large
  // batches and long ones only for free slots, leaving the rest to other
  // workers. 0 claims only for free slots; N > 0 keeps N ready.
  static constexpr int kPrefetchAuto = -1;
  static constexpr int kMaxAutoPrefetch = 1000;
  int prefetch = kPrefetchAuto;
  // Completions are written in batches of at most this many... default 1000
  int completion_batch = 1000;
  // ...or after this long, whichever comes first. Default 5 ms.
  std::chrono::milliseconds completion_flush{5};
  // How long a graceful stop (RequestStop, SIGTERM) lets running jobs finish
  // before they are stopped and given back. Default 30 s.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  // Worker id; default "<host>-<pid>-<random>".
  std::string worker_id;
  RedisOptions redis;
  // Logger for the worker's messages; default spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
};

struct WorkerStats {
  int64_t claimed = 0;
  int64_t succeeded = 0;  // committed to history as succeeded
  int64_t failed = 0;     // committed to history as failed
  int64_t retried = 0;    // committed back to pending for a later attempt
  int64_t lost = 0;       // results dropped because the lease was lost
  int64_t given_back = 0;
  int64_t rescued = 0;    // expired leases this worker returned to the queue
  int running = 0;        // handlers running now
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();  // stops hard if still running
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers the handler for task. Only before Start.
  void Register(const std::string& task, Handler handler, TaskOptions options = {});

  // Validates the options, connects, registers the worker row and starts the
  // threads. Returns an error (and starts nothing) on bad options or when the
  // database cannot be reached or is not migrated.
  Status Start();

  // Stops claiming, lets running jobs finish for up to drain, then asks the
  // rest to stop and gives them back to the queue at once (no attempt used),
  // flushes completions and returns. Safe to call twice.
  void Stop(std::chrono::milliseconds drain);
  // Asks for a stop from any thread (e.g. a signal handler thread) without
  // waiting: the first call starts a graceful drain, the second a hard stop.
  void RequestStop();
  // Blocks until a stop requested with RequestStop has finished.
  void Wait();

  WorkerStats Stats() const;
  const std::string& id() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgjobs

#endif  // PGJOBS_WORKER_H_
