// Black-box tests of `pgjobs schedules ...` against the built binary and a
// real PostgreSQL: exit codes, messages, and what the table holds afterwards.
// Every refused input must leave the table exactly as it was. Schedule files
// (apply, export) are in schedules_file_cli_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/support/schedules_cli_fixture.h"

namespace pgjobs {
namespace {

using nlohmann::json;
using testing::RunToEnd;
using testing::SchedulesCliTest;

// ---- add ----

TEST_F(SchedulesCliTest, AddStoresEveryOptionAndLeavesNextRunAtToTheScheduler) {
  std::string out = Ok({"add",
                        "nightly-cleanup",
                        "--cron",
                        "0 3 * * *",
                        "--tz",
                        "Europe/Paris",
                        "--task",
                        "cleanup",
                        "--queue",
                        "maintenance",
                        "--args",
                        "{\"days\": 30}",
                        "--priority",
                        "7",
                        "--timeout",
                        "10m",
                        "--max-attempts",
                        "3",
                        "--misfire",
                        "catch_up",
                        "--catch-up-limit",
                        "50",
                        "--overlap",
                        "skip",
                        "--start",
                        "2026-01-01T00:00:00Z",
                        "--end",
                        "2030-01-01T00:00:00+01:00",
                        "--description",
                        "old rows",
                        "--disabled"});
  EXPECT_NE(std::string::npos, out.find("created schedule nightly-cleanup (id ")) << out;
  EXPECT_EQ(
      "cron|0 3 * * *|Europe/Paris|cleanup|maintenance|{\"days\": "
      "30}|7|00:10:00|3|catch_up|50|skip|"
      "2026-01-01 00:00:00+00|2029-12-31 23:00:00+00|old rows|f|t",
      Col("nightly-cleanup",
          "concat_ws('|', kind, cron, time_zone, task, queue, args, priority, timeout, "
          "max_attempts, "
          "misfire, catch_up_limit, overlap, start_at, end_at, description, enabled, "
          "next_run_at IS NULL)"));
}

TEST_F(SchedulesCliTest, AddMakesIntervalAndOneOffSchedulesWithTheTableDefaults) {
  Ok({"add", "sync", "--every", "4h", "--task", "sync"});
  // A time already past is taken, with a warning of what it does.
  EXPECT_HAS(Ok({"add", "launch", "--at", "2026-12-01T10:00:00+01:00", "--task", "announce"}),
             "warning: schedule launch's time 2026-12-01T09:00:00Z has passed: a running "
             "scheduler makes its job at once");
  EXPECT_EQ(std::string::npos,
            Ok({"add", "later", "--at", "2200-01-01T00:00:00Z", "--task", "t"}).find("passed"));
  EXPECT_HAS(Ok({"update", "later", "--at", "2001-01-01T00:00:00Z"}), "has passed");
  EXPECT_EQ("interval|04:00:00|UTC|default|{}|5|4|run_once|100|allow|t",
            Col("sync",
                "concat_ws('|', kind, every, time_zone, queue, args, priority, max_attempts, "
                "misfire, catch_up_limit, overlap, enabled)"));
  EXPECT_EQ("once|2026-12-01 09:00:00+00", Col("launch", "concat_ws('|', kind, at)"));
}

TEST_F(SchedulesCliTest, AddRefusesEachBadInputWithExitCode2AndWritesNothing) {
  AddNightly();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"add", "a", "--cron", "0 25 * * *", "--task", "t"},
       "hour field \"25\" at position 3 is out of range 0-23"},
      {{"add", "a", "--cron", "0 0 30 2 *", "--task", "t"}, "never fires"},
      {{"add", "a", "--cron", "0 3 * * *", "--tz", "Europe/Pariss", "--task", "t"},
       "unknown time zone"},
      {{"add", "a", "--cron", "0 3 * * *", "--every", "1h", "--task", "t"},
       "only one of --cron, --every and --at"},
      {{"add", "a", "--every", "1h", "--at", "2026-12-01T09:00:00Z", "--task", "t"}, "only one of"},
      {{"add", "a", "--task", "t"}, "give one of --cron EXPR, --every DURATION or --at TIME"},
      {{"add", "a", "--every", "1h"}, "--task is required"},
      {{"add", "a", "--every", "1h", "--task", "t", "--catch-up-limit", "5"},
       "--catch-up-limit applies only with --misfire catch_up"},
      {{"add", "a", "--every", "4h", "--tz", "Europe/Paris", "--task", "t"},
       "--tz applies to --cron schedules only: an interval counts fixed seconds from its start, "
       "whatever the zone; leave --tz out"},
      {{"add", "a", "--at", "2027-01-15T09:00:00Z", "--tz", "Europe/Paris", "--task", "t"},
       "--tz applies to --cron schedules only: a one-off time carries its own offset"},
      {{"add", "a", "--every", "1h", "--task", "t", "--args", "{nope"},
       "--args: args are not valid JSON"},
      {{"add", "a", "--every", "1h", "--task", "t", "--args", "[1, 2]"},
       "args must be a JSON object"},
      {{"add", "a", "--every", "1h", "--task", "t", "--args", R"({"days": 30, "days": 7})"},
       "--args: args hold the key \"days\" twice in one object"},
      {{"add", "a", "--every", "1h", "--task", "t", "--timeout", "3 parsecs"},
       "--timeout: duration \"3 parsecs\""},
      {{"add", "a", "--every", "soon", "--task", "t"}, "--every: duration \"soon\""},
      {{"add", "a", "--every", "500ms", "--task", "t"}, "an interval is at least 1s"},
      {{"add", "a", "--at", "tomorrow", "--task", "t"},
       "--at: time \"tomorrow\" is not an ISO 8601 instant"},
      {{"add", "a", "--every", "1h", "--task", "t", "--start", "2026-02-01"}, "--start: time"},
      {{"add", "a", "--every", "1h", "--task", "t", "--start", "2026-02-01T00:00:00Z", "--end",
        "2026-01-01T00:00:00Z"},
       "end 2026-01-01T00:00:00Z is not after start 2026-02-01T00:00:00Z"},
      {{"add", "a", "--every", "1h", "--task", "t", "--priority", "12"},
       "--priority \"12\" must be a whole number from 0 to 9"},
      {{"add", "a", "--every", "1h", "--task", "t", "--misfire", "later"},
       "misfire \"later\" is unknown"},
      {{"add", "bad name", "--every", "1h", "--task", "t"},
       "schedule name \"bad name\" is not allowed"},
      {{"add", "nightly-cleanup", "--every", "1h", "--task", "t"},
       "schedule \"nightly-cleanup\" already exists; use `pgjobs schedules update nightly-cleanup "
       "...`"},
  };
  for (const Case& c : cases) Refused(c.args, 2, c.message);
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".schedules"));
}

