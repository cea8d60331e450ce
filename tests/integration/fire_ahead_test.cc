// Ticks made ahead (scheduler fire_ahead, migration 0020): a schedule's next
// job is made before its tick and waits for it; at most one tick ahead per
// schedule; never for overlap "skip"; an edit, a disable or a removal takes
// a tick made ahead back; the admin view shows the schedule as it stands.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/scheduler.h"
#include "store/schedule_admin.h"
#include "store/schedule_file.h"
#include "tests/support/scheduler_fixture.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;

class FireAheadTest : public testing::SchedulerFixture {
 protected:
  using SchedulerFixture::Start;
  std::unique_ptr<Scheduler> Start(std::chrono::milliseconds fire_ahead = 30s,
                                   std::chrono::milliseconds max_sleep = 1s) {
    SchedulerOptions o = Options();
    o.max_sleep = max_sleep;
    o.fire_ahead = fire_ahead;
    return Start(o);
  }
  // A schedule of task "tick" every hour from start (epoch seconds): its one
  // tick in the test is start.
  int64_t AddHourly(const std::string& name, int64_t start, const std::string& extra_cols = "",
                    const std::string& extra_vals = "") {
    return Num("INSERT INTO " + S() + ".schedules (name, task, kind, every, start_at" + extra_cols +
               ") VALUES ('" + name + "', 'tick', 'interval', interval '1 hour', " +
               "to_timestamp(" + std::to_string(start) + ")" + extra_vals + ") RETURNING id");
  }
  // A once schedule of task "tick" at `at` (epoch seconds).
  int64_t AddOnce(const std::string& name, int64_t at) {
    return Num("INSERT INTO " + S() + ".schedules (name, task, kind, at) VALUES ('" + name +
               "', 'tick', 'once', to_timestamp(" + std::to_string(at) + ")) RETURNING id");
  }
  std::string Jobs(int64_t id, const std::string& expr) {
    return Q("SELECT string_agg(" + expr + ", ',' ORDER BY scheduled_for) FROM " + S() +
             ".jobs WHERE schedule_id = " + std::to_string(id));
  }
  void SetEnabled(int64_t id, bool enabled) {
    Exec("UPDATE " + S() + ".schedules SET enabled = " + (enabled ? "true" : "false") +
         " WHERE id = " + std::to_string(id));
  }
  // The schedule as `pgjobs schedules show` reads it.
  Result<store::ScheduleRecord> Shown(const std::string& name) {
    auto catalog = SqlCatalog::Load(S());
    if (!catalog.ok()) return catalog.status();
    pg::Connection conn(schema_.dsn(), nullptr, "test");
    return store::ScheduleAdmin(conn, *catalog).Get(name);
  }
  std::string Epoch(const std::string& column) {
    return "extract(epoch FROM " + column + ")::bigint::text";
  }
};

