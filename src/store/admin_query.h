// Running the read and write statements of sql/admin.sql, which the CLI (and
// later the dashboard) share. Statements are sent with their values, never
// prepared, so the planner sees which optional filters are given.
#ifndef PGJOBS_STORE_ADMIN_QUERY_H_
#define PGJOBS_STORE_ADMIN_QUERY_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// Statement `name`, whose single column is a JSON document, in its own
// transaction; null when it returns no row or NULL.
Result<nlohmann::json> QueryJson(pg::Connection& conn, const SqlCatalog& catalog,
                                 const std::string& name, const pg::Params& params);
// Statement `name` in its own transaction; its rows.
Result<pg::Rows> QueryRows(pg::Connection& conn, const SqlCatalog& catalog,
                           const std::string& name, const pg::Params& params);

// An optional text as a parameter (nullopt is SQL NULL).
inline pg::Param Opt(const std::optional<std::string>& v) { return v; }
inline pg::Param Opt(const std::optional<double>& v) {
  return v ? pg::Param(nlohmann::json(*v).dump()) : pg::Param();
}

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_ADMIN_QUERY_H_
