// The django-celery-beat mapping (src/cli/celery_beat.h), without a database.
// tests/python/test_celery_beat_import.py checks it against real tables and
// Celery's own fire times.
#include "cli/celery_beat.h"

#include <gtest/gtest.h>

#include "tests/support/expect_has.h"

namespace pgjobs::cli::celery {
namespace {

using std::chrono::sys_seconds;

const sys_seconds kNow{std::chrono::seconds(1796000000)};  // 2026-11-29

uint64_t Bits(std::initializer_list<int> values) {
  uint64_t b = 0;
  for (int v : values) b |= uint64_t{1} << v;
  return b;
}

TEST(CeleryBeatTest, ParsesCelerysCrontabGrammar) {
  EXPECT_EQ(Bits({0, 15, 30, 45}), *ParseCeleryField("*/15", 0, 60));
  EXPECT_EQ(Bits({2, 4, 6}), *ParseCeleryField("2-7/2", 0, 24));
  EXPECT_EQ(Bits({1, 2, 3, 4, 5}), *ParseCeleryField("mon-fri", 0, 7));
  EXPECT_EQ(Bits({0, 1, 5, 6}), *ParseCeleryField("fri-Monday", 0, 7));  // wraps
  EXPECT_EQ(Bits({22, 23, 0, 1}), *ParseCeleryField("22-1", 0, 24));
  EXPECT_EQ(Bits({1, 11, 21, 31}), *ParseCeleryField("*/10", 1, 31));
  EXPECT_EQ(Bits({8, 20}), *ParseCeleryField(" 8, 20 ", 0, 24));
}

TEST(CeleryBeatTest, RefusesWhatCeleryRefusesNamingTheValue) {
  EXPECT_HAS(ParseCeleryField("61", 0, 60).status().message(), "\"61\" is out of range 0-59");
  EXPECT_HAS(ParseCeleryField("0", 1, 31).status().message(), "\"0\" is out of range 1-31");
  EXPECT_HAS(ParseCeleryField("1,,2", 0, 60).status().message(), "an empty part between commas");
  EXPECT_HAS(ParseCeleryField("*/0", 0, 60).status().message(), "step 0");
  EXPECT_HAS(ParseCeleryField("5/10", 0, 60).status().message(), "a step only after * or a range");
  EXPECT_HAS(ParseCeleryField("{0, 30}", 0, 60).status().message(),
             "neither a number nor a weekday");
}

PeriodicTask Crontab(std::string m, std::string h, std::string dow, std::string dom,
                     std::string moy, std::string tz = "UTC") {
  PeriodicTask t;
  t.name = "t";
  t.task = "app.tasks.t";
  t.kind = "crontab";
  t.minute = m;
  t.hour = h;
  t.day_of_week = dow;
  t.day_of_month = dom;
  t.month_of_year = moy;
  t.timezone = tz;
  return t;
}

TEST(CeleryBeatTest, WritesCrontabsInCronOrder) {
  EXPECT_EQ("0 3 * * *", *CrontabToCron(Crontab("0", "3", "*", "*", "*"), false));
  EXPECT_EQ("*/15 * * * *", *CrontabToCron(Crontab("*/15", "*", "*", "*", "*"), false));
  EXPECT_EQ("0,15,30,45 0-23 * * *", *CrontabToCron(Crontab("*/15", "*", "*", "*", "*"), true));
  EXPECT_EQ("0 6 1 * *", *CrontabToCron(Crontab("0", "6", "*", "1", "*"), false));
  EXPECT_EQ("0 0 11 5 *", *CrontabToCron(Crontab("0", "0", "*", "11", "5"), false));
  // A full weekday list is no restriction: Celery ANDs it, cron must too.
  EXPECT_EQ("0 0 1 * *", *CrontabToCron(Crontab("0", "0", "0-6", "1", "*"), false));
  // Both restricted: kept exact only as "*/n", which cron ANDs.
  EXPECT_EQ("0 0 */7 * 1", *CrontabToCron(Crontab("0", "0", "1", "1,8,15,22,29", "*"), false));
  EXPECT_EQ("0 0 1-7 * */3", *CrontabToCron(Crontab("0", "0", "0,3,6", "1-7", "*"), false));
  auto both = CrontabToCron(Crontab("0", "0", "mon", "1-7", "*"), false);
  ASSERT_FALSE(both.ok());
  EXPECT_HAS(both.status().message(), "both restricted");
}

TEST(CeleryBeatTest, MapsTheFieldsAndNamesWhatItLeavesOut) {
  PeriodicTask cron = Crontab("0", "3", "*", "*", "*", "Europe/Paris");
  cron.name = "cleanup every night";
  cron.kwargs = R"({"days": 30})";
  cron.queue = "maintenance";
  cron.priority = 2;
  cron.expire_seconds = 60;
  PeriodicTask dup = cron;
  dup.name = "cleanup-every-night";
  PeriodicTask solar;
  solar.name = "sun";
  solar.task = "x";
  solar.kind = "solar";
  PeriodicTask unknown_zone = Crontab("0", "3", "*", "*", "*", "Mars/Olympus");
  unknown_zone.name = "mars";
  auto out = MapPeriodicTasks({cron, dup, solar, unknown_zone}, PriorityOrder::kSmallerFirst, kNow);
  ASSERT_EQ(4u, out.size());
  ASSERT_TRUE(out[0].def) << out[0].left_out_reason;
  const store::ScheduleDef& d = *out[0].def;
  EXPECT_EQ("cleanup-every-night", d.name);
  EXPECT_EQ("0 3 * * *", d.cron);
  EXPECT_EQ("Europe/Paris", d.time_zone);
  EXPECT_EQ(R"({"days":30})", d.args);
  EXPECT_EQ("maintenance", d.queue);
  EXPECT_EQ(7, d.priority);  // Redis: 2 is more urgent than the default
  EXPECT_EQ("skip", d.misfire);
  EXPECT_EQ("skip", d.overlap);
  EXPECT_FALSE(out[1].def);
  EXPECT_HAS(out[1].left_out_reason, "already that of \"cleanup every night\"");
  EXPECT_HAS(out[2].left_out_reason, "solar schedule");
  EXPECT_HAS(out[3].left_out_reason, "\"Mars/Olympus\" is not in this system's time zone");
  std::string file = FormatImportFile(out, "dbname=app");
  EXPECT_HAS(file, "// Left out (3):");
  EXPECT_HAS(file, "// beat name \"cleanup every night\"");
  auto parsed = store::ParseScheduleFile(file, "f", kNow);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << "\n" << file;
  ASSERT_EQ(1u, parsed->size());
  EXPECT_EQ(d, (*parsed)[0]);
}

TEST(CeleryBeatTest, AOneOffCrontabBecomesAOneOffWithoutAZone) {
  PeriodicTask t = Crontab("0", "9", "*", "*", "*", "Europe/Paris");
  t.name = "launch";
  t.one_off = true;
  auto out = MapPeriodicTasks({t}, PriorityOrder::kUnknown, kNow);
  ASSERT_TRUE(out[0].def) << out[0].left_out_reason;
  EXPECT_EQ(store::ScheduleKind::kOnce, out[0].def->kind);
  EXPECT_EQ("UTC", out[0].def->time_zone) << "the instant is absolute";
  // 09:00 in Paris (winter) is 08:00 UTC.
  EXPECT_EQ("08:00:00Z", store::FormatInstant(out[0].def->at).substr(11));
  EXPECT_TRUE(store::ValidateScheduleDef(*out[0].def, kNow).ok());
}

TEST(CeleryBeatTest, IntervalsTickOnTheGridOfTheLastRun) {
  PeriodicTask t;
  t.name = "sync";
  t.task = "app.tasks.sync";
  t.kind = "interval";
  t.every = 4;
  t.period = "hours";
  t.last_run_at = int64_t{1796000000} * 1000000 - 1500000;  // 1.5 s before kNow
  t.total_run_count = 3;
  auto out = MapPeriodicTasks({t}, PriorityOrder::kUnknown, kNow);
  ASSERT_TRUE(out[0].def) << out[0].left_out_reason;
  EXPECT_EQ(4 * 3600 * 1000, out[0].def->every_ms);
  EXPECT_EQ(int64_t{1796000000 + 4 * 3600 - 1} * 1000000, *out[0].def->start_at);
  EXPECT_EQ(3, out[0].run_count);
  t.period = "fortnights";
  EXPECT_HAS(MapPeriodicTasks({t}, PriorityOrder::kUnknown, kNow)[0].left_out_reason,
             "period \"fortnights\" is unknown");
}

}  // namespace
}  // namespace pgjobs::cli::celery