TEST_F(FireAheadTest, ATicksJobIsMadeAheadAndWaitsForItsTime) {
  int64_t tick = DbNow() + 12;
  int64_t id = AddHourly("ahead", tick);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  EXPECT_LT(DbNow(), tick - 5) << "the job should be there well before its tick";
  // The job: the tick's, pending, not to be claimed before the tick.
  std::string t = std::to_string(tick);
  EXPECT_EQ(t + "|" + t + "|pending|true",
            Jobs(id, Epoch("scheduled_for") + " || '|' || " + Epoch("run_at") +
                         " || '|' || state || '|' || (created_at < scheduled_for)"));
  // The row: the tick is its last run (in the future), and the next tick is
  // an hour later.
  EXPECT_EQ(t + "|" + std::to_string(tick + 3600) + "|1|true",
            Col(id, Epoch("last_run_at") + " || '|' || " + Epoch("next_run_at") +
                        " || '|' || run_count || '|' || (prior_run_at IS NULL)"));
  EXPECT_EQ(1, scheduler->Stats().fired_ahead);
  EXPECT_EQ(0.0, scheduler->Stats().max_lateness_seconds);
  // What `pgjobs schedules list` shows: the tick as the next run, no run yet.
  auto row = Shown("ahead");
  ASSERT_TRUE(row.ok()) << row.status().message();
  ASSERT_TRUE(row->next_run_at.has_value());
  EXPECT_EQ(tick * 1000000, *row->next_run_at);
  EXPECT_FALSE(row->last_run_at.has_value());
  EXPECT_FALSE(row->last_job_id.has_value());
  EXPECT_EQ(0, row->run_count);
  EXPECT_EQ("enabled", row->State());
  EXPECT_EQ(Jobs(id, "id::text"), std::to_string(row->ahead_job_id.value_or(0)));
  // Once the tick has come, the same schedule shows it as its last run.
  ASSERT_TRUE(Eventually([&] { return DbNow() > tick; }, 20s));
  row = Shown("ahead");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(tick * 1000000, row->last_run_at.value_or(0));
  EXPECT_EQ((tick + 3600) * 1000000, row->next_run_at.value_or(0));
  EXPECT_EQ(1, row->run_count);
  EXPECT_EQ("pending", row->last_outcome);
  EXPECT_FALSE(row->ahead_job_id.has_value());
  scheduler->Stop();
  EXPECT_EQ(1, JobCount(id));
}

TEST_F(FireAheadTest, AnEditOfTheJobTemplateRemakesTheTickFromTheEditedRow) {
  int64_t tick = DbNow() + 12;
  int64_t id = AddHourly("edited", tick);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  std::string first_job = Jobs(id, "id::text");
  Exec("UPDATE " + S() +
       ".schedules SET args = '{\"v\": 2}', priority = 7 WHERE id = " + std::to_string(id));
  // The job of the old template is gone; the tick is made again, ahead, with
  // the new one; the schedule counts it once.
  ASSERT_TRUE(
      Eventually([&] { return JobCount(id) == 1 && Jobs(id, "id::text") != first_job; }, 5s));
  EXPECT_LT(DbNow(), tick);
  EXPECT_EQ(std::to_string(tick) + "|{\"v\": 2}|7",
            Jobs(id, Epoch("scheduled_for") + " || '|' || args::text || '|' || priority"));
  EXPECT_EQ("1|" + std::to_string(tick) + "|true",
            Col(id, "run_count || '|' || " + Epoch("last_run_at") +
                        " || '|' || (last_job_id = " + Jobs(id, "id::text") + ")"));
  // Renaming keeps the job made ahead.
  std::string job = Jobs(id, "id::text");
  Exec("UPDATE " + S() +
       ".schedules SET name = 'renamed', description = 'x' WHERE id = " + std::to_string(id));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(job, Jobs(id, "id::text"));
  scheduler->Stop();
}

TEST_F(FireAheadTest, DisablingTakesTheTickBackAndEnablingMakesItAgain) {
  int64_t tick = DbNow() + 15;
  int64_t id = AddHourly("toggled", tick);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  SetEnabled(id, false);
  EXPECT_EQ(0, JobCount(id));
  EXPECT_EQ("0|true|true", Col(id,
                               "run_count || '|' || (last_run_at IS NULL) || '|' || "
                               "(last_job_id IS NULL)"));
  // Nothing is made while disabled, not even at the tick.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(0, JobCount(id));
  SetEnabled(id, true);
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  EXPECT_LT(DbNow(), tick);
  EXPECT_EQ(std::to_string(tick), Jobs(id, Epoch("scheduled_for")));
  EXPECT_EQ("1", Col(id, "run_count"));
  // A change of timing takes it back too and follows the new timing.
  Exec("UPDATE " + S() + ".schedules SET start_at = to_timestamp(" + std::to_string(tick + 5) +
       ") WHERE id = " + std::to_string(id));
  ASSERT_TRUE(
      Eventually([&] { return Jobs(id, Epoch("scheduled_for")) == std::to_string(tick + 5); }, 5s));
  EXPECT_EQ("1", Col(id, "run_count"));
  scheduler->Stop();
}

