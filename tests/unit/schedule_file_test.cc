// The schedules file of `pgjobs schedules apply/export` and the definition
// rules behind every schedules command: src/store/schedule_file.h.
#include "store/schedule_file.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/expect_has.h"

namespace pgjobs::store {
namespace {

// 2026-11-25T15:00:00Z.
const std::chrono::sys_seconds kNow{std::chrono::seconds(1795618800)};
constexpr Micros kNowUs = 1795618800LL * 1000000;

std::vector<ScheduleDef> Parse(const std::string& text) {
  auto defs = ParseScheduleFile(text, "s.json", kNow);
  EXPECT_TRUE(defs.ok()) << defs.status().message();
  return defs.ok() ? *defs : std::vector<ScheduleDef>{};
}

std::string ParseError(const std::string& text) {
  auto defs = ParseScheduleFile(text, "s.json", kNow);
  EXPECT_FALSE(defs.ok()) << text << " was accepted";
  if (defs.ok()) return "";
  EXPECT_EQ(defs.status().code(), Status::Code::kInvalidArgument);
  return defs.status().message();
}

// A file with one schedule "job" whose body is body.
std::string One(const std::string& body) { return R"({"schedules": {"job": )" + body + "}}"; }

ScheduleDef Minimal(const std::string& name) {
  ScheduleDef d;
  d.name = name;
  d.cron = "0 3 * * *";
  d.task = "cleanup";
  return d;
}

// ---- reading the file ----

TEST(ScheduleFileTest, ReadsEveryKeyOfTheIssueExample) {
  auto defs = Parse(R"({
    // comments are allowed, as in the worker's configuration
    "schedules": {
      "nightly-cleanup": {"cron": "0 3 * * *", "tz": "Europe/Paris", "task": "cleanup",
        "queue": "maintenance", "args": {"days": 30, "dry": false}, "priority": 7,
        "timeout": "10m", "max_attempts": 3, "misfire": "catch_up", "catch_up_limit": 50,
        "overlap": "skip", "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00+01:00",
        "description": "old rows", "enabled": false},
      "sync": {"every": "4h", "task": "sync"},
      "launch": {"at": "2026-12-01T09:00:00Z", "task": "announce"}
    }
  })");
  ASSERT_EQ(defs.size(), 3u);
  EXPECT_EQ(defs[0].name, "launch");  // sorted by name
  EXPECT_EQ(defs[0].kind, ScheduleKind::kOnce);
  EXPECT_EQ(FormatInstant(defs[0].at), "2026-12-01T09:00:00Z");
  const ScheduleDef& n = defs[1];
  EXPECT_EQ(n.kind, ScheduleKind::kCron);
  EXPECT_EQ(n.cron, "0 3 * * *");
  EXPECT_EQ(n.time_zone, "Europe/Paris");
  EXPECT_EQ(n.queue, "maintenance");
  EXPECT_EQ(n.args, R"({"days":30,"dry":false})");
  EXPECT_EQ(n.priority, 7);
  EXPECT_EQ(n.timeout_ms, 600000);
  EXPECT_EQ(n.max_attempts, 3);
  EXPECT_EQ(n.misfire, "catch_up");
  EXPECT_EQ(n.catch_up_limit, 50);
  EXPECT_EQ(n.overlap, "skip");
  EXPECT_EQ(FormatInstant(*n.start_at), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatInstant(*n.end_at), "2026-12-31T23:00:00Z");
  EXPECT_EQ(n.description, "old rows");
  EXPECT_FALSE(n.enabled);
  EXPECT_EQ(defs[2].kind, ScheduleKind::kInterval);
  EXPECT_EQ(defs[2].every_ms, 4 * 3600 * 1000);
}

TEST(ScheduleFileTest, LeftOutKeysTakeTheTableDefaults) {
  auto defs = Parse(One(R"({"every": 60, "task": "t"})"));
  ASSERT_EQ(defs.size(), 1u);
  ScheduleDef expected;
  expected.name = "job";
  expected.kind = ScheduleKind::kInterval;
  expected.every_ms = 60000;
  expected.task = "t";
  EXPECT_EQ(defs[0], expected);
  EXPECT_EQ(defs[0].time_zone, "UTC");
  EXPECT_EQ(defs[0].queue, "default");
  EXPECT_EQ(defs[0].priority, 5);
  EXPECT_EQ(defs[0].max_attempts, 4);
  EXPECT_EQ(defs[0].misfire, "run_once");
  EXPECT_EQ(defs[0].catch_up_limit, 100);
  EXPECT_EQ(defs[0].overlap, "allow");
  EXPECT_TRUE(defs[0].enabled);
}

TEST(ScheduleFileTest, AnEmptySchedulesObjectIsValid) {
  EXPECT_TRUE(Parse(R"({"schedules": {}})").empty());
}

// ---- errors name the schedule ----

TEST(ScheduleFileTest, AnUnknownKeyNamesTheScheduleAndSuggestsTheNearestKey) {
  std::string e = ParseError(One(R"({"crn": "0 3 * * *", "task": "t"})"));
  EXPECT_HAS(e, "s.json: schedule \"job\": unknown key \"crn\"; did you mean \"cron\"?");
  EXPECT_HAS(ParseError(One(R"({"cron": "0 3 * * *", "task": "t", "max_attempt": 2})")),
             "did you mean \"max_attempts\"?");
  EXPECT_HAS(ParseError(R"({"schedule": {}})"),
             "s.json: unknown key \"schedule\"; did you mean \"schedules\"?");
}

TEST(ScheduleFileTest, AJsonSyntaxErrorGivesLineColumnAndTheScheduleItIsIn) {
  std::string e = ParseError(
      "{\"schedules\": {\n  \"a\": {\"cron\": \"0 3 * * *\", \"task\": \"t\"},\n"
      "  \"b\": {\"every\": \"4h\" \"task\": \"t\"}\n}}");
  EXPECT_HAS(e, "s.json: not valid JSON near schedule \"b\"");
  EXPECT_HAS(e, "line 3, column");
  EXPECT_HAS(ParseError("{\"schedules\": "), "not valid JSON");
}

TEST(ScheduleFileTest, ADuplicateNameOrKeyIsAnError) {
  EXPECT_HAS(
      ParseError(
          R"({"schedules": {"a": {"every": "1h", "task": "t"}, "a": {"every": "2h", "task": "t"}}})"),
      "duplicate key \"a\"");
  EXPECT_HAS(ParseError(One(R"({"every": "1h", "task": "t", "task": "u"})")),
             "duplicate key \"task\" near schedule \"job\"");
}

TEST(ScheduleFileTest, ExactlyOneOfCronEveryAndAtIsRequired) {
  EXPECT_HAS(ParseError(One(R"({"task": "t"})")),
             "schedule \"job\": none of \"cron\", \"every\" and \"at\"");
  EXPECT_HAS(ParseError(One(R"({"cron": "@daily", "every": "1h", "task": "t"})")),
             "more than one of \"cron\", \"every\" and \"at\" is given; give exactly one");
}

TEST(ScheduleFileTest, EachBadValueIsRefusedWithItsReason) {
  struct Case {
    std::string body;
    std::string expected;
  } cases[] = {
      {R"({"cron": "0 3 * * *"})", "\"task\" is missing"},
      {R"({"cron": "0 25 * * *", "task": "t"})",
       "hour field \"25\" at position 3 is out of range 0-23"},
      {R"({"cron": "0 0 30 2 *", "task": "t"})", "cron \"0 0 30 2 *\" never fires"},
      {R"({"cron": "0 3 * * *", "tz": "Europe/Pariss", "task": "t"})", "unknown time zone"},
      {R"({"every": "500ms", "task": "t"})", "is too short; an interval is at least 1s"},
      {R"({"every": "1500ms", "task": "t"})", "not a whole number of seconds"},
      {R"({"every": "3 parsecs", "task": "t"})", "duration \"3 parsecs\""},
      {R"({"at": "tomorrow", "task": "t"})", "at: time \"tomorrow\" is not an ISO 8601 instant"},
      {R"({"at": "2026-12-01T09:00:00", "task": "t"})", "with a zone"},
      {R"({"every": "1h", "task": "t", "args": [1]})",
       "args must be a JSON object, got a JSON array"},
      {R"({"every": "1h", "task": "t", "priority": 10})",
       "priority must be a whole number from 0 to 9"},
      {R"({"every": "1h", "task": "t", "timeout": "0s"})", "timeout must be positive"},
      {R"({"every": "1h", "task": "t", "misfire": "later"})", "misfire \"later\" is unknown"},
      {R"({"every": "1h", "task": "t", "catch_up_limit": 5})", "catch_up_limit applies only with"},
      {R"({"every": "4h", "tz": "Europe/Paris", "task": "t"})",
       "\"tz\" applies to \"cron\" schedules only: an interval counts fixed seconds from its "
       "start, whatever the zone; leave \"tz\" out"},
      {R"({"at": "2027-01-15T08:00:00Z", "tz": "Europe/Paris", "task": "t"})",
       "a one-off time carries its own offset"},
      {R"({"every": "1h", "task": "t", "overlap": "never"})", "overlap \"never\" is unknown"},
      {R"({"every": "1h", "task": "t", "queue": "no spaces"})",
       "queue name \"no spaces\" is not allowed"},
      {R"({"every": "1h", "task": " "})", "task is empty"},
      {R"({"every": "1h", "task": "t", "enabled": "yes"})", "enabled must be true or false"},
      {R"({"every": "1h", "task": "t", "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"})",
       "end 2026-01-01T00:00:00Z is not after start 2026-02-01T00:00:00Z"},
      {R"("0 3 * * *")", "must be an object"},
  };
  for (const Case& c : cases) {
    std::string e = ParseError(One(c.body));
    EXPECT_HAS(e, "schedule \"job\": ");
    EXPECT_HAS(e, c.expected);
  }
  EXPECT_HAS(ParseError(R"({"schedules": {"bad name": {"every": "1h", "task": "t"}}})"),
             "schedule name \"bad name\" is not allowed");
}

// ---- writing the file ----

TEST(ScheduleFileTest, ExportLeavesOutDefaultsAndPutsTheKindFirst) {
  EXPECT_EQ(FormatScheduleFile({Minimal("a")}, false),
            "{\n  \"schedules\": {\n    \"a\": {\n      \"cron\": \"0 3 * * *\",\n"
            "      \"task\": \"cleanup\"\n    }\n  }\n}\n");
  ScheduleDef d = Minimal("a");
  d.catch_up_limit = 50;  // without catch_up it means nothing and is left out
  EXPECT_EQ(FormatScheduleFile({d}, false).find("catch_up_limit"), std::string::npos);
  EXPECT_HAS(FormatScheduleFile({}, true), "// 0 schedules");
}

TEST(ScheduleFileTest, AnIntervalIsExportedWithoutAZoneSoThatApplyTakesItBack) {
  // A row written by SQL (or switched from cron before the CLI reset it) may
  // hold a zone an interval never uses; the file must still apply.
  ScheduleDef d = Minimal("sync");
  d.kind = ScheduleKind::kInterval;
  d.cron.clear();
  d.every_ms = 4 * 3600 * 1000;
  d.time_zone = "Europe/Paris";
  std::string file = FormatScheduleFile({d}, false);
  EXPECT_EQ(file.find("Europe/Paris"), std::string::npos) << file;
  std::vector<ScheduleDef> back = Parse(file);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].time_zone, "UTC");
  EXPECT_HAS(ScheduleToJson(d, true), "\"tz\":\"UTC\"");
  EXPECT_EQ(Parse(One(R"({"every": "4h", "tz": "UTC", "task": "t"})")).size(), 1u)
      << "UTC, which every interval has, is accepted";
}

