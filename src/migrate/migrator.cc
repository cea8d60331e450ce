#include "migrate/migrator.h"

#include <algorithm>

namespace pgjobs::migrate {
namespace {

// One lock for every schema of the database: migrations are rare and short.
constexpr const char* kLockSql = "SELECT pg_advisory_lock(hashtext('pgjobs.migrate'))";
constexpr const char* kUnlockSql = "SELECT pg_advisory_unlock(hashtext('pgjobs.migrate'))";

std::string MigrationsTable(const SqlCatalog& catalog) {
  return catalog.schema() + ".schema_migrations";
}

}  // namespace

Result<std::vector<Migrator::Applied>> Migrator::ReadApplied() {
  auto exists =
      conn_.ExecSql("SELECT to_regclass('" + MigrationsTable(catalog_) + "') IS NOT NULL");
  if (!exists.ok()) return exists.status();
  std::vector<Applied> out;
  if (!exists->Bool(0, 0)) return out;
  auto rows = conn_.ExecSql("SELECT version, checksum, to_json(applied_at)#>>'{}' FROM " +
                            MigrationsTable(catalog_) + " ORDER BY version");
  if (!rows.ok()) return rows.status();
  for (size_t i = 0; i < rows->size(); ++i) {
    out.push_back(Applied{static_cast<int>(rows->Int(i, 0)), rows->Text(i, 1), rows->Text(i, 2)});
  }
  return out;
}

Status Migrator::CheckApplied(const std::vector<Applied>& applied) {
  for (const Applied& a : applied) {
    auto it = std::find_if(catalog_.migrations().begin(), catalog_.migrations().end(),
                           [&](const Migration& m) { return m.version == a.version; });
    if (it == catalog_.migrations().end()) {
      return Status::FailedPrecondition(
          "schema " + catalog_.schema() + " has migration " + std::to_string(a.version) +
          " applied, which this pgjobs does not know; a newer pgjobs migrated this database, "
          "upgrade this one");
    }
    if (it->checksum != a.checksum) {
      return Status::FailedPrecondition("migration " + it->name +
                                        " changed after it was applied; released migrations "
                                        "must never be edited");
    }
  }
  return Status::Ok();
}

Result<std::vector<MigrationStatus>> Migrator::List() {
  auto applied = ReadApplied();
  if (!applied.ok()) return applied.status();
  std::vector<MigrationStatus> out;
  for (const Migration& m : catalog_.migrations()) {
    MigrationStatus s{m.version, m.name, false, ""};
    for (const Applied& a : *applied) {
      if (a.version == m.version) {
        s.applied = true;
        s.applied_at = a.applied_at;
      }
    }
    out.push_back(s);
  }
  return out;
}

Status Migrator::CheckCurrent() {
  auto list = List();
  if (!list.ok() && list.status().code() == Status::Code::kPermissionDenied) {
    // The schema is there but this login role may not use it: not a missing
    // migration (which `pgjobs migrate` would fix) but a missing GRANT.
    const std::string& s = catalog_.schema();
    return Status::PermissionDenied(
        list.status().message() + ": this database role has no right on schema " + s +
        "; as the schema's owner, grant it the role for its job: " + s + "_worker (workers), " + s +
        "_producer (enqueue only), " + s + "_admin (the CLI, the dashboard, the scheduler) or " +
        s + "_reader (read only), e.g. GRANT " + s + "_admin TO the_role; `pgjobs migrate " +
        "--create-roles` creates them");
  }
  if (!list.ok()) return list.status();
  for (const MigrationStatus& s : *list) {
    if (!s.applied) {
      return Status::FailedPrecondition("schema " + catalog_.schema() + " is missing migration " +
                                        s.name + "; run `pgjobs migrate` first");
    }
  }
  return Status::Ok();
}

Status Migrator::CheckRights(const std::vector<std::pair<std::string, std::string>>& needed,
                             const std::string& role_kind, const std::string& purpose) {
  const std::string& schema = catalog_.schema();
  std::string sql = "SELECT current_user::text";
  for (const auto& [table, privilege] : needed) {
    sql += ", has_table_privilege('" + schema + "." + table + "', '" + privilege + "')";
  }
  auto rows = conn_.ExecSql(sql);
  if (!rows.ok()) return rows.status();
  std::string missing;
  for (size_t i = 0; i < needed.size(); ++i) {
    if (rows->Bool(0, static_cast<int>(i + 1))) continue;
    missing +=
        (missing.empty() ? "" : ", ") + needed[i].second + " on " + schema + "." + needed[i].first;
  }
  if (missing.empty()) return Status::Ok();
  const std::string role = rows->Text(0, 0);
  const std::string grant = schema + "_" + role_kind;
  return Status::PermissionDenied("database role " + role + " may not " + purpose + " on schema " +
                                  schema + ": it lacks " + missing +
                                  "; as the schema's owner, GRANT " + grant + " TO " + role +
                                  " (`pgjobs migrate --create-roles` creates the roles)");
}

Result<std::vector<std::string>> Migrator::Apply() {
  PGJOBS_RETURN_IF_ERROR(conn_.ExecSql(kLockSql).status());
  auto result = [&]() -> Result<std::vector<std::string>> {
    const std::string table = MigrationsTable(catalog_);
    PGJOBS_RETURN_IF_ERROR(conn_
                               .ExecSql("CREATE SCHEMA IF NOT EXISTS " + catalog_.schema() +
                                        "; CREATE TABLE IF NOT EXISTS " + table +
                                        " (version integer PRIMARY KEY, name text NOT NULL, "
                                        "checksum text NOT NULL, applied_at timestamptz NOT "
                                        "NULL DEFAULT now())")
                               .status());
    auto applied = ReadApplied();
    if (!applied.ok()) return applied.status();
    PGJOBS_RETURN_IF_ERROR(CheckApplied(*applied));
    std::vector<std::string> done;
    for (const Migration& m : catalog_.migrations()) {
      bool is_applied = std::any_of(applied->begin(), applied->end(),
                                    [&](const Applied& a) { return a.version == m.version; });
      if (is_applied) continue;
      Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
        PGJOBS_RETURN_IF_ERROR(tx.ExecSql(m.sql).status());
        return tx
            .ExecSql("INSERT INTO " + table + " (version, name, checksum) VALUES (" +
                     std::to_string(m.version) + ", '" + m.name + "', '" + m.checksum + "')")
            .status();
      });
      if (!st.ok()) return st.WithContext("migration " + m.name);
      done.push_back(m.name);
    }
    return done;
  }();
  // The lock is session-level: release it even when a migration failed (a
  // lost connection releases it by itself).
  if (conn_.connected()) (void)conn_.ExecSql(kUnlockSql);
  return result;
}

Result<std::vector<std::string>> Migrator::GrantRoles(bool create_missing) {
  std::string granted;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams(catalog_.Get("grant_roles"), {create_missing ? "true" : "false"});
    if (!rows.ok()) return rows.status();
    granted = rows->Text(0, 0);
    return Status::Ok();
  });
  if (!st.ok()) {
    Status out = st.WithContext("granting the roles of schema " + catalog_.schema());
    if (!create_missing || out.message().find("permission denied") == std::string::npos) return out;
    return Status::FailedPrecondition(
        out.message() +
        "; creating roles needs a role with CREATEROLE (or a superuser): run `pgjobs migrate "
        "--create-roles` as such a role, or create the roles yourself and run `pgjobs migrate`");
  }
  std::vector<std::string> roles;
  size_t start = 0;
  while (start < granted.size()) {
    size_t end = granted.find(',', start);
    if (end == std::string::npos) end = granted.size();
    roles.push_back(granted.substr(start, end - start));
    start = end + 1;
  }
  return roles;
}

}  // namespace pgjobs::migrate
