#include "cli/cli_common.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "worker/config.h"

namespace pgjobs::cli {

void AddGlobalOptions(CLI::App& app, GlobalOptions& options) {
  app.add_option("--dsn", options.dsn,
                 "PostgreSQL connection string or URI (env PGJOBS_DSN; default: libpq's "
                 "PGHOST/PGDATABASE/...)");
  app.add_option("--schema", options.schema, "schema pgjobs lives in (env PGJOBS_SCHEMA; default pgjobs)");
  app.add_option("--config", options.config,
                 std::string("configuration file (default ") + kDefaultConfig + " if it exists)")
      ->each([&options](const std::string&) { options.config_given = true; });
}

Status ResolveConnection(GlobalOptions& o) {
  std::string file_dsn;
  std::string file_schema;
  std::string path = o.config.empty() ? kDefaultConfig : o.config;
  if (o.config_given || access(path.c_str(), R_OK) == 0) {
    auto config = worker::LoadConfigFile(path);
    if (!config.ok()) return AsBadInput(config.status());
    file_dsn = config->dsn;
    file_schema = config->schema;
    o.config = path;
  }
  const char* env_dsn = std::getenv("PGJOBS_DSN");
  const char* env_schema = std::getenv("PGJOBS_SCHEMA");
  if (o.dsn.empty()) o.dsn = env_dsn && *env_dsn ? env_dsn : file_dsn;
  if (o.schema.empty()) o.schema = env_schema && *env_schema ? env_schema : file_schema;
  if (o.schema.empty()) o.schema = "pgjobs";
  return Status::Ok();
}

Result<worker::Config> LoadDaemonConfig(GlobalOptions& o) {
  worker::Config config;
  std::string path = o.config.empty() ? kDefaultConfig : o.config;
  if (o.config_given || access(path.c_str(), R_OK) == 0) {
    auto loaded = worker::LoadConfigFile(path);
    if (!loaded.ok()) return AsBadInput(loaded.status());
    config = std::move(*loaded);
  }
  worker::ApplyEnvironment(config);
  if (!o.dsn.empty()) config.dsn = config.worker.dsn = config.scheduler.dsn = o.dsn;
  if (!o.schema.empty()) config.schema = config.worker.schema = config.scheduler.schema = o.schema;
  return config;
}

Status AsBadInput(const Status& status) {
  if (status.ok() || status.code() == Status::Code::kInvalidArgument) return status;
  return Status::InvalidArgument(status.message());
}

Status CheckLogLevel(const std::string& level) {
  for (const char* known : {"trace", "debug", "info", "warn", "error"}) {
    if (level == known) return Status::Ok();
  }
  return Status::InvalidArgument("--log-level \"" + level +
                                 "\" is not a level; use trace, debug, info, warn or error");
}

int ExitCode(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kInvalidArgument: return kExitUsage;
    case Status::Code::kNotFound: return kExitNotFound;
    case Status::Code::kUnavailable: return kExitUnavailable;
    default: return kExitError;
  }
}

int Fail(const Status& status) {
  std::fprintf(stderr, "pgjobs: %s\n", status.message().c_str());
  return ExitCode(status);
}

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("pgjobs");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace pgjobs::cli
