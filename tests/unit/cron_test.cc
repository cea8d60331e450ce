// CronExpr::NextAfter without daylight saving: fields, day rules, leap years,
// impossible dates; and TimeZone.
#include "pgjobs/cron.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "cron_test_util.h"

namespace pgjobs {
namespace {

using crontest::At;
using crontest::Cron;
using crontest::Locals;
using crontest::Zone;
using std::chrono::sys_seconds;

// The next n fire times in UTC, as text.
std::vector<std::string> NextUtc(std::string_view expr, std::string_view after, int n) {
  return Locals(Cron(expr).NextN(At(after), TimeZone::Utc(), n), TimeZone::Utc());
}

TEST(CronNextTest, FiresEveryMinuteStrictlyAfterTheInstant) {
  EXPECT_EQ(NextUtc("* * * * *", "2026-01-01T00:00Z", 3),
            (std::vector<std::string>{"2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00",
                                      "2026-01-01T00:03:00+00:00"}));
  EXPECT_EQ(NextUtc("* * * * *", "2026-01-01T00:00:30Z", 1),
            (std::vector<std::string>{"2026-01-01T00:01:00+00:00"}));
}

TEST(CronNextTest, CarriesFromMinuteThroughHourDayMonthAndYear) {
  EXPECT_EQ(NextUtc("*/15 * * * *", "2026-12-31T23:50Z", 2),
            (std::vector<std::string>{"2027-01-01T00:00:00+00:00", "2027-01-01T00:15:00+00:00"}));
  EXPECT_EQ(NextUtc("0 0 1 1 *", "2026-01-01T00:00Z", 2),
            (std::vector<std::string>{"2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"}));
  EXPECT_EQ(NextUtc("30 17 * * *", "2026-05-31T18:00Z", 1),
            (std::vector<std::string>{"2026-06-01T17:30:00+00:00"}));
  EXPECT_EQ(NextUtc("5 4 * 2 *", "2026-02-28T04:05Z", 1),
            (std::vector<std::string>{"2027-02-01T04:05:00+00:00"}));
}

TEST(CronNextTest, HonoursListsRangesStepsAndNames) {
  EXPECT_EQ(NextUtc("0,30 9-10 * * *", "2026-03-10T08:00Z", 5),
            (std::vector<std::string>{"2026-03-10T09:00:00+00:00", "2026-03-10T09:30:00+00:00",
                                      "2026-03-10T10:00:00+00:00", "2026-03-10T10:30:00+00:00",
                                      "2026-03-11T09:00:00+00:00"}));
  EXPECT_EQ(NextUtc("5/20 * * * *", "2026-03-10T08:00Z", 4),
            (std::vector<std::string>{"2026-03-10T08:05:00+00:00", "2026-03-10T08:25:00+00:00",
                                      "2026-03-10T08:45:00+00:00", "2026-03-10T09:05:00+00:00"}));
  EXPECT_EQ(NextUtc("0 12 * FEB-MAR/1 SAT,sun", "2026-01-01T00:00Z", 3),
            (std::vector<std::string>{"2026-02-01T12:00:00+00:00", "2026-02-07T12:00:00+00:00",
                                      "2026-02-08T12:00:00+00:00"}));
}

TEST(CronNextTest, TreatsWeekdaySevenAsSunday) {
  // 2026-01-04 is a Sunday.
  for (const char* expr : {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * 6-7"}) {
    EXPECT_EQ(NextUtc(expr, "2026-01-03T12:00Z", 1),
              (std::vector<std::string>{"2026-01-04T00:00:00+00:00"}))
        << expr;
  }
}

TEST(CronNextTest, FiresOnEitherDayFieldWhenBothAreRestricted) {
  // Vixie cron: the 13th OR a Friday. 2026-01-02 is a Friday, the 13th a Tuesday.
  EXPECT_EQ(NextUtc("0 0 13 * FRI", "2026-01-01T00:00Z", 4),
            (std::vector<std::string>{"2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
                                      "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"}));
  EXPECT_EQ(NextUtc("0 0 1 * MON", "2026-01-01T00:00Z", 3),
            (std::vector<std::string>{"2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00",
                                      "2026-01-19T00:00:00+00:00"}));
  EXPECT_EQ(NextUtc("0 0 1 * MON", "2026-01-26T12:00Z", 2),
            (std::vector<std::string>{"2026-02-01T00:00:00+00:00", "2026-02-02T00:00:00+00:00"}));
}

TEST(CronNextTest, RequiresBothDayFieldsWhenEitherStartsWithAStar) {
  EXPECT_EQ(NextUtc("0 0 * * FRI", "2026-01-01T00:00Z", 2),
            (std::vector<std::string>{"2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00"}));
  // Odd days of the month that are Fridays.
  EXPECT_EQ(NextUtc("0 0 */2 * FRI", "2026-01-01T00:00Z", 3),
            (std::vector<std::string>{"2026-01-09T00:00:00+00:00", "2026-01-23T00:00:00+00:00",
                                      "2026-02-13T00:00:00+00:00"}));
  // "*/1" starts with a star, so the days combine with AND: every 13th.
  EXPECT_EQ(NextUtc("0 0 13 * */1", "2026-01-01T00:00Z", 1),
            (std::vector<std::string>{"2026-01-13T00:00:00+00:00"}));
  EXPECT_EQ(NextUtc("0 0 13 * *", "2026-01-01T00:00Z", 1),
            (std::vector<std::string>{"2026-01-13T00:00:00+00:00"}));
}

TEST(CronNextTest, FindsFebruary29InLeapYearsOnly) {
  EXPECT_EQ(NextUtc("0 0 29 2 *", "2026-01-01T00:00Z", 3),
            (std::vector<std::string>{"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00",
                                      "2036-02-29T00:00:00+00:00"}));
  // 2100 is not a leap year: the longest wait there is, eight years.
  EXPECT_EQ(NextUtc("0 0 29 2 *", "2096-02-29T00:00Z", 1),
            (std::vector<std::string>{"2104-02-29T00:00:00+00:00"}));
  EXPECT_EQ(NextUtc("0 0 29 2 *", "2000-01-01T00:00Z", 1),
            (std::vector<std::string>{"2000-02-29T00:00:00+00:00"}));
  // With a restricted weekday, the 29th OR a Monday, in February only.
  EXPECT_EQ(NextUtc("0 0 29 2 MON", "2026-01-01T00:00Z", 1),
            (std::vector<std::string>{"2026-02-02T00:00:00+00:00"}));
}

TEST(CronNextTest, SkipsMonthsWithoutTheDay) {
  EXPECT_EQ(NextUtc("0 0 31 * *", "2026-03-31T00:00Z", 3),
            (std::vector<std::string>{"2026-05-31T00:00:00+00:00", "2026-07-31T00:00:00+00:00",
                                      "2026-08-31T00:00:00+00:00"}));
}

TEST(CronNextTest, ReturnsNothingForImpossibleDates) {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *", "0 0 0 30 2 *"}) {
    EXPECT_FALSE(Cron(expr).NextAfter(At("2026-01-01T00:00Z"), TimeZone::Utc()).has_value())
        << expr;
    EXPECT_FALSE(Cron(expr).NextAfter(At("2026-01-01T00:00Z"), Zone("Europe/Paris")).has_value())
        << expr;
    EXPECT_TRUE(Cron(expr).NextN(At("2026-01-01T00:00Z"), TimeZone::Utc(), 3).empty());
  }
}

TEST(CronNextTest, SaysWhyAnImpossibleDateNeverFires) {
  EXPECT_EQ("day 31 never occurs in April", Cron("0 0 31 4 *").NeverFiresReason());
  EXPECT_EQ("days 30 and 31 never occur in February", Cron("0 0 30,31 2 *").NeverFiresReason());
  EXPECT_EQ("day 31 never occurs in February, April, June, September or November",
            Cron("0 0 0 31 2,4,6,9,11 *").NeverFiresReason());
  // Expressions that fire have no reason, the OR rule of two restricted day
  // fields included.
  for (const char* expr : {"0 0 31 * *", "0 0 29 2 *", "0 0 31 4 MON", "0 0 * 4 *"}) {
    EXPECT_EQ("", Cron(expr).NeverFiresReason()) << expr;
  }
}

TEST(CronNextTest, ReturnsNothingOutsideTheSupportedYears) {
  CronExpr every_minute = Cron("* * * * *");
  EXPECT_FALSE(every_minute.NextAfter(sys_seconds::max(), TimeZone::Utc()).has_value());
  EXPECT_FALSE(every_minute.NextAfter(sys_seconds::min(), TimeZone::Utc()).has_value());
  EXPECT_FALSE(every_minute.NextAfter(At("9999-06-01T00:00Z"), Zone("Asia/Tokyo")).has_value());
  EXPECT_TRUE(every_minute.NextAfter(At("9998-06-01T00:00Z"), Zone("Asia/Tokyo")).has_value());
  EXPECT_TRUE(every_minute.NextAfter(At("0001-06-01T00:00Z"), Zone("Asia/Tokyo")).has_value());
}

TEST(CronNextTest, HonoursTheSecondsField) {
  EXPECT_EQ(NextUtc("*/20 * * * * *", "2026-01-01T00:00:00Z", 4),
            (std::vector<std::string>{"2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00",
                                      "2026-01-01T00:01:00+00:00", "2026-01-01T00:01:20+00:00"}));
  EXPECT_EQ(NextUtc("30 0 12 * * *", "2026-01-01T12:00:30Z", 1),
            (std::vector<std::string>{"2026-01-02T12:00:30+00:00"}));
  EXPECT_EQ(NextUtc("59 59 23 31 12 *", "2026-06-01T00:00Z", 1),
            (std::vector<std::string>{"2026-12-31T23:59:59+00:00"}));
}

TEST(CronNextTest, EvaluatesInTheZonesWallTime) {
  TimeZone tokyo = Zone("Asia/Tokyo");
  EXPECT_EQ(Locals(Cron("0 9 * * *").NextN(At("2026-01-01T00:00Z"), tokyo, 2), tokyo),
            (std::vector<std::string>{"2026-01-02T09:00:00+09:00", "2026-01-03T09:00:00+09:00"}));
  TimeZone kolkata = Zone("Asia/Kolkata");
  EXPECT_EQ(Locals(Cron("0 0 * * *").NextN(At("2026-01-01T00:00Z"), kolkata, 1), kolkata),
            (std::vector<std::string>{"2026-01-02T00:00:00+05:30"}));
}

TEST(CronNextTest, NextNReturnsNothingForZeroOrNegativeCounts) {
  EXPECT_TRUE(Cron("* * * * *").NextN(At("2026-01-01T00:00Z"), TimeZone::Utc(), 0).empty());
  EXPECT_TRUE(Cron("* * * * *").NextN(At("2026-01-01T00:00Z"), TimeZone::Utc(), -3).empty());
}

TEST(CronTimeZoneTest, LoadsIanaNames) {
  EXPECT_EQ(Zone("Europe/Paris").name(), "Europe/Paris");
  EXPECT_EQ(Zone("UTC").name(), "UTC");
  EXPECT_TRUE(Zone("UTC") == TimeZone::Utc());
  EXPECT_TRUE(Zone("UTC") == TimeZone());
  EXPECT_EQ(Zone("America/New_York").name(), "America/New_York");
  EXPECT_TRUE(Zone("Europe/Paris") == Zone("Europe/Paris"));
  EXPECT_FALSE(Zone("Europe/Paris") == Zone("Europe/Berlin"));
}

TEST(CronTimeZoneTest, RejectsUnknownZonesWithAHint) {
  Result<TimeZone> mars = TimeZone::Load("Mars/Base");
  ASSERT_FALSE(mars.ok());
  EXPECT_EQ(mars.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(mars.status().message(),
            "unknown time zone \"Mars/Base\"; use an IANA name such as Europe/Paris or UTC");
  EXPECT_EQ(TimeZone::Load("").status().message(),
            "empty time zone name; use an IANA name such as Europe/Paris or UTC");
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
  EXPECT_FALSE(TimeZone::Load("europe/paris").ok());
  // The host's own zone is no zone for a schedule fired by any host.
  EXPECT_EQ(TimeZone::Load("localtime").status().message(),
            "time zone \"localtime\" is each host's own setting, so schedulers on different hosts "
            "would disagree; use an IANA name such as Europe/Paris or UTC");
}

}  // namespace
}  // namespace pgjobs
