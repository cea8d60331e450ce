#include "scheduler/schedule_view.h"

#include "scheduler/schedule_plan.h"

namespace pgjobs::scheduler {

using nlohmann::ordered_json;
using store::Micros;
using store::ScheduleRecord;
using Seconds = std::chrono::sys_seconds;

namespace {

ordered_json IsoJson(const std::optional<Micros>& t) {
  return t ? ordered_json(store::FormatInstant(*t)) : ordered_json();
}
ordered_json TextOrNull(const std::string& s) {
  return s.empty() ? ordered_json() : ordered_json(s);
}

}  // namespace

ordered_json ScheduleRecordJson(const ScheduleRecord& r) {
  ordered_json o = {{"name", r.def.name},
                    {"id", r.id},
                    {"kind", store::KindName(r.def.kind)},
                    {"schedule", store::DescribeSchedule(r.def)}};
  ordered_json def = ordered_json::parse(store::ScheduleToJson(r.def, true));
  for (auto& [key, value] : def.items()) o[key] = value;
  o["state"] = r.State();
  o["next_run_at"] = IsoJson(r.next_run_at);
  o["ahead_job_id"] = r.ahead_job_id ? ordered_json(*r.ahead_job_id) : ordered_json();
  o["last_run_at"] = IsoJson(r.last_run_at);
  o["last_job_id"] = r.last_job_id ? ordered_json(*r.last_job_id) : ordered_json();
  o["last_outcome"] = TextOrNull(r.last_outcome);
  o["run_count"] = r.run_count;
  o["skipped_count"] = r.skipped_count;
  o["done"] = r.done;
  o["error"] = TextOrNull(r.error);
  o["created_at"] = store::FormatInstant(r.created_at);
  o["updated_at"] = store::FormatInstant(r.updated_at);
  return o;
}

Upcoming ComputeUpcoming(const ScheduleRecord& r, Seconds now, int n) {
  if (r.done) return {{}, "none: the schedule is done (its tick fired, or it is past its end)"};
  ScheduleRow row;
  row.kind = store::KindName(r.def.kind);
  row.cron = r.def.cron;
  if (r.def.kind == store::ScheduleKind::kInterval) row.every_seconds = r.def.every_ms / 1000.0;
  if (r.def.kind == store::ScheduleKind::kOnce) row.at = r.def.at / 1e6;
  row.time_zone = r.def.time_zone;
  if (r.def.start_at) row.start_at = *r.def.start_at / 1e6;
  if (r.def.end_at) row.end_at = *r.def.end_at / 1e6;
  row.created_at = r.created_at / 1e6;
  auto spec = MakeSpec(row);
  if (!spec.ok()) return {{}, "none: " + spec.status().message()};
  Upcoming out;
  std::optional<Instant> t = FirstTick(*spec, now);
  while (t && static_cast<int>(out.ticks.size()) < n) {
    out.ticks.push_back(*t);
    t = NextTick(*spec, *t);
  }
  if (out.ticks.empty()) out.note = "none: no tick is left before the schedule's end";
  return out;
}

ordered_json UpcomingJson(const Upcoming& upcoming, const std::string& zone) {
  ordered_json ticks = ordered_json::array();
  for (Seconds t : upcoming.ticks) {
    ticks.push_back({{"utc", store::FormatInstant(t.time_since_epoch().count() * 1000000)},
                     {"local", store::FormatLocal(t, zone)}});
  }
  return ticks;
}

}  // namespace pgjobs::scheduler
