// Workers (`pgjobs workers list`), with what each runs now, and tasks
// (`pgjobs tasks list`), with the warning for tasks no live worker handles.
#include "store/job_admin.h"
#include "store/queue_admin.h"
#include "web/html.h"
#include "web/views.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

std::string Joined(const json& names) {
  std::string out;
  for (const json& n : names) out += (out.empty() ? "" : ", ") + Text(n);
  return out.empty() ? "-" : out;
}

std::string QueueList(const json& queues) {
  std::string out;
  for (const auto& [name, n] : queues.items()) out += (out.empty() ? "" : ", ") + Escape(name) + "=" + Text(n);
  return out.empty() ? "-" : out;
}

}  // namespace

Result<json> WorkersData(ViewContext& ctx) {
  auto workers = store::ListWorkers(ctx.conn, ctx.catalog);
  if (!workers.ok()) return workers.status();
  // What each worker runs now: the running jobs, newest first.
  store::JobFilter f;
  f.state = "running";
  f.limit = 1000;
  auto running = store::JobAdmin(ctx.conn, ctx.catalog).List(f);
  if (!running.ok()) return running.status();
  for (json& w : *workers) {
    w["jobs"] = json::array();
    for (const json& j : *running) {
      if (j["worker_id"] == w["id"]) w["jobs"].push_back({{"id", j["id"]}, {"task", j["task"]}, {"queue", j["queue"]}, {"started_at", j["started_at"]}});
    }
  }
  return *workers;
}

Page WorkersPage(const json& workers, const ViewContext& ctx) {
  Table t({"id", "host", "pid", "queues", "running", "jobs now", "heartbeat", "started", "version",
           "state"},
          "workers");
  for (const json& w : workers) {
    std::string state = w["stop_requested"] == true ? "stopping" : w["live"] == true ? "live" : "dead";
    std::string jobs;
    for (const json& j : w["jobs"]) {
      jobs += (jobs.empty() ? "" : ", ") + Link("/jobs/" + Text(j["id"]), Text(j["id"])) + " " + Text(j["task"]);
    }
    t.Row({Text(w["id"]), Text(w["host"]), Text(w["pid"]), QueueList(w["queues"]),
           Text(w["running"]) + "/" + Text(w["concurrency"]), jobs.empty() ? "-" : jobs,
           Ago(w["heartbeat_at"], ctx.now), Ago(w["started_at"], ctx.now), Text(w["version"]),
           "<span class=\"state " + state + "\">" + state + "</span>"},
          state);
  }
  return {"Workers", "",
          t.Render("No workers: start one with `pgjobs worker --config FILE`. Workers whose "
                   "heartbeat stopped more than 5 minutes ago are pruned by the scheduler.")};
}

Result<json> TasksData(ViewContext& ctx) { return store::ListTasks(ctx.conn, ctx.catalog); }

Page TasksPage(const json& tasks, const ViewContext& ctx) {
  Table t({"task", "pending", "scheduled", "running", "oldest pending", "live workers", "warning"},
          "tasks");
  for (const json& k : tasks) {
    std::string task = k["task"].get<std::string>();
    std::string warning;
    if (!k["unserved_queues"].empty()) {
      warning = "<span class=\"warn\">no live worker handles it on " +
                Joined(k["unserved_queues"]) + ": its jobs wait</span>";
    }
    t.Row({Link("/jobs?task=" + UrlEncode(task), task), Text(k["pending"]), Text(k["scheduled"]),
           Text(k["running"]), Duration(k["oldest_pending_seconds"]), Joined(k["workers"]),
           warning},
          warning.empty() ? "" : "unserved");
  }
  (void)ctx;
  return {"Tasks", "", t.Render("No tasks: no job waits or runs and no live worker is registered.")};
}

}  // namespace pgjobs::web
