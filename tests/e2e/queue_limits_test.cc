// Global queue limits against real worker processes: a concurrency limit
// holds across three workers (sampled every 10 ms), a rate limit gives its
// rate per second across them, a limit set while workers run takes effect,
// and removing it lets a queue run at full width again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "pg/connection.h"
#include "tests/e2e/cli_run.h"
#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::CliRun;
using testing::Eventually;
using testing::TestSchema;

class QueueLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgjobs-limits.XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
  }
  void TearDown() override {
    workers_.clear();
    std::system(("rm -rf " + dir_).c_str());
  }

  // `count` workers serving queue lim with concurrency 4 and an SQL task
  // "work" running `sql`.
  void StartWorkers(int count, const std::string& sql, int concurrency = 4) {
    for (int i = 0; i < count; ++i) {
      std::string path = dir_ + "/worker" + std::to_string(i) + ".conf";
      std::ofstream(path) << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
                          << "\", \"worker\": {\"queues\": {\"lim\": " << concurrency
                          << "}, \"poll_interval\": \"5s\"}, "
                             "\"tasks\": {\"work\": {\"kind\": \"sql\", \"sql\": \""
                          << sql << "\"}}}";
      workers_.push_back(std::make_unique<ChildProcess>(
          std::vector<std::string>{testing::BinaryPath(), "worker", "--config", path},
          dir_ + "/worker" + std::to_string(i) + ".log"));
    }
    ASSERT_TRUE(Eventually([&] {
      return Q("SELECT count(*) FROM " + S() + ".workers") == std::to_string(count);
    })) << Logs();
  }
  std::string Logs() {
    std::string all;
    for (auto& w : workers_) all += w->Log();
    return all;
  }
  CliRun Run(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", S()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(dir_, all);
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Enqueue(int n) {
    Q("INSERT INTO " + S() + ".jobs (queue, task) SELECT 'lim', 'work' FROM generate_series(1, " +
      std::to_string(n) + ")");
  }
  // On one kept connection, so that sampling every 10 ms is possible.
  int Running() {
    auto rows = sampler_.ExecSql("SELECT count(*) FROM " + S() +
                                 ".jobs WHERE queue = 'lim' AND state = 'running'");
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? static_cast<int>(rows->Int(0, 0)) : -1;
  }
  int Finished() {
    auto rows = sampler_.ExecSql("SELECT count(*) FROM " + S() + ".job_history WHERE queue = 'lim'");
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? static_cast<int>(rows->Int(0, 0)) : -1;
  }

  TestSchema schema_;
  pg::Connection sampler_{schema_.dsn(), nullptr, "test sampler"};
  std::string dir_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

TEST_F(QueueLimitsTest, ConcurrencyLimitOfThreeHoldsAcrossThreeWorkersOfFour) {
  CliRun r = Run({"queues", "set", "lim", "--create", "--concurrency", "3"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "at most 3 jobs running at once");
  StartWorkers(3, "SELECT pg_sleep(0.2)");
  Enqueue(60);
  int most = 0;
  int samples = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (Finished() < 60 && std::chrono::steady_clock::now() < deadline) {
    int running = Running();
    most = std::max(most, running);
    ASSERT_LE(running, 3) << "sample " << samples << Logs();
    ++samples;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(60, Finished()) << Logs();
  EXPECT_EQ(3, most) << "the limit was never reached: the test shows nothing";
  // 60 jobs of 0.2 s, 3 at a time: at least 4 s of samples 10 ms apart.
  EXPECT_GT(samples, 100);
  EXPECT_EQ("60", Q("SELECT count(*) FROM " + S() + ".job_history WHERE state = 'succeeded'"));
  // More than one worker ran the queue's jobs while the total never passed
  // 3: the limit is global, not one worker's. Which workers win the places
  // is not fixed (a worker whose job ends claims again at once, one held
  // back looks every 200 ms), so on a loaded machine one of three may get
  // none.
  EXPECT_LE(2, std::stoi(Q("SELECT count(DISTINCT worker_id) FROM " + S() + ".job_history")));
  r = Run({"queues", "list"});
  EXPECT_HAS(r.out, "max 3");
}

TEST_F(QueueLimitsTest, RateLimitOfTwentyPerSecondGivesTwentyEachSecondAcrossWorkers) {
  CliRun r = Run({"queues", "set", "lim", "--create", "--rate", "20/s"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "at most 20 jobs started in any 1s");
  StartWorkers(3, "SELECT 1", 10);
  Enqueue(300);
  // 11 full seconds after the first start: 220 jobs, then the backlog remains.
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT count(*) > 0 AND max(started_at) - min(started_at) > interval '11.5 s' FROM " +
             S() + ".job_history") == "t";
  }, 40s)) << Logs();
  // Per one-second bucket from the first start, over seconds 0..9.
  std::string buckets = Q(
      "SELECT string_agg(n::text, ',' ORDER BY b) FROM ("
      " SELECT floor(extract(epoch FROM started_at - (SELECT min(started_at) FROM " + S() +
      ".job_history)))::int AS b, count(*) AS n FROM " + S() + ".job_history GROUP BY 1) s "
      "WHERE b BETWEEN 0 AND 9");
  std::vector<int> counts;
  for (size_t pos = 0; pos < buckets.size();) {
    size_t comma = buckets.find(',', pos);
    if (comma == std::string::npos) comma = buckets.size();
    counts.push_back(std::stoi(buckets.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  ASSERT_EQ(10u, counts.size()) << buckets;
  int total = 0;
  for (int n : counts) {
    EXPECT_GE(n, 19) << buckets;
    EXPECT_LE(n, 21) << buckets;
    total += n;
  }
  EXPECT_GE(total, 190) << buckets;
  EXPECT_LE(total, 210) << buckets;
  EXPECT_GE(std::stoi(Q("SELECT count(DISTINCT worker_id) FROM " + S() + ".job_history")), 2)
      << buckets;
}

TEST_F(QueueLimitsTest, ALimitSetWhileWorkersRunTakesEffectAndRemovingItRestoresFullWidth) {
  StartWorkers(2, "SELECT pg_sleep(0.2)");
  Enqueue(200);
  ASSERT_TRUE(Eventually([&] { return Running() >= 8; }, 10s)) << Logs();
  CliRun r = Run({"queues", "set", "lim", "--concurrency", "2"});
  ASSERT_EQ(0, r.rc) << r.err;
  // Jobs already running finish; no new claim goes past the limit.
  ASSERT_TRUE(Eventually([&] { return Running() <= 2; }, 5s)) << Logs();
  for (int i = 0; i < 100; ++i) {
    ASSERT_LE(Running(), 2) << Logs();
    std::this_thread::sleep_for(10ms);
  }
  r = Run({"queues", "set", "lim", "--concurrency", "none"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "no concurrency limit");
  // Full width again (8 slots; the claim may also take a few ahead).
  ASSERT_TRUE(Eventually([&] { return Running() >= 8; }, 5s)) << Logs();
  r = Run({"queues", "list", "--json"});
  EXPECT_HAS(r.out, "\"concurrency\": null");
}

TEST_F(QueueLimitsTest, BadLimitsAreRefusedWithTheFormThatWorksAndChangeNothing) {
  CliRun r = Run({"queues", "set", "nosuch", "--concurrency", "3"});
  EXPECT_EQ(3, r.rc);
  EXPECT_HAS(r.err, "no queue \"nosuch\"");
  EXPECT_HAS(r.err, "add --create");
  for (const auto& [option, value, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--concurrency", "0", "not a number from 1 to 10000 or none"},
           {"--concurrency", "3'; DROP TABLE x; --", "not a number from 1 to 10000"},
           {"--rate", "20", "has no /"},
           {"--rate", "20/fortnight", "unknown unit"},
           {"--rate", "20/100ms", "outside 1s to 1d"},
           {"--rate", "x/s", "not a number from 1 to 10000"}}) {
    r = Run({"queues", "set", "lim", "--create", option, value});
    EXPECT_EQ(2, r.rc) << option << " " << value;
    EXPECT_HAS(r.err, message);
  }
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".queues"));
  r = Run({"queues", "set", "lim", "--create"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "nothing to set");
}

TEST_F(QueueLimitsTest, SeveralSettingsLandTogetherOrNotAtAll) {
  CliRun r = Run({"queues", "set", "lim", "--create", "--concurrency", "2"});
  ASSERT_EQ(0, r.rc) << r.err;
  // The last part of the change fails (as a lost connection or a missing
  // right would): the parts before it must not stay behind.
  Q("CREATE FUNCTION " + S() +
    ".refuse_broker() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.action = 'queue.broker' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
    "RETURN NEW; END $$; "
    "CREATE TRIGGER refuse_broker BEFORE INSERT ON " +
    S() + ".audit_log FOR EACH ROW EXECUTE FUNCTION " + S() + ".refuse_broker()");
  r = Run({"queues", "set", "lim", "--notify", "off", "--concurrency", "7", "--rate", "5/s",
           "--broker", "postgres"});
  EXPECT_NE(0, r.rc);
  EXPECT_HAS(r.err, "refused by the test");
  EXPECT_EQ("", r.out) << "nothing is reported as set";
  EXPECT_EQ("2|t|", Q("SELECT concat_ws('|', concurrency, notify, coalesce(rate_limit::text, "
                      "'')) FROM " +
                      S() + ".queues WHERE name = 'lim'"));
  EXPECT_EQ("queue.limits", Q("SELECT string_agg(action, ',') FROM " + S() + ".audit_log"));
  Q("DROP TRIGGER refuse_broker ON " + S() + ".audit_log");
  r = Run(
      {"queues", "set", "lim", "--notify", "off", "--concurrency", "7", "--broker", "postgres"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("7|f", Q("SELECT concat_ws('|', concurrency, notify) FROM " + S() +
                     ".queues WHERE name = 'lim'"));
  EXPECT_EQ("queue.limits,queue.notify,queue.limits,queue.broker",
            Q("SELECT string_agg(action, ',' ORDER BY id) FROM " + S() + ".audit_log"));
}

}  // namespace
}  // namespace pgjobs
