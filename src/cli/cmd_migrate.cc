#include <cstdio>

#include "cli/commands.h"
#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"

namespace pgjobs::cli {
namespace {

struct MigrateOptions {
  bool status = false;
  bool create_roles = false;
};

int RunMigrate(GlobalOptions& global, const MigrateOptions& options) {
  Status st = ResolveConnection(global);
  if (!st.ok()) return Fail(st);
  auto catalog = SqlCatalog::Load(global.schema);
  if (!catalog.ok()) return Fail(catalog.status());
  pg::Connection conn(global.dsn, nullptr, "pgjobs migrate");
  migrate::Migrator migrator(conn, *catalog);
  if (options.status) {
    auto list = migrator.List();
    if (!list.ok()) return Fail(list.status());
    int pending = 0;
    for (const migrate::MigrationStatus& m : *list) {
      std::printf("%-8s %s%s%s\n", m.applied ? "applied" : "pending", m.name.c_str(),
                  m.applied ? "  " : "", m.applied_at.c_str());
      pending += m.applied ? 0 : 1;
    }
    std::printf("schema %s: %d applied, %d pending\n", global.schema.c_str(),
                static_cast<int>(list->size()) - pending, pending);
    return kExitOk;
  }
  auto applied = migrator.Apply();
  if (!applied.ok()) return Fail(applied.status());
  for (const std::string& name : *applied) std::printf("applied %s\n", name.c_str());
  std::printf("schema %s is up to date (%zu migrations applied now)\n", global.schema.c_str(),
              applied->size());
  // The roles follow every upgrade; they are created only when asked.
  auto roles = migrator.GrantRoles(options.create_roles);
  if (!roles.ok()) return Fail(roles.status());
  for (const std::string& role : *roles) std::printf("granted role %s\n", role.c_str());
  return kExitOk;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<MigrateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "migrate", "install or upgrade the schema (idempotent; safe from several hosts at once)");
  cmd->add_flag("--status", options->status, "list applied and pending migrations; change nothing");
  cmd->add_flag("--create-roles", options->create_roles,
                "also create the roles SCHEMA_producer, SCHEMA_worker, SCHEMA_admin and SCHEMA_reader "
                "(needs CREATEROLE); existing ones are granted their rights on every migrate");
  cmd->callback([&global, &exit_code, options] { exit_code = RunMigrate(global, *options); });
}

}  // namespace pgjobs::cli
