// What the `pgjobs schedules ...` subcommands share. cmd_schedules.cc holds
// the commands that edit one schedule, cmd_schedules_view.cc list, show and
// next, cmd_schedules_apply.cc the file commands apply and export.
#ifndef PGJOBS_CLI_CMD_SCHEDULES_H_
#define PGJOBS_CLI_CMD_SCHEDULES_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>

#include "cli/cli_common.h"
#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "store/schedule_admin.h"

namespace pgjobs::cli {

// A connection to a migrated schema and the store on it. Heap-allocated so
// that admin's references to catalog and conn stay valid.
struct ScheduleSession {
  SqlCatalog catalog;
  std::unique_ptr<pg::Connection> conn;
  std::unique_ptr<store::ScheduleAdmin> admin;
};

// Connects (Unavailable, exit 4, when the database cannot be reached) and
// checks that the schema is migrated.
Result<std::unique_ptr<ScheduleSession>> OpenScheduleSession(GlobalOptions& global);

// This host's clock, to whole seconds: only used to ask whether a cron
// expression can fire at all. Fire times shown come from the database's now().
std::chrono::sys_seconds HostNow();

void AddSchedulesViewCommands(CLI::App& schedules, GlobalOptions& global, int& exit_code);
void AddSchedulesFileCommands(CLI::App& schedules, GlobalOptions& global, int& exit_code);
// import-celery-beat (cmd_schedules_import.cc).
void AddSchedulesImportCommand(CLI::App& schedules, GlobalOptions& global, int& exit_code);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_CMD_SCHEDULES_H_
