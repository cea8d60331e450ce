// Scheduler kill loop: four schedulers, 50 schedules firing every second, and
// every few seconds a random scheduler is killed with SIGKILL and started
// again. Promise: every tick of every schedule makes exactly one job: no
// duplicate, none missing; lateness (job created minus tick) is measured.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(SchedulerKillLoop, FourSchedulersUnderKillNineMakeEveryTickOfFiftySchedulesExactlyOnce) {
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const auto duration = Size(16s, 90s);
  const int schedules = 50;
  Scratch scratch;
  testing::Execute(dsn, "INSERT INTO " + s + ".schedules (name, kind, cron, task) SELECT 's' || i, "
                        "'cron', '* * * * * *', 'tick' FROM generate_series(1, " +
                            std::to_string(schedules) + ") i");
  std::string start = Q(dsn, "SELECT extract(epoch FROM now())::bigint");
  std::unique_ptr<testing::ChildProcess> procs[4];
  int incarnation = 0;
  for (auto& p : procs) {
    p = StartScheduler(scratch, dsn, s, "s" + std::to_string(incarnation++));
  }
  std::mt19937 rng(std::random_device{}());
  // A kill every 2 to 5 s (short run: 1.5 to 3.5 s, so that it kills at least 4 times).
  std::uniform_int_distribution<int> gap_ms(Size(1500, 2000), Size(3500, 5000));
  auto end = Clock::now() + duration;
  int kills = 0;
  for (auto next = Clock::now() + std::chrono::milliseconds(gap_ms(rng)); next < end;
       next += std::chrono::milliseconds(gap_ms(rng))) {
    std::this_thread::sleep_until(next);
    auto& victim = procs[std::uniform_int_distribution<int>(0, 3)(rng)];
    KillNine(*victim);
    ++kills;
    victim = StartScheduler(scratch, dsn, s, "s" + std::to_string(incarnation++));
  }
  std::this_thread::sleep_until(end);
  std::string stop = Q(dsn, "SELECT extract(epoch FROM now())::bigint");
  for (auto& p : procs) p->Signal(SIGTERM);
  for (auto& p : procs) EXPECT_EQ(0, p->Wait(15s).value_or(-1)) << p->Log();

  // The window: from 3 s after the start (the schedulers have planned) to
  // 2 s before the stop (the last ticks have been made).
  std::string window = "scheduled_for >= to_timestamp(" + start + " + 3) AND scheduled_for <= "
                       "to_timestamp(" + stop + " - 2)";
  int64_t seconds = std::stoll(stop) - 2 - (std::stoll(start) + 3) + 1;
  int64_t expected = seconds * schedules;
  std::string jobs = s + ".jobs";
  int64_t made = std::stoll(Q(dsn, "SELECT count(*) FROM " + jobs + " WHERE " + window));
  int64_t distinct = std::stoll(Q(dsn, "SELECT count(DISTINCT (schedule_id, scheduled_for)) FROM " +
                                           jobs + " WHERE " + window));
  std::string lateness =
      Q(dsn, "SELECT concat_ws(' ', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 3), "
             "round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 3), "
             "round(max(l)::numeric, 3)) FROM (SELECT "
             "greatest(extract(epoch FROM created_at - scheduled_for), 0) AS l FROM " +
             jobs + " WHERE " + window + ") x");
  std::istringstream late(lateness);
  std::string p50, p99, max;
  late >> p50 >> p99 >> max;

  Figures f("scheduler_kill_loop");
  f.Set("schedulers", int64_t{4});
  f.Set("schedules", int64_t{schedules});
  f.Set("seconds", seconds);
  f.Set("kills", int64_t{kills});
  f.Set("ticks_expected", expected);
  f.Set("jobs_made", made);
  f.Set("duplicate_ticks", made - distinct);
  f.Set("missing_ticks", expected - distinct);
  f.Set("lateness_p50_s", p50);
  f.Set("lateness_p99_s", p99);
  f.Set("lateness_max_s", max);
  f.Print();

  EXPECT_GE(kills, Size(4, 18));
  EXPECT_EQ(made, distinct) << "duplicate ticks";
  EXPECT_EQ(expected, distinct) << "missing ticks";
  // Every schedule fired for every second of the window, on the second.
  EXPECT_EQ("0", Q(dsn, "SELECT count(*) FROM " + s + ".schedules sc WHERE (SELECT count(*) FROM " +
                            jobs + " j WHERE j.schedule_id = sc.id AND " + window + ") <> " +
                            std::to_string(seconds)));
  EXPECT_EQ("0", Q(dsn, "SELECT count(*) FROM " + jobs + " WHERE " + window +
                            " AND scheduled_for <> date_trunc('second', scheduled_for)"));
}

}  // namespace
}  // namespace pgjobs::faults
