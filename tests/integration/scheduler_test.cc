// The scheduler against a real PostgreSQL, with in-process Scheduler
// objects: ticks made exactly once by several schedulers, raw SQL edits,
// misfire and overlap policies, once/start/end, bad rows, the leader lease
// and the leader's maintenance.
#include "pgjobs/scheduler.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/cron.h"
#include "tests/support/cron_ticks.h"
#include "tests/support/scheduler_fixture.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::CronTicks;
using testing::Eventually;


std::vector<int64_t> Range(int64_t first, int64_t last, int64_t step = 1) {
  std::vector<int64_t> out;
  for (int64_t t = first; t <= last; t += step) out.push_back(t);
  return out;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class SchedulerTest : public testing::SchedulerFixture {
 protected:
  using SchedulerFixture::Start;
  std::unique_ptr<Scheduler> Start() { return Start(Options()); }

  // Inserts a schedule of task "tick" and returns its id.
  int64_t Add(const std::string& name, const std::string& columns, const std::string& values) {
    return Num("INSERT INTO " + S() + ".schedules (name, task, " + columns + ") VALUES ('" + name +
               "', 'tick', " + values + ") RETURNING id");
  }
  int64_t AddCron(const std::string& name, const std::string& cron,
                  const std::string& extra_cols = "", const std::string& extra_vals = "") {
    return Add(name, "kind, cron" + extra_cols, "'cron', '" + cron + "'" + extra_vals);
  }
  int64_t Epoch(int64_t id, const std::string& column) {
    std::string v = Col(id, "extract(epoch FROM " + column + ")::bigint");
    return v.empty() ? -1 : std::stoll(v);
  }
  bool Planned(int64_t id) {
    return Col(id, "next_run_at IS NOT NULL OR done OR error IS NOT NULL") == "t";
  }

  // The scheduled_for of the schedule's jobs, oldest first, as epoch seconds.
  std::vector<int64_t> Ticks(int64_t id) {
    std::string text =
        Q("SELECT string_agg(extract(epoch FROM scheduled_for)::bigint::text, ',' "
          "ORDER BY scheduled_for) FROM " +
          S() + ".jobs WHERE schedule_id = " + std::to_string(id));
    std::vector<int64_t> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
    return out;
  }
  void ExpectNoDuplicateTick(int64_t id) {
    EXPECT_EQ(Q("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " + std::to_string(id)),
              Q("SELECT count(DISTINCT scheduled_for) FROM " + S() +
                ".jobs WHERE schedule_id = " + std::to_string(id)));
  }
};

TEST_F(SchedulerTest, FourSchedulersAtOnceMakeEveryTickExactlyOnceWithNoGap) {
  struct Cron {
    std::string name, expr;
    size_t min_jobs;
    int64_t id = 0;
  };
  std::vector<Cron> crons = {{"every_second", "* * * * * *", 15},
                             {"every_5s", "*/5 * * * * *", 3},
                             {"every_7s", "*/7 * * * * *", 2},
                             {"every_minute", "* * * * *", 0}};
  for (Cron& c : crons) c.id = AddCron(c.name, c.expr);
  int64_t every_3s = Add("every_3s", "kind, every", "'interval', interval '3 seconds'");
  int64_t before = DbNow();
  std::vector<std::unique_ptr<Scheduler>> schedulers;
  for (int i = 0; i < 4; ++i) {
    SchedulerOptions o = Options("s" + std::to_string(i));
    o.batch_size = i % 2 == 0 ? 500 : 1;  // a full batch makes Work go round again
    schedulers.push_back(Start(o));
  }
  ASSERT_TRUE(Eventually([&] {
    for (const Cron& c : crons) {
      if (!Planned(c.id)) return false;
    }
    return Planned(every_3s);
  }));
  int64_t planned_by = DbNow();
  std::this_thread::sleep_for(20s);  // time must pass
  int64_t stop_time = DbNow();
  int64_t fired = 0;
  for (auto& s : schedulers) {
    s->Stop();
    fired += s->Stats().fired;
  }
  EXPECT_EQ(Num("SELECT count(*) FROM " + S() + ".jobs"), fired);

  for (const Cron& c : crons) {
    SCOPED_TRACE(c.name);
    std::vector<int64_t> ticks = Ticks(c.id);
    ASSERT_GE(ticks.size(), c.min_jobs);
    ExpectNoDuplicateTick(c.id);
    if (ticks.empty()) continue;
    // Exactly the expected tick sequence between the first and the last.
    EXPECT_EQ(CronTicks(c.expr, ticks.front(), ticks.back()), ticks);
    // No tick missing at the start: the first is the first one after the
    // schedule was written (updated_at; it may come just before `before`).
    int64_t written = std::stoll(Col(c.id, "floor(extract(epoch FROM updated_at))::bigint"));
    EXPECT_GE(ticks.front(), CronTicks(c.expr, written + 1, written + 120).front());
    EXPECT_LE(written, before);
    EXPECT_LE(ticks.front(), CronTicks(c.expr, planned_by + 1, planned_by + 120).front());
    // None at the end: the schedule waits for the tick after the last job,
    // and every tick more than a second before the stop was made.
    int64_t next = Epoch(c.id, "next_run_at");
    EXPECT_EQ(CronTicks(c.expr, ticks.back() + 1, ticks.back() + 120).front(), next);
    EXPECT_GE(next, stop_time - 1);
  }
  std::vector<int64_t> ticks = Ticks(every_3s);
  ASSERT_GE(ticks.size(), 5u);
  EXPECT_EQ(Range(ticks.front(), ticks.back(), 3), ticks);
  // Interval ticks are at the creation time (rounded up) plus whole multiples.
  EXPECT_EQ(0, (ticks.front() -
                std::stoll(Col(every_3s, "ceil(extract(epoch FROM created_at))::bigint"))) %
                   3);
  EXPECT_GE(Epoch(every_3s, "next_run_at"), stop_time - 2);
}

TEST_F(SchedulerTest, ARawSqlUpdateOfTheCronIsObeyedWithinASecond) {
  int64_t id = AddCron("edited", "0 0 1 1 *");
  SchedulerOptions o = Options();
  o.max_sleep = 30s;  // so that only the NOTIFY can explain a prompt pick-up
  auto scheduler = Start(o);
  ASSERT_TRUE(Eventually([&] { return Planned(id); }));
  std::this_thread::sleep_for(300ms);  // let the scheduler go to sleep
  auto t0 = std::chrono::steady_clock::now();
  Exec("UPDATE " + S() + ".schedules SET cron = '* * * * * *' WHERE id = " + std::to_string(id));
  ASSERT_TRUE(Eventually([&] { return JobCount(id) >= 1; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  // And it goes on every second from there.
  ASSERT_TRUE(Eventually([&] { return JobCount(id) >= 3; }, 5s));
  scheduler->Stop();
  std::vector<int64_t> ticks = Ticks(id);
  EXPECT_EQ(Range(ticks.front(), ticks.back()), ticks);
}

TEST_F(SchedulerTest, ARawSqlInsertIsPlannedAndFiredWithoutARestart) {
  SchedulerOptions o = Options();
  o.max_sleep = 30s;
  auto scheduler = Start(o);
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  int64_t id = AddCron("inserted", "* * * * * *");
  ASSERT_TRUE(Eventually([&] { return JobCount(id) >= 1; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST_F(SchedulerTest, AfterDowntimeEachMisfirePolicyDecidesTheMissedTicks) {
  // Daily ticks at a wall time ten minutes ago, and next_run_at two days back:
  // what a scheduler stopped for two days leaves behind. The latest missed
  // tick (t) is ten minutes late, past kMisfireGrace.
  int64_t now = DbNow();
  int64_t t = (now - 600) / 60 * 60;
  int64_t minute = (t / 60) % 60, hour = (t / 3600) % 24;
  std::string cron = std::to_string(minute) + " " + std::to_string(hour) + " * * *";
  int64_t skip = AddCron("skip", cron, ", misfire", ", 'skip'");
  int64_t run_once = AddCron("run_once", cron, ", misfire", ", 'run_once'");
  int64_t catch_up = AddCron("catch_up", cron, ", misfire, catch_up_limit", ", 'catch_up', 2");
  int64_t catch_up_all = AddCron("catch_up_all", cron, ", misfire", ", 'catch_up'");
  std::string two_days_back = "to_timestamp(" + std::to_string(t - 2 * 86400) + ")";
  Exec("UPDATE " + S() + ".schedules SET next_run_at = " + two_days_back);
  auto scheduler = Start();
  const int64_t next_day = t + 86400;
  for (int64_t id : {skip, run_once, catch_up, catch_up_all}) {
    ASSERT_TRUE(Eventually([&] { return Epoch(id, "next_run_at") == next_day; })) << id;
  }
  scheduler->Stop();
  // Three due ticks: t - 2 days, t - 1 day, t.
  EXPECT_EQ(std::vector<int64_t>{}, Ticks(skip));
  EXPECT_EQ("3|0", Col(skip, "skipped_count || '|' || run_count"));
  EXPECT_EQ(std::vector<int64_t>{t}, Ticks(run_once));
  EXPECT_EQ("2|1", Col(run_once, "skipped_count || '|' || run_count"));
  EXPECT_EQ(t, Epoch(run_once, "last_run_at"));
  EXPECT_EQ((std::vector<int64_t>{t - 86400, t}), Ticks(catch_up));
  EXPECT_EQ("1|2", Col(catch_up, "skipped_count || '|' || run_count"));
  EXPECT_EQ((std::vector<int64_t>{t - 2 * 86400, t - 86400, t}), Ticks(catch_up_all));
  EXPECT_EQ("0|3", Col(catch_up_all, "skipped_count || '|' || run_count"));
}

TEST_F(SchedulerTest, AfterALongStopRunOnceAndCatchUpResumeFromTheLatestTicks) {
  int64_t run_once = AddCron("run_once", "* * * * * *");
  int64_t skip = AddCron("skip", "* * * * * *", ", misfire", ", 'skip'");
  int64_t catch_up =
      AddCron("catch_up", "* * * * * *", ", misfire, catch_up_limit", ", 'catch_up', 5");
  auto first = Start();
  ASSERT_TRUE(Eventually(
      [&] { return JobCount(run_once) >= 2 && JobCount(skip) >= 2 && JobCount(catch_up) >= 2; }));
  first->Stop();
  // The scheduler stopped two minutes ago, as far as the rows can tell.
  Exec("UPDATE " + S() + ".jobs SET scheduled_for = scheduled_for - interval '120 seconds'");
  Exec("UPDATE " + S() +
       ".schedules SET next_run_at = next_run_at - interval '120 seconds', "
       "last_run_at = last_run_at - interval '120 seconds'");
  struct Before {
    int64_t next, skipped, jobs;
  };
  std::map<int64_t, Before> before;
  for (int64_t id : {run_once, skip, catch_up}) {
    before[id] = {Epoch(id, "next_run_at"), std::stoll(Col(id, "skipped_count")), JobCount(id)};
  }
  int64_t restart = DbNow();
  auto second = Start();
  for (int64_t id : {run_once, skip, catch_up}) {
    ASSERT_TRUE(Eventually([&] { return JobCount(id) >= before[id].jobs + 6; }, 20s)) << id;
  }
  second->Stop();
  for (auto [id, keep] : {std::pair<int64_t, int64_t>{run_once, 1}, {skip, 1}, {catch_up, 5}}) {
    SCOPED_TRACE(Col(id, "name"));
    std::vector<int64_t> ticks = Ticks(id);
    std::vector<int64_t> after(ticks.begin() + before[id].jobs, ticks.end());
    ASSERT_FALSE(after.empty());
    // From the restart on: consecutive seconds, starting with the `keep`
    // latest ticks due at the restart; every older missed tick was skipped.
    EXPECT_EQ(Range(after.front(), after.back()), after);
    int64_t latest_due = after.front() + keep - 1;
    EXPECT_GE(latest_due, restart);
    EXPECT_LE(latest_due, restart + 2);
    EXPECT_EQ(after.front() - before[id].next,
              std::stoll(Col(id, "skipped_count")) - before[id].skipped);
  }
}

TEST_F(SchedulerTest, ASchedulerRestartedWithinTheGraceMakesEveryTickItMissed) {
  // Stopped for about three seconds: not downtime in the misfire sense, so
  // every policy makes a job for each missed tick, and no tick is lost.
  std::vector<int64_t> ids = {
      AddCron("run_once", "* * * * * *"), AddCron("skip", "* * * * * *", ", misfire", ", 'skip'"),
      AddCron("catch_up", "* * * * * *", ", misfire, catch_up_limit", ", 'catch_up', 1")};
  auto first = Start();
  ASSERT_TRUE(Eventually(
      [&] { return JobCount(ids[0]) >= 1 && JobCount(ids[1]) >= 1 && JobCount(ids[2]) >= 1; }));
  first->Stop();
  int64_t stopped_at = DbNow();
  std::this_thread::sleep_for(3s);  // time must pass
  auto second = Start();
  ASSERT_TRUE(Eventually([&] {
    for (int64_t id : ids) {
      std::vector<int64_t> t = Ticks(id);
      if (t.empty() || t.back() < stopped_at + 5) return false;
    }
    return true;
  }));
  second->Stop();
  for (int64_t id : ids) {
    std::vector<int64_t> ticks = Ticks(id);
    EXPECT_EQ(Range(ticks.front(), ticks.back()), ticks) << Col(id, "name");
    EXPECT_EQ("0", Col(id, "skipped_count"));
  }
}

TEST_F(SchedulerTest, AScheduleRowLockedForSecondsLosesNoTick) {
  // What a scheduler stalled inside its transaction (or a long admin
  // transaction on the row) does to the others: they skip the locked row,
  // then must make every tick that came due meanwhile.
  int64_t id = AddCron("locked", "* * * * * *");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) >= 1; }));
  pg::Connection conn(schema_.dsn(), nullptr, "pgjobs tests");
  Status held = conn.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecSql("SELECT 1 FROM " + S() + ".schedules WHERE id = " + std::to_string(id) +
                           " FOR UPDATE");
    if (!rows.ok()) return rows.status();
    std::this_thread::sleep_for(2500ms);  // time must pass
    return Status::Ok();
  });
  ASSERT_TRUE(held.ok()) << held.message();
  int64_t released = DbNow();
  ASSERT_TRUE(Eventually([&] { return Ticks(id).back() >= released + 2; }));
  scheduler->Stop();
  std::vector<int64_t> ticks = Ticks(id);
  EXPECT_EQ(Range(ticks.front(), ticks.back()), ticks);
  EXPECT_EQ("0", Col(id, "skipped_count"));
}

TEST_F(SchedulerTest, OverlapSkipMakesNoJobWhileThePreviousOneIsPendingAndResumesOnceItIsGone) {
  int64_t id = AddCron("no_overlap", "* * * * * *", ", overlap", ", 'skip'");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }));
  int64_t first = Ticks(id).front();
  // No worker: the job stays pending, and later ticks are skipped.
  ASSERT_TRUE(Eventually([&] { return std::stoll(Col(id, "skipped_count")) >= 3; }));
  EXPECT_EQ(1, JobCount(id));
  EXPECT_EQ(std::vector<int64_t>{first}, Ticks(id));
  // The job finishes (leaves the jobs table): the next tick makes a job again.
  Exec("DELETE FROM " + S() + ".jobs");
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_GT(Ticks(id).front(), first + 3);
  scheduler->Stop();
  EXPECT_EQ(1, JobCount(id));
}

