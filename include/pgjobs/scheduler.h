// The scheduler: turns schedule rows into job rows, and hosts maintenance.
//
// Several schedulers (on several hosts) can run at once: a tick is inserted
// together with the advance of its schedule, under the schedule's row lock,
// so each tick makes exactly one job. Maintenance (rescuing expired leases,
// creating history partitions ahead, dropping those past retention, pruning
// dead worker rows) runs in whichever scheduler holds the leader lease.
#ifndef PGJOBS_SCHEDULER_H_
#define PGJOBS_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "pgjobs/status.h"

namespace spdlog {
class logger;
}

namespace pgjobs {

struct SchedulerOptions {
  std::string dsn;                // libpq DSN; empty = libpq defaults
  std::string schema = "pgjobs";  // default "pgjobs"
  // Scheduler id (also the leader lease holder); default "<host>-<pid>-<random>".
  std::string id;
  // Schedules handled per transaction. Default 500.
  int batch_size = 500;
  // How long the leader's lease lasts without renewal; another scheduler
  // takes over this long after the leader dies. Default 15 s.
  std::chrono::milliseconds leader_lease{std::chrono::seconds(15)};
  // How often the leader returns expired job leases to the queue. Default 5 s.
  std::chrono::milliseconds rescue_interval{std::chrono::seconds(5)};
  // Finished jobs (and their results) are kept this long, by whole days.
  // Default 14 days.
  std::chrono::milliseconds history_retention{std::chrono::hours(24 * 14)};
  // The longest sleep between looks at the schedules (NOTIFY and the next
  // tick wake it sooner). Default 10 s.
  std::chrono::milliseconds max_sleep{std::chrono::seconds(10)};
  // How long before a tick its job may be made, to wait (run_at) for the
  // tick: schedules with overlap "allow", one tick ahead at most; an edit
  // takes a tick made ahead back. Many schedules due at the same second are
  // then all waiting when it comes. 0 turns it off. Default 30 s.
  std::chrono::milliseconds fire_ahead{std::chrono::seconds(30)};
  std::shared_ptr<spdlog::logger> logger;  // default: spdlog's default logger
};

struct SchedulerStats {
  int64_t fired = 0;    // jobs inserted for ticks
  int64_t skipped = 0;  // ticks skipped by the misfire or overlap policy
  int64_t planned = 0;  // next ticks computed for new or edited schedules
  int64_t rescued = 0;  // expired job leases returned to the queue (as leader)
  bool leader = false;
  int64_t fired_ahead = 0;  // of fired: jobs made before their tick, to wait for it
  double max_lateness_seconds = 0;  // the latest tick insertion seen, after its due time
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();  // stops if running
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Validates options, connects, checks the schema and starts the thread.
  // A Scheduler runs once: Start after Stop is an error.
  Status Start();
  // Stops promptly (a transaction in progress completes) and releases the
  // leader lease. Idempotent.
  void Stop();
  SchedulerStats Stats() const;
  const std::string& id() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgjobs

#endif  // PGJOBS_SCHEDULER_H_
