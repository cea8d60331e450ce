// The worker's job protocol against both brokers (README, "Redis broker"):
// each test runs once with the queue on PostgreSQL and once with it on a
// real redis-server started by the test. What a user can observe (pick-up by
// NOTIFY, one run per job while a lease is live, retries, final failure,
// give-back on stop, late results fenced out, unknown tasks waiting,
// priorities) must be the same.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <set>
#include <thread>

#include "pg/connection.h"
#include "pgjobs/worker.h"
#include "store/job_store.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

enum class Broker { kPostgres, kRedis };

class BrokerConformanceTest : public ::testing::TestWithParam<Broker> {
 protected:
  void SetUp() override {
    if (GetParam() != Broker::kRedis) return;
    if (!testing::RedisServer::Available()) {
      GTEST_SKIP() << "no Redis support built in, or no /usr/bin/redis-server "
                      "(tools/install-deps installs libhiredis-dev and redis-server)";
    }
    redis_ = std::make_unique<testing::RedisServer>();
    Exec("INSERT INTO " + S() + ".queues (name, broker) VALUES ('default', 'redis')");
  }
  bool redis() const { return GetParam() == Broker::kRedis; }
  WorkerOptions Options() {
    WorkerOptions o;
    o.dsn = schema_.dsn();
    o.schema = schema_.name();
    o.queues = {{"default", 4}};
    o.poll_interval = 10s;  // so that only NOTIFY (and the relay) explain a fast pick-up
    o.logger = std::make_shared<spdlog::logger>("test",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
    if (redis_) {
      o.redis.url = redis_->url();
      o.redis.key_prefix = S();
      o.redis.redispatch_after = 2s;
    }
    return o;
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Insert(const std::string& task, const std::string& extra_cols = "",
              const std::string& extra_vals = "") {
    Exec("INSERT INTO " + S() + ".jobs (task" + extra_cols + ") VALUES ('" + task + "'" +
         extra_vals + ")");
  }
  TestSchema schema_;
  std::unique_ptr<testing::RedisServer> redis_;
};

TEST_P(BrokerConformanceTest, ARawSqlInsertIsPickedUpWellUnderThePollInterval) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("ping", [&](JobContext&) {
    runs++;
    return HandlerResult::Success(R"({"pong": true})");
  });
  ASSERT_TRUE(worker.Start().ok());
  std::this_thread::sleep_for(300ms);  // the first poll is over
  auto start = std::chrono::steady_clock::now();
  Insert("ping");
  ASSERT_TRUE(Eventually([&] { return runs.load() == 1; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "the poll interval is 10 s";
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  worker.Stop(5s);
  EXPECT_EQ("succeeded|{\"pong\": true}|1",
            Q("SELECT concat_ws('|', state, result, attempt) FROM " + S() + ".job_history"));
  if (redis()) {
    // Acknowledged and deleted from the stream once the outcome was committed.
    EXPECT_TRUE(Eventually([&] { return redis_->Cli({"XLEN", S() + ":default:5"}) == "0"; }));
  }
}

TEST_P(BrokerConformanceTest, ConcurrentWorkersRunEveryJobOnceWhileLeasesAreLive) {
  constexpr int kJobs = 1500;
  Exec("INSERT INTO " + S() + ".jobs (task, args) SELECT 'count', jsonb_build_object('n', g) "
       "FROM generate_series(1, " + std::to_string(kJobs) + ") g");
  std::mutex mu;
  std::multiset<int64_t> seen;
  auto handler = [&](JobContext& ctx) {
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(ctx.job().id);
    return HandlerResult::Success();
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) {
    WorkerOptions o = Options();
    o.queues = {{"default", 3}};
    o.prefetch = i * 10;
    workers.push_back(std::make_unique<Worker>(o));
    workers.back()->Register("count", handler);
    ASSERT_TRUE(workers.back()->Start().ok());
  }
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT count(*) FROM " + S() + ".job_history") == std::to_string(kJobs);
  }, 60s));
  for (auto& w : workers) w->Stop(5s);
  std::lock_guard<std::mutex> lock(mu);
  std::set<int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(static_cast<size_t>(kJobs), unique.size());
  EXPECT_EQ(seen.size(), unique.size()) << "some job ran twice";
  EXPECT_EQ(std::to_string(kJobs), Q("SELECT count(*) FROM " + S() +
                                     ".job_history WHERE state = 'succeeded' AND attempt = 1"));
}

TEST_P(BrokerConformanceTest, AJobThatAlwaysFailsIsRetriedThenEndsFailedWithEveryError) {
  Worker worker(Options());
  TaskOptions fast_retry;
  fast_retry.retry.base = 10ms;
  worker.Register("flaky", [](JobContext& ctx) {
    return HandlerResult::Failure("boom on attempt " + std::to_string(ctx.job().attempt));
  }, fast_retry);
  ASSERT_TRUE(worker.Start().ok());
  Insert("flaky", ", max_attempts", ", 3");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().failed == 1; }));
  worker.Stop(5s);
  EXPECT_EQ("failed|3|3", Q("SELECT concat_ws('|', state, attempt, jsonb_array_length(errors)) "
                            "FROM " + S() + ".job_history"));
  EXPECT_EQ("boom on attempt 1,boom on attempt 2,boom on attempt 3",
            Q("SELECT string_agg(e->>'error', ',' ORDER BY (e->>'attempt')::int) FROM " + S() +
              ".job_history, jsonb_array_elements(errors) e"));
}

