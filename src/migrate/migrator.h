// Installs and upgrades the schema from the embedded, numbered migrations.
//
// Migrations run in version order, each in its own transaction together with
// its row in <schema>.schema_migrations, under a session advisory lock, so
// that several hosts running `pgjobs migrate` at once apply each exactly once.
#ifndef PGJOBS_MIGRATE_MIGRATOR_H_
#define PGJOBS_MIGRATE_MIGRATOR_H_

#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::migrate {

struct MigrationStatus {
  int version = 0;
  std::string name;
  bool applied = false;
  std::string applied_at;  // ISO 8601, empty when pending
};

class Migrator {
 public:
  // conn and catalog must outlive the Migrator.
  Migrator(pg::Connection& conn, const SqlCatalog& catalog) : conn_(conn), catalog_(catalog) {}

  // Every known migration and whether it is applied.
  Result<std::vector<MigrationStatus>> List();
  // Applies the pending migrations; returns the names applied (empty when the
  // schema was already current). An applied migration whose file changed, or
  // an applied version this binary does not know (a newer pgjobs migrated the
  // database), is an error and nothing is applied.
  Result<std::vector<std::string>> Apply();
  // Ok when every migration is applied; FailedPrecondition naming the first
  // pending one otherwise ("run pgjobs migrate").
  Status CheckCurrent();
  // PermissionDenied naming what is missing and the role to grant ("worker",
  // "admin": <schema>_worker ...) unless the session's role has every right
  // of `needed`: (table of the schema, privilege) pairs. What a process
  // checks at start, so that it fails there instead of looking healthy.
  Status CheckRights(const std::vector<std::pair<std::string, std::string>>& needed,
                     const std::string& role_kind, const std::string& purpose);
  // Grants the least-privilege roles <schema>_producer, _worker and _admin
  // their rights on the current schema (function grant_roles, migration
  // 0009), creating missing ones when create_missing; returns the roles
  // granted (none when they do not exist and create_missing is false).
  Result<std::vector<std::string>> GrantRoles(bool create_missing);

 private:
  struct Applied {
    int version;
    std::string checksum;
    std::string applied_at;
  };
  Result<std::vector<Applied>> ReadApplied();
  Status CheckApplied(const std::vector<Applied>& applied);

  pg::Connection& conn_;
  const SqlCatalog& catalog_;
};

}  // namespace pgjobs::migrate

#endif  // PGJOBS_MIGRATE_MIGRATOR_H_
