// The Redis broker's consumer groups over time (README, "Redis broker"): a
// worker that is gone leaves a consumer in each stream's group; its entries
// are taken over after a lease, and the consumer itself is removed once it
// holds nothing and has not read for four leases, so the groups do not grow
// with every worker that ever ran.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "pgjobs/worker.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

bool Has(const std::string& text, const std::string& word) {
  return text.find(word) != std::string::npos;
}

TEST(RedisConsumers, AGoneWorkersConsumerIsTakenOverThenRemovedAndALiveOneIsKept) {
  if (!testing::RedisServer::Available()) {
    GTEST_SKIP() << "no Redis support built in, or no /usr/bin/redis-server "
                    "(tools/install-deps installs libhiredis-dev and redis-server)";
  }
  TestSchema schema;
  testing::RedisServer redis;
  const std::string s = schema.name();
  auto q = [&](const std::string& sql) { return QueryValue(schema.dsn(), sql); };
  testing::Execute(schema.dsn(),
                   "INSERT INTO " + s + ".queues (name, broker) VALUES ('default', 'redis')");
  // A job the relay has pushed (dispatched_at set) and a worker that is
  // gone has read: its entry is pending for consumer "gone-holding".
  const std::string job = q("INSERT INTO " + s +
                            ".jobs (task, dispatched_at) VALUES ('ping', now()) RETURNING id");
  const std::string stream = s + ":default:5";
  ASSERT_EQ("OK", redis.Cli({"XGROUP", "CREATE", stream, "pgjobs", "0", "MKSTREAM"}));
  redis.Cli({"XADD", stream, "*", "id", job});
  ASSERT_TRUE(Has(redis.Cli({"XREADGROUP", "GROUP", "pgjobs", "gone-holding", "COUNT", "1",
                             "STREAMS", stream, ">"}),
                  job));
  // And a worker that is gone holding nothing.
  ASSERT_EQ("1", redis.Cli({"XGROUP", "CREATECONSUMER", stream, "pgjobs", "gone-idle"}));

  WorkerOptions o;
  o.dsn = schema.dsn();
  o.schema = s;
  o.queues = {{"default", 2}};
  o.lease = 3s;  // the shortest allowed: taken over after 3 s, removed after 12 s
  o.worker_id = "live-worker";
  o.redis.url = redis.url();
  o.redis.key_prefix = s;
  o.redis.redispatch_after = 60s;  // so that only the takeover can run the job
  o.logger = std::make_shared<spdlog::logger>("test",
                                              std::make_shared<spdlog::sinks::null_sink_mt>());
  Worker worker(o);
  std::atomic<int> runs{0};
  worker.Register("ping", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  auto created = std::chrono::steady_clock::now();
  Status started = worker.Start();
  ASSERT_TRUE(started.ok()) << started.message();

  // The held entry is taken over after a lease and its job runs, once.
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }, 15s));
  EXPECT_EQ("succeeded|1",
            q("SELECT state || '|' || attempt FROM " + s + ".job_history WHERE id = " + job));
  // Not yet idle for four leases: both consumers are still there.
  std::string consumers = redis.Cli({"XINFO", "CONSUMERS", stream, "pgjobs"});
  if (std::chrono::steady_clock::now() - created < 10s) {
    EXPECT_TRUE(Has(consumers, "gone-idle")) << consumers;
  }
  // Then both are removed; the live worker's consumer stays.
  ASSERT_TRUE(Eventually(
      [&] {
        consumers = redis.Cli({"XINFO", "CONSUMERS", stream, "pgjobs"});
        return !Has(consumers, "gone-idle") && !Has(consumers, "gone-holding");
      },
      30s))
      << consumers;
  EXPECT_TRUE(Has(consumers, "live-worker")) << consumers;
  EXPECT_EQ("0", redis.Cli({"XLEN", stream}));

  // The worker goes on consuming after the pruning.
  testing::Execute(schema.dsn(), "INSERT INTO " + s + ".jobs (task) VALUES ('ping')");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 2; }, 15s));
  worker.Stop(5s);
  EXPECT_EQ(2, runs.load());
  EXPECT_EQ("2", q("SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"));
}

}  // namespace
}  // namespace pgjobs
