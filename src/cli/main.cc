// pgjobs: one binary, subcommands (README "Commands").
#include <CLI/CLI.hpp>
#include <functional>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/parse_errors.h"

#ifndef PGJOBS_VERSION
#define PGJOBS_VERSION "dev"
#endif

int main(int argc, char** argv) {
  using namespace pgjobs::cli;
  CLI::App app("pgjobs: a durable job queue and cron scheduler on PostgreSQL", "pgjobs");
  app.set_version_flag("--version", PGJOBS_VERSION);
  app.require_subcommand(1);
  GlobalOptions global;
  AddGlobalOptions(app, global);
  int exit_code = kExitOk;
  AddMigrateCommand(app, global, exit_code);
  AddWorkerCommand(app, global, exit_code);
  AddEnqueueCommand(app, global, exit_code);
  AddJobsCommand(app, global, exit_code);
  AddQueuesCommand(app, global, exit_code);
  AddWorkersCommand(app, global, exit_code);
  AddTasksCommand(app, global, exit_code);
  AddStatsCommand(app, global, exit_code);
  AddDoctorCommand(app, global, exit_code);
  AddSchedulerCommand(app, global, exit_code);
  AddSchedulesCommand(app, global, exit_code);
  AddWebCommand(app, global, exit_code);
  AddAuditCommand(app, global, exit_code);
  // Global options (--dsn, --schema, --config) may follow the subcommand.
  std::function<void(CLI::App*)> fall_through = [&](CLI::App* cmd) {
    for (CLI::App* sub : cmd->get_subcommands({})) {
      sub->fallthrough();
      fall_through(sub);
    }
  };
  fall_through(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ReportParseError(app, e);
  }
  return exit_code;
}
