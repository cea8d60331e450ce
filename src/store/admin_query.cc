#include "store/admin_query.h"

namespace pgjobs::store {

Result<pg::Rows> QueryRows(pg::Connection& conn, const SqlCatalog& catalog,
                           const std::string& name, const pg::Params& params) {
  pg::Rows rows;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    auto r = tx.ExecParams(catalog.Get(name), params);
    if (!r.ok()) return r.status();
    rows = *r;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

Result<nlohmann::json> QueryJson(pg::Connection& conn, const SqlCatalog& catalog,
                                 const std::string& name, const pg::Params& params) {
  auto rows = QueryRows(conn, catalog, name, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty() || rows->IsNull(0, 0)) return nlohmann::json();
  nlohmann::json parsed = nlohmann::json::parse(rows->Text(0, 0), nullptr, false);
  if (parsed.is_discarded()) return Status::Internal(name + " returned text that is not JSON");
  return parsed;
}

}  // namespace pgjobs::store
