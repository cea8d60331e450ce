// Black-box test of `pgjobs scheduler`: four processes against one database
// for over a minute, two of them killed with SIGKILL along the way; every
// tick of every schedule must become exactly one job, with no gap.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pgjobs/cron.h"
#include "tests/support/child_process.h"
#include "tests/support/cron_ticks.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::CronTicks;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;


class SchedulerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgjobs-e2e.XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
    config_ = dir_ + "/pgjobs.conf";
    std::ofstream(config_) << "{\n  \"dsn\": \"" << schema_.dsn() << "\",\n  \"schema\": \"" << S()
                           << "\",\n  \"scheduler\": {\"leader_lease\": \"3s\", "
                           << "\"max_sleep\": \"1s\"}\n}\n";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<ChildProcess> StartScheduler(int n) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BinaryPath(), "scheduler", "--config", config_},
        dir_ + "/scheduler-" + std::to_string(n) + ".log");
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  int64_t DbNow() {
    return static_cast<int64_t>(std::floor(std::stod(Q("SELECT extract(epoch FROM now())"))));
  }
  // The pid in the leader lease's holder ("<host>-<pid>-<random>"), 0 if none.
  pid_t LeaderPid() {
    std::string holder = Q("SELECT holder FROM " + S() +
                           ".leader WHERE name = 'maintenance' AND "
                           "expires_at > now()");
    size_t last = holder.rfind('-');
    if (last == std::string::npos || last == 0) return 0;
    size_t before = holder.rfind('-', last - 1);
    if (before == std::string::npos) return 0;
    return static_cast<pid_t>(std::stol(holder.substr(before + 1, last - before - 1)));
  }
  std::vector<int64_t> Ticks(const std::string& id) {
    std::string text =
        Q("SELECT string_agg(extract(epoch FROM scheduled_for)::bigint::text, ',' "
          "ORDER BY scheduled_for) FROM " +
          S() + ".jobs WHERE schedule_id = " + id);
    std::vector<int64_t> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
    return out;
  }
  std::string Logs(const std::vector<std::unique_ptr<ChildProcess>>& procs) {
    std::string all;
    for (const auto& p : procs) all += p->Log();
    return all;
  }

  TestSchema schema_;
  std::string dir_;
  std::string config_;
};

TEST_F(SchedulerProcessTest, FourSchedulersForAMinuteWithKillNineMakeEveryTickExactlyOnce) {
  struct Schedule {
    std::string name, cron;
    size_t min_jobs;
    std::string id = "";
  };
  std::vector<Schedule> schedules = {{"every_second", "* * * * * *", 60},
                                     {"every_5s", "*/5 * * * * *", 12},
                                     {"every_7s", "*/7 * * * * *", 8},
                                     {"every_minute", "* * * * *", 1}};
  for (Schedule& s : schedules) {
    s.id = Q("INSERT INTO " + S() + ".schedules (name, kind, cron, task) VALUES ('" + s.name +
             "', 'cron', '" + s.cron + "', 'tick') RETURNING id");
  }
  int64_t before = DbNow();
  std::vector<std::unique_ptr<ChildProcess>> procs;  // all ever started, dead ones too
  std::vector<ChildProcess*> live;
  for (int i = 0; i < 4; ++i) {
    procs.push_back(StartScheduler(i));
    live.push_back(procs.back().get());
  }
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT count(*) FROM " + S() + ".schedules WHERE next_run_at IS NOT NULL") == "4";
  })) << Logs(procs);
  int64_t planned_by = DbNow();
  auto t0 = std::chrono::steady_clock::now();
  auto kill_nine = [&](ChildProcess* victim) {
    kill(victim->pid(), SIGKILL);
    EXPECT_EQ(128 + SIGKILL, victim->Wait(5s).value_or(-1));
    live.erase(std::find(live.begin(), live.end(), victim));
  };

  // ~20 s: the leader dies; another takes the lease once it expires (3 s).
  std::this_thread::sleep_until(t0 + 20s);
  ASSERT_TRUE(Eventually([&] { return LeaderPid() != 0; }, 5s)) << Logs(procs);
  pid_t leader = LeaderPid();
  auto it =
      std::find_if(live.begin(), live.end(), [&](ChildProcess* p) { return p->pid() == leader; });
  ASSERT_NE(it, live.end()) << "leader pid " << leader;
  kill_nine(*it);
  EXPECT_TRUE(Eventually(
      [&] {
        pid_t l = LeaderPid();
        return l != 0 && l != leader;
      },
      8s))
      << Logs(procs);

  // ~30 s: a replacement starts; ~40 s: another scheduler dies.
  std::this_thread::sleep_until(t0 + 30s);
  procs.push_back(StartScheduler(4));
  live.push_back(procs.back().get());
  std::this_thread::sleep_until(t0 + 40s);
  kill_nine(live.front());

  std::this_thread::sleep_until(t0 + 65s);
  int64_t stop_time = DbNow();
  for (ChildProcess* p : live) p->Signal(SIGTERM);
  for (ChildProcess* p : live) EXPECT_EQ(0, p->Wait(10s).value_or(-1)) << p->Log();

  for (const Schedule& s : schedules) {
    SCOPED_TRACE(s.name);
    std::vector<int64_t> ticks = Ticks(s.id);
    ASSERT_GE(ticks.size(), s.min_jobs) << Logs(procs);
    // No (schedule_id, scheduled_for) twice.
    EXPECT_EQ(Q("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " + s.id),
              Q("SELECT count(DISTINCT scheduled_for) FROM " + S() +
                ".jobs WHERE schedule_id = " + s.id));
    // Exactly the cron's ticks from the first to the last: no gap.
    EXPECT_EQ(CronTicks(s.cron, ticks.front(), ticks.back()), ticks);
    // None missing at the start (the first tick after the schedule was
    // written, which may be just before `before`) or at the end (every tick
    // more than a second before the stop).
    int64_t written = std::stoll(Q("SELECT floor(extract(epoch FROM updated_at))::bigint FROM " +
                                   S() + ".schedules WHERE id = " + s.id));
    EXPECT_LE(written, before);
    EXPECT_GE(ticks.front(), CronTicks(s.cron, written + 1, written + 120).front());
    EXPECT_LE(ticks.front(), CronTicks(s.cron, planned_by + 1, planned_by + 120).front());
    int64_t next = std::stoll(Q("SELECT extract(epoch FROM next_run_at)::bigint FROM " + S() +
                                ".schedules WHERE id = " + s.id));
    EXPECT_EQ(CronTicks(s.cron, ticks.back() + 1, ticks.back() + 120).front(), next);
    EXPECT_GE(next, stop_time - 1);
  }
  // The kills delayed no tick by more than a few seconds.
  EXPECT_EQ(
      "t", Q("SELECT coalesce(max(created_at - scheduled_for) < interval '5 seconds', true) FROM " +
             S() + ".jobs"));
}

}  // namespace
}  // namespace pgjobs
