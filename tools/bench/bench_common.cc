#include "bench_common.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"

namespace pgjobs::bench {

double WallMs() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double, std::milli>(since_epoch).count();
}

int Fail(const Status& status) {
  std::fprintf(stderr, "pgjobs-bench: %s\n", status.message().c_str());
  return kExitError;
}

std::shared_ptr<spdlog::logger> StderrLogger() {
  auto existing = spdlog::get("pgjobs-bench");
  if (existing) return existing;
  auto logger = spdlog::stderr_logger_mt("pgjobs-bench");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return logger;
}

Status CheckSchemaReady(const CommonFlags& flags) {
  auto catalog = SqlCatalog::Load(flags.schema);
  if (!catalog.ok()) return catalog.status();
  pg::Connection conn(flags.dsn, nullptr, "pgjobs-bench check");
  PGJOBS_RETURN_IF_ERROR(conn.EnsureConnected());
  auto list = migrate::Migrator(conn, *catalog).List();
  if (!list.ok()) return list.status().WithContext("reading schema " + flags.schema);
  for (const migrate::MigrationStatus& m : *list) {
    if (m.applied) continue;
    return Status::FailedPrecondition("schema " + flags.schema + " is missing migration " + m.name +
                                      "; run pgjobs-bench reset --dsn DSN --schema " +
                                      flags.schema + " first");
  }
  return Status::Ok();
}

}  // namespace pgjobs::bench
