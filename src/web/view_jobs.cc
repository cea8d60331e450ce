// The jobs list (`pgjobs jobs list`) and a job's page (`pgjobs jobs show`).
#include "common/text.h"
#include "scheduler/schedule_view.h"
#include "store/job_admin.h"
#include "store/schedule_admin.h"
#include "web/html.h"
#include "web/views.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

constexpr int kPageSize = 50;

Result<store::JobFilter> ParseFilter(const ViewContext& ctx) {
  store::JobFilter f;
  auto opt = [&](const char* name) -> std::optional<std::string> {
    std::string v = Param(ctx, name);
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  f.queue = opt("queue");
  f.task = opt("task");
  f.schedule = opt("schedule");
  f.state = opt("state");
  if (f.state && !store::IsJobState(*f.state)) {
    return Status::InvalidArgument(
        "state \"" + *f.state +
        "\" is not one of pending, scheduled, running, succeeded, failed, cancelled");
  }
  if (auto since = opt("since")) {
    auto d = ParseDuration(*since);
    if (!d.ok()) return Status::InvalidArgument("since: " + d.status().message());
    f.since_seconds = d->count() / 1000.0;
  }
  if (auto before = opt("before")) {
    if (before->size() > 18 || before->find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("before must be a job id (digits), not \"" + *before + "\"");
    }
    f.before_id = std::stoll(*before);
  }
  f.limit = kPageSize;
  if (auto limit = opt("limit")) {
    if (limit->size() > 4 || limit->find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(*limit) < 1 || std::stoi(*limit) > 1000) {
      return Status::InvalidArgument("limit must be a number from 1 to 1000, not \"" + *limit +
                                     "\"");
    }
    f.limit = std::stoi(*limit);
  }
  return f;
}

std::string StateBadge(const json& state) {
  return "<span class=\"state " + Text(state) + "\">" + Text(state) + "</span>";
}

std::string JobActions(const json& job, const ViewContext& ctx) {
  if (!ctx.can_act) return "";
  std::string id = Text(job["id"]);
  std::string state = job["state"].is_string() ? job["state"].get<std::string>() : "";
  if (state == "pending" || state == "scheduled" || (state == "running" && job["cancel_requested"] != true)) {
    return ActionButton("/api/jobs/" + id + "/cancel", "cancel",
                        "Cancel job " + id + "?" +
                            (state == "running" ? " Its worker stops it." : ""));
  }
  if (state == "failed" || state == "cancelled") {
    return ActionButton("/api/jobs/" + id + "/retry", "retry",
                        "Retry job " + id + " as a new job?");
  }
  return "";
}

std::string FilterForm(const ViewContext& ctx) {
  std::string out = "<form class=\"filters\" method=\"get\" action=\"/jobs\">";
  for (const char* name : {"queue", "task", "schedule"}) {
    out += "<label>" + std::string(name) + " <input name=\"" + name + "\" value=\"" +
           Escape(Param(ctx, name)) + "\" size=\"12\"></label> ";
  }
  out += "<label>state <select name=\"state\"><option value=\"\">any</option>";
  for (const char* s : store::kJobStates) {
    out += std::string("<option") + (Param(ctx, "state") == s ? " selected" : "") + ">" + s +
           "</option>";
  }
  out += "</select></label> <label>created in the last <input name=\"since\" size=\"5\" "
         "placeholder=\"1h\" value=\"" + Escape(Param(ctx, "since")) +
         "\"></label> <button type=\"submit\">filter</button></form>";
  return out;
}

}  // namespace

Result<json> JobsData(ViewContext& ctx) {
  auto f = ParseFilter(ctx);
  if (!f.ok()) return f.status();
  auto jobs = store::JobAdmin(ctx.conn, ctx.catalog).List(*f);
  if (!jobs.ok()) return jobs.status();
  return *jobs;
}

