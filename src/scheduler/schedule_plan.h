// What a schedule should do now: pure functions, no database, so that the
// misfire, overlap, start/end and once rules are unit-tested exactly.
#ifndef PGJOBS_SCHEDULER_SCHEDULE_PLAN_H_
#define PGJOBS_SCHEDULER_SCHEDULE_PLAN_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgjobs/cron.h"
#include "pgjobs/status.h"

namespace pgjobs::scheduler {

using Instant = std::chrono::sys_seconds;

// A tick counts as on time up to this late. The misfire policy applies only
// after downtime, when the oldest due tick is later than this; a scheduler
// that is merely a few seconds behind makes a job for every due tick.
inline constexpr std::chrono::seconds kMisfireGrace{30};

enum class Misfire { kSkip, kRunOnce, kCatchUp };

// A schedule's row as the database gives it (times as Unix epoch seconds).
struct ScheduleRow {
  std::string kind;  // cron | interval | once
  std::string cron;
  std::optional<double> every_seconds;
  std::optional<double> at;
  std::string time_zone;
  std::optional<double> start_at;
  std::optional<double> end_at;
  double created_at = 0;
};

struct ScheduleSpec {
  enum class Kind { kCron, kInterval, kOnce };
  Kind kind = Kind::kCron;
  std::optional<CronExpr> cron;
  TimeZone zone;
  int64_t every_seconds = 0;
  Instant anchor;  // interval: ticks at anchor + k * every
  std::optional<Instant> at;
  std::optional<Instant> start;
  std::optional<Instant> end;
};

// Validates and parses a row: a bad cron or an unknown zone is an error
// whose message the scheduler stores in the schedule's error column.
Result<ScheduleSpec> MakeSpec(const ScheduleRow& row);

// The first tick strictly after `after` (and not before start, not after
// end); nullopt when the schedule has no tick left. A once schedule whose
// instant lies outside [start, end] has no tick at all.
std::optional<Instant> NextTick(const ScheduleSpec& spec, Instant after);

// The first tick of a new or edited schedule planned at `now`: the next tick
// after now, or for "once" its instant even if it is past (the misfire
// policy then decides).
std::optional<Instant> FirstTick(const ScheduleSpec& spec, Instant now);

struct DuePlan {
  std::vector<Instant> fire;     // ticks that make a job, oldest first
  int64_t skipped = 0;           // due ticks that make none
  std::optional<Instant> next;   // the next tick after the due ones; nullopt: done
};

// Decides the due ticks: those from next_run_at up to now. When the oldest
// (next_run_at) is at most kMisfireGrace late, each due tick makes a job.
// Otherwise the scheduler was down, and the misfire policy decides:
//   run_once: one job, for the latest due tick; the others are skipped.
//   skip:     the latest due tick makes a job only if it is at most
//             kMisfireGrace late; every other due tick is skipped.
//   catch_up: a job for each due tick, the latest catch_up_limit of them.
// overlap_blocked (overlap "skip" and a job of the schedule still pending or
// running): every due tick is skipped. After an outage so long that a very
// frequent schedule has more than 200,000 due ticks, the jobs are still for
// the latest ticks but `skipped` is a lower bound.
DuePlan PlanDue(const ScheduleSpec& spec, Instant next_run_at, Instant now, Misfire misfire,
                int catch_up_limit, bool overlap_blocked);

Result<Misfire> ParseMisfire(const std::string& text);

// Epoch seconds to an Instant, rounded up so that no tick fires early.
Instant FromEpoch(double epoch);

}  // namespace pgjobs::scheduler

#endif  // PGJOBS_SCHEDULER_SCHEDULE_PLAN_H_
