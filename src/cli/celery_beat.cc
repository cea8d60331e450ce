// The mapping of django-celery-beat's periodic tasks to schedules (see celery_beat.h).
#include "cli/celery_beat.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "pgjobs/cron.h"

namespace pgjobs::cli::celery {
namespace {

using std::chrono::sys_seconds;
using store::ScheduleDef;
using store::ScheduleKind;

constexpr int64_t kMicros = 1000000;

std::string Quote(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// A number or, as Celery allows in every field, a weekday name ("mon", "Monday").
Result<int> CeleryValue(const std::string& tok, int min, int count) {
  static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  if (tok.empty()) return Status::InvalidArgument("an empty value");
  int v = -1;
  if (std::all_of(tok.begin(), tok.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (tok.size() > 4) return Status::InvalidArgument("\"" + tok + "\" is out of range");
    v = std::stoi(tok);
  } else {
    std::string abbr = tok.substr(0, 3);
    for (char& c : abbr) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int d = 0; d < 7; ++d) {
      if (abbr == kDays[d]) v = d;
    }
    if (v < 0) return Status::InvalidArgument("\"" + tok + "\" is neither a number nor a weekday");
  }
  if (v < min || v > min + count - 1) {
    return Status::InvalidArgument("\"" + tok + "\" is out of range " + std::to_string(min) + "-" +
                                   std::to_string(min + count - 1));
  }
  return v;
}

Result<int> CeleryStep(const std::string& text) {
  if (text.empty() || text.size() > 4 || !std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return Status::InvalidArgument("step \"" + text + "\" is not a whole number");
  }
  int step = std::stoi(text);
  if (step < 1) return Status::InvalidArgument("step 0");
  return step;
}

uint64_t Full(int min, int count) {
  return ((count == 64 ? 0 : (uint64_t{1} << count)) - 1) << min;
}

// bits as a cron field: runs of three or more as ranges ("1-5,8,10").
std::string Compress(uint64_t bits, int min, int count) {
  std::string out;
  for (int v = min; v < min + count;) {
    if (!(bits >> v & 1)) {
      ++v;
      continue;
    }
    int end = v;
    while (end + 1 < min + count && (bits >> (end + 1) & 1)) ++end;
    if (!out.empty()) out += ",";
    if (end - v >= 2) {
      out += std::to_string(v) + "-" + std::to_string(end);
    } else {
      out += std::to_string(v);
      if (end > v) out += "," + std::to_string(end);
    }
    v = end + 1;
  }
  return out;
}

// n > 1 such that bits is exactly "*/n" (min, min + n, ...: two values at
// least), or 0.
int StarStep(uint64_t bits, int min, int count) {
  for (int n = 2; n < count; ++n) {
    uint64_t want = 0;
    for (int v = min; v < min + count; v += n) want |= uint64_t{1} << v;
    if (want == bits) return n;
  }
  return 0;
}

// Celery's period names, in seconds.
Result<int64_t> IntervalSeconds(const PeriodicTask& t) {
  static const std::map<std::string, int64_t> kPeriods = {
      {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}};
  if (t.every < 1) {
    return Status::InvalidArgument("interval every " + std::to_string(t.every) +
                                   " is not positive (django-celery-beat needs at least 1)");
  }
  if (t.period == "microseconds") {
    if (t.every % kMicros != 0) {
      return Status::InvalidArgument("an interval of " + CountOf(t.every, "microsecond") +
                                     " is not a whole number of seconds; pgjobs intervals are "
                                     "whole seconds, at least 1s");
    }
    return t.every / kMicros;
  }
  auto it = kPeriods.find(t.period);
  if (it == kPeriods.end()) {
    return Status::InvalidArgument("interval period " + Quote(t.period) +
                                   " is unknown (known: days, hours, minutes, seconds, "
                                   "microseconds)");
  }
  return t.every * it->second;
}

Micros CeilSecond(Micros t) { return (t + kMicros - 1) / kMicros * kMicros; }

sys_seconds ToSeconds(Micros t) {
  return sys_seconds(std::chrono::seconds(CeilSecond(t) / kMicros));
}

Micros FromSeconds(sys_seconds t) { return t.time_since_epoch().count() * kMicros; }

struct Mapping {
  ScheduleDef def;
  std::vector<std::string> notes;
};

// The schedule's timing: kind, cron/every/at, zone, start. Error: left out.
Status MapTiming(const PeriodicTask& t, sys_seconds now, Mapping& m) {
  ScheduleDef& d = m.def;
  if (t.kind == "solar") {
    return Status::InvalidArgument(
        "a solar schedule (" + t.solar_event + " at " + t.latitude + ", " + t.longitude +
        ") moves every day and has no cron equivalent; add a cron schedule at a fixed time "
        "instead, or keep this task in beat");
  }
  if (t.kind.empty()) {
    return Status::InvalidArgument(
        "it has no schedule (none of interval, crontab, solar, clocked is set); beat never runs "
        "it");
  }
  if (t.kind == "clocked") {
    if (!t.clocked_time) return Status::InvalidArgument("its clocked schedule has no time");
    d.kind = ScheduleKind::kOnce;
    d.at = *t.clocked_time;
    if (t.start_time && *t.start_time > d.at) {
      d.at = *t.start_time;  // beat waits for start_time, then runs it at once
      m.notes.push_back("clocked at " + store::FormatInstant(*t.clocked_time) +
                        ", but not before start_time: at start_time, as beat does");
    }
    if (!t.one_off) {
      m.notes.push_back("clocked without one_off (django-celery-beat asks for one_off): runs once");
    }
    return Status::Ok();
  }
  if (t.kind == "interval") {
    auto seconds = IntervalSeconds(t);
    if (!seconds.ok()) return seconds.status();
    const int64_t every_us = *seconds * kMicros;
    d.kind = ScheduleKind::kInterval;
    d.every_ms = *seconds * 1000;
    // Beat runs `every` after the last run (after start_time, if later).
    std::optional<Micros> first;
    bool from_start = false;
    if (t.last_run_at) first = *t.last_run_at + every_us;
    if (t.start_time && (!first || *first < *t.start_time)) {
      first = *t.start_time;
      from_start = true;
    }
    if (first) {
      d.start_at = CeilSecond(*first);
      m.notes.push_back(
          std::string("ticks every ") + store::FormatDurationMs(d.every_ms) + " from " +
          store::FormatInstant(*d.start_at) +
          (from_start ? " (start_time)" : " (the last run in beat plus the interval)"));
    } else {
      m.notes.push_back("ticks every " + store::FormatDurationMs(d.every_ms) +
                        " from when the schedule is created (beat: from when it started)");
    }
    if (t.one_off) {
      Micros at = d.start_at.value_or(FromSeconds(now) + every_us);
      while (at <= FromSeconds(now)) at += every_us;
      d.kind = ScheduleKind::kOnce;
      d.at = at;
      d.every_ms = 0;
      d.start_at.reset();
      m.notes.back() = "one_off: runs once, at its next interval tick " + store::FormatInstant(at);
    }
    return Status::Ok();
  }
  // crontab
  auto zone = TimeZone::Load(t.timezone);
  if (!zone.ok()) {
    return Status::InvalidArgument("crontab time zone " + Quote(t.timezone) +
                                   " is not in this system's time zone database; fix the "
                                   "CrontabSchedule's timezone (an IANA name such as "
                                   "Europe/Paris) or install tzdata");
  }
  bool fixed_time = !store::IsUtcZone(t.timezone);
  auto cron = CrontabToCron(t, fixed_time);
  if (!cron.ok()) return cron.status();
  d.kind = ScheduleKind::kCron;
  d.cron = *cron;
  d.time_zone = t.timezone;
  const std::string naive =
      t.minute + " " + t.hour + " " + t.day_of_month + " " + t.month_of_year + " " + t.day_of_week;
  if (naive != d.cron) {
    m.notes.push_back("crontab minute=" + Quote(t.minute) + " hour=" + Quote(t.hour) +
                      " day_of_week=" + Quote(t.day_of_week) + " day_of_month=" +
                      Quote(t.day_of_month) + " month_of_year=" + Quote(t.month_of_year) +
                      (fixed_time ? "; minutes and hours written out so that, as with beat, "
                                    "a wall time repeated in autumn runs once"
                                  : ""));
  }
  if (t.start_time) d.start_at = *t.start_time;
  if (t.one_off) {
    auto expr = CronExpr::Parse(d.cron);
    if (!expr.ok()) return expr.status();
    sys_seconds after = now;
    if (t.start_time && ToSeconds(*t.start_time) - std::chrono::seconds(1) > after) {
      after = ToSeconds(*t.start_time) - std::chrono::seconds(1);
    }
    auto next = expr->NextAfter(after, *zone);
    if (!next) return Status::InvalidArgument("its crontab " + Quote(d.cron) + " never fires");
    d.kind = ScheduleKind::kOnce;
    d.at = FromSeconds(*next);
    d.cron.clear();
    d.time_zone = "UTC";  // the instant is absolute; only a cron has a zone
    d.start_at.reset();
    m.notes.push_back("one_off crontab: runs once, at its next fire time " +
                      store::FormatInstant(d.at));
  }
  return Status::Ok();
}

// The job template and the policies.
Status MapJob(const PeriodicTask& t, PriorityOrder order, Mapping& m) {
  ScheduleDef& d = m.def;
  d.task = t.task;
  if (t.task == "celery.backend_cleanup") {
    return Status::InvalidArgument(
        "celery.backend_cleanup is Celery's own cleanup of its result backend; pgjobs drops "
        "finished jobs by scheduler.history_retention, so nothing replaces it");
  }
  nlohmann::json args = nlohmann::json::parse(t.args.empty() ? "[]" : t.args, nullptr, false);
  if (args.is_discarded() || !(args.is_array() || args.is_null())) {
    return Status::InvalidArgument("args " + Quote(t.args) +
                                   " is not a JSON list (beat disables such a task)");
  }
  if (args.is_array() && !args.empty()) {
    return Status::InvalidArgument(
        "positional args " + t.args +
        ": pgjobs calls tasks with keyword arguments only; give them names in kwargs (and in "
        "the task's signature), then import again");
  }
  auto kwargs = store::CanonicalArgs(t.kwargs.empty() ? "{}" : t.kwargs);
  if (!kwargs.ok()) {
    return Status::InvalidArgument("kwargs " + Quote(t.kwargs) +
                                   " is not a JSON object: " + kwargs.status().message());
  }
  d.args = *kwargs;
  if (t.queue && !t.queue->empty()) d.queue = *t.queue;
  for (const auto& [what, value] :
       {std::pair{"exchange", t.exchange}, std::pair{"routing_key", t.routing_key}}) {
    if (value && !value->empty()) {
      m.notes.push_back(std::string(what) + " " + Quote(*value) +
                        " ignored: a pgjobs queue is just a name");
    }
  }
  if (t.headers && !t.headers->empty() && *t.headers != "{}") {
    m.notes.push_back("headers " + *t.headers + " ignored: pgjobs jobs carry no headers");
  }
  if (t.priority) {
    int64_t p = *t.priority;
    if (order == PriorityOrder::kUnknown) {
      return Status::InvalidArgument("priority " + std::to_string(p) +
                                     " needs --broker: rabbitmq (a bigger number runs first) or "
                                     "redis (0 runs first)");
    }
    if (p < 0 || p > 9) {
      return Status::InvalidArgument("priority " + std::to_string(p) +
                                     " is outside pgjobs's 0-9; set it to 0-9 in beat, or edit "
                                     "the file");
    }
    d.priority = static_cast<int>(order == PriorityOrder::kSmallerFirst ? 9 - p : p);
    if (order == PriorityOrder::kSmallerFirst) {
      m.notes.push_back("priority " + std::to_string(p) + " (Redis: 0 runs first) is " +
                        std::to_string(d.priority) + " (9 runs first)");
    }
  }
  if (t.expire_seconds) {
    d.misfire = "skip";
    d.overlap = "skip";
    m.notes.push_back("expire_seconds " + std::to_string(*t.expire_seconds) +
                      " has no equivalent (a job waits until a worker runs it): missed ticks "
                      "are skipped and no tick queues behind a pending job");
  }
  if (t.expires) {
    d.end_at = *t.expires;
    m.notes.push_back("expires " + store::FormatInstant(*t.expires) +
                      ": Celery drops every task of it sent later, so no tick after it; a job "
                      "made before it still runs when late");
  }
  d.description = t.description;
  d.enabled = t.enabled;
  if (t.one_off && t.total_run_count > 0) {
    d.enabled = false;
    m.notes.push_back("one_off and already run " + CountOf(t.total_run_count, "time") +
                      " in beat: imported disabled");
  }
  return Status::Ok();
}

}  // namespace

Result<PriorityOrder> ParsePriorityOrder(std::string_view broker) {
  std::string b(broker);
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (b == "rabbitmq" || b == "amqp" || b == "sqs") return PriorityOrder::kBiggerFirst;
  if (b == "redis") return PriorityOrder::kSmallerFirst;
  return Status::InvalidArgument("--broker " + Quote(broker) +
                                 " is unknown; give rabbitmq (also amqp, sqs: a bigger priority "
                                 "runs first) or redis (0 runs first)");
}

Result<uint64_t> ParseCeleryField(std::string_view text, int min, int count) {
  std::string spec = Trim(text);
  uint64_t bits = 0;
  size_t pos = 0;
  while (true) {
    size_t comma = spec.find(',', pos);
    std::string part =
        Trim(spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (part.empty()) return Status::InvalidArgument("an empty part between commas");
    std::string range = part, step_text;
    size_t slash = part.find('/');
    if (slash != std::string::npos) {
      range = part.substr(0, slash);
      step_text = part.substr(slash + 1);
    }
    std::vector<int> values;
    if (range == "*") {
      for (int v = min; v < min + count; ++v) values.push_back(v);
    } else {
      size_t dash = range.find('-', 1);
      auto from = CeleryValue(range.substr(0, dash), min, count);
      if (!from.ok()) return from.status();
      if (dash == std::string::npos) {
        if (slash != std::string::npos) {
          return Status::InvalidArgument("Celery takes a step only after * or a range (\"" + range +
                                         "-.../" + step_text + "\")");
        }
        values.push_back(*from);
      } else {
        auto to = CeleryValue(range.substr(dash + 1), min, count);
        if (!to.ok()) return to.status();
        if (*to < *from) {  // wraps around, as in Celery
          for (int v = *from; v < min + count; ++v) values.push_back(v);
          for (int v = min; v <= *to; ++v) values.push_back(v);
        } else {
          for (int v = *from; v <= *to; ++v) values.push_back(v);
        }
      }
    }
    int step = 1;
    if (slash != std::string::npos) {
      auto s = CeleryStep(step_text);
      if (!s.ok()) return s.status();
      step = *s;
    }
    for (size_t i = 0; i < values.size(); i += static_cast<size_t>(step)) {
      bits |= uint64_t{1} << values[i];
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return bits;
}

Result<std::string> CrontabToCron(const PeriodicTask& t, bool fixed_time) {
  struct Field {
    const char* name;
    const std::string& text;
    int min, count;
    uint64_t bits = 0;
  };
  Field f[] = {{"minute", t.minute, 0, 60},
               {"hour", t.hour, 0, 24},
               {"day_of_month", t.day_of_month, 1, 31},
               {"month_of_year", t.month_of_year, 1, 12},
               {"day_of_week", t.day_of_week, 0, 7}};
  for (Field& x : f) {
    auto bits = ParseCeleryField(x.text, x.min, x.count);
    if (!bits.ok()) {
      return Status::InvalidArgument("crontab " + std::string(x.name) + " " + Quote(x.text) + ": " +
                                     bits.status().message() +
                                     "; fix it in django-celery-beat (beat cannot run it either)");
    }
    x.bits = *bits;
  }
  std::string out[5];
  for (int i = 0; i < 5; ++i) {
    Field& x = f[i];
    bool full = x.bits == Full(x.min, x.count);
    bool time_field = i < 2;
    if (time_field && fixed_time) {
      out[i] = Compress(x.bits, x.min, x.count);
    } else if (full) {
      out[i] = "*";
    } else if (int n = time_field ? StarStep(x.bits, x.min, x.count) : 0; n > 0) {
      out[i] = "*/" + std::to_string(n);
    } else {
      out[i] = Compress(x.bits, x.min, x.count);
    }
  }
  // Celery ANDs day_of_month and day_of_week; cron ORs them when neither
  // field starts with "*". A field that is exactly "*/n" keeps the AND.
  if (out[2] != "*" && out[4] != "*") {
    if (int n = StarStep(f[2].bits, 1, 31); n > 0) {
      out[2] = "*/" + std::to_string(n);
    } else if (int n = StarStep(f[4].bits, 0, 7); n > 0) {
      out[4] = "*/" + std::to_string(n);
    } else {
      return Status::InvalidArgument(
          "day_of_week " + Quote(t.day_of_week) + " and day_of_month " + Quote(t.day_of_month) +
          " are both restricted: Celery runs on days that match both, cron on days that match "
          "either. Schedule day_of_week alone and have the task return early on other days of "
          "the month, or keep this task in beat");
    }
  }
  return out[0] + " " + out[1] + " " + out[2] + " " + out[3] + " " + out[4];
}

std::string ScheduleName(std::string_view beat_name) {
  std::string out;
  bool gap = false;
  for (char c : beat_name) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += '-';
    gap = false;
    out += c;
  }
  if (out.size() > 200) out.resize(200);
  return out;
}

std::vector<Imported> MapPeriodicTasks(const std::vector<PeriodicTask>& tasks, PriorityOrder order,
                                       sys_seconds now) {
  std::vector<Imported> result;
  std::map<std::string, std::string> taken;  // schedule name -> beat name
  for (const PeriodicTask& t : tasks) {
    Imported im;
    im.source_name = t.name;
    Mapping m;
    m.def.name = ScheduleName(t.name);
    Status st = Status::Ok();
    if (m.def.name.empty()) {
      st = Status::InvalidArgument("its name has no letter or digit to make a schedule name of");
    } else if (auto it = taken.find(m.def.name); it != taken.end()) {
      st = Status::InvalidArgument("its schedule name \"" + m.def.name + "\" is already that of " +
                                   Quote(it->second) + "; rename one of them in beat");
    }
    if (st.ok()) st = MapTiming(t, now, m);
    if (st.ok()) st = MapJob(t, order, m);
    if (st.ok()) st = store::ValidateScheduleDef(m.def, now);
    if (st.ok()) {
      taken[m.def.name] = t.name;
      if (m.def.name != t.name) m.notes.insert(m.notes.begin(), "beat name " + Quote(t.name));
      if (t.last_run_at || t.total_run_count > 0) {
        m.notes.push_back(
            "in beat: " + CountOf(t.total_run_count, "run") +
            (t.last_run_at ? ", the last at " + store::FormatInstant(*t.last_run_at) : "") +
            "; the file has no key for them, --apply carries them over to run_count and "
            "last_run_at");
      }
      im.def = std::move(m.def);
      im.notes = std::move(m.notes);
      im.last_run_at = t.last_run_at;
      im.run_count = t.total_run_count;
    } else {
      im.left_out_reason = st.message();
    }
    result.push_back(std::move(im));
  }
  return result;
}

std::string FormatImportFile(const std::vector<Imported>& imported, const std::string& source) {
  size_t n = 0;
  for (const Imported& im : imported) n += im.def ? 1 : 0;
  std::string out = "// " + CountOf(static_cast<int64_t>(n), "schedule") +
                    " imported from django-celery-beat (" + source +
                    ") by `pgjobs schedules import-celery-beat`.\n"
                    "// Review, then: pgjobs schedules apply FILE\n";
  if (n < imported.size()) {
    out += "// Left out (" + std::to_string(imported.size() - n) + "):\n";
    for (const Imported& im : imported) {
      if (!im.def) out += "//   " + Quote(im.source_name) + ": " + im.left_out_reason + "\n";
    }
  }
  out += "{\n  \"schedules\": {";
  bool first = true;
  for (const Imported& im : imported) {
    if (!im.def) continue;
    out += first ? "\n" : ",\n";
    first = false;
    for (const std::string& note : im.notes) out += "    // " + note + "\n";
    out += "    " + Quote(im.def->name) + ": " + store::ScheduleToJson(*im.def, false);
  }
  out += first ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

}  // namespace pgjobs::cli::celery
