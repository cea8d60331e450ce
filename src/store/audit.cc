#include "store/audit.h"

#include "store/admin_query.h"

namespace pgjobs::store {

using nlohmann::json;

Status WriteAudit(pg::Tx& tx, const SqlCatalog& catalog, const AuditEntry& e) {
  auto rows = tx.ExecParams(catalog.Get("audit_insert"),
                            {e.actor, e.action, e.target, e.details.dump()});
  return rows.status().WithContext("record " + e.action + " of " + e.target + " in the audit log");
}

Result<pg::Rows> QueryRowsAudited(pg::Connection& conn, const SqlCatalog& catalog,
                                  const std::string& name, const pg::Params& params,
                                  AuditEntry entry, const AuditRecorder& record) {
  pg::Rows rows;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    auto r = tx.ExecParams(catalog.Get(name), params);
    if (!r.ok()) return r.status();
    rows = *r;
    json details = entry.details;
    if (record && !record(rows, details)) return Status::Ok();
    AuditEntry e = entry;
    e.details = std::move(details);
    return WriteAudit(tx, catalog, e);
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