TEST_F(SchedulerTest, AOnceScheduleFiresOnceIsMarkedDoneAndNeverFiresAgain) {
  int64_t at = DbNow() + 2;
  int64_t id = Add("once", "kind, at", "'once', to_timestamp(" + std::to_string(at) + ")");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return Col(id, "done") == "t"; }, 10s));
  EXPECT_EQ(std::vector<int64_t>{at}, Ticks(id));
  EXPECT_EQ("1|0|",
            Col(id, "run_count || '|' || skipped_count || '|' || coalesce(next_run_at::text, '')"));
  // Its time comes (its job was made ahead of it), the job finishes, then
  // the schedule is disabled and enabled again: the tick it already made a
  // job for must not make another.
  ASSERT_TRUE(Eventually([&] { return DbNow() > at; }, 10s));
  Exec("DELETE FROM " + S() + ".jobs");
  Exec("UPDATE " + S() + ".schedules SET enabled = false WHERE id = " + std::to_string(id));
  Exec("UPDATE " + S() + ".schedules SET enabled = true WHERE id = " + std::to_string(id));
  ASSERT_TRUE(Eventually([&] { return Col(id, "done") == "t"; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(0, JobCount(id));
  EXPECT_EQ("1", Col(id, "run_count"));
  // Moved to a new instant, it fires again.
  Exec("UPDATE " + S() + ".schedules SET at = to_timestamp(" + std::to_string(DbNow() + 1) +
       ") WHERE id = " + std::to_string(id));
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1 && Col(id, "done") == "t"; }));
  scheduler->Stop();
}

