// Schedules (`pgjobs schedules list|show`): next and last runs, last
// outcome, the next 10 fire times, enable/disable and run now.
#include "scheduler/schedule_view.h"
#include "store/schedule_admin.h"
#include "web/html.h"
#include "web/views.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

constexpr int kShowTicks = 10;

// s[key], or null when s lacks key: ScheduleRecordJson leaves out fields at
// their default (time_zone UTC, queue default, ...), and operator[] of a
// const json on a missing key is undefined behaviour (it crashed the server).
const json& Field(const json& s, const char* key) {
  static const json kNull;
  auto it = s.find(key);
  return it == s.end() ? kNull : *it;
}

std::string Actions(const json& s, const ViewContext& ctx) {
  if (!ctx.can_act) return "";
  std::string name = Field(s, "name").get<std::string>();
  std::string base = "/api/schedules/" + UrlEncode(name);
  std::string out = Field(s, "enabled") == true
                        ? ActionButton(base + "/disable", "disable", "Disable schedule " + name + "?")
                        : ActionButton(base + "/enable", "enable", "Enable schedule " + name + "?");
  return out + ActionButton(base + "/run", "run now",
                            "Enqueue one job of schedule " + name + " now?");
}

std::string LastJob(const json& s, const ViewContext& ctx) {
  if (!Field(s, "last_job_id").is_number()) return "-";
  return Link("/jobs/" + Text(Field(s, "last_job_id")), Text(Field(s, "last_job_id"))) + " " +
         Text(Field(s, "last_outcome")) + " " + Ago(Field(s, "last_run_at"), ctx.now);
}

}  // namespace

Result<json> SchedulesData(ViewContext& ctx) {
  auto records = store::ScheduleAdmin(ctx.conn, ctx.catalog).List();
  if (!records.ok()) return records.status();
  json out = json::array();
  for (const auto& r : *records) out.push_back(json(scheduler::ScheduleRecordJson(r)));
  return out;
}

Page SchedulesPage(const json& data, const ViewContext& ctx) {
  Table t({"name", "schedule", "time zone", "task", "queue", "state", "next run", "last job",
           "runs", "skipped", ""},
          "schedules");
  for (const json& s : data) {
    std::string name = Field(s, "name").get<std::string>();
    t.Row({Link("/schedules/" + UrlEncode(name), name), Text(Field(s, "schedule")),
           Field(s, "time_zone").is_null() ? "UTC" : Text(Field(s, "time_zone")),
           Text(Field(s, "task")),
           Field(s, "queue").is_null() ? "default" : Text(Field(s, "queue")),
           Text(Field(s, "state")) + (Field(s, "error").is_string() ? ": " + Text(Field(s, "error")) : ""),
           Ago(Field(s, "next_run_at"), ctx.now), LastJob(s, ctx), Text(Field(s, "run_count")),
           Text(Field(s, "skipped_count")), Actions(s, ctx)},
          "state-" + Field(s, "state").get<std::string>());
  }
  return {"Schedules", "",
          t.Render("No schedules: add one with `pgjobs schedules add` or `pgjobs schedules apply "
                   "FILE`.")};
}

Result<json> ScheduleData(ViewContext& ctx, const std::string& name) {
  store::ScheduleAdmin admin(ctx.conn, ctx.catalog);
  auto record = admin.Get(name);
  if (!record.ok()) return record.status();
  auto now = admin.Now();
  if (!now.ok()) return now.status();
  auto seconds = std::chrono::floor<std::chrono::seconds>(
      std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(*now)));
  scheduler::Upcoming upcoming = scheduler::ComputeUpcoming(*record, seconds, kShowTicks);
  nlohmann::ordered_json o = scheduler::ScheduleRecordJson(*record);
  o["now"] = store::FormatInstant(*now);
  o["upcoming"] = scheduler::UpcomingJson(upcoming, record->def.time_zone);
  if (!upcoming.note.empty()) o["upcoming_note"] = upcoming.note;
  auto actions = ActionsOn(ctx, "schedule", name);
  if (!actions.ok()) return actions.status();
  o["actions"] = std::move(*actions);
  return json(o);
}

Page SchedulePage(const json& s, const ViewContext& ctx) {
  Table fields({"field", "value"}, "fields");
  for (const auto& [key, value] : s.items()) {
    if (key == "upcoming" || key == "upcoming_note" || key == "args" || key == "actions") continue;
    std::string cell = Text(value);
    if (key.size() > 3 && key.substr(key.size() - 3) == "_at" && value.is_string())
      cell = Ago(value, ctx.now) + " <small>" + Text(value) + "</small>";
    if (key == "last_job_id" && value.is_number()) cell = Link("/jobs/" + Text(value), Text(value));
    fields.Row({Escape(key), cell});
  }
  Table ticks({"local", "UTC"}, "ticks");
  for (const json& t : Field(s, "upcoming")) ticks.Row({Text(t["local"]), Text(t["utc"])});
  std::string name = Field(s, "name").get<std::string>();
  std::string content =
      "<div class=\"actions\">" + Actions(s, ctx) + " " +
      Link("/jobs?schedule=" + UrlEncode(name), "its jobs") + "</div>" + fields.Render("") +
      "<h2>Args</h2>" + Pre(Field(s, "args")) + "<h2>Next " + std::to_string(kShowTicks) +
      " fire times" + (Field(s, "enabled") == true ? "" : " (if enabled)") + "</h2>" +
      ticks.Render(s.contains("upcoming_note") ? Field(s, "upcoming_note").get<std::string>() : "None.") +
      "<h2>Actions</h2>" + ActionsTable(s.value("actions", json::array()), ctx, false);
  return {"Schedule " + name, "", content};
}

}  // namespace pgjobs::web
