// Jobs claimed ahead (prefetched) and not started do not lose an attempt when
// their worker dies (migration 0016): the claim marks the jobs beyond the
// free slots, the heartbeat keeps the mark true to what the worker knows, and
// the rescue returns such a job without using an attempt, at most twice.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "pg/connection.h"
#include "pgjobs/worker.h"
#include "store/job_store.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

class ClaimedAheadTest : public ::testing::Test {
 protected:
  ClaimedAheadTest() : catalog_(*SqlCatalog::Load(schema_.name())), conn_(schema_.dsn(), &catalog_, "test") {}
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Insert(int count, int max_attempts = 4) {
    testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts) SELECT 't', " +
                                        std::to_string(max_attempts) + " FROM generate_series(1, " +
                                        std::to_string(count) + ")");
  }
  // Every lease expires (the worker died) and the rescue runs.
  store::RescueResult ExpireAndRescue() {
    testing::Execute(schema_.dsn(), "UPDATE " + S() + ".jobs SET lease_expires_at = now() - interval '1 s' "
                                    "WHERE state = 'running'");
    auto rescued = store::RescueExpired(conn_, 100);
    EXPECT_TRUE(rescued.ok()) << rescued.status().message();
    return rescued.ok() ? *rescued : store::RescueResult{};
  }
  // id:attempt:ahead of every job, in id order.
  std::string Rows() {
    return Q("SELECT string_agg(concat_ws(':', id, state, attempt, ahead), ' ' ORDER BY id) FROM " + S() +
             ".jobs");
  }

  TestSchema schema_;
  SqlCatalog catalog_;
  pg::Connection conn_;
};

TEST_F(ClaimedAheadTest, TheClaimMarksTheJobsBeyondTheFreeSlotsAndTheRescueRefundsOnlyThem) {
  Insert(4);
  auto claimed = store::Claim(conn_, "default", "{t}", 4, "w1", 30, {}, /*start_now=*/1);
  ASSERT_TRUE(claimed.ok()) << claimed.status().message();
  ASSERT_EQ(4u, claimed->size());
  // The first job in run order starts; the three others wait in memory.
  int64_t first = (*claimed)[0].id;
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs WHERE NOT ahead AND id = " + std::to_string(first)));
  EXPECT_EQ("3", Q("SELECT count(*) FROM " + S() + ".jobs WHERE ahead"));

  store::RescueResult rescued = ExpireAndRescue();
  EXPECT_EQ(4u, rescued.retried.size());
  // The started job used its attempt; the others are as before the claim.
  EXPECT_EQ("1", Q("SELECT attempt FROM " + S() + ".jobs WHERE id = " + std::to_string(first)));
  EXPECT_EQ("3", Q("SELECT count(*) FROM " + S() + ".jobs WHERE attempt = 0 AND state = 'pending'"));
  EXPECT_EQ("worker_lost|-",
            Q("SELECT concat_ws('|', errors->0->>'kind', coalesce(errors->0->>'counted', '-')) FROM " + S() +
              ".jobs WHERE id = " + std::to_string(first)));
  std::string refund = Q("SELECT DISTINCT concat_ws('|', errors->0->>'kind', errors->0->>'counted', "
                         "errors->0->>'error') FROM " + S() + ".jobs WHERE id <> " + std::to_string(first));
  EXPECT_EQ(0u, refund.find("worker_lost|false|worker lost")) << refund;
  EXPECT_NE(std::string::npos, refund.find("returned without using an attempt")) << refund;
}

TEST_F(ClaimedAheadTest, WithoutAStartCountAllClaimedJobsStartAndEveryRescueCounts) {
  Insert(3);
  auto claimed = store::Claim(conn_, "default", "{t}", 3, "w1", 30);
  ASSERT_TRUE(claimed.ok()) << claimed.status().message();
  ASSERT_EQ(3u, claimed->size());
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs WHERE ahead"));
  ExpireAndRescue();
  EXPECT_EQ("3", Q("SELECT count(*) FROM " + S() + ".jobs WHERE attempt = 1 AND state = 'pending'"));
}