TEST_F(SchedulerTest, AOnceScheduleLongPastWithMisfireSkipIsDoneWithoutAJob) {
  int64_t id = Add("late_once", "kind, at, misfire", "'once', now() - interval '1 hour', 'skip'");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return Col(id, "done") == "t"; }));
  scheduler->Stop();
  EXPECT_EQ(0, JobCount(id));
  EXPECT_EQ("0|1", Col(id, "run_count || '|' || skipped_count"));
}

TEST_F(SchedulerTest, EndAtStopsAScheduleAndMarksItDone) {
  int64_t end = DbNow() + 2;
  int64_t id =
      AddCron("ending", "* * * * * *", ", end_at", ", to_timestamp(" + std::to_string(end) + ")");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return Col(id, "done") == "t"; }, 10s));
  std::this_thread::sleep_for(1200ms);
  scheduler->Stop();
  std::vector<int64_t> ticks = Ticks(id);
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(end, ticks.back());
  EXPECT_EQ(Range(ticks.front(), end), ticks);
  EXPECT_EQ("", Col(id, "next_run_at"));
}

TEST_F(SchedulerTest, StartAtInTheFutureDelaysTheFirstTick) {
  int64_t start = DbNow() + 3;
  int64_t id = AddCron("later", "* * * * * *", ", start_at",
                       ", to_timestamp(" + std::to_string(start) + ")");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return Planned(id); }));
  // The next tick, or the tick made ahead (still to come).
  EXPECT_EQ(start,
            Epoch(id, "CASE WHEN last_run_at > now() THEN last_run_at ELSE next_run_at END"));
  ASSERT_TRUE(Eventually([&] { return JobCount(id) >= 2; }, 10s));
  scheduler->Stop();
  EXPECT_EQ(start, Ticks(id).front());
}

