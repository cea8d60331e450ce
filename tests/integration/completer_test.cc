// The completer's two writers: the second connection writes outcomes only
// while full batches wait, and the two together write every outcome once.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <string>
#include <thread>

#include "pgjobs/worker.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

class CompleterTest : public ::testing::Test {
 protected:
  WorkerOptions Options() {
    WorkerOptions o;
    o.dsn = schema_.dsn();
    o.schema = schema_.name();
    o.queues = {{"default", 4}};
    o.completion_batch = 20;
    o.logger =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return o;
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  // Completer sessions opened since the test began whose last statement
  // wrote outcomes (the text of `complete` in sql/jobs.sql starts so).
  std::string WritingSessions() {
    return Q(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
        "'pgjobs worker completer' AND query LIKE '-- Records a batch of attempt outcomes%' "
        "AND backend_start >= '" +
        began_ + "'");
  }
  TestSchema schema_;
  const std::string began_ = Q("SELECT clock_timestamp()::text");
};

TEST_F(CompleterTest, ASecondConnectionWritesOutcomesOnlyWhileFullBatchesWait) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("noop", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());

  // One job at a time: never 20 outcomes waiting, so one connection writes.
  for (int i = 1; i <= 5; ++i) {
    testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task) VALUES ('noop')");
    ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == i; }, 10s)) << "job " << i;
  }
  EXPECT_EQ("1", WritingSessions());

  // A backlog of short jobs: outcomes come in bursts of a claim, far more
  // than one batch of 20, and the second connection takes full batches.
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() +
                                      ".jobs (task) SELECT 'noop' FROM generate_series(1, 3000)");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 3005; }, 60s))
      << worker.Stats().succeeded;
  EXPECT_EQ("2", WritingSessions());
  worker.Stop(5s);

  // Every outcome written once, by one of the two.
  EXPECT_EQ(3005, runs.load());
  EXPECT_EQ("3005|3005|3005|0", Q("SELECT concat_ws('|', count(*), count(DISTINCT id), "
                                  "count(*) FILTER (WHERE state = 'succeeded' AND attempt = 1), "
                                  "(SELECT count(*) FROM " +
                                  S() + ".jobs)) FROM " + S() + ".job_history"));
  EXPECT_EQ(0, worker.Stats().lost);
}

}  // namespace
}  // namespace pgjobs
