#include "scheduler/schedule_plan.h"

#include <cmath>
#include <deque>

namespace pgjobs::scheduler {
namespace {

using std::chrono::seconds;

// Enumerating due ticks of a very frequent schedule after a long outage is
// bounded: past this many, the count of skipped ticks is a lower bound.
constexpr int kMaxEnumerated = 200000;

std::optional<Instant> CronNext(const ScheduleSpec& spec, Instant after) {
  std::optional<Instant> t = spec.cron->NextAfter(after, spec.zone);
  if (t && spec.start && *t < *spec.start) t = spec.cron->NextAfter(*spec.start - seconds(1), spec.zone);
  return t;
}

std::optional<Instant> IntervalNext(const ScheduleSpec& spec, Instant after) {
  Instant first = spec.start ? std::max(*spec.start, spec.anchor) : spec.anchor;
  if (after < first) return first;
  int64_t k = (after - spec.anchor).count() / spec.every_seconds + 1;
  return spec.anchor + seconds(k * spec.every_seconds);
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
      if (*spec.at > after) t = spec.at;
      break;
  }
  if (t && spec.end && *t > *spec.end) return std::nullopt;
  return t;
}

std::optional<Instant> FirstTick(const ScheduleSpec& spec, Instant now) {
  if (spec.kind == ScheduleSpec::Kind::kOnce) {
    if (spec.end && *spec.at > *spec.end) return std::nullopt;
    return spec.at;
  }
  return NextTick(spec, now);
}

DuePlan PlanDue(const ScheduleSpec& spec, Instant next_run_at, Instant now, Misfire misfire,
                int catch_up_limit, bool overlap_blocked) {
  // Keep the latest `keep` due ticks, count the rest.
  size_t keep = misfire == Misfire::kCatchUp ? static_cast<size_t>(std::max(1, catch_up_limit)) : 1;
  std::deque<Instant> due;
  int64_t total = 0;
  std::optional<Instant> t = next_run_at;
  while (t && *t <= now) {
    due.push_back(*t);
    if (due.size() > keep) due.pop_front();
    ++total;
    if (total == kMaxEnumerated) {
      // Jump close to now; the count of skipped ticks becomes a lower bound.
      std::optional<Instant> near = NextTick(spec, now - std::chrono::hours(1));
      if (near && *near > *t) {
        t = near;
        continue;
      }
    }
    t = NextTick(spec, *t);
  }
  DuePlan plan;
  plan.next = t;
  if (overlap_blocked || due.empty()) {
    plan.skipped = total;
    return plan;
  }
  if (misfire == Misfire::kSkip && now - due.back() > kMisfireGrace) {
    plan.skipped = total;
    return plan;
  }
  plan.fire.assign(due.begin(), due.end());
  plan.skipped = total - static_cast<int64_t>(plan.fire.size());
  return plan;
}

}  // namespace pgjobs::scheduler