TEST_F(FireAheadTest, ATickMadeAheadWhoseJobWasCancelledIsNotMadeAgainAndTheScheduleGoesOn) {
  int64_t tick = DbNow() + 15;
  int64_t id = AddHourly("cancelled", tick);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  // An operator removes the waiting job (jobs cancel, a purge of the queue),
  // then disables and enables the schedule before the tick.
  Exec("DELETE FROM " + S() + ".jobs WHERE schedule_id = " + std::to_string(id));
  SetEnabled(id, false);
  SetEnabled(id, true);
  // Not that tick again, and not done: the tick after it.
  ASSERT_TRUE(
      Eventually([&] { return Col(id, Epoch("next_run_at")) == std::to_string(tick + 3600); }, 5s));
  EXPECT_EQ("false", Col(id, "done::text"));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(0, JobCount(id));
  scheduler->Stop();
}

TEST_F(FireAheadTest, AnEditInATransactionBegunBeforeTheTickKeepsTheJobOfATickThatHasCome) {
  int64_t tick = DbNow() + 3;
  int64_t id = AddHourly("long_edit", tick);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  std::string job = Jobs(id, "id::text");
  scheduler->Stop();
  // now() of the edit is before the tick; the clock at the UPDATE is after.
  Exec("BEGIN; SELECT pg_sleep(greatest(0, " + std::to_string(tick) +
       " + 0.5 - extract(epoch FROM clock_timestamp()))); UPDATE " + S() +
       ".schedules SET args = '{\"v\": 2}' WHERE id = " + std::to_string(id) + "; COMMIT");
  EXPECT_EQ(job + "|{}", Jobs(id, "id::text || '|' || args::text"));
  EXPECT_EQ("1|" + std::to_string(tick), Col(id, "run_count || '|' || " + Epoch("last_run_at")));
}

TEST_F(FireAheadTest, BeatsRunCountCarriedOverOntoATickMadeAheadStaysTrueBeforeAndAfterIt) {
  int64_t tick = DbNow() + 15;
  int64_t id = AddHourly("imported", tick);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  scheduler->Stop();
  // What `schedules import-celery-beat --apply` does after creating it.
  auto catalog = SqlCatalog::Load(S());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(schema_.dsn(), nullptr, "test");
  Status carried = conn.Transact([&](pg::Tx& tx) -> Status {
    return tx
        .ExecParams(
            catalog->Get("schedule_admin_carry_over"),
            {std::string("imported"), std::string("2026-01-01T03:00:00Z"), std::string("12")})
        .status();
  });
  ASSERT_TRUE(carried.ok()) << carried.message();
  // Still to come: the tick counts once it has come; beat's run is the last.
  EXPECT_EQ("13|" + std::to_string(tick) + "|2026-01-01 03:00:00+00",
            Col(id, "run_count || '|' || " + Epoch("last_run_at") + " || '|' || prior_run_at"));
  auto row = Shown("imported");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(12, row->run_count);
  auto beat_last = store::ParseInstant("2026-01-01T03:00:00Z");
  ASSERT_TRUE(beat_last.ok());
  EXPECT_EQ(*beat_last, row->last_run_at.value_or(0));
  // Taken back: beat's figures are what is left.
  SetEnabled(id, false);
  EXPECT_EQ(
      "12|2026-01-01 03:00:00+00|0",
      Col(id, "run_count || '|' || last_run_at || '|' || (SELECT count(*) FROM " + S() + ".jobs)"));
}