TEST_F(ClaimedAheadTest, TheHeartbeatRecordsWhichClaimsHaveStarted) {
  Insert(2);
  auto claimed = store::Claim(conn_, "default", "{t}", 2, "w1", 30, {}, /*start_now=*/0);
  ASSERT_TRUE(claimed.ok()) << claimed.status().message();
  ASSERT_EQ(2u, claimed->size());
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs WHERE ahead"));
  std::vector<store::JobKey> keys = {(*claimed)[0].key(), (*claimed)[1].key()};
  // The first has started since the claim, the second still waits.
  auto held = store::RenewLeases(conn_, "w1", keys, 30, {false, true});
  ASSERT_TRUE(held.ok()) << held.status().message();
  EXPECT_EQ(2u, held->size());
  EXPECT_EQ("false true", Q("SELECT string_agg(ahead::text, ' ' ORDER BY id = " + std::to_string(keys[0].id) +
                     " DESC) FROM " + S() + ".jobs"));
  ExpireAndRescue();
  EXPECT_EQ("1 0", Q("SELECT string_agg(attempt::text, ' ' ORDER BY id = " + std::to_string(keys[0].id) +
                     " DESC) FROM " + S() + ".jobs"));
  // Without flags, a renewal records every claim as started.
  claimed = store::Claim(conn_, "default", "{t}", 2, "w1", 30, {}, /*start_now=*/0);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 2u);
  held = store::RenewLeases(conn_, "w1", {(*claimed)[0].key(), (*claimed)[1].key()}, 30);
  ASSERT_TRUE(held.ok()) << held.status().message();
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs WHERE ahead"));
}

TEST_F(ClaimedAheadTest, AJobGetsTwoFreeReturnsThenItsAttemptsCountEvenItsLast) {
  // One attempt only: a free return must not fail it, a counted one must.
  Insert(1, /*max_attempts=*/1);
  for (int round = 1; round <= 2; ++round) {
    auto claimed = store::Claim(conn_, "default", "{t}", 1, "w1", 30, {}, /*start_now=*/0);
    ASSERT_TRUE(claimed.ok() && claimed->size() == 1u) << round;
    store::RescueResult rescued = ExpireAndRescue();
    EXPECT_EQ(1u, rescued.retried.size()) << round;
    EXPECT_TRUE(rescued.failed.empty()) << round;
    EXPECT_EQ("pending|0", Q("SELECT state || '|' || attempt FROM " + S() + ".jobs")) << round;
  }
  // A job that looks not started twice in a row may be one that kills its
  // worker before the next heartbeat: the third return counts.
  auto claimed = store::Claim(conn_, "default", "{t}", 1, "w1", 30, {}, /*start_now=*/0);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1u);
  store::RescueResult rescued = ExpireAndRescue();
  EXPECT_EQ(1u, rescued.failed.size());
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
  EXPECT_EQ("failed|1|3|false,false,",
            Q("SELECT concat_ws('|', state, attempt, jsonb_array_length(errors), "
              "(SELECT string_agg(coalesce(e->>'counted', ''), ',') FROM jsonb_array_elements(errors) e)) "
              "FROM " + S() + ".job_history"));
}

TEST_F(ClaimedAheadTest, TheFirstJobsWaitingMayHaveStartedAndGoBackTheOthersKeepTheirPlace) {
  // Worker w1 runs the queue with one slot: of the jobs it claimed ahead,
  // the first 2 in the order it would start them may have started (one
  // running, one finished but not written) when it died.
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".workers (id, host, pid, queues, tasks, version) "
                                  "VALUES ('w1', 'h', 1, '{\"default\": 1}', '[\"t\"]', 'test')");
  Insert(5);
  auto claimed = store::Claim(conn_, "default", "{t}", 5, "w1", 30, {}, /*start_now=*/0);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 5u);
  std::vector<int64_t> order;
  for (const auto& j : *claimed) order.push_back(j.id);
  EXPECT_EQ(5u, ExpireAndRescue().retried.size());
  EXPECT_EQ("5", Q("SELECT count(*) FROM " + S() + ".jobs WHERE attempt = 0"));
  EXPECT_EQ("true,true,false,false,false",
            Q("SELECT string_agg(errors->0->>'maybe_started', ',' ORDER BY array_position('" +
              pg::ArrayLiteral(order) + "'::bigint[], id)) FROM " + S() + ".jobs"));
  // The three that certainly did not start run first, then the two.
  claimed = store::Claim(conn_, "default", "{t}", 5, "w1", 30, {}, /*start_now=*/0);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 5u);
  std::vector<int64_t> next;
  for (const auto& j : *claimed) next.push_back(j.id);
  EXPECT_EQ((std::vector<int64_t>{order[2], order[3], order[4], order[0], order[1]}), next);
}

