#include "scheduler/schedule_plan.h"

#include <cmath>
#include <deque>
#include <limits>

namespace pgjobs::scheduler {
namespace {

using std::chrono::seconds;

// Enumerating due ticks of a very frequent schedule after a long outage is
// bounded: past this many, only the latest ones are enumerated and the count
// of skipped ticks becomes a lower bound.
constexpr int64_t kMaxEnumerated = 200000;

// Ticks are whole seconds, so at most this many fall within kMisfireGrace.
constexpr size_t kMaxOnTimeTicks = static_cast<size_t>(kMisfireGrace.count()) + 1;

std::optional<Instant> CronNext(const ScheduleSpec& spec, Instant after) {
  std::optional<Instant> t = spec.cron->NextAfter(after, spec.zone);
  if (t && spec.start && *t < *spec.start) t = spec.cron->NextAfter(*spec.start - seconds(1), spec.zone);
  return t;
}

std::optional<Instant> IntervalNext(const ScheduleSpec& spec, Instant after) {
  // A start given is the first tick; without one the first comes one
  // interval after the schedule was made (as Celery runs a new entry), the
  // same whether a scheduler planned it at once or later.
  Instant first =
      spec.start ? std::max(*spec.start, spec.anchor) : spec.anchor + seconds(spec.every_seconds);
  if (after < first) return first;
  int64_t k = (after - spec.anchor).count() / spec.every_seconds + 1;
  return spec.anchor + seconds(k * spec.every_seconds);
}

// A once schedule's instant, unless start or end rule it out.
std::optional<Instant> OnceTick(const ScheduleSpec& spec) {
  if (spec.start && *spec.at < *spec.start) return std::nullopt;
  if (spec.end && *spec.at > *spec.end) return std::nullopt;
  return spec.at;
}

// A stretch of due ticks: the latest `keep` of them, how many there were,
// and the first tick after the stretch.
struct Stretch {
  std::deque<Instant> latest;
  int64_t count = 0;
  std::optional<Instant> next;  // nullopt: no tick left
};

void Add(Stretch& s, Instant t, size_t keep) {
  s.latest.push_back(t);
  if (s.latest.size() > keep) s.latest.pop_front();
  ++s.count;
}

// The ticks from `from` on while they are at most now, at most `limit` of them.
Stretch Enumerate(const ScheduleSpec& spec, std::optional<Instant> from, Instant now, size_t keep,
                  int64_t limit) {
  Stretch s;
  std::optional<Instant> t = from;
  while (t && *t <= now && s.count < limit) {
    Add(s, *t, keep);
    t = NextTick(spec, *t);
  }
  s.next = t;
  return s;
}

// The due ticks from next_run_at up to now. After kMaxEnumerated of them (an
// every-second schedule after days of downtime) it enumerates only the
// latest window of time holding `keep` ticks, doubling the window from
// `keep` seconds, so the work stays bounded while the ticks kept are still
// exactly the latest ones; the ticks between are not counted.
Stretch DueTicks(const ScheduleSpec& spec, Instant next_run_at, Instant now, size_t keep) {
  Stretch head = Enumerate(spec, next_run_at, now, keep, kMaxEnumerated);
  if (!head.next || *head.next > now) return head;
  for (int64_t window = static_cast<int64_t>(keep);; window *= 2) {
    Instant start = now - seconds(window);
    if (start < *head.next) {  // the window reaches back to where head stopped
      Stretch rest = Enumerate(spec, head.next, now, keep, std::numeric_limits<int64_t>::max());
      for (Instant t : rest.latest) Add(head, t, keep);
      head.count += rest.count - static_cast<int64_t>(rest.latest.size());
      head.next = rest.next;
      return head;
    }
    Stretch tail =
        Enumerate(spec, NextTick(spec, start), now, keep, std::numeric_limits<int64_t>::max());
    if (tail.latest.size() >= keep) {
      tail.count += head.count;
      return tail;
    }
  }
}

}  // namespace

Instant FromEpoch(double epoch) { return Instant(seconds(static_cast<int64_t>(std::ceil(epoch)))); }

Result<Misfire> ParseMisfire(const std::string& text) {
  if (text == "skip") return Misfire::kSkip;
  if (text == "run_once") return Misfire::kRunOnce;
  if (text == "catch_up") return Misfire::kCatchUp;
  return Status::InvalidArgument("misfire policy \"" + text +
                                 "\" is unknown; use skip, run_once or catch_up");
}

Result<ScheduleSpec> MakeSpec(const ScheduleRow& row) {
  ScheduleSpec spec;
  auto zone = TimeZone::Load(row.time_zone);
  if (!zone.ok()) return zone.status();
  spec.zone = *zone;
  if (row.start_at) spec.start = FromEpoch(*row.start_at);
  if (row.end_at) spec.end = Instant(seconds(static_cast<int64_t>(std::floor(*row.end_at))));
  if (row.kind == "cron") {
    auto cron = CronExpr::Parse(row.cron);
    if (!cron.ok()) return cron.status();
    // Written by SQL (the CLI refuses it): without this the schedule would
    // look done, as if its last tick had fired.
    std::string never = cron->NeverFiresReason();
    if (!never.empty()) {
      return Status::InvalidArgument("cron \"" + row.cron + "\" never fires: " + never +
                                     "; check the day-of-month and month fields");
    }
    spec.kind = ScheduleSpec::Kind::kCron;
    spec.cron = *cron;
  } else if (row.kind == "interval" && row.every_seconds) {
    spec.kind = ScheduleSpec::Kind::kInterval;
    spec.every_seconds = std::max<int64_t>(1, std::llround(*row.every_seconds));
    spec.anchor = FromEpoch(row.start_at.value_or(row.created_at));
  } else if (row.kind == "once" && row.at) {
    spec.kind = ScheduleSpec::Kind::kOnce;
    spec.at = FromEpoch(*row.at);
  } else {
    return Status::InvalidArgument("schedule kind \"" + row.kind + "\" lacks its field");
  }
  return spec;
}

std::optional<Instant> NextTick(const ScheduleSpec& spec, Instant after) {
  std::optional<Instant> t;
  switch (spec.kind) {
    case ScheduleSpec::Kind::kCron: t = CronNext(spec, after); break;
    case ScheduleSpec::Kind::kInterval: t = IntervalNext(spec, after); break;
    case ScheduleSpec::Kind::kOnce:
      t = OnceTick(spec);
      if (t && *t <= after) t = std::nullopt;
      break;
  }
  if (t && spec.end && *t > *spec.end) return std::nullopt;
  return t;
}

std::optional<Instant> FirstTick(const ScheduleSpec& spec, Instant now) {
  if (spec.kind == ScheduleSpec::Kind::kOnce) return OnceTick(spec);
  return NextTick(spec, now);
}

DuePlan PlanDue(const ScheduleSpec& spec, Instant next_run_at, Instant now, Misfire misfire,
                int catch_up_limit, bool overlap_blocked) {
  // Downtime: the oldest due tick is more than kMisfireGrace late. Without
  // it every due tick is on time (a scheduler a few seconds behind) and each
  // makes a job, whatever the misfire policy.
  bool missed = now - next_run_at > kMisfireGrace;
  size_t keep = !missed                        ? kMaxOnTimeTicks
                : misfire == Misfire::kCatchUp ? static_cast<size_t>(std::max(1, catch_up_limit))
                                               : 1;
  Stretch due = DueTicks(spec, next_run_at, now, keep);
  DuePlan plan;
  plan.next = due.next;
  if (overlap_blocked || due.latest.empty()) {
    plan.skipped = due.count;
    return plan;
  }
  if (missed && misfire == Misfire::kSkip && now - due.latest.back() > kMisfireGrace) {
    plan.skipped = due.count;
    return plan;
  }
  plan.fire.assign(due.latest.begin(), due.latest.end());
  plan.skipped = due.count - static_cast<int64_t>(plan.fire.size());
  return plan;
}

}  // namespace pgjobs::scheduler
