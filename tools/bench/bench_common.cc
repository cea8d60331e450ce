#include "bench_common.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "store/broker_store.h"
#include "broker/broker.h"
#ifdef PGJOBS_WITH_REDIS
#include "broker/redis_client.h"
#include "broker/redis_keys.h"
#endif

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

Status ApplyBroker(const CommonFlags& flags, bool needs_url) {
  if (flags.broker.empty()) return Status::Ok();
  if (flags.broker != "postgres" && flags.broker != "redis") {
    return Status::InvalidArgument("--broker \"" + flags.broker + "\" is not postgres or redis");
  }
  if (flags.broker == "redis" && !broker::RedisSupported()) {
    return Status::FailedPrecondition(std::string("--broker redis: ") + broker::kNoRedisSupport);
  }
  if (flags.broker == "redis" && needs_url && flags.redis_url.empty()) {
    return Status::InvalidArgument("--broker redis needs --redis-url URL");
  }
  auto catalog = SqlCatalog::Load(flags.schema);
  if (!catalog.ok()) return catalog.status();
  pg::Connection conn(flags.dsn, nullptr, "pgjobs-bench broker");
  return store::SetQueueBroker(conn, *catalog, flags.queue, flags.broker, "pgjobs-bench");
}

Status ClearRedis(const CommonFlags& flags) {
  if (flags.redis_url.empty()) return Status::Ok();
#ifdef PGJOBS_WITH_REDIS
  auto address = broker::ParseRedisUrl(flags.redis_url);
  if (!address.ok()) return address.status().WithContext("--redis-url");
  broker::RedisClient redis(*address, "", std::chrono::seconds(5));
  std::vector<std::string> del = {"DEL"};
  for (const std::string& key : broker::StreamKeys(flags.redis_prefix(), flags.queue)) {
    del.push_back(key);
  }
  auto reply = redis.Command(del);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return Status::Unavailable("redis DEL: " + reply->str);
  return Status::Ok();
#else
  return Status::FailedPrecondition(std::string("--redis-url: ") + broker::kNoRedisSupport);
#endif
}

}  // namespace pgjobs::bench