// ---- unknown names ----

TEST_F(SchedulesCliTest, AnUnknownNameExits3SuggestingTheNearestAndWritesNothing) {
  AddNightly();
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"show", "nightly-cleanp"},
                                             {"update", "nightly-cleanp", "--priority", "1"},
                                             {"enable", "nightly-cleanp"},
                                             {"disable", "nightly-cleanp"},
                                             {"remove", "nightly-cleanp"},
                                             {"run-now", "nightly-cleanp"}}) {
    Refused(args, 3, "no schedule \"nightly-cleanp\"; did you mean \"nightly-cleanup\"?");
  }
  Refused({"show", "zzzzzzzzzzzz"}, 3,
          "no schedule \"zzzzzzzzzzzz\" (`pgjobs schedules list` shows them)");
}

// ---- update ----

TEST_F(SchedulesCliTest, UpdateChangesOnlyTheGivenOptionsAndATimingChangeClearsNextRunAt) {
  Ok({"add", "hourly", "--cron", "0 * * * *", "--task", "report", "--queue", "reports",
      "--priority", "3"});
  // As the scheduler would have done.
  Exec("UPDATE " + S() + ".schedules SET next_run_at = now() + interval '1 hour'");
  EXPECT_EQ("update hourly: priority 3 -> 8\n", Ok({"update", "hourly", "--priority", "8"}));
  EXPECT_EQ("f", Col("hourly", "next_run_at IS NULL")) << "a job-template change keeps the tick";
  EXPECT_EQ("update hourly: cron '0 * * * *' -> '*/5 * * * *'\n",
            Ok({"update", "hourly", "--cron", "*/5 * * * *"}));
  EXPECT_EQ(
      "cron|*/5 * * * *|report|reports|8|t",
      Col("hourly", "concat_ws('|', kind, cron, task, queue, priority, next_run_at IS NULL)"));
  EXPECT_EQ("unchanged hourly\n", Ok({"update", "hourly", "--priority", "8"}));
}

