#include "store/audit.h"

#include "store/admin_query.h"

namespace pgjobs::store {

using nlohmann::json;

Status WriteAudit(pg::Tx& tx, const SqlCatalog& catalog, const AuditEntry& e) {
  auto rows = tx.ExecParams(catalog.Get("audit_insert"),
                            {e.actor, e.action, e.target, e.details.dump()});
  return rows.status().WithContext("record " + e.action + " of " + e.target + " in the audit log");
}

Result<pg::Rows> ExecAudited(pg::Tx& tx, const SqlCatalog& catalog, const std::string& name,
                             const pg::Params& params, const AuditEntry& entry,
                             const AuditRecorder& record) {
  auto rows = tx.ExecParams(catalog.Get(name), params);
  if (!rows.ok()) return rows.status();
  json details = entry.details;
  if (record && !record(*rows, details)) return rows;
  AuditEntry e = entry;
  e.details = std::move(details);
  PGJOBS_RETURN_IF_ERROR(WriteAudit(tx, catalog, e));
  return rows;
}

Result<pg::Rows> QueryRowsAudited(pg::Connection& conn, const SqlCatalog& catalog,
                                  const std::string& name, const pg::Params& params,
                                  AuditEntry entry, const AuditRecorder& record) {
  pg::Rows rows;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    auto r = ExecAudited(tx, catalog, name, params, entry, record);
    if (!r.ok()) return r.status();
    rows = *r;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

Result<json> ListAudit(pg::Connection& conn, const SqlCatalog& catalog, const AuditFilter& f) {
  auto list = QueryJson(conn, catalog, "audit_list",
                        {Opt(f.target), Opt(f.kind), Opt(f.actor), Opt(f.since_seconds),
                         std::to_string(f.limit),
                         f.before_id ? pg::Param(std::to_string(*f.before_id)) : pg::Param()});
  if (!list.ok()) return list.status().WithContext("list the audit log");
  return list;
}

}  // namespace pgjobs::store
