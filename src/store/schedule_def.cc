// Validation, value formats and comparison of schedule definitions
// (src/store/schedule_file.h). The file format itself is in schedule_file.cc.
#include <cctype>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
// date::parse/format trip a false -Wmaybe-uninitialized in GCC 12 at -O2.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/date.h>
#include <date/tz.h>

#include "common/text.h"
#include "pgjobs/cron.h"
#include "store/db_errors.h"
#include "store/schedule_file.h"

namespace pgjobs::store {
namespace {

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Characters of UTF-8 text, as PostgreSQL's length() counts them.
size_t CharCount(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// The same rule as the table's schedules_name_format constraint.
Status ValidateName(const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 200 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
                c == '-');
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument("schedule name \"" + name +
                                 "\" is not allowed; use 1-200 letters, digits, '_', '.', ':' or "
                                 "'-', starting with a letter or digit");
}

Status ValidateCron(const ScheduleDef& def, const TimeZone& zone, std::chrono::sys_seconds now) {
  auto expr = CronExpr::Parse(def.cron);
  if (!expr.ok()) return expr.status();
  if (!expr->NextAfter(now, zone)) {
    std::string reason = expr->NeverFiresReason();
    return Status::InvalidArgument(
        "cron \"" + def.cron + "\" never fires: " +
        (reason.empty() ? "no date matches it; check the day-of-month, month and day-of-week fields"
                        : reason + "; check the day-of-month and month fields"));
  }
  return Status::Ok();
}

Status ValidateKind(const ScheduleDef& def, const TimeZone& zone, std::chrono::sys_seconds now) {
  switch (def.kind) {
    case ScheduleKind::kCron:
      return ValidateCron(def, zone, now);
    case ScheduleKind::kInterval:
      return CheckEvery(def.every_ms);
    case ScheduleKind::kOnce:
      return Status::Ok();
  }
  return Status::Ok();
}

Status CheckRange(const char* what, int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " " + std::to_string(value) +
                                 " is out of range; use " + std::to_string(lo) + "-" +
                                 std::to_string(hi));
}

Status ValidateJobTemplate(const ScheduleDef& def) {
  if (def.task.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("task is empty; give the name of the task each tick enqueues");
  }
  if (CharCount(def.task) > 200)
    return Status::InvalidArgument("task name is longer than 200 characters");
  PGJOBS_RETURN_IF_ERROR(ValidateQueueName(def.queue));
  auto args = CanonicalArgs(def.args);
  if (!args.ok()) return args.status();
  PGJOBS_RETURN_IF_ERROR(CheckRange("priority", def.priority, 0, 9));
  PGJOBS_RETURN_IF_ERROR(CheckRange("max_attempts", def.max_attempts, 1, 1000));
  if (def.timeout_ms && *def.timeout_ms <= 0)
    return Status::InvalidArgument("timeout must be positive");
  return Status::Ok();
}

Status ValidatePolicies(const ScheduleDef& def) {
  if (def.misfire != "skip" && def.misfire != "run_once" && def.misfire != "catch_up") {
    return Status::InvalidArgument("misfire \"" + def.misfire +
                                   "\" is unknown; use skip, run_once or catch_up");
  }
  PGJOBS_RETURN_IF_ERROR(CheckRange("catch_up_limit", def.catch_up_limit, 1, 10000));
  if (def.overlap != "allow" && def.overlap != "skip") {
    return Status::InvalidArgument("overlap \"" + def.overlap + "\" is unknown; use allow or skip");
  }
  if (def.start_at && def.end_at && *def.end_at <= *def.start_at) {
    return Status::InvalidArgument("end " + FormatInstant(*def.end_at) + " is not after start " +
                                   FormatInstant(*def.start_at));
  }
  return Status::Ok();
}

std::string ShowOptional(const std::optional<Micros>& t) {
  return t ? Quote(FormatInstant(*t)) : "none";
}

// The value of a kind's field, quoted.
std::string KindValue(const ScheduleDef& def) {
  switch (def.kind) {
    case ScheduleKind::kCron:
      return Quote(def.cron);
    case ScheduleKind::kInterval:
      return Quote(FormatDurationMs(def.every_ms));
    case ScheduleKind::kOnce:
      return Quote(FormatInstant(def.at));
  }
  return "";
}

// The file key of a kind: cron, every, at.
std::string KindKey(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kCron:
      return "cron";
    case ScheduleKind::kInterval:
      return "every";
    case ScheduleKind::kOnce:
      return "at";
  }
  return "";
}