TEST_F(SchedulesCliTest, UpdateSwitchingKindClearsTheOtherKindsField) {
  Ok({"add", "x", "--cron", "0 * * * *", "--task", "t"});
  EXPECT_EQ("update x: cron '0 * * * *' -> every '4h'\n", Ok({"update", "x", "--every", "4h"}));
  EXPECT_EQ("interval||04:00:00|",
            Col("x", "concat_ws('|', kind, coalesce(cron, ''), every, coalesce(at::text, ''))"));
  Ok({"update", "x", "--at", "2026-12-01T09:00:00Z"});
  EXPECT_EQ("once|t|t|2026-12-01 09:00:00+00",
            Col("x", "concat_ws('|', kind, cron IS NULL, every IS NULL, at)"));
  Ok({"update", "x", "--cron", "@daily"});
  EXPECT_EQ("cron|@daily|t|t", Col("x", "concat_ws('|', kind, cron, every IS NULL, at IS NULL)"));
}

TEST_F(SchedulesCliTest, OnlyACronHasAZone) {
  Ok({"add", "x", "--cron", "0 3 * * *", "--tz", "Europe/Paris", "--task", "t"});
  // Leaving cron leaves its zone, and says so.
  EXPECT_HAS(Ok({"update", "x", "--every", "4h"}), "tz 'Europe/Paris' -> 'UTC'");
  EXPECT_EQ("interval|UTC", Col("x", "kind || '|' || time_zone"));
  Refused({"update", "x", "--tz", "Asia/Tokyo"}, 2, "--tz applies to --cron schedules only");
  Refused({"update", "x", "--cron", "0 3 * * *", "--every", "1h", "--tz", "Asia/Tokyo"}, 2,
          "only one of");
  EXPECT_EQ("interval|UTC", Col("x", "kind || '|' || time_zone")) << "refused: nothing written";
  Ok({"update", "x", "--cron", "0 3 * * *", "--tz", "Asia/Tokyo"});
  EXPECT_EQ("cron|Asia/Tokyo", Col("x", "kind || '|' || time_zone"));
  EXPECT_HAS(Ok({"update", "x", "--every", "1h", "--tz", "Etc/UTC"}),
             "tz 'Asia/Tokyo' -> 'Etc/UTC'");
  // An interval that an older version let keep a zone (export does not show
  // it) does not hand it to the cron it becomes.
  Exec("UPDATE " + S() + ".schedules SET time_zone = 'Europe/Paris' WHERE name = 'x'");
  EXPECT_HAS(Ok({"update", "x", "--cron", "0 3 * * *"}), "tz 'Europe/Paris' -> 'UTC'");
  EXPECT_EQ("cron|UTC", Col("x", "kind || '|' || time_zone"));
}

TEST_F(SchedulesCliTest, UpdateRefusesBadInputAndWritesNothing) {
  Ok({"add", "x", "--cron", "0 * * * *", "--task", "t", "--start", "2026-06-01T00:00:00Z"});
  Refused({"update", "x", "--cron", "61 * * * *"}, 2, "minute field \"61\"");
  Refused({"update", "x", "--cron", "0 0 31 4 *"}, 2, "never fires");
  Refused({"update", "x", "--tz", "Nowhere/Atlantis"}, 2, "unknown time zone");
  Refused({"update", "x", "--cron", "@daily", "--every", "1h"}, 2, "only one of");
  Refused({"update", "x", "--catch-up-limit", "10"}, 2,
          "--catch-up-limit applies only with --misfire catch_up");
  Refused({"update", "x", "--end", "2026-01-01T00:00:00Z"}, 2, "is not after start");
  Refused({"update", "x", "--args", "\"text\""}, 2, "args must be a JSON object");
  Refused({"update", "x", "--timeout", "0s"}, 2, "timeout must be positive");
  Refused({"update", "x"}, 2, "nothing to change");
  // Leaving catch_up resets its limit, so that export never writes one apply refuses.
  Ok({"update", "x", "--misfire", "catch_up", "--catch-up-limit", "10"});
  Ok({"update", "x", "--misfire", "skip"});
  EXPECT_EQ("skip|100", Col("x", "misfire || '|' || catch_up_limit"));
  Ok({"update", "x", "--timeout", "5m", "--start", "none"});
  EXPECT_EQ("00:05:00|t", Col("x", "concat_ws('|', timeout, start_at IS NULL)"));
}

