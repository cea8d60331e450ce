// The audit log (migration 0011_audit_log): every action taken on jobs,
// queues, schedules and workers, by the admin CLI or the dashboard, is
// recorded with who did it and when, in the transaction of the action itself.
#ifndef PGJOBS_STORE_AUDIT_H_
#define PGJOBS_STORE_AUDIT_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// One action. actor "" is recorded as the database role (session_user).
struct AuditEntry {
  std::string actor;   // "alice@web", "root@host1"
  std::string action;  // "<kind>.<verb>": "job.cancel", "queue.pause", "schedule.run_now"
  std::string target;  // job id, queue, schedule or worker name; "*" for several
  nlohmann::json details = nlohmann::json::object();
};

// Every action pgjobs records (the README's list), and their kinds: what
// `pgjobs audit --kind` accepts.
inline const std::vector<std::string>& AuditActions() {
  static const std::vector<std::string> kActions = {
      "job.cancel",       "job.retry",       "job.retry_failed", "job.retry_cancelled",
      "queue.cancel",     "queue.purge",     "queue.pause",      "queue.resume",
      "queue.limits",     "queue.notify",    "queue.broker",     "schedule.create",
      "schedule.update",  "schedule.remove", "schedule.enable",  "schedule.disable",
      "schedule.run_now", "worker.stop"};
  return kActions;
}
inline const std::vector<std::string>& AuditKinds() {
  static const std::vector<std::string> kKinds = {"job", "queue", "schedule", "worker"};
  return kKinds;
}

// Writes entry in tx (the action's transaction).
Status WriteAudit(pg::Tx& tx, const SqlCatalog& catalog, const AuditEntry& entry);

// Runs statement `name` and records entry in the same transaction. record,
// when given, sees the statement's rows, may add to the details, and returns
// false when the statement did nothing worth recording (no row is written,
// the statement's effect still commits).
using AuditRecorder = std::function<bool(const pg::Rows&, nlohmann::json& details)>;
Result<pg::Rows> QueryRowsAudited(pg::Connection& conn, const SqlCatalog& catalog,
                                  const std::string& name, const pg::Params& params,
                                  AuditEntry entry, const AuditRecorder& record = nullptr);
// The same inside tx, for an action of several statements that commit together.
Result<pg::Rows> ExecAudited(pg::Tx& tx, const SqlCatalog& catalog, const std::string& name,
                             const pg::Params& params, const AuditEntry& entry,
                             const AuditRecorder& record = nullptr);

struct AuditFilter {
  std::optional<std::string> target;
  std::optional<std::string> kind;   // "job", "queue", "schedule", "worker" or a whole action
  std::optional<std::string> actor;
  std::optional<double> since_seconds;
  std::optional<int64_t> before_id;  // the next page
  int limit = 50;
};

// Actions newest first, a JSON array of {id, at, actor, action, target, details}.
Result<nlohmann::json> ListAudit(pg::Connection& conn, const SqlCatalog& catalog,
                                 const AuditFilter& filter);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_AUDIT_H_
