// Internals of pgjobs::CronExpr (include/pgjobs/cron.h): the parsed fields,
// the parser and formatter, and the search for the next matching wall time.
#ifndef PGJOBS_SCHEDULER_CRON_INTERNAL_H_
#define PGJOBS_SCHEDULER_CRON_INTERNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgjobs/status.h"

namespace pgjobs::scheduler {

// The value of a CronExpr. Bit n of a set means value n matches.
struct CronFields {
  uint64_t seconds = 1;        // 0-59
  uint64_t minutes = 0;        // 0-59
  uint64_t hours = 0;          // 0-23
  uint64_t days_of_month = 0;  // 1-31
  uint64_t months = 0;         // 1-12
  uint64_t days_of_week = 0;   // 0-6, 0 = Sunday
  bool has_seconds = false;
  bool seconds_wild = false;  // written with "*" or "/" somewhere
  bool minutes_wild = false;
  bool hours_wild = false;
  bool day_of_month_star = false;  // written starting with "*"
  bool day_of_week_star = false;
};

// Parses a cron expression; errors read as documented in cron.h.
Result<CronFields> ParseCronFields(std::string_view text);

// The canonical text of fields, which ParseCronFields reads back unchanged.
std::string FormatCronFields(const CronFields& fields);

// Wall times are counted in seconds since 1970-01-01 00:00:00 local time,
// instants in seconds since the Unix epoch.
inline constexpr int64_t kSecondsPerDay = 86400;

// The smallest wall time in [from, limit] matching `fields` (ignoring time
// zones: every wall time exists here), or nullopt.
std::optional<int64_t> NextMatchingWallTime(const CronFields& fields, int64_t from, int64_t limit);

// The bits of "lo-hi/step"; with fold_seven (day-of-week) 7 counts as 0.
uint64_t StepBits(int lo, int hi, int step, bool fold_seven);

// `text` in double quotes for an error message: quotes and backslashes
// escaped, non-printable bytes as \xNN, cut with "..." after about 64
// characters.
std::string QuoteForMessage(std::string_view text);

// Proleptic Gregorian calendar helpers (H. Hinnant's algorithms).
struct CivilDate {
  int64_t year;
  unsigned month;  // 1-12
  unsigned day;    // 1-31
};

constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

constexpr int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = FloorDiv(year, 400);
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

constexpr CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

// 0 = Sunday; 1970-01-01 was a Thursday.
constexpr unsigned WeekdayFromDays(int64_t days) {
  return static_cast<unsigned>(FloorDiv(days, 7) * -7 + days + 4) % 7;
}

constexpr bool IsLeapYear(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

constexpr unsigned DaysInMonth(int64_t year, unsigned month) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace pgjobs::scheduler

#endif  // PGJOBS_SCHEDULER_CRON_INTERNAL_H_
