// The scheduler's database side: each function runs named statements of
// sql/schedules.sql; the decisions are made by scheduler/schedule_plan.h.
#ifndef PGJOBS_STORE_SCHEDULE_STORE_H_
#define PGJOBS_STORE_SCHEDULE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

struct PlanResult {
  int planned = 0;  // schedules given a next tick (or marked done / in error)
  int errors = 0;   // schedules whose expression or zone is invalid
  bool full = false;  // the batch was full: call again
};
// Computes next_run_at for up to batch schedules that lack one.
Result<PlanResult> PlanSchedules(pg::Connection& conn, int batch);

struct FireResult {
  int schedules = 0;  // due schedules handled
  int64_t fired = 0;  // jobs inserted
  int64_t skipped = 0;
  bool full = false;
  // How late the jobs of due ticks were inserted after their tick, in
  // seconds (max).
  double max_lateness_seconds = 0;
  // Ticks made ahead (their jobs wait for the tick), and how long until the
  // earliest of them by the database's clock.
  int64_t ahead = 0;
  std::optional<double> first_ahead_in_seconds;
  // Schedules whose tick's job the database refused, as "NAME: why"; each
  // is now in error (its error column says why) and fires no more until
  // its template is changed or its error cleared.
  std::vector<std::string> refused;
};
// Inserts the jobs of up to batch due schedules and advances them, in one
// transaction. With fire_ahead_seconds > 0, a schedule with overlap 'allow'
// whose next tick comes within that time also makes its job now, to wait
// for the tick (one tick ahead at most). A schedule whose job is refused (a
// trigger of the user's on jobs, an index, a constraint added later) is put
// in error; the others fire as usual.
Result<FireResult> FireDueSchedules(pg::Connection& conn, int batch, double fire_ahead_seconds);

struct NextSchedule {
  std::optional<double> seconds;  // until the earliest tick
  bool needs_plan = false;
};
Result<NextSchedule> NextScheduleIn(pg::Connection& conn);

// True when holder holds (took or renewed) the lease afterwards.
Result<bool> AcquireLease(pg::Connection& conn, const std::string& name, const std::string& holder,
                          double seconds);
Status ReleaseLease(pg::Connection& conn, const std::string& name, const std::string& holder);
// Drops history partitions older than retention; nullopt when locked by another.
Result<std::optional<int>> DropOldPartitions(pg::Connection& conn, double retention_seconds);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_SCHEDULE_STORE_H_
