// `pgjobs schedules list|show|next`: read-only views, as tables for people
// or JSON (--json) for scripts. `next` previews a cron expression without a
// database.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/admin_common.h"
#include "cli/cmd_schedules.h"
#include "pgjobs/cron.h"
#include "scheduler/schedule_plan.h"
#include "scheduler/schedule_view.h"

namespace pgjobs::cli {
namespace {

using nlohmann::ordered_json;
using store::Micros;
using store::ScheduleRecord;
using Seconds = std::chrono::sys_seconds;

constexpr int kShowTicks = 10;

std::string Iso(const std::optional<Micros>& t) { return t ? store::FormatInstant(*t) : "-"; }
std::string IsoSeconds(Seconds t) {
  return store::FormatInstant(t.time_since_epoch().count() * 1000000);
}
Seconds ToSeconds(Micros t) {
  return std::chrono::floor<std::chrono::seconds>(
      std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(t)));
}
std::string Dump(const ordered_json& j) {
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

int RunList(GlobalOptions& global, bool as_json) {
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto records = (*session)->admin->List();
  if (!records.ok()) return Fail(records.status());
  if (as_json) {
    ordered_json out = ordered_json::array();
    for (const ScheduleRecord& r : *records) out.push_back(scheduler::ScheduleRecordJson(r));
    std::printf("%s\n", Dump(out).c_str());
    return kExitOk;
  }
  if (records->empty()) {
    std::printf(
        "no schedules; create one with `pgjobs schedules add` or `pgjobs schedules apply FILE`\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "SCHEDULE", "TZ", "TASK", "QUEUE", "STATE", "NEXT RUN", "LAST RUN", "LAST OUTCOME"}};
  for (const ScheduleRecord& r : *records) {
    rows.push_back({r.def.name, store::DescribeSchedule(r.def), r.def.time_zone, r.def.task,
                    r.def.queue, r.State(), Iso(r.next_run_at), Iso(r.last_run_at),
                    r.last_outcome.empty() ? "-" : r.last_outcome});
  }
  PrintTable(rows);
  // The reason a schedule cannot fire, under the table: the others keep firing.
  for (const ScheduleRecord& r : *records) {
    if (r.error.empty()) continue;
    std::printf("\n%s cannot fire: %s\n  fix it with `pgjobs schedules update %s ...` (or SQL); "
                "the other schedules keep running\n",
                r.def.name.c_str(), r.error.c_str(), r.def.name.c_str());
  }
  return kExitOk;
}

using scheduler::ComputeUpcoming;
using scheduler::Upcoming;

void PrintRecord(const ScheduleRecord& r) {
  const store::ScheduleDef& d = r.def;
  std::printf("schedule %s (id %lld): %s\n", d.name.c_str(), static_cast<long long>(r.id),
              r.State().c_str());
  std::string last_job =
      r.last_job_id ? std::to_string(*r.last_job_id) + " (" + r.last_outcome + ")" : "-";
  std::vector<std::pair<std::string, std::string>> fields = {
      {"schedule", store::DescribeSchedule(d)},
      {"time zone", d.time_zone},
      {"task", d.task},
      {"queue", d.queue},
      {"args", d.args},
      {"priority", std::to_string(d.priority)},
      {"timeout", d.timeout_ms ? store::FormatDurationMs(*d.timeout_ms) : "- (the task's own)"},
      {"max attempts", std::to_string(d.max_attempts)},
      {"misfire", d.misfire == "catch_up"
                      ? "catch_up (at most " + std::to_string(d.catch_up_limit) + ")"
                      : d.misfire},
      {"overlap", d.overlap},
      {"start", Iso(d.start_at)},
      {"end", Iso(d.end_at)},
      {"description", d.description.empty() ? "-" : d.description},
      {"enabled", d.enabled ? "yes" : "no"},
      {"next run", r.next_run_at
                       ? Iso(r.next_run_at) +
                             (r.ahead_job_id ? " (job " + std::to_string(*r.ahead_job_id) +
                                                   " made ahead, waits for it)"
                                             : "")
                       : (d.enabled && !r.done && r.error.empty()
                              ? "- (the scheduler computes it within a second of an edit)"
                              : "-")},
      {"last run", Iso(r.last_run_at)},
      {"last job", last_job},
      {"run count", std::to_string(r.run_count)},
      {"skipped", std::to_string(r.skipped_count)},
      {"error", r.error.empty() ? "-" : r.error},
      {"created", store::FormatInstant(r.created_at)},
      {"updated", store::FormatInstant(r.updated_at)}};
  for (const auto& [label, value] : fields)
    std::printf("  %-13s %s\n", label.c_str(), value.c_str());
}

int RunShow(GlobalOptions& global, const std::string& name, bool as_json) {
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto record = (*session)->admin->Get(name);
  if (!record.ok()) return Fail(record.status());
  auto now = (*session)->admin->Now();
  if (!now.ok()) return Fail(now.status());
  Upcoming upcoming = ComputeUpcoming(*record, ToSeconds(*now), kShowTicks);
  const std::string& tz = record->def.time_zone;
  if (as_json) {
    ordered_json o = scheduler::ScheduleRecordJson(*record);
    o["now"] = store::FormatInstant(*now);
    o["upcoming"] = scheduler::UpcomingJson(upcoming, tz);
    std::printf("%s\n", Dump(o).c_str());
    return kExitOk;
  }
  PrintRecord(*record);
  std::string when = record->def.enabled ? "" : " (if enabled)";
  std::string zones = tz == "UTC" ? "UTC" : tz + " and UTC";
  std::printf("next fire times%s after %s (up to %d), in %s:", when.c_str(),
              store::FormatInstant(*now).c_str(), kShowTicks, zones.c_str());
  if (upcoming.ticks.empty()) std::printf(" %s", upcoming.note.c_str());
  std::printf("\n");
  for (Seconds t : upcoming.ticks) {
    std::printf("  %-25s  %s\n", store::FormatLocal(t, tz).c_str(), IsoSeconds(t).c_str());
  }
  return kExitOk;
}

struct NextOptions {
  std::vector<std::string> words;  // the expression, possibly split by the shell
  std::string every;               // or an interval
  std::string start;               // the interval's grid: start + k * every
  std::string tz = "UTC";
  int count = 10;
  std::string from;
  bool as_json = false;
};

Result<std::vector<Seconds>> CronTicks(const std::string& text, const TimeZone& zone, Seconds from,
                                       int count) {
  auto expr = CronExpr::Parse(text);
  if (!expr.ok()) return expr.status();
  std::vector<Seconds> ticks = expr->NextN(from, zone, count);
  if (ticks.empty()) {
    std::string reason = expr->NeverFiresReason();
    return Status::InvalidArgument(
        "cron \"" + text + "\" never fires after " + IsoSeconds(from) + ": " +
        (reason.empty() ? "no date matches it; check the day-of-month, month and day-of-week fields"
                        : reason + "; check the day-of-month and month fields"));
  }
  return ticks;
}

// The ticks of a new interval schedule made at `from`, computed as the
// scheduler does: start (default: its creation) plus multiples of every.
Result<std::vector<Seconds>> IntervalTicks(const NextOptions& o, Seconds from) {
  auto every = store::ParseEvery(o.every);
  if (!every.ok()) return every.status().WithContext("--every");
  scheduler::ScheduleRow row;
  row.kind = "interval";
  row.every_seconds = static_cast<double>(*every) / 1000.0;
  row.time_zone = o.tz;
  row.created_at = static_cast<double>(from.time_since_epoch().count());
  if (!o.start.empty()) {
    auto start = store::ParseInstant(o.start);
    if (!start.ok()) return start.status().WithContext("--start");
    row.start_at = static_cast<double>(*start) / 1e6;
  }
  auto spec = scheduler::MakeSpec(row);
  if (!spec.ok()) return spec.status();
  std::vector<Seconds> ticks;
  std::optional<scheduler::Instant> t = scheduler::FirstTick(*spec, from);
  while (t && static_cast<int>(ticks.size()) < o.count) {
    ticks.push_back(*t);
    t = scheduler::NextTick(*spec, *t);
  }
  return ticks;
}

int RunNext(const NextOptions& o) {
  std::string text;
  for (const std::string& w : o.words) text += (text.empty() ? "" : " ") + w;
  if (text.empty() == o.every.empty()) {
    return Fail(Status::InvalidArgument(
        "give a cron expression or --every DURATION, e.g. `pgjobs schedules next \"0 3 * * *\"` "
        "or `pgjobs schedules next --every 5m`"));
  }
  if (!o.start.empty() && o.every.empty()) {
    return Fail(Status::InvalidArgument("--start applies only with --every"));
  }
  auto zone = TimeZone::Load(o.tz);
  if (!zone.ok()) return Fail(zone.status().WithContext("--tz"));
  if (o.count < 1 || o.count > 1000) return Fail(Status::InvalidArgument("-n must be 1-1000"));
  Seconds from = HostNow();
  if (!o.from.empty()) {
    auto t = store::ParseInstant(o.from);
    if (!t.ok()) return Fail(t.status().WithContext("--from"));
    from = ToSeconds(*t);
  }
  auto ticks = o.every.empty() ? CronTicks(text, *zone, from, o.count) : IntervalTicks(o, from);
  if (!ticks.ok()) return Fail(ticks.status());
  ordered_json out = ordered_json::array();
  for (Seconds t : *ticks) {
    if (o.as_json) {
      out.push_back({{"utc", IsoSeconds(t)}, {"local", store::FormatLocal(t, o.tz)}});
    } else {
      std::printf("%s\n", IsoSeconds(t).c_str());
    }
  }
  if (o.as_json) std::printf("%s\n", Dump(out).c_str());
  return kExitOk;
}

}  // namespace

void AddSchedulesViewCommands(CLI::App& schedules, GlobalOptions& global, int& exit_code) {
  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = schedules.add_subcommand(
      "list", "every schedule: kind, zone, task, state, next and last run, last job's outcome");
  list->add_flag("--json", *list_json, "print JSON");
  list->callback([&global, &exit_code, list_json] { exit_code = RunList(global, *list_json); });

  auto show_name = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  CLI::App* show = schedules.add_subcommand(
      "show", "one schedule: every field, counts, error, and its next 10 fire times");
  show->add_option("name", *show_name, "schedule name")->required();
  show->add_flag("--json", *show_json, "print JSON");
  show->callback([&global, &exit_code, show_name, show_json] {
    exit_code = RunShow(global, *show_name, *show_json);
  });

  auto n = std::make_shared<NextOptions>();
  CLI::App* next = schedules.add_subcommand(
      "next", "preview the fire times of a cron expression or an interval (no database needed)");
  next->add_option("expr", n->words, "cron expression, e.g. \"0 3 * * MON-FRI\"");
  next->add_option("--every", n->every,
                   "preview an interval instead, e.g. 5m: ticks at --start (default: --from, "
                   "or now) plus multiples of it");
  next->add_option("--start", n->start, "with --every: the instant the ticks count from");
  next->add_option("--tz", n->tz, "IANA time zone to read it in (default UTC)");
  next->add_option("-n,--count", n->count, "how many fire times (default 10)");
  next->add_option("--from", n->from, "list fire times after this instant (default now)");
  next->add_flag("--json", n->as_json, "print a JSON array of {\"utc\", \"local\"}");
  next->callback([&exit_code, n] { exit_code = RunNext(*n); });
}

}  // namespace pgjobs::cli