TEST_F(ClaimedAheadTest, AJobThatMayHaveStartedGetsTwoFreeReturnsAnyJobTen) {
  Insert(1, /*max_attempts=*/20);
  // No worker row: the queue's concurrency is taken as 4, so a lone job
  // claimed ahead may have started.
  for (int round = 1; round <= 3; ++round) {
    auto claimed = store::Claim(conn_, "default", "{t}", 1, "w1", 30, {}, /*start_now=*/0);
    ASSERT_TRUE(claimed.ok() && claimed->size() == 1u) << round;
    ExpireAndRescue();
  }
  EXPECT_EQ("1|false,false,", Q("SELECT attempt || '|' || (SELECT string_agg(coalesce(e->>'counted', ''), ',') "
                                "FROM jsonb_array_elements(errors) e) FROM " + S() + ".jobs"));
  // Never among the first of its worker's jobs (8 others claimed before it
  // in the same claim): free returns up to 10 in all, then counted.
  testing::Execute(schema_.dsn(), "DELETE FROM " + S() + ".jobs");
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts, run_at) "
                                  "SELECT 't', 20, now() - interval '1 hour' FROM generate_series(1, 8)");
  Insert(1, /*max_attempts=*/20);
  std::string last = Q("SELECT max(id) FROM " + S() + ".jobs");
  for (int round = 1; round <= 11; ++round) {
    // The 8 first keep their place only while they are not counted; put
    // them back in front each time, as a steady backlog ahead of it would.
    testing::Execute(schema_.dsn(), "UPDATE " + S() + ".jobs SET run_at = now() - interval '1 hour', "
                                    "errors = '[]' WHERE id <> " + last);
    auto claimed = store::Claim(conn_, "default", "{t}", 9, "w1", 30, {}, /*start_now=*/0);
    ASSERT_TRUE(claimed.ok() && claimed->size() == 9u) << round;
    ASSERT_EQ(std::stoll(last), claimed->back().id) << round;
    ExpireAndRescue();
  }
  EXPECT_EQ("1|11|10", Q("SELECT attempt || '|' || jsonb_array_length(errors) || '|' || "
                         "(SELECT count(*) FROM jsonb_array_elements(errors) e WHERE e->'counted' = 'false') "
                         "FROM " + S() + ".jobs WHERE id = " + last));
}

TEST_F(ClaimedAheadTest, ACancelledJobClaimedAheadIsNotRunAgain) {
  Insert(1);
  auto claimed = store::Claim(conn_, "default", "{t}", 1, "w1", 30, {}, /*start_now=*/0);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1u);
  testing::Execute(schema_.dsn(), "UPDATE " + S() + ".jobs SET cancel_requested = true");
  store::RescueResult rescued = ExpireAndRescue();
  EXPECT_EQ(1u, rescued.cancelled.size());
  EXPECT_EQ("cancelled|0", Q("SELECT state || '|' || attempt FROM " + S() + ".job_history"));
}

TEST_F(ClaimedAheadTest, AWorkersHeartbeatMarksTheJobsWaitingInItsMemory) {
  WorkerOptions o;
  o.dsn = schema_.dsn();
  o.schema = S();
  o.queues = {{"default", 1}};
  o.prefetch = 3;
  o.lease = 3s;  // renewed every second
  o.logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  Worker worker(o);
  std::atomic<int> started{0}, may_finish{0};
  worker.Register("t", [&](JobContext&) {
    int me = ++started;
    while (may_finish.load() < me) std::this_thread::sleep_for(5ms);
    return HandlerResult::Success("null");
  });
  Insert(4);
  ASSERT_TRUE(worker.Start().ok());
  auto ahead_and_started = [&] {
    return Q("SELECT count(*) FILTER (WHERE ahead) || '|' || count(*) FILTER (WHERE NOT ahead) FROM " + S() +
             ".jobs WHERE state = 'running'");
  };
  // One runs (the only slot), three wait in memory: claimed ahead.
  ASSERT_TRUE(Eventually([&] { return started.load() == 1; }, 10s));
  EXPECT_EQ("3|1", ahead_and_started()) << Rows();
  // The first ends and the second starts: the next heartbeat (every second)
  // records it as started.
  may_finish = 1;
  ASSERT_TRUE(Eventually([&] { return started.load() == 2; }, 10s));
  EXPECT_TRUE(Eventually([&] { return ahead_and_started() == "2|1"; }, 10s)) << Rows();
  may_finish = 100;
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".job_history") == "4"; }, 10s));
  worker.Stop(5s);
  EXPECT_EQ("4", Q("SELECT count(*) FROM " + S() + ".job_history WHERE attempt = 1 AND state = 'succeeded'"));
}

}  // namespace
}  // namespace pgjobs