// ---- enable, disable, remove, run-now ----

TEST_F(SchedulesCliTest, EnableAndDisableOneOrAll) {
  Ok({"add", "a", "--every", "1h", "--task", "t"});
  Ok({"add", "b", "--every", "1h", "--task", "t"});
  EXPECT_EQ("disabled a\n", Ok({"disable", "a"}));
  EXPECT_EQ("a is already disabled\n", Ok({"disable", "a"}));
  EXPECT_EQ("f|t", Col("a", "enabled") + "|" + Col("b", "enabled"));
  EXPECT_EQ("disabled b\n", Ok({"disable", "--all"}));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".schedules WHERE enabled"));
  EXPECT_EQ("enabled a\nenabled b\n", Ok({"enable", "--all"}));
  EXPECT_EQ("2",
            Q("SELECT count(*) FROM " + S() + ".schedules WHERE enabled AND next_run_at IS NULL"));
  Refused({"enable", "a", "--all"}, 2, "give a schedule NAME or --all, not both");
  Refused({"disable"}, 2, "give a schedule NAME, or --all to disable every schedule");
  // An enabled schedule in error: enable clears the error so that it is
  // planned again (it used to say "already enabled" and leave it).
  Exec("UPDATE " + S() +
       ".schedules SET error = 'the job of tick x was refused', next_run_at = now() "
       "WHERE name = 'a'");
  EXPECT_EQ("enabled a\n", Ok({"enable", "a"}));
  EXPECT_EQ("|", Col("a", "coalesce(error, '') || '|' || coalesce(next_run_at::text, '')"));
  EXPECT_EQ("b is already enabled\n", Ok({"enable", "b"}));
}

TEST_F(SchedulesCliTest, RemoveDeletesTheScheduleAndKeepsItsJobs) {
  Ok({"add", "a", "--every", "1h", "--task", "t"});
  Ok({"run-now", "a"});
  EXPECT_EQ("removed a\n", Ok({"remove", "a"}));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".schedules"));
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(SchedulesCliTest,
       RunNowEnqueuesFromTheTemplateWithNullScheduledForAndDoesNotMoveTheSchedule) {
  Ok({"add", "a", "--every", "1h", "--task", "send", "--queue", "mail", "--args", "{\"to\": \"x\"}",
      "--priority", "9", "--max-attempts", "2", "--timeout", "30s"});
  Exec("UPDATE " + S() + ".schedules SET next_run_at = '2030-01-01T00:00:00Z'");
  std::string first = Ok({"run-now", "a"});
  std::string second = Ok({"run-now", "a"});  // no collision on (schedule_id, scheduled_for)
  ASSERT_FALSE(first.empty());
  first.pop_back();
  second.pop_back();
  EXPECT_NE(first, second);
  std::string id = Col("a", "id");
  EXPECT_EQ(
      "send|mail|{\"to\": \"x\"}|9|2|00:00:30|" + id + "|t",
      Q("SELECT concat_ws('|', task, queue, args, priority, max_attempts, timeout, schedule_id, "
        "scheduled_for IS NULL) FROM " +
        S() + ".jobs WHERE id = " + first));
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " + id));
  EXPECT_EQ("2030-01-01 00:00:00+00|0|t",
            Col("a", "concat_ws('|', next_run_at, run_count, last_run_at IS NULL)"));
}

// ---- list and show ----

TEST_F(SchedulesCliTest, ListShowsWhyAScheduleInErrorCannotFireUnderTheTable) {
  Ok({"add", "good", "--every", "1h", "--task", "t"});
  Ok({"add", "broken", "--every", "1h", "--task", "t"});
  // As the scheduler leaves a schedule whose tick's job was refused.
  Exec("UPDATE " + S() + ".schedules SET error = 'the job of tick 2026-12-02T10:00:00Z was "
       "refused: no boom today' WHERE name = 'broken'");
  std::string out = Ok({"list"});
  EXPECT_NE(std::string::npos,
            out.find("broken cannot fire: the job of tick 2026-12-02T10:00:00Z was refused: no boom "
                     "today"))
      << out;
  EXPECT_EQ(std::string::npos, out.find("good cannot fire")) << out;
}