TEST(ScheduleFileTest, ExportThenParseGivesBackTheSameDefinitions) {
  ScheduleDef full = Minimal("full");
  full.cron = "*/15 9-17 * * MON-FRI";
  full.time_zone = "America/New_York";
  full.queue = "reports";
  full.args = R"({"list":[1,2.5,"x"],"nested":{"k":null},"unicode":"été"})";
  full.priority = 0;
  full.timeout_ms = 90500;
  full.max_attempts = 1;
  full.misfire = "catch_up";
  full.catch_up_limit = 7;
  full.overlap = "skip";
  full.start_at = kNowUs + 123456;
  full.end_at = kNowUs + 86400LL * 1000000;
  full.description = "quotes \" and\nnewlines";
  full.enabled = false;
  ScheduleDef every = Minimal("every");
  every.kind = ScheduleKind::kInterval;
  every.cron.clear();
  every.every_ms = 93784000;  // 1d2h3m4s
  ScheduleDef once = Minimal("once");
  once.kind = ScheduleKind::kOnce;
  once.cron.clear();
  once.at = kNowUs - 1;  // a past one-off is allowed; the misfire policy decides
  std::vector<ScheduleDef> defs = {every, full, once};
  for (bool comment : {true, false}) {
    EXPECT_EQ(Parse(FormatScheduleFile(defs, comment)), defs);
  }
  EXPECT_HAS(FormatScheduleFile(defs, false), "\"every\": \"1d2h3m4s\"");
  EXPECT_HAS(FormatScheduleFile(defs, false), "\"timeout\": \"1m30s500ms\"");
  EXPECT_HAS(FormatScheduleFile(defs, false), "\"start\": \"2026-11-25T15:00:00.123456Z\"");
}