int EffectiveCatchUpLimit(const ScheduleDef& def) {
  return def.misfire == "catch_up" ? def.catch_up_limit : kDefaultCatchUpLimit;
}

}  // namespace

const std::vector<std::string> kScheduleFileKeys = {
    "cron",    "every",    "at",      "tz",           "task",    "queue",
    "args",    "priority", "timeout", "max_attempts", "misfire", "catch_up_limit",
    "overlap", "start",    "end",     "description",  "enabled"};

std::string KindName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kCron:
      return "cron";
    case ScheduleKind::kInterval:
      return "interval";
    case ScheduleKind::kOnce:
      return "once";
  }
  return "";
}

Result<ScheduleKind> ParseKindName(std::string_view text) {
  if (text == "cron") return ScheduleKind::kCron;
  if (text == "interval") return ScheduleKind::kInterval;
  if (text == "once") return ScheduleKind::kOnce;
  return Status::Internal("schedule kind \"" + std::string(text) + "\" is unknown");
}

Status ValidateScheduleDef(const ScheduleDef& def, std::chrono::sys_seconds now) {
  PGJOBS_RETURN_IF_ERROR(ValidateName(def.name));
  auto zone = TimeZone::Load(def.time_zone);
  if (!zone.ok()) return zone.status();
  PGJOBS_RETURN_IF_ERROR(ValidateKind(def, *zone, now));
  PGJOBS_RETURN_IF_ERROR(ValidateJobTemplate(def));
  return ValidatePolicies(def);
}

std::string DescribeSchedule(const ScheduleDef& def) {
  switch (def.kind) {
    case ScheduleKind::kCron:
      return "cron " + def.cron;
    case ScheduleKind::kInterval:
      return "every " + FormatDurationMs(def.every_ms);
    case ScheduleKind::kOnce:
      return "at " + FormatInstant(def.at);
  }
  return "";
}

Status CheckEvery(int64_t every_ms) {
  if (every_ms < 1000) {
    return Status::InvalidArgument("every " + FormatDurationMs(every_ms) +
                                   " is too short; an interval is at least 1s");
  }
  if (every_ms % 1000 != 0) {
    return Status::InvalidArgument("every " + FormatDurationMs(every_ms) +
                                   " is not a whole number of seconds; the scheduler counts "
                                   "intervals in seconds");
  }
  return Status::Ok();
}

Result<int64_t> ParseEvery(std::string_view text) {
  auto d = ParseDuration(text);
  if (!d.ok()) return d.status();
  PGJOBS_RETURN_IF_ERROR(CheckEvery(d->count()));
  return static_cast<int64_t>(d->count());
}

Result<int64_t> ParseTimeout(std::string_view text) {
  auto d = ParseDuration(text);
  if (!d.ok()) return d.status();
  if (d->count() <= 0) return Status::InvalidArgument("timeout must be positive, e.g. 10m");
  return static_cast<int64_t>(d->count());
}

std::string FormatDurationMs(int64_t ms) {
  if (ms <= 0) return std::to_string(ms) + "ms";
  static const std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  std::string out;
  for (const auto& [per, unit] : kUnits) {
    if (ms >= per) {
      out += std::to_string(ms / per) + unit;
      ms %= per;
    }
  }
  return out;
}

std::string ZonelessKindNote(ScheduleKind kind) {
  if (kind == ScheduleKind::kInterval) {
    return "an interval counts fixed seconds from its start, whatever the zone";
  }
  return "a one-off time carries its own offset, e.g. 2027-01-15T09:00:00+01:00";
}

Result<Micros> ParseInstant(std::string_view text) {
  auto t = ParseTimestamp(text);
  if (!t.ok()) return t.status();
  auto us = std::chrono::floor<std::chrono::microseconds>(*t);
  return static_cast<Micros>(us.time_since_epoch().count());
}

std::string FormatInstant(Micros t) {
  auto us = date::sys_time<std::chrono::microseconds>(std::chrono::microseconds(t));
  auto secs = std::chrono::floor<std::chrono::seconds>(us);
  std::string out = date::format("%FT%T", secs);
  int64_t fraction = (us - secs).count();
  if (fraction != 0) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(fraction));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string FormatLocal(std::chrono::sys_seconds t, const std::string& zone) {
  if (zone == "UTC") return date::format("%FT%T", t) + "+00:00";
  try {
    return date::format("%FT%T%Ez", date::make_zoned(date::locate_zone(zone), t));
  } catch (const std::exception&) {
    return date::format("%FT%T", t) + "Z";  // an unknown zone: validated earlier, so not expected
  }
}