TEST_F(SchedulesCliTest, ListShowsEachScheduleWithTheOutcomeOfItsLastJob) {
  AddNightly();
  Ok({"add", "sync", "--every", "4h", "--task", "sync", "--queue", "io"});
  Ok({"add", "off", "--every", "1h", "--task", "t", "--disabled"});
  // A pending job for nightly-cleanup, a finished one for sync, as ticks would leave them.
  Exec("INSERT INTO " + S() +
       ".jobs (id, task, schedule_id) OVERRIDING SYSTEM VALUE SELECT 900, 'cleanup', id FROM " +
       S() + ".schedules WHERE name = 'nightly-cleanup'");
  Exec("INSERT INTO " + S() +
       ".job_history (id, queue, task, args, priority, state, attempt, max_attempts, "
       "created_at, run_at) VALUES (901, 'io', 'sync', '{}', 5, 'failed', 4, 4, now(), now())");
  Exec("UPDATE " + S() +
       ".schedules SET last_job_id = 900, last_run_at = '2026-01-01T03:00:00Z' "
       "WHERE name = 'nightly-cleanup'");
  Exec(
      "UPDATE " + S() +
      ".schedules SET last_job_id = 901, next_run_at = '2030-01-01T00:00:00Z' WHERE name = 'sync'");
  std::string table = Ok({"list"});
  EXPECT_NE(std::string::npos, table.find("NAME")) << table;
  for (const char* part :
       {"nightly-cleanup", "cron 0 3 * * *", "Europe/Paris", "pending", "2026-01-01T03:00:00Z",
        "every 4h", "failed", "2030-01-01T00:00:00Z", "disabled"}) {
    EXPECT_NE(std::string::npos, table.find(part)) << part << "\n" << table;
  }
  json list = json::parse(Ok({"list", "--json"}));
  ASSERT_EQ(3u, list.size());
  EXPECT_EQ("nightly-cleanup", list[0]["name"]);
  EXPECT_EQ("pending", list[0]["last_outcome"]);
  EXPECT_EQ("enabled", list[0]["state"]);
  EXPECT_EQ("disabled", list[1]["state"]);
  EXPECT_EQ("sync", list[2]["name"]);
  EXPECT_EQ("4h", list[2]["every"]);
  EXPECT_EQ("failed", list[2]["last_outcome"]);
  EXPECT_EQ("2030-01-01T00:00:00Z", list[2]["next_run_at"]);
  EXPECT_TRUE(list[1]["last_outcome"].is_null());
}

TEST_F(SchedulesCliTest, ShowGivesEveryFieldAndTheNextTenFireTimesInTheZoneAndUtc) {
  AddNightly();
  Exec("UPDATE " + S() + ".schedules SET error = 'x', run_count = 12, skipped_count = 3");
  json j = json::parse(Ok({"show", "nightly-cleanup", "--json"}));
  EXPECT_EQ("0 3 * * *", j["cron"]);
  EXPECT_EQ(12, j["run_count"]);
  EXPECT_EQ(3, j["skipped_count"]);
  EXPECT_EQ("x", j["error"]);
  ASSERT_EQ(10u, j["upcoming"].size());
  std::string now = j["now"];
  std::string previous;
  for (const json& t : j["upcoming"]) {
    std::string utc = t["utc"], local = t["local"];
    EXPECT_EQ(20u, utc.size()) << utc;
    EXPECT_EQ('Z', utc.back());
    EXPECT_GT(utc, std::max(previous, now));
    EXPECT_EQ("T03:00:00+0", local.substr(10, 11)) << local;  // +01:00 or +02:00
    previous = utc;
  }
  std::string human = Ok({"show", "nightly-cleanup"});
  for (const char* part :
       {"schedule nightly-cleanup (id ", "cron 0 3 * * *", "Europe/Paris", "run count     12",
        "skipped       3", "next fire times after", "T03:00:00+01:00"}) {
    EXPECT_NE(std::string::npos, human.find(part)) << part << "\n" << human;
  }
}