// ---- comparing ----

TEST(ScheduleFileTest, DiffNamesEachChangedFieldWithOldAndNewValue) {
  ScheduleDef a = Minimal("a");
  ScheduleDef b = a;
  b.cron = "*/5 * * * *";
  b.priority = 7;
  b.timeout_ms = 600000;
  b.enabled = false;
  EXPECT_EQ(DiffScheduleDefs(a, b),
            (std::vector<std::string>{"cron '0 3 * * *' -> '*/5 * * * *'", "priority 5 -> 7",
                                      "timeout none -> '10m'", "enabled true -> false"}));
  ScheduleDef c = a;
  c.kind = ScheduleKind::kInterval;
  c.every_ms = 4 * 3600 * 1000;
  EXPECT_EQ(DiffScheduleDefs(a, c), std::vector<std::string>{"cron '0 3 * * *' -> every '4h'"});
  ScheduleDef d = a;
  d.catch_up_limit = 5;  // not catch_up on either side: no difference
  EXPECT_TRUE(DiffScheduleDefs(a, d).empty());
  EXPECT_TRUE(DiffScheduleDefs(a, a).empty());
}

TEST(ScheduleFileTest, PlanCreatesUpdatesAndRemovesOnlyWithPrune) {
  ScheduleDef keep = Minimal("keep");
  ScheduleDef old_only = Minimal("old");
  ScheduleDef changed = Minimal("changed");
  ScheduleDef changed_new = changed;
  changed_new.task = "other";
  ScheduleDef fresh = Minimal("new");
  std::vector<std::string> lines;
  for (const ScheduleChange& c :
       PlanScheduleChanges({keep, old_only, changed}, {keep, changed_new, fresh}, true)) {
    lines.push_back(c.ToString());
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"update changed: task 'cleanup' -> 'other'",
                                             "unchanged keep", "create new", "remove old"}));
  auto kept = PlanScheduleChanges({old_only}, {}, false);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].ToString(), "keep old (not in the file; --prune removes it)");
}