Result<std::string> CanonicalArgs(std::string_view json_text) {
  nlohmann::json parsed = nlohmann::json::parse(json_text, nullptr, false);
  if (parsed.is_discarded()) {
    std::string problem = JsonProblem(std::string(json_text));
    if (problem.rfind("not valid JSON", 0) == 0)
      problem += "; pass a JSON object such as {\"days\": 30}";
    return Status::InvalidArgument("args are " + problem);
  }
  if (!parsed.is_object()) {
    return Status::InvalidArgument(std::string("args must be a JSON object, got a JSON ") +
                                   parsed.type_name() + "; e.g. {\"days\": 30}");
  }
  // The limit of the schedules table (schedules_args_at_most_1mib), which is
  // that of the jobs each tick makes.
  std::string repeated;
  auto bytes = JsonbTextBytes(json_text, &repeated);
  if (!bytes.ok()) return bytes.status();
  if (!repeated.empty()) return RepeatedKeyError(repeated);
  if (*bytes > kMaxArgsTextBytes) {
    return Status::InvalidArgument("args are " + std::to_string(*bytes) +
                                   " bytes of JSON text (as PostgreSQL prints them), over the "
                                   "1 MiB limit; store large data elsewhere and pass a "
                                   "reference in args");
  }
  return parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> DiffScheduleDefs(const ScheduleDef& from, const ScheduleDef& to) {
  std::vector<std::string> out;
  auto add = [&out](const char* field, const std::string& a, const std::string& b) {
    if (a != b) out.push_back(std::string(field) + " " + a + " -> " + b);
  };
  if (from.kind != to.kind) {
    out.push_back(KindKey(from.kind) + " " + KindValue(from) + " -> " + KindKey(to.kind) + " " +
                  KindValue(to));
  } else {
    add(KindKey(to.kind).c_str(), KindValue(from), KindValue(to));
  }
  add("tz", Quote(from.time_zone), Quote(to.time_zone));
  add("task", Quote(from.task), Quote(to.task));
  add("queue", Quote(from.queue), Quote(to.queue));
  add("args", from.args, to.args);
  add("priority", std::to_string(from.priority), std::to_string(to.priority));
  add("timeout", from.timeout_ms ? Quote(FormatDurationMs(*from.timeout_ms)) : "none",
      to.timeout_ms ? Quote(FormatDurationMs(*to.timeout_ms)) : "none");
  add("max_attempts", std::to_string(from.max_attempts), std::to_string(to.max_attempts));
  add("misfire", from.misfire, to.misfire);
  add("catch_up_limit", std::to_string(EffectiveCatchUpLimit(from)),
      std::to_string(EffectiveCatchUpLimit(to)));
  add("overlap", from.overlap, to.overlap);
  add("start", ShowOptional(from.start_at), ShowOptional(to.start_at));
  add("end", ShowOptional(from.end_at), ShowOptional(to.end_at));
  add("description", Quote(from.description), Quote(to.description));
  add("enabled", from.enabled ? "true" : "false", to.enabled ? "true" : "false");
  return out;
}

std::string ScheduleChange::ToString() const {
  switch (action) {
    case Action::kCreate:
      return "create " + name;
    case Action::kRemove:
      return "remove " + name;
    case Action::kUnchanged:
      return "unchanged " + name;
    case Action::kKept:
      return "keep " + name + " (not in the file; --prune removes it)";
    case Action::kUpdate:
      break;
  }
  std::string out = "update " + name + ":";
  for (size_t i = 0; i < details.size(); ++i) out += (i == 0 ? " " : ", ") + details[i];
  return out;
}

std::vector<ScheduleChange> PlanScheduleChanges(const std::vector<ScheduleDef>& current,
                                                const std::vector<ScheduleDef>& desired,
                                                bool prune) {
  std::map<std::string, std::pair<const ScheduleDef*, const ScheduleDef*>> by_name;
  for (const ScheduleDef& d : current) by_name[d.name].first = &d;
  for (const ScheduleDef& d : desired) by_name[d.name].second = &d;
  std::vector<ScheduleChange> out;
  using Action = ScheduleChange::Action;
  for (const auto& [name, pair] : by_name) {
    const auto& [now, want] = pair;
    ScheduleChange change;
    change.name = name;
    if (now == nullptr) {
      change.action = Action::kCreate;
    } else if (want == nullptr) {
      change.action = prune ? Action::kRemove : Action::kKept;
    } else {
      change.details = DiffScheduleDefs(*now, *want);
      change.action = change.details.empty() ? Action::kUnchanged : Action::kUpdate;
    }
    out.push_back(std::move(change));
  }
  return out;
}

}  // namespace pgjobs::store