Page JobsPage(const json& jobs, const ViewContext& ctx) {
  Table t({"id", "queue", "task", "state", "attempt", "created", "started", "finished", "worker",
           ""},
          "jobs");
  for (const json& j : jobs) {
    std::string id = Text(j["id"]);
    t.Row({Link("/jobs/" + id, id), Text(j["queue"]), Text(j["task"]), StateBadge(j["state"]),
           Text(j["attempt"]) + "/" + Text(j["max_attempts"]), Ago(j["created_at"], ctx.now),
           Ago(j["started_at"], ctx.now), Ago(j["finished_at"], ctx.now), Text(j["worker_id"]),
           JobActions(j, ctx)});
  }
  std::string content = t.Render("No jobs match.");
  if (jobs.size() >= static_cast<size_t>(kPageSize) || !Param(ctx, "before").empty()) {
    std::string keep;
    for (const auto& [k, v] : ctx.query) {
      if (k != "before" && k != "partial") keep += "&" + UrlEncode(k) + "=" + UrlEncode(v);
    }
    content += "<p class=\"pager\">";
    if (!Param(ctx, "before").empty()) content += Link("/jobs?" + keep.substr(std::min<size_t>(1, keep.size())), "newest") + " ";
    if (!jobs.empty() && jobs.size() >= static_cast<size_t>(kPageSize)) {
      content += Link("/jobs?before=" + Text(jobs.back()["id"]) + keep, "older");
    }
    content += "</p>";
  }
  return {"Jobs", FilterForm(ctx), content};
}

Result<json> JobData(ViewContext& ctx, int64_t id) {
  auto job = store::JobAdmin(ctx.conn, ctx.catalog).Show(id);
  if (!job.ok()) return job.status();
  if ((*job)["schedule_id"].is_number()) {
    auto schedules = store::ScheduleAdmin(ctx.conn, ctx.catalog).List();
    if (!schedules.ok()) return schedules.status();
    for (const auto& r : *schedules) {
      if (r.id == (*job)["schedule_id"].get<int64_t>()) (*job)["schedule"] = r.def.name;
    }
  }
  auto actions = ActionsOn(ctx, "job", std::to_string(id));
  if (!actions.ok()) return actions.status();
  (*job)["actions"] = std::move(*actions);
  return *job;
}

Page JobPage(const json& j, const ViewContext& ctx) {
  std::string id = Text(j["id"]);
  std::string schedule = "-";
  if (j.contains("schedule") && j["schedule"].is_string()) {
    std::string name = j["schedule"].get<std::string>();
    schedule = Link("/schedules/" + UrlEncode(name), name) + " (tick " + Text(j["scheduled_for"]) + ")";
  }
  Table fields({"field", "value"}, "fields");
  fields.Row({"state", StateBadge(j["state"]) +
                           (j["cancel_requested"] == true ? " (cancel requested)" : "")});
  fields.Row({"queue", Link("/jobs?queue=" + UrlEncode(j["queue"].get<std::string>()), j["queue"].get<std::string>())});
  fields.Row({"task", Text(j["task"])});
  fields.Row({"attempt", Text(j["attempt"]) + " of " + Text(j["max_attempts"])});
  fields.Row({"priority", Text(j["priority"])});
  fields.Row({"schedule", schedule});
  fields.Row({"created", Ago(j["created_at"], ctx.now)});
  fields.Row({"run at", Ago(j["run_at"], ctx.now)});
  fields.Row({"started", Ago(j["started_at"], ctx.now)});
  fields.Row({"finished", Ago(j["finished_at"], ctx.now)});
  fields.Row({"worker", Text(j["worker_id"])});
  fields.Row({"unique key", Text(j["unique_key"])});
  if (j["retry_of"].is_number()) fields.Row({"retry of", Link("/jobs/" + Text(j["retry_of"]), "job " + Text(j["retry_of"]))});
  fields.Row({"cancelled by", Text(j["cancelled_by"])});
  Table errors({"attempt", "at", "error", "details"}, "errors");
  if (j["errors"].is_array()) {
    for (const json& e : j["errors"]) {
      json rest = e;
      for (const char* k : {"attempt", "at", "error"}) rest.erase(k);
      errors.Row({Text(e.value("attempt", json())), Ago(e.value("at", json()), ctx.now),
                  Text(e.value("error", json())), rest.empty() ? "" : Pre(rest)});
    }
  }
  std::string content = "<div class=\"actions\">" + JobActions(j, ctx) + "</div>" +
                        fields.Render("") + "<h2>Args</h2>" + Pre(j["args"]) + "<h2>Result</h2>" +
                        Pre(j["result"]) + "<h2>Progress</h2>" + Pre(j["progress"]) +
                        "<h2>Errors, one per failed attempt</h2>" + errors.Render("No errors.") +
                        "<h2>Actions</h2>" + ActionsTable(j.value("actions", json::array()), ctx, false);
  return {"Job " + id, "", content};
}

}  // namespace pgjobs::web
