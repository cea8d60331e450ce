// Black-box tests of `pgjobs schedules apply` and `export`: schedule files
// against the built binary and a real PostgreSQL. A file with an error, or a
// write that fails, leaves the table exactly as it was.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/schedules_cli_fixture.h"

namespace pgjobs {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::SchedulesCliTest;

// ---- apply and export ----

const char* kFile = R"({
  // comments allowed
  "schedules": {
    "nightly-cleanup": {"cron": "0 3 * * *", "tz": "Europe/Paris", "task": "cleanup",
                        "queue": "maintenance", "args": {"days": 30}, "overlap": "skip"},
    "sync": {"every": "4h", "task": "sync"},
    "launch": {"at": "2026-12-01T09:00:00Z", "task": "announce"}
  }
})";

TEST_F(SchedulesCliTest, ApplyCreatesThenIsIdempotentThenUpdatesAndPrunesOnlyWhenAsked) {
  std::string path = File("s.json", kFile);
  EXPECT_EQ("create launch\ncreate nightly-cleanup\ncreate sync\n", Ok({"apply", path}));
  EXPECT_EQ("cron|0 3 * * *|Europe/Paris|maintenance|{\"days\": 30}|skip",
            Col("nightly-cleanup", "concat_ws('|', kind, cron, time_zone, queue, args, overlap)"));
  EXPECT_EQ("", Ok({"apply", path}));
  EXPECT_EQ("unchanged launch\nunchanged nightly-cleanup\nunchanged sync\n",
            Ok({"apply", path, "-v"}));
  Exec("UPDATE " + S() + ".schedules SET next_run_at = now() + interval '1 hour'");
  Ok({"add", "manual", "--every", "1h", "--task", "t"});
  std::string edited = std::string(kFile);
  edited.replace(edited.find("0 3 * * *"), 9, "*/5 * * * *");
  edited.replace(edited.find("\"4h\""), 4, "\"2h\", \"priority\": 8");
  path = File("s2.json", edited);
  EXPECT_EQ(
      "update nightly-cleanup: cron '0 3 * * *' -> '*/5 * * * *'\nupdate sync: every '4h' -> '2h', "
      "priority 5 -> 8\n",
      Ok({"apply", path}));
  EXPECT_EQ("t", Col("nightly-cleanup", "next_run_at IS NULL")) << "the scheduler recomputes it";
  EXPECT_EQ("f", Col("launch", "next_run_at IS NULL")) << "an unchanged schedule keeps its tick";
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".schedules WHERE name = 'manual'"));
  std::string verbose = Ok({"apply", path, "-v"});
  EXPECT_NE(std::string::npos, verbose.find("keep manual (not in the file; --prune removes it)\n"))
      << verbose;
  EXPECT_EQ("remove manual\n", Ok({"apply", path, "--prune"}));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".schedules WHERE name = 'manual'"));
}

TEST_F(SchedulesCliTest, ApplyDryRunPrintsTheChangesAndWritesNothing) {
  Ok({"add", "manual", "--every", "1h", "--task", "t"});
  std::string path = File("s.json", kFile);
  std::string before = Snapshot();
  std::string out = Ok({"apply", path, "--prune", "--dry-run"});
  EXPECT_EQ(
      "create launch\nremove manual\ncreate nightly-cleanup\ncreate sync\n"
      "pgjobs: dry run: nothing was written\n",
      out);
  EXPECT_EQ(before, Snapshot());
}