TEST_F(SchedulerTest, ATickThatCameWhileNoSchedulerRanIsMadeWhenOneStartsNotLost) {
  // Schedules made while no scheduler runs were planned from the moment a
  // scheduler first saw them: the ticks before were lost, whatever the
  // misfire policy. They are planned from when their timing was set.
  int64_t cron = AddCron("every_second", "* * * * * *");
  int64_t every = Add("every_2s", "kind, every", "'interval', interval '2 seconds'");
  int64_t created = Epoch(cron, "date_trunc('second', created_at)");
  int64_t every_created = Num("SELECT ceil(extract(epoch FROM created_at))::bigint FROM " + S() +
                              ".schedules WHERE id = " + std::to_string(every));
  std::this_thread::sleep_for(2500ms);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(every) >= 2 && JobCount(cron) >= 4; }, 10s));
  scheduler->Stop();
  std::vector<int64_t> ticks = Ticks(cron);
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(created + 1, ticks.front()) << "the first second after it was made";
  ExpectNoDuplicateTick(cron);
  // An interval's first tick is one interval after it was made (as in
  // Celery), not at once; it too was made although no scheduler ran then.
  EXPECT_EQ(every_created + 2, Ticks(every).front());
}

TEST_F(SchedulerTest, ABadCronOrZoneInsertedByRawSqlGetsAnErrorAndTheOthersAreStillServed) {
  int64_t bad_cron = AddCron("bad_cron", "61 * * * *");
  int64_t bad_zone = AddCron("bad_zone", "* * * * *", ", time_zone", ", 'Mars/Olympus_Mons'");
  // Valid syntax that never fires (the CLI refuses it): an error with the
  // reason, not "done" as if its last tick had fired.
  int64_t never = AddCron("never", "0 0 31 2 *");
  int64_t good = AddCron("good", "* * * * * *");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(good) >= 2; }));
  EXPECT_NE(std::string::npos, Col(bad_cron, "error").find("minute")) << Col(bad_cron, "error");
  EXPECT_NE(std::string::npos, Col(bad_zone, "error").find("Mars/Olympus_Mons"))
      << Col(bad_zone, "error");
  EXPECT_NE(std::string::npos, Col(never, "error").find("day 31 never occurs in February"))
      << Col(never, "error");
  EXPECT_EQ("false|0", Col(never, "done || '|' || run_count"));
  EXPECT_EQ("|false", Col(bad_cron, "coalesce(next_run_at::text, '') || '|' || done"));
  // Fixing the expression by raw SQL clears the error and it fires.
  Exec("UPDATE " + S() +
       ".schedules SET cron = '* * * * * *' WHERE id = " + std::to_string(bad_cron));
  ASSERT_TRUE(Eventually([&] { return JobCount(bad_cron) >= 1; }, 5s));
  EXPECT_EQ("", Col(bad_cron, "error"));
  scheduler->Stop();
}

