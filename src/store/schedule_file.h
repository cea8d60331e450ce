// A schedule's definition (the columns of migrations/0002_schedules.sql that a
// person sets), its validation, and the declarative file format of
// `pgjobs schedules apply` and `export`. Pure functions: no database, so the
// rules are unit-tested exactly (tests/unit/schedule_file_test.cc).
//
// The file is JSON with // comments allowed:
//   {"schedules": {
//     "nightly-cleanup": {"cron": "0 3 * * *", "tz": "Europe/Paris", "task": "cleanup"},
//     "sync": {"every": "4h", "task": "sync"},
//     "launch": {"at": "2026-12-01T09:00:00Z", "task": "announce"}}}
// Keys are those of kScheduleFileKeys; a key left out takes the table's
// default, and export leaves out the keys that equal it.
#ifndef PGJOBS_STORE_SCHEDULE_FILE_H_
#define PGJOBS_STORE_SCHEDULE_FILE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/status.h"

namespace pgjobs::store {

// Instants are whole microseconds since the Unix epoch (PostgreSQL's
// precision), so that a value read from the table and written back is equal.
using Micros = int64_t;

enum class ScheduleKind { kCron, kInterval, kOnce };

struct ScheduleDef {
  std::string name;
  ScheduleKind kind = ScheduleKind::kCron;
  std::string cron;      // kind cron, as written
  int64_t every_ms = 0;  // kind interval; whole seconds, at least 1 s
  Micros at = 0;         // kind once
  std::string time_zone = "UTC";
  std::string task;  // required
  std::string queue = "default";
  std::string args = "{}";            // a JSON object, compact with sorted keys (see CanonicalArgs)
  int priority = 5;                   // 0-9
  std::optional<int64_t> timeout_ms;  // default none: the task's own timeout
  int max_attempts = 4;               // 1-1000
  std::string misfire = "run_once";   // skip | run_once | catch_up
  int catch_up_limit = 100;           // 1-10000; meaningful with misfire catch_up only
  std::string overlap = "allow";      // allow | skip
  std::optional<Micros> start_at;
  std::optional<Micros> end_at;
  std::string description;
  bool enabled = true;

  friend bool operator==(const ScheduleDef&, const ScheduleDef&) = default;
};

inline constexpr int kDefaultCatchUpLimit = 100;

// The keys of one schedule in the file.
extern const std::vector<std::string> kScheduleFileKeys;

// "cron", "interval" or "once": the table's kind column.
std::string KindName(ScheduleKind kind);
Result<ScheduleKind> ParseKindName(std::string_view text);

// Checks what the database checks (in words that name the fix) and what it
// cannot: that the cron expression parses and can fire, that the time zone
// exists. `now` is only used to ask whether a cron expression ever fires.
Status ValidateScheduleDef(const ScheduleDef& def, std::chrono::sys_seconds now);

// Parses a whole file. Errors name the source, the schedule and the key:
//   schedules.json: schedule "sync": unknown key "evry"; did you mean "every"?
// A JSON syntax error keeps nlohmann's line and column. Every schedule is
// validated with ValidateScheduleDef. The result is sorted by name.
Result<std::vector<ScheduleDef>> ParseScheduleFile(std::string_view text, const std::string& source,
                                                   std::chrono::sys_seconds now);

// The file for defs, pretty-printed; keys equal to their default left out.
// with_comment: starts with a "//" line saying what it is.
std::string FormatScheduleFile(const std::vector<ScheduleDef>& defs, bool with_comment);

// The JSON object of one schedule in the file format; all_keys: every key,
// null for the unset ones (for --json output), instead of leaving defaults out.
std::string ScheduleToJson(const ScheduleDef& def, bool all_keys);

// What differs from `from` to `to`, one item per field, e.g.
//   cron '0 * * * *' -> '*/5 * * * *'
//   every '4h' -> cron '0 * * * *'
// catch_up_limit is compared only where misfire is catch_up on either side.
std::vector<std::string> DiffScheduleDefs(const ScheduleDef& from, const ScheduleDef& to);

// What `apply` does to one schedule.
struct ScheduleChange {
  enum class Action { kCreate, kUpdate, kRemove, kUnchanged, kKept };
  Action action = Action::kUnchanged;
  std::string name;
  std::vector<std::string> details;  // kUpdate: DiffScheduleDefs
  // "create NAME", "update NAME: a, b", "remove NAME", "unchanged NAME",
  // "keep NAME (not in the file; --prune removes it)".
  std::string ToString() const;
};

// The changes that make `current` (the table) match `desired` (the file),
// sorted by name. Schedules only in the table are removed with prune and
// kept otherwise.
std::vector<ScheduleChange> PlanScheduleChanges(const std::vector<ScheduleDef>& current,
                                                const std::vector<ScheduleDef>& desired,
                                                bool prune);

// ---- value helpers shared with the CLI ----

// The schedule as one phrase: "cron 0 3 * * *", "every 4h", "at 2026-12-01T09:00:00Z".
std::string DescribeSchedule(const ScheduleDef& def);

// "UTC" or "Etc/UTC": the zone every interval and one-off has.
inline bool IsUtcZone(std::string_view zone) { return zone == "UTC" || zone == "Etc/UTC"; }

// Why a zone means nothing to an interval or a one-off (kind kInterval or
// kOnce), for the errors that refuse one.
std::string ZonelessKindNote(ScheduleKind kind);

// An interval for --every / "every": a duration of whole seconds, at least 1 s.
Result<int64_t> ParseEvery(std::string_view text);
Status CheckEvery(int64_t every_ms);
// A positive duration for --timeout / "timeout".
Result<int64_t> ParseTimeout(std::string_view text);
// The shortest duration text ParseDuration reads back: "4h", "1h30m", "1s500ms".
std::string FormatDurationMs(int64_t ms);

// An ISO 8601 instant with a zone, to whole microseconds.
Result<Micros> ParseInstant(std::string_view text);
// "2026-11-25T15:00:00Z", with a fraction of a second only when there is one.
std::string FormatInstant(Micros t);
// The same instant as the wall time of zone, with its offset:
// "2026-11-25T16:00:00+01:00". zone must be a name TimeZone::Load accepts.
std::string FormatLocal(std::chrono::sys_seconds t, const std::string& zone);

// Parses a JSON object given as text and returns it compact with sorted keys,
// so that equal objects have equal text. Errors name the problem.
Result<std::string> CanonicalArgs(std::string_view json_text);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_SCHEDULE_FILE_H_
