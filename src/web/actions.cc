#include "web/actions.h"

#include "store/job_admin.h"
#include "store/queue_admin.h"
#include "store/schedule_admin.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

Result<int64_t> JobId(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("job id must be a number, not \"" + text + "\"");
  }
  return static_cast<int64_t>(std::stoll(text));
}

Result<json> JobAction(pg::Connection& conn, const SqlCatalog& catalog, const std::string& id_text,
                       const std::string& verb, const std::string& who) {
  auto id = JobId(id_text);
  if (!id.ok()) return id.status();
  store::JobAdmin admin(conn, catalog);
  if (verb == "cancel") {
    auto outcome = admin.Cancel(*id, who);
    if (!outcome.ok()) return outcome.status();
    return json{{"id", *id}, {"outcome", *outcome}, {"by", who}};
  }
  if (verb == "retry") {
    auto new_id = admin.Retry(*id, who);
    if (!new_id.ok()) return new_id.status();
    return json{{"id", *id}, {"new_id", *new_id}, {"by", who}};
  }
  return Status::NotFound("no job action \"" + verb + "\": use cancel or retry");
}

Result<json> QueueAction(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                         const std::string& verb, const std::string& who) {
  PGJOBS_RETURN_IF_ERROR(store::CheckQueueKnown(conn, catalog, queue));
  if (verb == "pause" || verb == "resume") {
    PGJOBS_RETURN_IF_ERROR(store::SetQueuePaused(conn, catalog, queue, verb == "pause", who));
    return json{{"queue", queue}, {"paused", verb == "pause"}, {"by", who}};
  }
  if (verb == "purge") {
    auto n = store::JobAdmin(conn, catalog).Purge(queue, std::nullopt, who);
    if (!n.ok()) return n.status();
    return json{{"queue", queue}, {"purged", *n}, {"by", who}};
  }
  return Status::NotFound("no queue action \"" + verb + "\": use pause, resume or purge");
}

Result<json> ScheduleAction(pg::Connection& conn, const SqlCatalog& catalog,
                            const std::string& name, const std::string& verb,
                            const std::string& who) {
  store::ScheduleAdmin admin(conn, catalog);
  admin.set_actor(who);
  if (verb == "enable" || verb == "disable") {
    auto changed = admin.SetEnabled(name, verb == "enable");
    if (!changed.ok()) return changed.status();
    return json{{"name", name}, {"enabled", verb == "enable"}, {"changed", !changed->empty()},
                {"by", who}};
  }
  if (verb == "run") {
    auto job = admin.RunNow(name);
    if (!job.ok()) return job.status();
    return json{{"name", name}, {"job_id", *job}, {"by", who}};
  }
  return Status::NotFound("no schedule action \"" + verb + "\": use enable, disable or run");
}

}  // namespace

Result<json> RunAction(pg::Connection& conn, const SqlCatalog& catalog,
                       const std::vector<std::string>& path, const std::string& who) {
  if (path.size() == 3) {
    if (path[0] == "jobs") return JobAction(conn, catalog, path[1], path[2], who);
    if (path[0] == "queues") return QueueAction(conn, catalog, path[1], path[2], who);
    if (path[0] == "schedules") return ScheduleAction(conn, catalog, path[1], path[2], who);
  }
  return Status::NotFound("no action at this path: POST /api/jobs/ID/cancel|retry, "
                          "/api/queues/NAME/pause|resume|purge or "
                          "/api/schedules/NAME/enable|disable|run");
}

}  // namespace pgjobs::web
