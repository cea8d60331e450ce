// The subcommands. Each Add function registers one on app; when it runs, its
// callback stores the process exit code in exit_code.
#ifndef PGJOBS_CLI_COMMANDS_H_
#define PGJOBS_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "cli/cli_common.h"

namespace pgjobs::cli {

void AddMigrateCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddWorkerCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddEnqueueCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddJobsCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddQueuesCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddWorkersCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddTasksCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddStatsCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddDoctorCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
// retry, cancel and purge under `pgjobs jobs` (cmd_jobs_change.cc).
void AddJobsChangeCommands(CLI::App& jobs, GlobalOptions& global, int& exit_code);
void AddSchedulerCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddSchedulesCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddWebCommand(CLI::App& app, GlobalOptions& global, int& exit_code);
void AddAuditCommand(CLI::App& app, GlobalOptions& global, int& exit_code);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_COMMANDS_H_