TEST_P(BrokerConformanceTest, AJobForATaskNoWorkerHandlesWaitsPendingWithNoAttemptUsed) {
  Worker worker(Options());
  worker.Register("known", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker.Start().ok());
  Insert("unknown_task");
  Insert("known");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  std::this_thread::sleep_for(500ms);
  worker.Stop(5s);
  EXPECT_EQ("pending|0|0|", Q("SELECT concat_ws('|', state, attempt, jsonb_array_length(errors), "
                              "coalesce(dispatched_at::text, '')) FROM " + S() +
                              ".jobs WHERE task = 'unknown_task'"))
      << "never pushed to Redis either: no worker has a handler for it";
}

TEST_P(BrokerConformanceTest, StopGivesBackARunningJobAndAnotherWorkerRunsIt) {
  Worker first(Options());
  std::atomic<bool> started{false};
  first.Register("long", [&](JobContext& ctx) {
    started = true;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(5ms);
    return HandlerResult::Failure("interrupted");
  });
  ASSERT_TRUE(first.Start().ok());
  Insert("long");
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  first.Stop(200ms);
  EXPECT_EQ("pending|0|given_back", Q("SELECT concat_ws('|', state, attempt, errors->0->>'kind') "
                                      "FROM " + S() + ".jobs"));
  Worker second(Options());
  second.Register("long", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(Eventually([&] { return second.Stats().succeeded == 1; }, 10s));
  second.Stop(5s);
  EXPECT_EQ("succeeded|1", Q("SELECT state || '|' || attempt FROM " + S() + ".job_history"));
}

TEST_P(BrokerConformanceTest, ALateResultAfterARescueIsDroppedAndTheJobRunsOnceMore) {
  WorkerOptions o = Options();
  o.poll_interval = 1s;  // a rescue sends no NOTIFY: the PostgreSQL broker finds it by polling
  Worker worker(o);
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  worker.Register("slow", [&](JobContext& ctx) {
    if (++runs == 1) {
      while (!release.load()) std::this_thread::sleep_for(5ms);
      return HandlerResult::Success(R"({"late": true})");
    }
    return HandlerResult::Success("{\"second\": \"" + std::to_string(ctx.job().attempt) + "\"}");
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("slow");
  ASSERT_TRUE(Eventually([&] { return runs.load() == 1; }));
  // The first run's worker looks dead to the database: its lease expires and
  // the job is rescued (attempt counted), then run again.
  Exec("UPDATE " + S() + ".jobs SET lease_expires_at = now() - interval '1 second'");
  auto catalog = SqlCatalog::Load(S());
  pg::Connection conn(schema_.dsn(), &*catalog, "test");
  auto rescued = store::RescueExpired(conn, 10);
  ASSERT_TRUE(rescued.ok());
  ASSERT_EQ(1u, rescued->retried.size());
  ASSERT_TRUE(Eventually([&] { return runs.load() == 2; }, 10s));
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT count(*) FROM " + S() + ".job_history") == "1";
  }));
  release = true;  // the first run's result arrives late
  std::this_thread::sleep_for(300ms);
  worker.Stop(5s);
  EXPECT_EQ("succeeded|2|{\"second\": \"2\"}",
            Q("SELECT concat_ws('|', state, attempt, result) FROM " + S() + ".job_history"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_P(BrokerConformanceTest, HigherPriorityRunsFirst) {
  WorkerOptions o = Options();
  o.queues = {{"default", 1}};
  Worker worker(o);
  std::mutex mu;
  std::vector<int> order;
  worker.Register("p", [&](JobContext& ctx) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(ctx.job().priority);
    return HandlerResult::Success();
  });
  Exec("INSERT INTO " + S() + ".jobs (task, priority) VALUES ('p', 1), ('p', 9), ('p', 5)");
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 3; }));
  worker.Stop(5s);
  EXPECT_EQ((std::vector<int>{9, 5, 1}), order);
}

INSTANTIATE_TEST_SUITE_P(Brokers, BrokerConformanceTest,
                         ::testing::Values(Broker::kPostgres, Broker::kRedis),
                         [](const ::testing::TestParamInfo<Broker>& info) {
                           return info.param == Broker::kRedis ? "Redis" : "Postgres";
                         });

}  // namespace
}  // namespace pgjobs
