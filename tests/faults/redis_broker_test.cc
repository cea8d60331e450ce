// The Redis broker under faults (README, "Redis broker"): Redis killed with
// kill -9 and restarted empty under load, Redis unreachable for 10 s, a
// worker of a Redis queue killed with kill -9, and PostgreSQL crashed and
// restarted under load. Promise each time: every job
// ends in history exactly once; PostgreSQL queues do not notice Redis' faults.
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <set>
#include <thread>

#include "pgjobs/worker.h"
#include "tests/faults/fault_support.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;

class RedisBrokerFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RedisServer::Available()) {
      GTEST_SKIP() << "no Redis support built in, or no /usr/bin/redis-server";
    }
    redis_ = std::make_unique<testing::RedisServer>();
    Exec("INSERT INTO " + S() + ".queues (name, broker) VALUES ('default', 'redis')");
  }
  WorkerOptions Options(std::map<std::string, int> queues = {{"default", 4}}) {
    WorkerOptions o;
    o.dsn = schema_.dsn();
    o.schema = S();
    o.queues = std::move(queues);
    o.lease = 3s;
    o.rescue_interval = 1s;
    o.logger = std::make_shared<spdlog::logger>("test",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
    o.redis.url = redis_->url();
    o.redis.key_prefix = S();
    o.redis.redispatch_after = 2s;
    return o;
  }
  std::string S() const { return schema_.name(); }
  std::string Count(const std::string& where) {
    return Q(schema_.dsn(), "SELECT count(*) FROM " + S() + "." + where);
  }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  // Each job's runs, recorded by the handler.
  Handler Recorder() {
    return [this](JobContext& ctx) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        runs_.insert(ctx.job().id);
      }
      std::this_thread::sleep_for(1ms);
      return HandlerResult::Success();
    };
  }
  // Every job once in history, succeeded; returns the runs beyond one per job.
  int64_t ExpectEveryJobOnceInHistory(int jobs) {
    EXPECT_EQ(std::to_string(jobs), Count("job_history WHERE state = 'succeeded'"));
    EXPECT_EQ(std::to_string(jobs),
              Q(schema_.dsn(), "SELECT count(DISTINCT id) FROM " + S() + ".job_history"));
    std::lock_guard<std::mutex> lock(mu_);
    std::set<int64_t> distinct(runs_.begin(), runs_.end());
    EXPECT_EQ(static_cast<size_t>(jobs), distinct.size());
    return static_cast<int64_t>(runs_.size()) - jobs;
  }

  testing::TestSchema schema_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::mutex mu_;
  std::multiset<int64_t> runs_;
};

TEST_F(RedisBrokerFaults, RedisKilledAndRestartedEmptyUnderLoadLosesNoJob) {
  const int jobs = Size(3000, 30000);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<Worker>(Options()));
    workers.back()->Register("rec", Recorder());
    ASSERT_TRUE(workers.back()->Start().ok());
  }
  InsertJobs(schema_.dsn(), S(), jobs);
  ASSERT_TRUE(Eventually([&] { return std::stoi(Count("job_history")) >= jobs / 4; }, 60s));
  redis_->KillNine();  // entries, groups and pending lists are gone
  std::this_thread::sleep_for(1s);
  redis_->Start();  // empty: no persistence
  ASSERT_TRUE(Eventually([&] { return Count("job_history") == std::to_string(jobs); }, 90s))
      << Count("job_history") << " of " << jobs << " in history";
  for (auto& w : workers) w->Stop(5s);
  int64_t extra = ExpectEveryJobOnceInHistory(jobs);
  Figures f("redis_kill_restart_empty");
  f.Set("jobs", static_cast<int64_t>(jobs));
  f.Set("extra_runs", extra);
}

TEST_F(RedisBrokerFaults, RedisUnreachableForTenSecondsDelaysOnlyItsQueues) {
  Worker worker(Options({{"default", 4}, {"pgq", 4}}));
  worker.Register("rec", Recorder());
  ASSERT_TRUE(worker.Start().ok());
  InsertJobs(schema_.dsn(), S(), 10);
  ASSERT_TRUE(Eventually([&] { return Count("job_history") == "10"; }));
  redis_->Pause();  // connections hang: timeouts, not refusals
  auto paused_at = std::chrono::steady_clock::now();
  Exec("INSERT INTO " + S() + ".jobs (task) SELECT 'rec' FROM generate_series(1, 20)");
  Exec("INSERT INTO " + S() + ".jobs (task, queue) SELECT 'rec', 'pgq' FROM generate_series(1, 20)");
  // The PostgreSQL queue runs on while Redis is away.
  EXPECT_TRUE(Eventually([&] { return Count("job_history WHERE queue = 'pgq'") == "20"; }, 5s));
  std::this_thread::sleep_until(paused_at + 10s);
  EXPECT_EQ("20", Count("jobs WHERE queue = 'default' AND state = 'pending'"))
      << "the Redis queue's jobs wait, visible, in PostgreSQL";
  redis_->Resume();
  ASSERT_TRUE(Eventually([&] { return Count("job_history") == "50"; }, 20s))
      << Count("job_history") << " of 50 in history";
  worker.Stop(5s);
  ExpectEveryJobOnceInHistory(50);
}

