// CronExpr: the search for the next fire time.
//
// The search runs on wall times (seconds since 1970-01-01 00:00 local time)
// and advances field by field with carry: a month that does not match jumps
// to the next matching month, a day to the next matching day, an hour to the
// next matching hour, and so on; it never steps minute by minute.
//
// Time zones enter through ZoneView (cron_zone.h). The daylight saving rules
// (cron.h) become:
//  - periodic: walk the zone's segments of constant offset from `instant`
//    on; in each, the first matching wall time the segment shows is the
//    answer. Wall times in a gap belong to no segment and never fire; wall
//    times shown twice fire twice.
//  - fixed-time: each matching wall time W fires at FirstReach(W), the first
//    instant at which the wall clock reaches or passes W. FirstReach never
//    decreases as W grows, and FirstReach(W) <= instant exactly when the
//    clock had already reached W by then, that is W <= HighWaterMark(instant).
//    So the answer is FirstReach of the first matching W after the mark.
#include "pgjobs/cron.h"

#include <algorithm>
#include <bit>
#include <chrono>

#include "scheduler/cron_internal.h"
#include "scheduler/cron_zone.h"

namespace pgjobs {
namespace scheduler {
namespace {

// Instants NextAfter accepts: years 1 to 9998, which leaves room for offsets
// and the calendar arithmetic.
constexpr int64_t kMinInstant = DaysFromCivil(1, 1, 2) * kSecondsPerDay;
constexpr int64_t kMaxInstant = DaysFromCivil(9998, 12, 31) * kSecondsPerDay;

bool Has(uint64_t bits, unsigned v) { return (bits >> v) & 1; }

// The smallest value >= from in bits (values up to 63), or -1.
int NextValue(uint64_t bits, int from) {
  if (from > 63) return -1;
  uint64_t rest = bits >> from;
  return rest == 0 ? -1 : from + std::countr_zero(rest);
}

// Vixie cron: when either day field starts with "*", both must match;
// otherwise either may.
bool DayMatches(const CronFields& f, unsigned day, unsigned weekday) {
  bool dom = Has(f.days_of_month, day);
  bool dow = Has(f.days_of_week, weekday);
  return f.day_of_month_star || f.day_of_week_star ? dom && dow : dom || dow;
}

// The first day of the next month in f.months after `date`'s month.
int64_t NextMonthStart(const CronFields& f, const CivilDate& date) {
  int64_t year = date.year;
  int month = NextValue(f.months, static_cast<int>(date.month) + 1);
  if (month < 0 || month > 12) {
    ++year;
    month = NextValue(f.months, 1);
  }
  return DaysFromCivil(year, static_cast<unsigned>(month), 1) * kSecondsPerDay;
}

// The start of the next matching day after `days` within its month, or the
// start of the next month.
int64_t NextDayStart(const CronFields& f, const CivilDate& date, int64_t days) {
  unsigned last = DaysInMonth(date.year, date.month);
  unsigned weekday = WeekdayFromDays(days);
  for (unsigned day = date.day + 1; day <= last; ++day) {
    weekday = (weekday + 1) % 7;
    if (DayMatches(f, day, weekday)) return (days + day - date.day) * kSecondsPerDay;
  }
  return (days + last - date.day + 1) * kSecondsPerDay;
}

// Within a matching day: `day_start + second_of_day` when it matches, else a
// later wall time with no match in between.
int64_t SkipWithinDay(const CronFields& f, int64_t day_start, int second_of_day) {
  int hour = second_of_day / 3600;
  int minute = second_of_day / 60 % 60;
  int second = second_of_day % 60;
  int h = NextValue(f.hours, hour);
  if (h < 0) return day_start + kSecondsPerDay;
  if (h > hour) return day_start + h * 3600;
  int m = NextValue(f.minutes, minute);
  if (m < 0) return day_start + (hour + 1) * 3600;
  if (m > minute) return day_start + hour * 3600 + m * 60;
  int s = NextValue(f.seconds, second);
  if (s < 0) return day_start + hour * 3600 + (minute + 1) * 60;
  return day_start + hour * 3600 + minute * 60 + s;
}

// `wall` when it matches, else a later wall time with no match in between.
int64_t SkipToCandidate(const CronFields& f, int64_t wall) {
  int64_t days = FloorDiv(wall, kSecondsPerDay);
  CivilDate date = CivilFromDays(days);
  if (!Has(f.months, date.month)) return NextMonthStart(f, date);
  if (!DayMatches(f, date.day, WeekdayFromDays(days))) return NextDayStart(f, date, days);
  return SkipWithinDay(f, days * kSecondsPerDay, static_cast<int>(wall - days * kSecondsPerDay));
}

std::optional<int64_t> NextPeriodic(const CronFields& f, const ZoneView& zone, int64_t instant,
                                    int64_t limit) {
  for (int64_t from = instant + 1; from <= limit;) {
    ZoneSegment segment = zone.SegmentAt(from);
    int64_t last = std::min(segment.end - 1, limit);
    std::optional<int64_t> wall =
        NextMatchingWallTime(f, from + segment.offset, last + segment.offset);
    if (wall) return *wall - segment.offset;
    from = std::max(segment.end, from + 1);
  }
  return std::nullopt;
}

std::optional<int64_t> NextFixed(const CronFields& f, const ZoneView& zone, int64_t instant,
                                 int64_t limit) {
  int64_t mark = zone.HighWaterMark(instant);
  std::optional<int64_t> wall = NextMatchingWallTime(f, mark + 1, limit + kSecondsPerDay);
  if (!wall) return std::nullopt;
  int64_t fire = zone.FirstReach(*wall);
  if (fire > limit) return std::nullopt;
  return fire;
}

}  // namespace

std::optional<int64_t> NextMatchingWallTime(const CronFields& f, int64_t from, int64_t limit) {
  if (f.months == 0) return std::nullopt;
  for (int64_t wall = from; wall <= limit;) {
    int64_t next = SkipToCandidate(f, wall);
    if (next == wall) return wall;
    wall = next;
  }
  return std::nullopt;
}

}  // namespace scheduler

CronExpr::CronExpr(const scheduler::CronFields& f)
    : seconds_(f.seconds),
      minutes_(f.minutes),
      hours_(static_cast<uint32_t>(f.hours)),
      days_of_month_(static_cast<uint32_t>(f.days_of_month)),
      months_(static_cast<uint16_t>(f.months)),
      days_of_week_(static_cast<uint8_t>(f.days_of_week)),
      has_seconds_(f.has_seconds),
      seconds_wild_(f.seconds_wild),
      minutes_wild_(f.minutes_wild),
      hours_wild_(f.hours_wild),
      day_of_month_star_(f.day_of_month_star),
      day_of_week_star_(f.day_of_week_star) {}

scheduler::CronFields CronExpr::fields() const {
  return {seconds_,           minutes_,         hours_,        days_of_month_, months_,
          days_of_week_,      has_seconds_,     seconds_wild_, minutes_wild_,  hours_wild_,
          day_of_month_star_, day_of_week_star_};
}

Result<CronExpr> CronExpr::Parse(std::string_view text) {
  Result<scheduler::CronFields> fields = scheduler::ParseCronFields(text);
  if (!fields.ok()) return fields.status();
  return CronExpr(*fields);
}

std::string CronExpr::ToString() const { return scheduler::FormatCronFields(fields()); }

std::string CronExpr::NeverFiresReason() const {
  // A restricted weekday always matches some day: alone, every week has one;
  // with a restricted day of the month, either field matches (Vixie cron).
  if (day_of_month_star_ || !day_of_week_star_) return "";
  static constexpr unsigned kDaysIn[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  static constexpr const char* kMonthName[13] = {
      "",     "January", "February",  "March",   "April",    "May",     "June",
      "July", "August",  "September", "October", "November", "December"};
  std::vector<std::string> months;
  for (unsigned m = 1; m <= 12; ++m) {
    if (((months_ >> m) & 1) == 0) continue;
    for (unsigned d = 1; d <= kDaysIn[m]; ++d) {
      if ((days_of_month_ >> d) & 1) return "";
    }
    months.push_back(kMonthName[m]);
  }
  std::vector<std::string> days;
  for (unsigned d = 1; d <= 31; ++d) {
    if ((days_of_month_ >> d) & 1) days.push_back(std::to_string(d));
  }
  auto list = [](const std::vector<std::string>& words, const char* last) {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
      out += (i == 0 ? "" : i + 1 == words.size() ? last : ", ") + words[i];
    }
    return out;
  };
  return std::string(days.size() == 1 ? "day " : "days ") + list(days, " and ") +
         (days.size() == 1 ? " never occurs in " : " never occur in ") + list(months, " or ");
}

std::optional<std::chrono::sys_seconds> CronExpr::NextAfter(std::chrono::sys_seconds instant,
                                                            const TimeZone& zone) const {
  using scheduler::kMaxInstant;
  int64_t t = instant.time_since_epoch().count();
  if (t < scheduler::kMinInstant || t >= kMaxInstant) return std::nullopt;
  int64_t limit = std::min(t + int64_t{kSearchDays} * scheduler::kSecondsPerDay, kMaxInstant);
  scheduler::ZoneView view(zone.zone_);
  std::optional<int64_t> next = is_periodic() ? scheduler::NextPeriodic(fields(), view, t, limit)
                                              : scheduler::NextFixed(fields(), view, t, limit);
  if (!next) return std::nullopt;
  return std::chrono::sys_seconds(std::chrono::seconds(*next));
}

std::vector<std::chrono::sys_seconds> CronExpr::NextN(std::chrono::sys_seconds instant,
                                                      const TimeZone& zone, int n) const {
  std::vector<std::chrono::sys_seconds> out;
  for (int i = 0; i < n; ++i) {
    std::optional<std::chrono::sys_seconds> next = NextAfter(instant, zone);
    if (!next) break;
    out.push_back(*next);
    instant = *next;
  }
  return out;
}

}  // namespace pgjobs
