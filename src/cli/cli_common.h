// What every pgjobs subcommand shares: connection options, exit codes,
// error printing and logging set-up.
#ifndef PGJOBS_CLI_CLI_COMMON_H_
#define PGJOBS_CLI_CLI_COMMON_H_

#include <CLI/CLI.hpp>

#include <string>

#include "pgjobs/status.h"
#include "worker/config.h"

namespace pgjobs::cli {

// Exit codes, documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;       // a failure at run time
inline constexpr int kExitUsage = 2;       // bad input: fix the command line or file
inline constexpr int kExitNotFound = 3;    // the job, schedule, ... does not exist
inline constexpr int kExitUnavailable = 4; // the database cannot be reached

inline constexpr const char* kDefaultConfig = "/etc/pgjobs/pgjobs.conf";

struct GlobalOptions {
  std::string dsn;     // --dsn, else PGJOBS_DSN, else the config file's, else libpq defaults
  std::string schema;  // --schema, else PGJOBS_SCHEMA, else the config file's, else pgjobs
  std::string config;  // --config; default /etc/pgjobs/pgjobs.conf when it exists
  bool config_given = false;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions& options);
// Fills dsn and schema from the environment and the config file.
Status ResolveConnection(GlobalOptions& options);

// The configuration of a daemon (worker, scheduler): the config file when
// given or present at the default path, then PGJOBS_DSN / PGJOBS_SCHEMA, then
// --dsn / --schema.
Result<worker::Config> LoadDaemonConfig(GlobalOptions& options);

// status as a bad-input error (exit 2), for failures that come from a file
// or option the user gave: a configuration file that cannot be read, a
// command task whose program is missing. Exit 3 stays for a job or schedule
// that does not exist.
Status AsBadInput(const Status& status);

// Checks a --log-level value: trace, debug, info, warn or error.
Status CheckLogLevel(const std::string& level);

// Prints "pgjobs: <message>" to stderr and returns the exit code for status.
int Fail(const Status& status);
int ExitCode(const Status& status);

// Sets up the default spdlog logger on stderr at level.
void SetUpLogging(const std::string& level);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_CLI_COMMON_H_
