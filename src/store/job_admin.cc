#include "store/job_admin.h"

#include "store/admin_query.h"
#include "store/audit.h"

namespace pgjobs::store {

using nlohmann::json;

bool IsJobState(const std::string& state) {
  for (const char* s : kJobStates) {
    if (state == s) return true;
  }
  return false;
}

bool IsFinishedState(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

namespace {

Status NoJob(int64_t id) {
  return Status::NotFound("no job " + std::to_string(id) +
                          " (finished jobs are kept for the history retention period; "
                          "`pgjobs jobs list` shows the others)");
}

}  // namespace

Result<json> JobAdmin::Show(int64_t id) {
  auto job = QueryJson(conn_, catalog_, "job_show", {std::to_string(id)});
  if (!job.ok()) return job.status().WithContext("show job " + std::to_string(id));
  if (job->is_null()) return NoJob(id);
  if ((*job)["state"] == "pending") {
    auto has = QueryRows(conn_, catalog_, "job_has_worker",
                         {(*job)["task"].get<std::string>(), (*job)["queue"].get<std::string>()});
    // The producer role may not read workers: it sees the job without
    // has_worker (null), not an error.
    if (has.ok()) {
      (*job)["has_worker"] = has->Bool(0, 0);
    } else if (has.status().code() != Status::Code::kPermissionDenied) {
      return has.status().WithContext("show job " + std::to_string(id));
    }
  }
  return job;
}

Result<json> JobAdmin::List(const JobFilter& f) {
  pg::Param schedule_id;
  if (f.schedule) {
    auto rows = QueryRows(conn_, catalog_, "schedule_id_by_name", {*f.schedule});
    if (!rows.ok()) return rows.status().WithContext("list jobs");
    if (rows->empty()) return json::array();  // no such schedule: no job of it
    schedule_id = std::to_string(rows->Int(0, 0));
  }
  auto jobs = QueryJson(conn_, catalog_, "job_list",
                        {Opt(f.queue), Opt(f.state), Opt(f.task), schedule_id, Opt(f.since_seconds),
                         std::to_string(f.limit),
                         f.before_id ? pg::Param(std::to_string(*f.before_id)) : pg::Param()});
  if (!jobs.ok()) return jobs.status().WithContext("list jobs");
  return jobs;
}

Result<std::string> JobAdmin::Cancel(int64_t id, const std::string& by) {
  auto rows = QueryRowsAudited(conn_, catalog_, "job_cancel", {std::to_string(id), by},
                               {by, "job.cancel", std::to_string(id)},
                               [](const pg::Rows& r, json& details) {
                                 std::string outcome = r.Text(0, 0);
                                 details["outcome"] = outcome;
                                 return outcome == "cancelled" || outcome == "stopping";
                               });
  if (!rows.ok()) return rows.status().WithContext("cancel job " + std::to_string(id));
  std::string outcome = rows->Text(0, 0);
  if (outcome == "not_found") return NoJob(id);
  if (outcome == "finished") {
    auto job = Show(id);
    std::string state = job.ok() ? (*job)["state"].get<std::string>() : "finished";
    return Status::FailedPrecondition("job " + std::to_string(id) + " has already finished (" +
                                      state + "); there is nothing to cancel. `pgjobs jobs show " +
                                      std::to_string(id) + "` shows how it ended");
  }
  return outcome;
}

Result<json> JobAdmin::CancelMany(const std::string& queue, const std::optional<std::string>& task,
                                  const std::string& by) {
  json details{{"queue", queue}};
  if (task) details["task"] = *task;
  auto rows = QueryRowsAudited(conn_, catalog_, "job_cancel_many", {queue, Opt(task), by},
                               {by, "queue.cancel", queue, details},
                               [](const pg::Rows& r, json& d) {
                                 d["counts"] = json::parse(r.Text(0, 0));
                                 return true;
                               });
  if (!rows.ok()) return rows.status().WithContext("cancel jobs of queue " + queue);
  return json::parse(rows->Text(0, 0));
}

Result<int64_t> JobAdmin::Retry(int64_t id, const std::string& by) {
  auto job = Show(id);
  if (!job.ok()) return job.status();
  std::string state = (*job)["state"].get<std::string>();
  if (state != "failed" && state != "cancelled") {
    std::string why = IsFinishedState(state)
                          ? "it succeeded; enqueue it again to run it once more"
                          : "it is " + state + " (not finished); only failed or cancelled jobs "
                            "are retried";
    return Status::FailedPrecondition("job " + std::to_string(id) + " cannot be retried: " + why);
  }
  // pgjobs.retry refuses it too (migration 0024), under a lock; this says
  // it with the commands to use.
  auto live = QueryRows(conn_, catalog_, "job_live_retry", {std::to_string(id)});
  if (!live.ok()) return live.status().WithContext("retry job " + std::to_string(id));
  if (!live->empty()) {
    std::string retry = std::to_string(live->Int(0, 0));
    return Status::FailedPrecondition(
        "job " + std::to_string(id) + " was already retried as job " + retry + ", which is " +
        live->Text(0, 1) + "; a second retry would run it twice at once. Wait for it to end " +
        "(`pgjobs jobs wait " + retry + "`) or cancel it first (`pgjobs jobs cancel " + retry +
        "`)");
  }
  auto rows = QueryRowsAudited(conn_, catalog_, "job_retry", {std::to_string(id)},
                               {by, "job.retry", std::to_string(id)},
                               [](const pg::Rows& r, json& details) {
                                 details["new_id"] = r.Int(0, 0);
                                 return true;
                               });
  if (!rows.ok()) return rows.status().WithContext("retry job " + std::to_string(id));
  return rows->Int(0, 0);
}

Result<json> JobAdmin::RetryAll(Redrive which, const std::optional<std::string>& queue,
                                const std::optional<std::string>& task,
                                std::optional<double> since_seconds, const std::string& by) {
  const bool failed = which == Redrive::kFailed;
  std::string text;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto lock = tx.ExecParams(catalog_.Get("retry_failed_lock"), {});
    if (!lock.ok()) return lock.status();
    auto rows = tx.ExecParams(
        catalog_.Get("job_redrive"),
        {Opt(queue), Opt(task), Opt(since_seconds), std::string(failed ? "failed" : "cancelled")});
    if (!rows.ok()) return rows.status();
    text = rows->Text(0, 0);
    json details = json::parse(text);
    if (queue) details["queue"] = *queue;
    if (task) details["task"] = *task;
    if (since_seconds) details["since_seconds"] = *since_seconds;
    return WriteAudit(tx, catalog_,
                      {by, failed ? "job.retry_failed" : "job.retry_cancelled", "*", details});
  });
  if (!st.ok()) return st.WithContext(failed ? "retry failed jobs" : "retry cancelled jobs");
  return json::parse(text);
}

Result<int64_t> JobAdmin::PendingCount(const std::string& queue,
                                       const std::optional<std::string>& task) {
  auto rows = QueryRows(conn_, catalog_, "pending_count", {queue, Opt(task)});
  if (!rows.ok()) return rows.status().WithContext("count pending jobs");
  return rows->Int(0, 0);
}

Result<int64_t> JobAdmin::Purge(const std::string& queue, const std::optional<std::string>& task,
                                const std::string& by) {
  json details = json::object();
  if (task) details["task"] = *task;
  auto rows = QueryRowsAudited(conn_, catalog_, "job_purge", {queue, Opt(task)},
                               {by, "queue.purge", queue, details},
                               [](const pg::Rows& r, json& d) {
                                 d["purged"] = r.Int(0, 0);
                                 return true;
                               });
  if (!rows.ok()) return rows.status().WithContext("purge queue " + queue);
  return rows->Int(0, 0);
}

}  // namespace pgjobs::store
