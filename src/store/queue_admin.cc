#include "store/queue_admin.h"

#include "common/text.h"
#include "store/admin_query.h"
#include "store/audit.h"

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
  message +=
      (near.empty() ? ". Known " : " Known ") + what + "s: " + JoinQuoted(known) + ". " + hint;
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
                     "A queue is known once it has waiting or running jobs, jobs finished in the "
                     "last hour or failed in the last 24 hours, live workers or a row in the "
                     "queues table (`pgjobs queues list` shows "
                     "them)");
}

Result<bool> QueueEverUsed(pg::Connection& conn, const SqlCatalog& catalog,
                           const std::string& queue) {
  auto rows = QueryRows(conn, catalog, "queue_ever_used", {queue});
  if (!rows.ok()) return rows.status().WithContext("look up queue " + queue);
  return rows->Bool(0, 0);
}

Status SetQueuePaused(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      bool paused, const std::string& by) {
  auto rows = QueryRowsAudited(conn, catalog, "queue_set_paused", {queue, paused ? "true" : "false"},
                               {by, paused ? "queue.pause" : "queue.resume", queue});
  return rows.status().WithContext(std::string(paused ? "pause" : "resume") + " queue " + queue);
}

Status ChangeQueue(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                   const QueueChange& change, const std::string& by) {
  const QueueLimits& l = change.limits;
  auto opt = [](const std::optional<int>& v) -> pg::Param {
    return v ? pg::Param(std::to_string(*v)) : pg::Param();
  };
  bool rate = l.set_rate && l.rate_limit.has_value();
  json details = json::object();
  if (l.set_concurrency) details["concurrency"] = l.concurrency ? json(*l.concurrency) : json();
  if (l.set_rate) {
    details["rate_limit"] = rate ? json(*l.rate_limit) : json();
    details["rate_period_seconds"] = rate ? json(l.rate_period_seconds) : json();
  }
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    if (change.notify) {
      PGJOBS_RETURN_IF_ERROR(ExecAudited(tx, catalog, "queue_set_notify",
                                         {queue, *change.notify ? "true" : "false"},
                                         {by, "queue.notify", queue, {{"notify", *change.notify}}})
                                 .status());
    }
    if (l.set_concurrency || l.set_rate) {
      PGJOBS_RETURN_IF_ERROR(
          ExecAudited(tx, catalog, "queue_set_limits",
                      {queue, l.set_concurrency ? "true" : "false", opt(l.concurrency),
                       l.set_rate ? "true" : "false", opt(l.rate_limit),
                       rate ? pg::Param(std::to_string(l.rate_period_seconds)) : pg::Param()},
                      {by, "queue.limits", queue, details})
              .status());
    }
    if (change.broker) {
      PGJOBS_RETURN_IF_ERROR(ExecAudited(tx, catalog, "queue_set_broker", {queue, *change.broker},
                                         {by, "queue.broker", queue, {{"broker", *change.broker}}})
                                 .status());
    }
    return Status::Ok();
  });
  return st.WithContext("set queue " + queue);
}

Result<json> ListWorkers(pg::Connection& conn, const SqlCatalog& catalog) {
  auto workers = QueryJson(conn, catalog, "worker_list", {});
  if (!workers.ok()) return workers.status().WithContext("list workers");
  return workers;
}

Status StopWorker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& id,
                  const std::string& by) {
  auto rows = QueryRowsAudited(conn, catalog, "worker_stop", {id}, {by, "worker.stop", id},
                               [](const pg::Rows& r, json&) { return !r.empty(); });
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