TEST_F(SchedulerTest, AScheduleWhoseJobIsRefusedInABatchOf500IsPutInErrorAndTheOthersFireOnTime) {
  // A rule the schedules table does not know (a constraint added to jobs
  // later) refuses the job of schedule s250, in the middle of one batch.
  Exec("INSERT INTO " + S() + ".schedules (name, kind, cron, task, queue) SELECT 's' || g, "
       "'cron', '* * * * * *', 'tick', CASE WHEN g = 250 THEN 'forbidden' ELSE 'default' END "
       "FROM generate_series(1, 500) g");
  Exec("ALTER TABLE " + S() +
       ".jobs ADD CONSTRAINT no_forbidden_queue CHECK (queue <> 'forbidden')");
  int64_t bad = Num("SELECT id FROM " + S() + ".schedules WHERE name = 's250'");
  SchedulerOptions o = Options();
  ASSERT_EQ(500, o.batch_size);
  auto scheduler = Start(o);
  const std::string per_schedule =
      "SELECT count(*) FILTER (WHERE n >= 3) FROM (SELECT s.id, count(j.id) AS n FROM " + S() +
      ".schedules s LEFT JOIN " + S() + ".jobs j ON j.schedule_id = s.id GROUP BY s.id) x";
  ASSERT_TRUE(Eventually([&] { return Num(per_schedule) == 499; }, 30s));
  scheduler->Stop();

  EXPECT_EQ(0, JobCount(bad));
  std::string error = Col(bad, "error");
  EXPECT_NE(std::string::npos, error.find("was refused")) << error;
  EXPECT_NE(std::string::npos, error.find("no_forbidden_queue")) << error;
  EXPECT_EQ(std::string::npos, error.find("Failing row")) << error;  // no DETAIL: it holds args
  EXPECT_EQ("t", Col(bad, "next_run_at IS NOT NULL"));  // the tick that failed
  // Every other schedule: each tick from its first to its last exactly once,
  // counted, and made within seconds of its time.
  EXPECT_EQ("499", Q("SELECT count(*) FROM (SELECT s.id, s.run_count, count(*) AS n, "
                     "count(DISTINCT j.scheduled_for) AS d, extract(epoch FROM "
                     "max(j.scheduled_for) - min(j.scheduled_for)) + 1 AS span FROM " + S() +
                     ".schedules s JOIN " + S() + ".jobs j ON j.schedule_id = s.id "
                     "GROUP BY s.id) x WHERE n = d AND n = span AND n = run_count"));
  std::string late = Q("SELECT max(extract(epoch FROM created_at - scheduled_for)) FROM " + S() +
                       ".jobs");
  EXPECT_LT(std::stod(late), 3.0) << "seconds from a tick to its job";
  EXPECT_EQ(Num("SELECT count(*) FROM " + S() + ".jobs"), scheduler->Stats().fired);
}

