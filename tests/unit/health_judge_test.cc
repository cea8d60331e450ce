// The thresholds of `pgjobs doctor`: which facts make a check ok, warn or
// fail, and that every finding that is not ok says what to do.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store/stats.h"

namespace pgjobs::store {
namespace {

using nlohmann::json;

json Healthy() {
  return {{"live_workers", 2},        {"ready_jobs", 5},          {"enabled_schedules", 1},
          {"leader_seconds_left", 20}, {"expired_leases", 0},      {"unhandled", json::array()},
          {"oldest_xact_seconds", 3},  {"oldest_xact_pid", 77},    {"idle_in_transaction", 0},
          {"idle_in_transaction_seconds", 0}, {"dead_tuples", 10}, {"live_tuples", 100},
          {"notify_queue_usage", 0.0}, {"partitions_ahead", 2},    {"xid_age", 1000}};
}

Finding Get(const json& facts, const std::string& check) {
  for (const Finding& f : JudgeHealth(facts)) {
    if (f.check == check) return f;
  }
  ADD_FAILURE() << "no check " << check;
  return {};
}

TEST(HealthJudgeTest, HealthyFactsGiveOnlyOkFindingsWithoutFixes) {
  for (const Finding& f : JudgeHealth(Healthy())) {
    EXPECT_EQ("ok", f.status) << f.check << ": " << f.detail;
    EXPECT_EQ("", f.fix) << f.check;
  }
}

TEST(HealthJudgeTest, NoLiveWorkerFailsOnlyWhileJobsAreReady) {
  json facts = Healthy();
  facts["live_workers"] = 0;
  EXPECT_EQ("fail", Get(facts, "live_workers").status);
  facts["ready_jobs"] = 0;
  EXPECT_EQ("warn", Get(facts, "live_workers").status);
}

TEST(HealthJudgeTest, NoSchedulerFailsOnlyWhenEnabledSchedulesWouldNotFire) {
  json facts = Healthy();
  facts["leader_seconds_left"] = nullptr;
  EXPECT_EQ("fail", Get(facts, "scheduler_leader").status);
  facts["enabled_schedules"] = 0;
  EXPECT_EQ("warn", Get(facts, "scheduler_leader").status);
  // Not "needs none": the scheduler also applies history retention.
  EXPECT_NE(
      std::string::npos,
      Get(facts, "scheduler_leader").detail.find("drops history past scheduler.history_retention"));
  EXPECT_NE(std::string::npos,
            Get(facts, "scheduler_leader").fix.find("job_history keeps growing"));
  facts["leader_seconds_left"] = -5;
  EXPECT_EQ("warn", Get(facts, "scheduler_leader").status);
}

TEST(HealthJudgeTest, EachProblemNamesWhatToDo) {
  json facts = Healthy();
  facts["expired_leases"] = 3;
  facts["unhandled"] = json::array({{{"queue", "q"}, {"task", "t"}, {"jobs", 4}, {"oldest_seconds", 600}}});
  facts["paused_with_ready"] =
      json::array({{{"queue", "reports"}, {"jobs", 12}, {"oldest_seconds", 7200}}});
  facts["oldest_xact_seconds"] = 7200;
  facts["dead_tuples"] = 500000;
  facts["notify_queue_usage"] = 0.6;
  facts["partitions_ahead"] = 0;
  facts["xid_age"] = 1.2e9;
  for (const Finding& f : JudgeHealth(facts)) {
    if (f.check == "live_workers" || f.check == "scheduler_leader") continue;
    EXPECT_NE("ok", f.status) << f.check;
    EXPECT_FALSE(f.fix.empty()) << f.check;
  }
  EXPECT_EQ("fail", Get(facts, "old_transactions").status);
  EXPECT_EQ("fail", Get(facts, "notify_queue").status);
  EXPECT_EQ("fail", Get(facts, "xid_age").status);
  EXPECT_EQ("4 jobs of task \"t\" on queue \"q\", oldest waiting 10 min",
            Get(facts, "unhandled_tasks").detail.substr(Get(facts, "unhandled_tasks").detail.find("4 jobs")));
  EXPECT_EQ("queue \"reports\" is paused with 12 ready jobs, the oldest waiting 2.0 h",
            Get(facts, "paused_queues").detail);
  EXPECT_EQ("if the pause is over: `pgjobs queues resume reports`",
            Get(facts, "paused_queues").fix);
}

TEST(HealthJudgeTest, IdleInTransactionIsReportedPastTheThresholdGiven) {
  json facts = Healthy();
  facts["idle_in_transaction"] = 1;
  facts["idle_in_transaction_seconds"] = 45;
  facts["oldest_xact_seconds"] = 45;
  EXPECT_EQ("ok", Get(facts, "old_transactions").status) << "the default is 60 s";
  HealthThresholds thresholds;
  thresholds.idle_in_transaction_seconds = 5;
  Finding f;
  for (const Finding& each : JudgeHealth(facts, thresholds)) {
    if (each.check == "old_transactions") f = each;
  }
  EXPECT_EQ("warn", f.status);
  EXPECT_NE(std::string::npos, f.detail.find("1 sessions idle in transaction")) << f.detail;
  EXPECT_NE(std::string::npos, f.detail.find("(pid 77)")) << f.detail;
  EXPECT_FALSE(f.fix.empty());
  facts["idle_in_transaction_seconds"] = 61;
  EXPECT_EQ("warn", Get(facts, "old_transactions").status);
}

}  // namespace
}  // namespace pgjobs::store