// ---- values ----

TEST(ScheduleFileTest, DurationsAndInstantsReadBackAsWritten) {
  for (int64_t ms : {1, 999, 1000, 60000, 90000, 3600000, 86400000, 93784005}) {
    EXPECT_EQ(*ParseTimeout(FormatDurationMs(ms)), ms) << FormatDurationMs(ms);
  }
  EXPECT_EQ(FormatDurationMs(14400000), "4h");
  EXPECT_EQ(*ParseEvery("4h"), 14400000);
  EXPECT_HAS(ParseEvery("0.5s").status().message(), "at least 1s");
  EXPECT_EQ(FormatInstant(kNowUs), "2026-11-25T15:00:00Z");
  EXPECT_EQ(FormatInstant(kNowUs + 500000), "2026-11-25T15:00:00.5Z");
  EXPECT_EQ(*ParseInstant("2026-11-25T16:00:00+01:00"), kNowUs);
  EXPECT_EQ(FormatLocal(kNow, "Europe/Paris"), "2026-11-25T16:00:00+01:00");
  EXPECT_EQ(FormatLocal(kNow, "UTC"), "2026-11-25T15:00:00+00:00");
  EXPECT_EQ(DescribeSchedule(Minimal("a")), "cron 0 3 * * *");
}

TEST(ScheduleFileTest, ArgsAreCanonicalSoEqualObjectsCompareEqual) {
  EXPECT_EQ(*CanonicalArgs(R"({ "b": 1, "a": [true, null] })"), R"({"a":[true,null],"b":1})");
  EXPECT_HAS(CanonicalArgs("{nope").status().message(),
             "args are not valid JSON: parse error at line 1");
  EXPECT_HAS(CanonicalArgs("[]").status().message(), "args must be a JSON object");
}

TEST(ScheduleFileTest, ArgsOver1MibOfJsonTextAreRefusedWithTheirSize) {
  // {"a": "xxx..."} as PostgreSQL prints it: 9 bytes around the string.
  std::string at_limit = R"({"a":")" + std::string((1 << 20) - 9, 'x') + R"("})";
  EXPECT_TRUE(CanonicalArgs(at_limit).ok());
  std::string over = R"({"a":")" + std::string((1 << 20) - 8, 'x') + R"("})";
  EXPECT_HAS(CanonicalArgs(over).status().message(),
             "args are 1048577 bytes of JSON text (as PostgreSQL prints them), over the 1 MiB "
             "limit");
  EXPECT_HAS(ParseError(One(R"({"every": "1h", "task": "t", "args": )" + over + "}")),
             "s.json: schedule \"job\": args are 1048577 bytes of JSON text");
}

}  // namespace
}  // namespace pgjobs::store
