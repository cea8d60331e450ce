// CronExpr::NextAfter across daylight saving transitions (rules in cron.h).
//
// 2026 transitions used here, in local time:
//   America/New_York     Mar  8 02:00 -> 03:00 (-05 -> -04)   Nov  1 02:00 -> 01:00
//   Europe/Paris         Mar 29 02:00 -> 03:00 (+01 -> +02)   Oct 25 03:00 -> 02:00
//   Australia/Lord_Howe  Oct  4 02:00 -> 02:30 (+10:30 -> +11) Apr 5 02:00 -> 01:30
//   Australia/Sydney     Oct  4 02:00 -> 03:00 (+10 -> +11)   Apr  5 03:00 -> 02:00
//   America/Santiago     Sep  6 00:00 -> 01:00 (-04 -> -03)   Apr  5 00:00 -> Apr 4 23:00
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cron_test_util.h"
#include "pgjobs/cron.h"

namespace pgjobs {
namespace {

using crontest::At;
using crontest::Cron;
using crontest::Locals;
using crontest::Zone;

struct DstCase {
  const char* why;
  const char* zone;
  const char* expr;
  const char* after;                  // local time with offset
  std::vector<std::string> expected;  // the next fire times, local with offset
};

void RunCases(const std::vector<DstCase>& cases) {
  for (const DstCase& c : cases) {
    TimeZone zone = Zone(c.zone);
    std::vector<std::string> got =
        Locals(Cron(c.expr).NextN(At(c.after), zone, static_cast<int>(c.expected.size())), zone);
    EXPECT_EQ(got, c.expected) << c.why << ": \"" << c.expr << "\" in " << c.zone << " after "
                               << c.after;
  }
}

TEST(CronDstTest, FiresASkippedFixedTimeOnceAtTheEndOfTheGap) {
  RunCases({
      {"02:30 does not exist; fires at the transition, 03:00 EDT",
       "America/New_York",
       "30 2 * * *",
       "2026-03-07T12:00-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
      {"four skipped times fire once",
       "America/New_York",
       "0,15,30,45 2 * * *",
       "2026-03-08T01:50-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T02:15:00-04:00"}},
      {"a skipped time and the first time after the gap fire once",
       "America/New_York",
       "0 2,3 * * *",
       "2026-03-08T00:00-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T03:00:00-04:00"}},
      {"a time after the gap is unaffected",
       "America/New_York",
       "30 3 * * *",
       "2026-03-08T00:00-05:00",
       {"2026-03-08T03:30:00-04:00"}},
      {"seconds field, fixed time",
       "America/New_York",
       "15 30 2 * * *",
       "2026-03-08T00:00-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:15-04:00"}},
      {"Paris: 02:00 is the first skipped minute",
       "Europe/Paris",
       "0 2 * * *",
       "2026-03-28T12:00+01:00",
       {"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
      {"Paris",
       "Europe/Paris",
       "30 2 * * *",
       "2026-03-28T12:00+01:00",
       {"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
      {"Lord Howe moves 30 minutes: 02:15 fires at 02:30",
       "Australia/Lord_Howe",
       "15 2 * * *",
       "2026-10-03T12:00+10:30",
       {"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
      {"Lord Howe: 02:45 exists",
       "Australia/Lord_Howe",
       "45 2 * * *",
       "2026-10-03T12:00+10:30",
       {"2026-10-04T02:45:00+11:00"}},
      {"Sydney, October",
       "Australia/Sydney",
       "30 2 * * *",
       "2026-10-03T12:00+10:00",
       {"2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"}},
      {"Santiago skips midnight",
       "America/Santiago",
       "0 0 * * *",
       "2026-09-05T12:00-04:00",
       {"2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"}},
      {"Santiago: only on the day itself",
       "America/Santiago",
       "30 0 6 9 *",
       "2026-09-01T00:00-04:00",
       {"2026-09-06T01:00:00-03:00", "2027-09-06T00:30:00-03:00"}},
  });
}

TEST(CronDstTest, SkipsMissingWallTimesOfPeriodicExpressions) {
  RunCases({
      {"*/15: 02:00-02:45 do not exist",
       "America/New_York",
       "*/15 * * * *",
       "2026-03-08T01:40-05:00",
       {"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"}},
      {"hour *: 02:30 does not exist",
       "America/New_York",
       "30 * * * *",
       "2026-03-08T01:00-05:00",
       {"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"}},
      {"hour step: 02:30 does not exist",
       "America/New_York",
       "30 */2 * * *",
       "2026-03-08T00:00-05:00",
       {"2026-03-08T00:30:00-05:00", "2026-03-08T04:30:00-04:00"}},
      {"minute step in a skipped hour: nothing that day",
       "Europe/Paris",
       "*/30 2 * * *",
       "2026-03-29T00:00+01:00",
       {"2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
      {"Lord Howe: 02:30 is real",
       "Australia/Lord_Howe",
       "*/15 * * * *",
       "2026-10-04T01:50+10:30",
       {"2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"}},
      {"@hourly in Sydney",
       "Australia/Sydney",
       "@hourly",
       "2026-10-04T01:30+10:00",
       {"2026-10-04T03:00:00+11:00", "2026-10-04T04:00:00+11:00"}},
  });
}

TEST(CronDstTest, FiresARepeatedFixedTimeOnlyAtItsFirstOccurrence) {
  RunCases({
      {"01:30 happens twice",
       "America/New_York",
       "30 1 * * *",
       "2026-11-01T00:00-04:00",
       {"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
      {"asked from within the first copy",
       "America/New_York",
       "30 1 * * *",
       "2026-11-01T01:40-04:00",
       {"2026-11-02T01:30:00-05:00"}},
      {"asked from within the second copy, before 01:30",
       "America/New_York",
       "30 1 * * *",
       "2026-11-01T01:10-05:00",
       {"2026-11-02T01:30:00-05:00"}},
      {"01:00 is the start of the repeat",
       "America/New_York",
       "0 1 * * *",
       "2026-11-01T00:00-04:00",
       {"2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"}},
      {"02:00 happens once, after the repeat",
       "America/New_York",
       "0 2 * * *",
       "2026-11-01T00:00-04:00",
       {"2026-11-01T02:00:00-05:00"}},
      {"fixed list, both inside the repeat",
       "America/New_York",
       "15,45 1 * * *",
       "2026-11-01T00:00-04:00",
       {"2026-11-01T01:15:00-04:00", "2026-11-01T01:45:00-04:00", "2026-11-02T01:15:00-05:00"}},
      {"seconds field, fixed time",
       "America/New_York",
       "0 30 1 * * *",
       "2026-11-01T00:00-04:00",
       {"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
      {"Paris",
       "Europe/Paris",
       "30 2 * * *",
       "2026-10-25T00:00+02:00",
       {"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
      {"Paris: 03:00 happens once",
       "Europe/Paris",
       "0 3 * * *",
       "2026-10-25T00:00+02:00",
       {"2026-10-25T03:00:00+01:00"}},
      {"Lord Howe repeats 30 minutes",
       "Australia/Lord_Howe",
       "45 1 * * *",
       "2026-04-05T00:00+11:00",
       {"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},
      {"Sydney, April",
       "Australia/Sydney",
       "30 2 * * *",
       "2026-04-05T00:00+11:00",
       {"2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"}},
      {"Santiago repeats the last hour of Saturday",
       "America/Santiago",
       "30 23 * * *",
       "2026-04-04T12:00-03:00",
       {"2026-04-04T23:30:00-03:00", "2026-04-05T23:30:00-04:00"}},
  });
}

TEST(CronDstTest, FiresPeriodicExpressionsInBothCopiesOfARepeatedHour) {
  RunCases({
      {"*/30: both copies of 01:xx",
       "America/New_York",
       "*/30 * * * *",
       "2026-11-01T00:50-04:00",
       {"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"}},
      {"@hourly",
       "America/New_York",
       "0 * * * *",
       "2026-11-01T00:30-04:00",
       {"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
      {"minute * within hour 1",
       "America/New_York",
       "* 1 * * *",
       "2026-11-01T01:58-04:00",
       {"2026-11-01T01:59:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:01:00-05:00"}},
      {"minute step within hour 1, asked from the second copy",
       "America/New_York",
       "*/20 1 * * *",
       "2026-11-01T01:10-05:00",
       {"2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00", "2026-11-02T01:00:00-05:00"}},
      {"seconds step",
       "America/New_York",
       "*/20 30 1 * * *",
       "2026-11-01T01:29:50-04:00",
       {"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:20-04:00", "2026-11-01T01:30:40-04:00",
        "2026-11-01T01:30:00-05:00", "2026-11-01T01:30:20-05:00"}},
      {"Paris: hour step",
       "Europe/Paris",
       "30 */1 * * *",
       "2026-10-25T01:45+02:00",
       {"2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"}},
      {"Lord Howe",
       "Australia/Lord_Howe",
       "*/15 * * * *",
       "2026-04-05T01:40+11:00",
       {"2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30",
        "2026-04-05T02:00:00+10:30"}},
      {"Sydney",
       "Australia/Sydney",
       "0 * * * *",
       "2026-04-05T01:30+11:00",
       {"2026-04-05T02:00:00+11:00", "2026-04-05T02:00:00+10:00", "2026-04-05T03:00:00+10:00"}},
  });
}

}  // namespace
}  // namespace pgjobs
