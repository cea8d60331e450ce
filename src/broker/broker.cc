#include "broker/broker.h"

#ifdef PGJOBS_WITH_REDIS
#include "broker/redis_broker.h"
#endif
#include "worker/worker_core.h"

namespace pgjobs::broker {

const char* const kNoRedisSupport =
    "this pgjobs was built without Redis support (hiredis was not found at build time); "
    "install libhiredis-dev and rebuild, or keep the queue on the postgres broker";

#ifdef PGJOBS_WITH_REDIS

bool RedisSupported() { return true; }

Result<std::unique_ptr<QueueBroker>> MakeRedisBroker(
    worker::WorkerCore& core, std::function<void(const std::string&)> wake,
    std::function<int(const std::string&)> room) {
  auto address = ParseRedisUrl(core.options.redis.url);
  if (!address.ok()) return address.status();
  if (core.options.redis.window < 1) {
    return Status::InvalidArgument("redis.window must be at least 1 (default 1000)");
  }
  std::unique_ptr<QueueBroker> broker =
      std::make_unique<RedisBroker>(core, *address, std::move(wake), std::move(room));
  return broker;
}

#else

bool RedisSupported() { return false; }

Result<std::unique_ptr<QueueBroker>> MakeRedisBroker(worker::WorkerCore&,
                                                      std::function<void(const std::string&)>,
                                                      std::function<int(const std::string&)>) {
  return Status::FailedPrecondition(kNoRedisSupport);
}

#endif

}  // namespace pgjobs::broker