TEST_F(SchedulesCliTest, ShowAndListGiveATickMadeAheadAsTheNextRunWithItsWaitingJob) {
  Ok({"add", "a", "--every", "1h", "--task", "send"});
  // As a scheduler leaves it after making the next tick's job ahead: the
  // tick is last_run_at (to come), the run before it prior_run_at.
  std::string job = Q("INSERT INTO " + S() +
                      ".jobs (task, schedule_id, scheduled_for, run_at) SELECT 'send', id, "
                      "'2099-01-01T00:00:00Z', '2099-01-01T00:00:00Z' FROM " +
                      S() + ".schedules WHERE name = 'a' RETURNING id");
  Exec("UPDATE " + S() + ".schedules SET last_run_at = '2099-01-01T00:00:00Z', last_job_id = " +
       job + ", run_count = 5, prior_run_at = '2026-01-01T00:00:00Z', prior_job_id = 7, " +
       "next_run_at = '2099-01-01T01:00:00Z'");
  json j = json::parse(Ok({"show", "a", "--json"}));
  EXPECT_EQ("2099-01-01T00:00:00Z", j["next_run_at"]);
  EXPECT_EQ(std::stoll(job), j["ahead_job_id"]);
  EXPECT_EQ("2026-01-01T00:00:00Z", j["last_run_at"]);
  EXPECT_EQ(7, j["last_job_id"]);
  EXPECT_EQ(4, j["run_count"]);
  std::string human = Ok({"show", "a"});
  std::string expected =
      "next run      2099-01-01T00:00:00Z (job " + job + " made ahead, waits for it)";
  EXPECT_NE(std::string::npos, human.find(expected)) << human;
  json list = json::parse(Ok({"list", "--json"}));
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ("2099-01-01T00:00:00Z", list[0]["next_run_at"]);
  EXPECT_EQ("enabled", list[0]["state"]);
}

TEST_F(SchedulesCliTest, ShowOfAnIntervalCountsFromItsStart) {
  Ok({"add", "sync", "--every", "4h", "--task", "sync", "--start", "2026-01-01T01:00:00Z"});
  json j = json::parse(Ok({"show", "sync", "--json"}));
  ASSERT_EQ(10u, j["upcoming"].size());
  for (const json& t : j["upcoming"]) {
    std::string hour = t["utc"].get<std::string>().substr(11, 2);
    EXPECT_EQ(1, std::stoi(hour) % 4) << t;
  }
}

// ---- next: no database ----

TEST_F(SchedulesCliTest, NextPreviewsACronExpressionWithoutADatabase) {
  std::vector<std::string> argv = {testing::BinaryPath(),
                                   "--dsn",
                                   "host=/nonexistent port=1",
                                   "schedules",
                                   "next",
                                   "0 * * * *",
                                   "-n",
                                   "3",
                                   "--from",
                                   "2026-11-25T15:00:00Z"};
  auto [rc, out] = RunToEnd(argv);
  EXPECT_EQ(0, rc) << out;
  EXPECT_EQ("2026-11-25T16:00:00Z\n2026-11-25T17:00:00Z\n2026-11-25T18:00:00Z\n", out);
  json j = json::parse(Ok({"next", "0 16 * * *", "--tz", "Europe/Paris", "-n", "1", "--from",
                           "2026-11-25T00:00:00Z", "--json"}));
  EXPECT_EQ(
      json::parse(R"([{"utc": "2026-11-25T15:00:00Z", "local": "2026-11-25T16:00:00+01:00"}])"), j);
  Refused({"next", "0 0 30 2 *"}, 2, "never fires");
  Refused({"next", "* * *"}, 2, "cron \"* * *\"");
  Refused({"next", "@daily", "--tz", "Mars/Olympus"}, 2, "unknown time zone");
}

TEST_F(SchedulesCliTest, AnUnreachableDatabaseExits4) {
  auto [rc, out] =
      RunToEnd({testing::BinaryPath(), "--dsn", "host=/nonexistent port=1", "schedules", "list"});
  EXPECT_EQ(4, rc) << out;
  EXPECT_NE(std::string::npos, out.find("cannot connect to PostgreSQL")) << out;
}

}  // namespace
}  // namespace pgjobs
