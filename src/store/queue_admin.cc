#include "store/queue_admin.h"

#include "common/text.h"
#include "store/admin_query.h"

namespace pgjobs::store {

using nlohmann::json;

namespace {

std::string JoinQuoted(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out.empty() ? "none" : out;
}

// "no X \"name\"; did you mean \"...\"? Known Xs: ..."
Status UnknownName(const std::string& what, const std::string& name,
                   const std::vector<std::string>& known, const std::string& hint) {
  std::string message = "no " + what + " \"" + name + "\"";
  std::string near = NearestWord(name, known);
  if (!near.empty()) message += "; did you mean \"" + near + "\"?";
  message += " Known " + what + "s: " + JoinQuoted(known) + ". " + hint;
  return Status::NotFound(message);
}

}  // namespace

Result<json> ListQueues(pg::Connection& conn, const SqlCatalog& catalog) {
  auto queues = QueryJson(conn, catalog, "queue_stats", {});
  if (!queues.ok()) return queues.status().WithContext("list queues");
  return queues;
}

Status CheckQueueKnown(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue) {
  auto queues = ListQueues(conn, catalog);
  if (!queues.ok()) return queues.status();
  std::vector<std::string> names;
  for (const json& q : *queues) {
    if (q["queue"] == queue) return Status::Ok();
    names.push_back(q["queue"].get<std::string>());
  }
  return UnknownName("queue", queue, names,
                     "A queue is known once it has jobs, jobs finished in the last 24 hours, "
                     "live workers or a row in the queues table (`pgjobs queues list` shows "
                     "them)");
}

Status SetQueuePaused(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      bool paused) {
  auto rows = QueryRows(conn, catalog, "queue_set_paused", {queue, paused ? "true" : "false"});
  return rows.status().WithContext(std::string(paused ? "pause" : "resume") + " queue " + queue);
}

Status SetQueueLimits(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      const QueueLimits& l) {
  auto opt = [](const std::optional<int>& v) -> pg::Param {
    return v ? pg::Param(std::to_string(*v)) : pg::Param();
  };
  bool rate = l.set_rate && l.rate_limit.has_value();
  auto rows = QueryRows(conn, catalog, "queue_set_limits",
                        {queue, l.set_concurrency ? "true" : "false", opt(l.concurrency),
                         l.set_rate ? "true" : "false", opt(l.rate_limit),
                         rate ? pg::Param(std::to_string(l.rate_period_seconds)) : pg::Param()});
  return rows.status().WithContext("set limits of queue " + queue);
}

Status SetQueueNotify(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      bool notify) {
  auto rows = QueryRows(conn, catalog, "queue_set_notify", {queue, notify ? "true" : "false"});
  return rows.status().WithContext("set notify of queue " + queue);
}

Result<json> ListWorkers(pg::Connection& conn, const SqlCatalog& catalog) {
  auto workers = QueryJson(conn, catalog, "worker_list", {});
  if (!workers.ok()) return workers.status().WithContext("list workers");
  return workers;
}

Status StopWorker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& id) {
  auto rows = QueryRows(conn, catalog, "worker_stop", {id});
  if (!rows.ok()) return rows.status().WithContext("stop worker " + id);
  if (!rows->empty()) return Status::Ok();
  auto workers = ListWorkers(conn, catalog);
  if (!workers.ok()) return workers.status();
  std::vector<std::string> ids;
  for (const json& w : *workers) ids.push_back(w["id"].get<std::string>());
  return UnknownName("worker", id, ids, "`pgjobs workers list` shows the worker ids");
}

Result<json> ListTasks(pg::Connection& conn, const SqlCatalog& catalog) {
  auto tasks = QueryJson(conn, catalog, "task_list", {});
  if (!tasks.ok()) return tasks.status().WithContext("list tasks");
  return tasks;
}

}  // namespace pgjobs::store
