// Cron expressions, and the time zones they are evaluated in.
//
//   auto expr = pgjobs::CronExpr::Parse("30 2 * * MON-FRI");
//   auto zone = pgjobs::TimeZone::Load("Europe/Paris");
//   std::optional<std::chrono::sys_seconds> next = expr->NextAfter(now, *zone);
//
// Syntax. Five fields, "minute hour day-of-month month day-of-week", or six
// with a leading seconds field. Each field is "*" or a comma-separated list of
// values "5", ranges "1-5" and steps "*/15", "1-30/5", "5/15" (= 5-59/15).
// Months may be written JAN-DEC and weekdays SUN-SAT (any case); weekday 0 and
// 7 are both Sunday. Macros: @yearly (= @annually), @monthly, @weekly, @daily
// (= @midnight), @hourly. Intervals ("@every 5m") are a separate schedule kind.
//
// Days. As in Vixie cron: when both day-of-month and day-of-week are
// restricted (neither field starts with "*"), a day matches when EITHER
// matches ("0 0 1 * MON" = the 1st of the month and every Monday); otherwise
// both must match, the "*" one matching every day ("0 0 */2 * MON" = Mondays
// with an odd day of month).
//
// Daylight saving time, as in Vixie cron. An expression is *periodic* when
// its hour or minute field, or its seconds field if it has one, contains "*"
// or a step "/" anywhere ("*", "*/15", "0-30/10", "5/15"); otherwise it is
// *fixed-time* ("30 1 * * *", "0,30 9-17 * * *", even "0-59 1 * * *"). The
// day, month and weekday fields play no part in this.
//  - Periodic expressions fire at every real instant whose local wall time
//    matches: wall times skipped by spring-forward never happen (no catch-up)
//    and wall times repeated by fall-back fire in both copies.
//  - A fixed-time expression fires, for each matching wall time W, at the
//    first instant at which the zone's wall clock reaches or passes W. So a
//    wall time repeated by fall-back fires once, at its first occurrence; a
//    wall time skipped by spring-forward fires once right after the gap, at
//    the transition instant itself, which reads as the first wall time after
//    the gap (02:30 on 2026-03-08 in America/New_York fires at 03:00 EDT =
//    07:00 UTC; in Australia/Lord_Howe, where 02:00 jumps to 02:30, at 02:30).
//    Several skipped wall times of one gap ("0,15,30,45 2 * * *"), and a match
//    at the first wall time after the gap ("0 2,3 * * *"), fire once together.
// Fire times are therefore strictly increasing and never repeat.
//
// Limitation: the system time zone data is read through Howard Hinnant's date
// library, which does not extend a zone's rules past the last transition
// stored in its TZif file (Debian's files end in 2037).
#ifndef PGJOBS_CRON_H_
#define PGJOBS_CRON_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/status.h"

namespace date {
class time_zone;  // Howard Hinnant's date library; only src/ includes it.
}  // namespace date

namespace pgjobs {
namespace scheduler {
struct CronFields;  // src/scheduler/cron_internal.h
}  // namespace scheduler

// An IANA time zone. A value, cheap to copy. The zone data belongs to the
// process-wide time zone database and lives until the process exits.
class TimeZone {
 public:
  // UTC, which needs no time zone database.
  TimeZone() = default;
  static TimeZone Utc() { return TimeZone(); }

  // Looks an IANA name ("Europe/Paris", "America/New_York", "UTC") up in the
  // system tzdata. An unknown name is an InvalidArgument error.
  static Result<TimeZone> Load(std::string_view iana_name);

  // The name it was loaded with ("UTC" for the default). A link keeps its
  // own name: "Japan" is not renamed "Asia/Tokyo".
  std::string_view name() const;

  // Same name, same zone ("Japan" and "Asia/Tokyo" differ, though their
  // rules are the same).
  friend bool operator==(const TimeZone& a, const TimeZone& b) { return a.zone_ == b.zone_; }

 private:
  friend class CronExpr;
  explicit TimeZone(const date::time_zone* zone) : zone_(zone) {}

  const date::time_zone* zone_ = nullptr;  // nullptr is UTC
};

// A parsed cron expression. A value: copyable, comparable, and thread-safe to
// use from many threads at once (all methods are const).
class CronExpr {
 public:
  // Parses text as described at the top of this file. Errors are
  // InvalidArgument and name the field, the offending text and its 1-based
  // character position, e.g.
  //   cron "0 25 * * *": hour field "25" at position 3 is out of range 0-23
  static Result<CronExpr> Parse(std::string_view text);

  // The canonical text: names become numbers, macros are expanded, lists are
  // sorted. Parse(ToString()) gives back an equal expression, and equal
  // expressions have the same canonical text.
  std::string ToString() const;

  // Whether the expression was written with a leading seconds field.
  bool has_seconds() const { return has_seconds_; }

  // Whether the expression is periodic rather than fixed-time (see the
  // daylight saving rules at the top of this file).
  bool is_periodic() const { return seconds_wild_ || minutes_wild_ || hours_wild_; }

  // The first fire time strictly after `instant`, evaluated in `zone`, or
  // nullopt when there is none within kSearchDays days (the expression can
  // never fire, like "0 0 30 2 *", or `instant` is outside years 1-9998).
  // Computed field by field (month, day, hour, minute, second with carry),
  // so it costs about the same for any expression.
  std::optional<std::chrono::sys_seconds> NextAfter(std::chrono::sys_seconds instant,
                                                    const TimeZone& zone) const;

  // Why the expression can never fire, in words ("day 31 never occurs in
  // April"), or "" when some date matches it. Only a day-of-month field with
  // a "*"-free weekday field can rule out every date: "0 0 30 2 *".
  std::string NeverFiresReason() const;

  // Up to n successive fire times after `instant` (fewer when NextAfter runs
  // out), strictly increasing.
  std::vector<std::chrono::sys_seconds> NextN(std::chrono::sys_seconds instant,
                                              const TimeZone& zone, int n) const;

  // How far NextAfter looks: a little over 9 years. The longest wait of an
  // expression that can fire at all is 8 years, for February 29 around a
  // non-leap century year (2096-02-29, then 2104-02-29).
  static constexpr int kSearchDays = 3300;

  friend bool operator==(const CronExpr& a, const CronExpr& b) = default;

 private:
  explicit CronExpr(const scheduler::CronFields& fields);
  scheduler::CronFields fields() const;

  // Bit n set: value n matches.
  uint64_t seconds_ = 1;        // 0-59; {0} without a seconds field
  uint64_t minutes_ = 0;        // 0-59
  uint32_t hours_ = 0;          // 0-23
  uint32_t days_of_month_ = 0;  // 1-31
  uint16_t months_ = 0;         // 1-12
  uint8_t days_of_week_ = 0;    // 0-6, 0 = Sunday
  bool has_seconds_ = false;
  bool seconds_wild_ = false;       // the field contains "*" or "/"
  bool minutes_wild_ = false;       // likewise
  bool hours_wild_ = false;         // likewise
  bool day_of_month_star_ = false;  // the field starts with "*"
  bool day_of_week_star_ = false;   // likewise
};

}  // namespace pgjobs

#endif  // PGJOBS_CRON_H_