TEST_F(SchedulerTest, AScheduleWhoseJobAUserTriggerRefusesIsInErrorUntilFixedAndTheOthersFire) {
  Exec("CREATE FUNCTION " + S() + ".refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
       "BEGIN IF NEW.task = 'boom' THEN RAISE EXCEPTION 'boom jobs are refused today'; END IF; "
       "RETURN NEW; END $$");
  Exec("CREATE TRIGGER refuse_boom BEFORE INSERT ON " + S() + ".jobs FOR EACH ROW "
       "EXECUTE FUNCTION " + S() + ".refuse_boom()");
  int64_t before = AddCron("before", "* * * * * *");
  int64_t boom_a = Add("boom_a", "kind, cron", "'cron', '* * * * * *'");
  int64_t boom_b = Add("boom_b", "kind, cron", "'cron', '* * * * * *'");
  int64_t after = AddCron("after", "* * * * * *");
  Exec("UPDATE " + S() + ".schedules SET task = 'boom' WHERE name LIKE 'boom%'");
  SchedulerOptions o = Options();
  auto log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  o.logger = std::make_shared<spdlog::logger>("test", log);
  auto scheduler = Start(o);
  ASSERT_TRUE(Eventually([&] { return JobCount(before) >= 2 && JobCount(after) >= 2; }));
  for (int64_t id : {boom_a, boom_b}) {
    std::string error = Col(id, "error");
    EXPECT_NE(std::string::npos, error.find("was refused: boom jobs are refused today; ")) << error;
    EXPECT_EQ(std::string::npos, error.find("CONTEXT")) << error;
    EXPECT_EQ(0, JobCount(id));
  }
  std::string logged;
  for (const std::string& line : log->last_formatted()) logged += line;
  EXPECT_NE(std::string::npos, logged.find("schedule boom_a: the job of tick ")) << logged;

  // Changing the job template clears the error; so does clearing it by hand
  // once what refused the job is gone. Either way the schedule is planned
  // again and fires from its next tick.
  Exec("UPDATE " + S() + ".schedules SET task = 'tick' WHERE id = " + std::to_string(boom_a));
  EXPECT_EQ("", Col(boom_a, "error"));
  ASSERT_TRUE(Eventually([&] { return JobCount(boom_a) >= 2; }));
  Exec("DROP TRIGGER refuse_boom ON " + S() + ".jobs");
  Exec("UPDATE " + S() + ".schedules SET error = NULL WHERE id = " + std::to_string(boom_b));
  ASSERT_TRUE(Eventually([&] { return JobCount(boom_b) >= 2; }));
  scheduler->Stop();
  for (int64_t id : {before, boom_a, boom_b, after}) {
    std::vector<int64_t> ticks = Ticks(id);
    EXPECT_EQ(Range(ticks.front(), ticks.back()), ticks) << id;
  }
}