TEST_F(RedisBrokerFaults, AWorkerOfARedisQueueKilledWithKillNineLosesNoJob) {
  const int jobs = Size(400, 4000);
  Scratch scratch;
  std::string script = scratch.RecordScript(0.02);
  InsertJobs(schema_.dsn(), S(), jobs);
  auto spec = [&](const std::string& tag) {
    WorkerSpec w;
    w.dsn = schema_.dsn();
    w.schema = S();
    w.tag = tag;
    w.script = script;
    w.concurrency = 4;
    // The "redis" section rides after the tasks object of the configuration.
    w.tasks = "{\"rec\": {\"kind\": \"command\", \"command\": [\"" + script +
              "\"], \"env\": {\"TAG\": \"" + tag + "\"}}}, \"redis\": {\"url\": \"" +
              redis_->url() + "\", \"key_prefix\": \"" + S() +
              "\", \"redispatch_after\": \"2s\"}";
    return w;
  };
  auto a = StartWorker(scratch, spec("a"));
  auto b = StartWorker(scratch, spec("b"));
  ASSERT_TRUE(Eventually([&] { return std::stoi(Count("job_history")) >= jobs / 4; }, 60s))
      << a->Log();
  KillNine(*a);
  ASSERT_TRUE(Eventually([&] { return Count("job_history") == std::to_string(jobs); }, 90s))
      << Count("job_history") << " of " << jobs << "; left: "
      << Q(schema_.dsn(), "SELECT string_agg(concat_ws(' ', id, state, attempt, lease_owner, "
                          "dispatched_at - now(), run_at - now(), errors), '; ') FROM " +
                              S() + ".jobs")
      << "\nstream: " << redis_->Cli({"XLEN", S() + ":default:5"}) << " pending: "
      << redis_->Cli({"XPENDING", S() + ":default:5", "pgjobs"});
  b->Signal(SIGTERM);
  b->Wait(20s);
  EXPECT_EQ(std::to_string(jobs), Count("job_history WHERE state = 'succeeded'"));
  EXPECT_EQ(std::to_string(jobs),
            Q(schema_.dsn(), "SELECT count(DISTINCT id) FROM " + S() + ".job_history"));
  auto per_job = RunsPerJob(ReadJobLog(scratch.JobLog()));
  EXPECT_EQ(static_cast<size_t>(jobs), per_job.size());
  int64_t runs = 0;
  for (const auto& [id, n] : per_job) runs += n;
  Figures f("redis_worker_kill");
  f.Set("jobs", static_cast<int64_t>(jobs));
  f.Set("extra_runs", runs - jobs);
}

TEST_F(RedisBrokerFaults, PostgresRestartedUnderLoadWithARedisQueueLosesNoJob) {
  // A cluster of the test's own (fsync on), crashed with an immediate stop.
  OwnCluster cluster;
  Migrate(cluster.dsn());
  const std::string own = cluster.dsn();
  testing::Execute(own, "INSERT INTO pgjobs.queues (name, broker) VALUES ('default', 'redis')");
  const int jobs = Size(2000, 20000);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 2; ++i) {
    WorkerOptions o = Options();
    o.dsn = own;
    o.schema = "pgjobs";
    o.redis.key_prefix = "own";
    workers.push_back(std::make_unique<Worker>(o));
    workers.back()->Register("rec", Recorder());
    ASSERT_TRUE(workers.back()->Start().ok());
  }
  InsertJobs(own, "pgjobs", jobs);
  auto done = [&] { return Q(own, "SELECT count(*) FROM pgjobs.job_history"); };
  ASSERT_TRUE(Eventually([&] { return std::stoi(done()) >= jobs / 4; }, 60s));
  cluster.StopImmediate();
  std::this_thread::sleep_for(2s);
  cluster.Start();
  ASSERT_TRUE(Eventually([&] { return done() == std::to_string(jobs); }, 90s))
      << done() << " of " << jobs << " in history";
  for (auto& w : workers) w->Stop(5s);
  EXPECT_EQ(std::to_string(jobs),
            Q(own, "SELECT count(DISTINCT id) FROM pgjobs.job_history WHERE state = 'succeeded'"));
  std::lock_guard<std::mutex> lock(mu_);
  std::set<int64_t> distinct(runs_.begin(), runs_.end());
  EXPECT_EQ(static_cast<size_t>(jobs), distinct.size());
  Figures f("redis_pg_restart");
  f.Set("jobs", static_cast<int64_t>(jobs));
  f.Set("extra_runs", static_cast<int64_t>(runs_.size()) - jobs);
}

}  // namespace
}  // namespace pgjobs::faults