TEST_F(SchedulesCliTest, ExportThenApplyChangesNothing) {
  Ok({"add",
      "full",
      "--cron",
      "*/15 9-17 * * MON-FRI",
      "--tz",
      "America/New_York",
      "--task",
      "report",
      "--queue",
      "reports",
      "--args",
      "{\"b\": [1, 2.5, null], \"a\": \"é\"}",
      "--priority",
      "0",
      "--timeout",
      "90500ms",
      "--max-attempts",
      "1",
      "--misfire",
      "catch_up",
      "--catch-up-limit",
      "7",
      "--overlap",
      "skip",
      "--start",
      "2026-01-01T00:00:00.123456Z",
      "--end",
      "2031-01-01T00:00:00Z",
      "--description",
      "quote ' and \" here",
      "--disabled"});
  Ok({"add", "sync", "--every", "1d2h3m4s", "--task", "sync"});
  Ok({"add", "launch", "--at", "2026-12-01T09:00:00Z", "--task", "announce"});
  // Written by raw SQL, as the README allows: an interval PostgreSQL spells its own way.
  Exec("INSERT INTO " + S() +
       ".schedules (name, kind, every, task) VALUES ('raw', 'interval', '1 day 02:00', 'r')");
  std::string exported = Ok({"export"});
  EXPECT_EQ(0u, exported.find("// 4 schedules")) << exported;
  EXPECT_NE(std::string::npos, exported.find("\"every\": \"1d2h\"")) << exported;
  EXPECT_EQ(std::string::npos, exported.find("\"queue\": \"default\"")) << "defaults are left out\n"
                                                                        << exported;
  std::string path = File("exported.json", exported);
  std::string before = Snapshot();
  EXPECT_EQ("", Ok({"apply", path, "--prune"}));
  EXPECT_EQ(before, Snapshot());
  json strict = json::parse(Ok({"export", "--json"}));  // no comment line
  EXPECT_EQ("catch_up", strict["schedules"]["full"]["misfire"]);
  EXPECT_EQ(7, strict["schedules"]["full"]["catch_up_limit"]);
}

TEST_F(SchedulesCliTest, AFileWithAnErrorNamesTheScheduleAndWritesNothing) {
  Ok({"add", "manual", "--every", "1h", "--task", "t"});
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {R"({"schedules": {"ok": {"every": "1h", "task": "t"}, "bad": {"evry": "1h", "task": "t"}}})",
       "schedule \"bad\": unknown key \"evry\"; did you mean \"every\"?"},
      {"{\"schedules\": {\n  \"ok\": {\"every\": \"1h\", \"task\": \"t\"},\n  \"bad\": {\"every\": "
       "\"1h\",, }\n}}",
       "not valid JSON near schedule \"bad\": parse error at line 3, column"},
      {R"({"schedules": {"ok": {"every": "1h", "task": "t"}, "bad": {"cron": "0 0 30 2 *", "task": "t"}}})",
       "schedule \"bad\": cron \"0 0 30 2 *\" never fires"},
      {R"({"schedules": {"bad": {"cron": "0 3 * * *", "tz": "Paris", "task": "t"}}})",
       "schedule \"bad\": unknown time zone"},
      {R"({"schedules": {"bad": {"cron": "0 3 * * *", "every": "1h", "task": "t"}}})",
       "give exactly one"},
      {R"({"schedules": {"bad": {"every": "1h", "task": "t", "catch_up_limit": 3}}})",
       "catch_up_limit applies only with"},
      {R"({"schedules": {"bad": {"every": "1h", "task": "t", "args": "x"}}})",
       "args must be a JSON object"},
      {R"({"jobs": {}})", "unknown key \"jobs\""},
  };
  for (const Case& c : cases) Refused({"apply", File("bad.json", c.text), "--prune"}, 2, c.message);
  Refused({"apply", dir_ + "/missing.json"}, 2, "cannot read");
}

TEST_F(SchedulesCliTest, ApplyIsOneTransactionSoAFailingWriteUndoesTheOthers) {
  Ok({"add", "old", "--every", "1h", "--task", "t"});
  // A rule only the database knows, to make the last write fail.
  Exec("ALTER TABLE " + S() + ".schedules ADD CONSTRAINT test_no_zzz CHECK (name <> 'zzz')");
  std::string path = File("s.json", R"({"schedules": {"aaa": {"every": "1h", "task": "t"},
                                                       "zzz": {"every": "1h", "task": "t"}}})");
  std::string before = Snapshot();
  CliResult r = Cli({"apply", path, "--prune"});
  EXPECT_NE(0, r.rc);
  EXPECT_NE(std::string::npos, r.out.find("nothing was changed")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("test_no_zzz")) << r.out;
  EXPECT_EQ(before, Snapshot());
}

}  // namespace
}  // namespace pgjobs