TEST_F(SchedulerTest, ExactlyOneSchedulerIsLeaderAndAnotherTakesOverWhenItStops) {
  auto a = Start(Options("a"));
  auto b = Start(Options("b"));
  ASSERT_TRUE(Eventually([&] { return a->Stats().leader || b->Stats().leader; }, 5s));
  std::this_thread::sleep_for(1s);  // a lease renewal round or two
  ASSERT_NE(a->Stats().leader, b->Stats().leader);
  Scheduler& leader = a->Stats().leader ? *a : *b;
  Scheduler& other = a->Stats().leader ? *b : *a;
  EXPECT_EQ(leader.id(), Q("SELECT holder FROM " + S() + ".leader WHERE name = 'maintenance'"));
  auto t0 = std::chrono::steady_clock::now();
  leader.Stop();
  EXPECT_FALSE(leader.Stats().leader);
  ASSERT_TRUE(Eventually([&] { return other.Stats().leader; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "leader_lease is 2 s";
  EXPECT_EQ(other.id(), Q("SELECT holder FROM " + S() + ".leader WHERE name = 'maintenance'"));
}

TEST_F(SchedulerTest, TheLeaderReturnsAJobWhoseLeaseExpiredToPending) {
  int64_t job =
      Num("INSERT INTO " + S() +
          ".jobs (task, state, attempt, lease_owner, lease_expires_at, "
          "started_at) VALUES ('stuck', 'running', 1, 'ghost', now() - interval '1 second', "
          "now() - interval '1 minute') RETURNING id");
  auto scheduler = Start();
  ASSERT_TRUE(Eventually(
      [&] {
        return Q("SELECT state FROM " + S() + ".jobs WHERE id = " + std::to_string(job)) ==
               "pending";
      },
      10s));
  EXPECT_TRUE(scheduler->Stats().leader);
  EXPECT_EQ(1, scheduler->Stats().rescued);
  EXPECT_EQ("worker_lost|",
            Q("SELECT (errors->0->>'kind') || '|' || coalesce(lease_owner, '') FROM " + S() +
              ".jobs WHERE id = " + std::to_string(job)));
  scheduler->Stop();
}

TEST_F(SchedulerTest, IdleSchedulersThatAreNotLeaderDoNotSpin) {
  int64_t id = AddCron("hourly", "0 * * * *");
  auto a = Start(Options("a"));
  auto b = Start(Options("b"));
  ASSERT_TRUE(Eventually([&] { return Planned(id) && (a->Stats().leader || b->Stats().leader); }));
  std::this_thread::sleep_for(500ms);
  double cpu0 = CpuSeconds();
  int64_t commits0 =
      Num("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
  std::this_thread::sleep_for(2s);  // time must pass
  double cpu = CpuSeconds() - cpu0;
  int64_t commits =
      Num("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - commits0;
  // Two idle schedulers with max_sleep 1 s look a few times a second at most.
  EXPECT_LT(cpu, 0.25) << "CPU seconds used by two idle schedulers in 2 s";
  EXPECT_LT(commits, 200) << "transactions by two idle schedulers in 2 s";
  a->Stop();
  b->Stop();
}

TEST_F(SchedulerTest, StopIsPromptAndIdempotent) {
  SchedulerOptions o = Options();
  o.max_sleep = 30s;
  auto scheduler = Start(o);
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  scheduler->Stop();
  scheduler->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

}  // namespace
}  // namespace pgjobs
