// django-celery-beat's periodic tasks as pgjobs schedules: the mapping of
// `pgjobs schedules import-celery-beat`. Pure functions, no database, so that
// every rule is unit-tested (tests/unit/celery_beat_test.cc); the command
// (cmd_schedules_import.cc) reads the rows and writes or applies the result.
//
// The rules are those of the README's "Coming from Celery beat" section:
//  - crontab: Celery's fields (minute, hour, day_of_week, day_of_month,
//    month_of_year) are parsed by Celery's own grammar into sets of values and
//    written as the cron line "M H D Y W" in the crontab's zone. Outside UTC
//    the minute and hour fields are written as lists and ranges, never with
//    "*" or a step, so that the expression is fixed-time (pgjobs/cron.h): as
//    with beat, a wall time repeated by the autumn change runs once and the
//    wall times skipped in spring run once right after the gap. Celery runs a
//    day when day_of_week AND day_of_month match, cron when either does; when
//    both are restricted the import writes one of them as "*/n" if it can
//    (then cron ANDs as well), and otherwise leaves the task out.
//  - interval: every × period (days, hours, minutes, seconds; microseconds
//    when they make whole seconds), on the grid of the last run (beat runs
//    `every` after the last run) or of start_time.
//  - clocked: "at". one_off on a crontab or interval: "at" its next fire time.
//    A one-off that has run is imported disabled.
//  - solar, positional args, priorities outside 0-9 and names that clash are
//    left out with the reason.
#ifndef PGJOBS_CLI_CELERY_BEAT_H_
#define PGJOBS_CLI_CELERY_BEAT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/status.h"
#include "store/schedule_file.h"

namespace pgjobs::cli::celery {

using store::Micros;

// One row of django_celery_beat_periodictask with its schedule (sql/foreign/celery_beat.sql).
struct PeriodicTask {
  std::string name;
  std::string task;
  std::string args = "[]";    // JSON text of a list
  std::string kwargs = "{}";  // JSON text of an object
  std::optional<std::string> queue, exchange, routing_key, headers;
  std::optional<int64_t> priority;
  std::optional<Micros> expires;
  std::optional<int64_t> expire_seconds;
  bool one_off = false;
  std::optional<Micros> start_time;
  bool enabled = true;
  std::optional<Micros> last_run_at;
  int64_t total_run_count = 0;
  std::string description;
  std::string kind;  // interval | crontab | solar | clocked | "" (none set)
  // crontab
  std::string minute = "*", hour = "*", day_of_week = "*", day_of_month = "*", month_of_year = "*",
              timezone = "UTC";
  // interval
  int64_t every = 0;
  std::string period;
  // clocked
  std::optional<Micros> clocked_time;
  // solar
  std::string solar_event, latitude, longitude;
};

// How the broker Celery used orders priorities: RabbitMQ (and SQS, Kafka):
// a bigger number is more urgent, as in pgjobs; Redis: 0 is the most urgent.
enum class PriorityOrder { kUnknown, kBiggerFirst, kSmallerFirst };

Result<PriorityOrder> ParsePriorityOrder(std::string_view broker);

// One periodic task, imported or left out.
struct Imported {
  std::string source_name;                // the PeriodicTask's name
  std::optional<store::ScheduleDef> def;  // nullopt: left out
  std::string left_out_reason;            // why, naming the fix, when def is nullopt
  std::vector<std::string> notes;         // shown above the schedule in the file
  std::optional<Micros> last_run_at;      // carried over by --apply
  int64_t run_count = 0;
};

// Celery's crontab grammar for one field: "*", "*/15", "1-5", "1-5/2",
// "8,20", weekday names (any field, as in Celery), ranges that wrap around
// ("fri-mon", "22-2"). min and count: 0 and 60 for minutes, 0 and 24 for
// hours, 0 and 7 for day_of_week, 1 and 31 for day_of_month, 1 and 12 for
// month_of_year. Bit v of the result: value v matches.
Result<uint64_t> ParseCeleryField(std::string_view text, int min, int count);

// The cron line for a Celery crontab read in zone: "M H D Y W". Error (the
// reason) when Celery's meaning cannot be written as cron: a malformed field,
// or day_of_week and day_of_month both restricted.
Result<std::string> CrontabToCron(const PeriodicTask& t, bool fixed_time);

// Maps every periodic task. now: the import's clock, for one-off crontabs and
// intervals (their "at") and to check that a cron line fires at all.
std::vector<Imported> MapPeriodicTasks(const std::vector<PeriodicTask>& tasks, PriorityOrder order,
                                       std::chrono::sys_seconds now);

// A schedule name from a beat entry name: letters, digits, "_ . : -" kept,
// every other run of characters becomes one "-" ("cleanup every night" ->
// "cleanup-every-night"); at most 200 characters.
std::string ScheduleName(std::string_view beat_name);

// The apply file: each schedule with its notes as // comments, and the left
// out tasks listed at the top. source: where the tasks were read from.
std::string FormatImportFile(const std::vector<Imported>& imported, const std::string& source);

}  // namespace pgjobs::cli::celery

#endif  // PGJOBS_CLI_CELERY_BEAT_H_