TEST_F(FireAheadTest, RemovingAScheduleDeletesItsTickMadeAheadAndKeepsThoseThatCame) {
  int64_t id = Num("INSERT INTO " + S() +
                   ".schedules (name, task, kind, every) VALUES ('every3', 'tick', 'interval', "
                   "interval '3 seconds') RETURNING id");
  auto scheduler = Start();
  // Three ticks that came, and one made ahead.
  ASSERT_TRUE(Eventually(
      [&] {
        return Num("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " +
                   std::to_string(id) + " AND scheduled_for <= now()") >= 3;
      },
      20s));
  ASSERT_TRUE(Eventually(
      [&] {
        return Num("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " +
                   std::to_string(id) + " AND scheduled_for > now()") == 1;
      },
      5s));
  scheduler->Stop();
  // Counted and removed in one transaction: one now() for both.
  Exec("DO $$ BEGIN CREATE TABLE " + S() + ".came AS SELECT count(*) AS n FROM " + S() +
       ".jobs WHERE schedule_id = " + std::to_string(id) + " AND scheduled_for <= now(); " +
       "DELETE FROM " + S() + ".schedules WHERE id = " + std::to_string(id) + "; END $$");
  int64_t came = Num("SELECT n FROM " + S() + ".came");
  EXPECT_GE(came, 3);
  EXPECT_EQ(came, JobCount(id));
  EXPECT_EQ(0, Num("SELECT count(*) FROM " + S() + ".jobs WHERE scheduled_for > now()"));
}

TEST_F(FireAheadTest, AFrequentScheduleHasAtMostOneTickAheadAndLosesNone) {
  int64_t id = Num("INSERT INTO " + S() +
                   ".schedules (name, task, kind, cron) VALUES ('every_second', 'tick', 'cron', "
                   "'* * * * * *') RETURNING id");
  auto scheduler = Start();
  int64_t most_ahead = 0;
  auto until = std::chrono::steady_clock::now() + 6s;
  while (std::chrono::steady_clock::now() < until) {
    // clock_timestamp(), read after the statement's snapshot: now() is fixed
    // before it, so a scheduler that began after that now() (the tick made
    // ahead had come) and committed before the snapshot would show its new
    // tick beside the one that had just come, both "ahead" of a stale now().
    most_ahead = std::max(most_ahead, Num("SELECT count(*) FROM " + S() +
                                          ".jobs WHERE schedule_id = " + std::to_string(id) +
                                          " AND scheduled_for > clock_timestamp()"));
    std::this_thread::sleep_for(50ms);
  }
  scheduler->Stop();
  EXPECT_EQ(1, most_ahead);
  // Every second from the first to the last, once each; most made ahead.
  EXPECT_EQ("true|true", Q("SELECT (max(s) - min(s) + 1 = count(*)) || '|' || "
                           "(count(DISTINCT s) = count(*)) FROM (SELECT extract(epoch FROM "
                           "scheduled_for)::bigint AS s FROM " +
                           S() + ".jobs WHERE schedule_id = " + std::to_string(id) + ") x"));
  EXPECT_GE(JobCount(id), 5);
  EXPECT_GE(Num("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " + std::to_string(id) +
                " AND created_at < scheduled_for"),
            JobCount(id) / 2);
}

TEST_F(FireAheadTest, SchedulesOfDifferentPeriodsAllHaveTheirNextTickWaiting) {
  // Every 2 s and every 3 s: their ticks made ahead come at different times,
  // and the scheduler must wake at each to make the next one ahead (the
  // default max_sleep, 10 s, would not wake it in time).
  int64_t every2 = Num("INSERT INTO " + S() +
                       ".schedules (name, task, kind, every) VALUES ('every2', 'tick', "
                       "'interval', interval '2 seconds') RETURNING id");
  int64_t every3 = Num("INSERT INTO " + S() +
                       ".schedules (name, task, kind, every) VALUES ('every3', 'tick', "
                       "'interval', interval '3 seconds') RETURNING id");
  auto scheduler = Start(30s, 10s);
  std::this_thread::sleep_for(13s);
  scheduler->Stop();
  for (int64_t id : {every2, every3}) {
    SCOPED_TRACE(id);
    int64_t made = JobCount(id);
    EXPECT_GE(made, 4);
    // All but the first (made when the schedule was planned, maybe due).
    EXPECT_GE(Num("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " +
                  std::to_string(id) + " AND created_at < scheduled_for"),
              made - 1);
  }
}

TEST_F(FireAheadTest, OverlapSkipAndFireAheadZeroMakeTheJobAtTheTick) {
  int64_t tick = DbNow() + 4;
  int64_t skip = AddHourly("skip", tick, ", overlap", ", 'skip'");
  auto scheduler = Start();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(0, JobCount(skip));
  ASSERT_TRUE(Eventually([&] { return JobCount(skip) == 1; }, 10s));
  EXPECT_EQ("false", Jobs(skip, "(created_at < scheduled_for)::text"));
  scheduler->Stop();

  tick = DbNow() + 4;
  int64_t off = AddHourly("off", tick);
  scheduler = Start(0s);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(0, JobCount(off));
  ASSERT_TRUE(Eventually([&] { return JobCount(off) == 1; }, 10s));
  EXPECT_EQ("false", Jobs(off, "(created_at < scheduled_for)::text"));
  EXPECT_EQ(0, scheduler->Stats().fired_ahead);
  scheduler->Stop();
}

TEST_F(FireAheadTest, AFireAheadOverAnHourIsRefusedAtStart) {
  SchedulerOptions o = Options();
  o.fire_ahead = std::chrono::hours(2);
  Scheduler scheduler(o);
  Status st = scheduler.Start();
  EXPECT_EQ(Status::Code::kInvalidArgument, st.code());
  EXPECT_NE(std::string::npos, st.message().find("fire_ahead must be between 0 (off) and 1 h"))
      << st.message();
}

TEST_F(FireAheadTest, AOnceScheduleMadeAheadIsShownEnabledUntilItsTimeAndCanBeTakenBack) {
  int64_t at = DbNow() + 15;
  int64_t id = AddOnce("once", at);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  EXPECT_EQ("t", Col(id, "done"));  // no tick after this one
  auto row = Shown("once");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ("enabled", row->State());
  EXPECT_EQ(at * 1000000, row->next_run_at.value_or(0));
  // Moved later: the job made ahead goes, one for the new instant comes.
  Exec("UPDATE " + S() + ".schedules SET at = to_timestamp(" + std::to_string(at + 3) +
       ") WHERE id = " + std::to_string(id));
  ASSERT_TRUE(
      Eventually([&] { return Jobs(id, Epoch("scheduled_for")) == std::to_string(at + 3); }, 5s));
  EXPECT_EQ("true|1", Col(id, "done || '|' || run_count"));
  scheduler->Stop();
}

// A once schedule's job made ahead is cancelled, then its time moved: the
// new time is a run of its own (migration 0023), not "done" without a job.
// Without the move, the cancelled run stays cancelled.
TEST_F(FireAheadTest, AOnceScheduleWhoseJobMadeAheadWasCancelledRunsAtItsNewTimeWhenMoved) {
  int64_t at = DbNow() + 15;
  int64_t id = AddOnce("moved", at);
  auto scheduler = Start();
  ASSERT_TRUE(Eventually([&] { return JobCount(id) == 1; }, 5s));
  Exec("DELETE FROM " + S() + ".jobs WHERE schedule_id = " + std::to_string(id));
  // Disabling and enabling does not bring the cancelled run back.
  SetEnabled(id, false);
  SetEnabled(id, true);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(0, JobCount(id));
  EXPECT_EQ("true", Col(id, "done::text"));
  // Moved earlier than the cancelled tick, still to come: made for that time.
  Exec("UPDATE " + S() + ".schedules SET at = to_timestamp(" + std::to_string(at - 5) +
       ") WHERE id = " + std::to_string(id));
  ASSERT_TRUE(
      Eventually([&] { return Jobs(id, Epoch("scheduled_for")) == std::to_string(at - 5); }, 5s));
  EXPECT_EQ("true|2", Col(id, "done || '|' || run_count"));
  scheduler->Stop();
}

}  // namespace
}  // namespace pgjobs
