// The declarative schedules file of `pgjobs schedules apply` / `export`
// (src/store/schedule_file.h): JSON with // comments, the same parser options
// as the worker's configuration file.
#include "store/schedule_file.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/text.h"

namespace pgjobs::store {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const std::vector<std::string> kTopKeys = {"schedules"};

// The text of nlohmann's message from "parse error" on, which carries the line
// and column: "parse error at line 3, column 5: syntax error ...".
std::string ParseErrorText(const std::string& what) {
  size_t at = what.find("parse error");
  return at == std::string::npos ? what : what.substr(at);
}

// A first pass over the text with nlohmann's SAX interface, to say in which
// schedule a syntax error is and to refuse duplicate keys, which json::parse
// would silently resolve to the last one.
class SyntaxProbe : public nlohmann::json_sax<json> {
 public:
  // "" when the text is valid JSON without duplicate keys.
  const std::string& error() const { return error_; }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    stack_.push_back(Frame{});
    return true;
  }
  bool key(string_t& k) override {
    Frame& f = stack_.back();
    f.key = k;
    if (f.keys.insert(k).second) return true;
    error_ = "duplicate key \"" + k + "\"" + Where();
    return false;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    stack_.push_back(Frame{});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    if (e.id == 406) {
      // A number beyond a double: valid JSON that pgjobs cannot read.
      std::string what = e.what();
      size_t at = what.find("number overflow");
      error_ = "a number" + Where() +
               " is beyond the range of a double (about 1.8e308), which "
               "pgjobs cannot read; pass it as a string (" +
               (at == std::string::npos ? what : what.substr(at)) + ")";
    } else {
      error_ = "not valid JSON" + Where() + ": " + ParseErrorText(e.what());
    }
    return false;
  }

 private:
  struct Frame {
    std::set<std::string> keys;
    std::string key;  // the latest key of this object
  };
  // " near schedule \"x\"" when the position is inside the "schedules" object.
  std::string Where() const {
    if (stack_.size() < 2 || stack_[0].key != "schedules" || stack_[1].key.empty()) return "";
    return " near schedule \"" + stack_[1].key + "\"";
  }

  std::vector<Frame> stack_;
  std::string error_;
};

Status CheckKeys(const json& object, const std::vector<std::string>& known,
                 const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return UnknownKeyError(key, known, where);
    }
  }
  return Status::Ok();
}

Status GetString(const json& o, const char* key, std::string& out) {
  if (!o.contains(key)) return Status::Ok();
  if (!o[key].is_string()) return Status::InvalidArgument(std::string(key) + " must be a string");
  out = o[key].get<std::string>();
  return Status::Ok();
}

Status GetInt(const json& o, const char* key, int lo, int hi, int& out) {
  if (!o.contains(key)) return Status::Ok();
  const json& v = o[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    return Status::InvalidArgument(std::string(key) + " must be a whole number from " +
                                   std::to_string(lo) + " to " + std::to_string(hi));
  }
  out = v.get<int>();
  return Status::Ok();
}

Status GetInstant(const json& o, const char* key, std::optional<Micros>& out) {
  if (!o.contains(key)) return Status::Ok();
  if (!o[key].is_string()) {
    return Status::InvalidArgument(std::string(key) +
                                   " must be a time such as \"2026-12-01T09:00:00Z\"");
  }
  auto t = ParseInstant(o[key].get<std::string>());
  if (!t.ok()) return t.status().WithContext(key);
  out = *t;
  return Status::Ok();
}

// A duration is a string such as "4h" or a number of seconds.
Status GetDuration(const json& o, const char* key, std::optional<int64_t>& out) {
  if (!o.contains(key)) return Status::Ok();
  const json& v = o[key];
  if (v.is_number()) {
    double seconds = v.get<double>();
    if (seconds <= 0 || seconds > 1e10) {
      return Status::InvalidArgument(std::string(key) + " must be a positive number of seconds");
    }
    out = static_cast<int64_t>(seconds * 1000 + 0.5);
    return Status::Ok();
  }
  if (!v.is_string()) {
    return Status::InvalidArgument(std::string(key) +
                                   " must be a duration such as \"4h\" or \"30s\"");
  }
  auto d = ParseDuration(v.get<std::string>());
  if (!d.ok()) return d.status().WithContext(key);
  out = d->count();
  return Status::Ok();
}

Status GetKind(const json& o, ScheduleDef& def) {
  int given = o.contains("cron") + o.contains("every") + o.contains("at");
  if (given != 1) {
    return Status::InvalidArgument(std::string(given == 0 ? "none" : "more than one") +
                                   " of \"cron\", \"every\" and \"at\" is given; give exactly one");
  }
  if (o.contains("cron")) {
    def.kind = ScheduleKind::kCron;
    return GetString(o, "cron", def.cron);
  }
  if (o.contains("every")) {
    def.kind = ScheduleKind::kInterval;
    std::optional<int64_t> every;
    PGJOBS_RETURN_IF_ERROR(GetDuration(o, "every", every));
    def.every_ms = *every;
    return Status::Ok();
  }
  def.kind = ScheduleKind::kOnce;
  std::optional<Micros> at;
  PGJOBS_RETURN_IF_ERROR(GetInstant(o, "at", at));
  def.at = *at;
  return Status::Ok();
}

Status GetArgs(const json& o, ScheduleDef& def) {
  if (!o.contains("args")) return Status::Ok();
  if (!o["args"].is_object()) {
    return Status::InvalidArgument(std::string("args must be a JSON object, got a JSON ") +
                                   o["args"].type_name() + "; e.g. {\"days\": 30}");
  }
  auto args = CanonicalArgs(o["args"].dump(-1, ' ', false, json::error_handler_t::replace));
  if (!args.ok()) return args.status();
  def.args = *args;
  return Status::Ok();
}

Status FillDef(const json& o, ScheduleDef& def) {
  if (!o.is_object()) {
    return Status::InvalidArgument(
        "must be an object such as {\"cron\": \"0 3 * * *\", \"task\": \"cleanup\"}");
  }
  PGJOBS_RETURN_IF_ERROR(CheckKeys(o, kScheduleFileKeys, ""));
  PGJOBS_RETURN_IF_ERROR(GetKind(o, def));
  if (!o.contains("task")) {
    return Status::InvalidArgument("\"task\" is missing; name the task each tick enqueues");
  }
  PGJOBS_RETURN_IF_ERROR(GetString(o, "task", def.task));
  PGJOBS_RETURN_IF_ERROR(GetString(o, "tz", def.time_zone));
  if (!IsUtcZone(def.time_zone) && def.kind != ScheduleKind::kCron) {
    return Status::InvalidArgument(std::string("\"tz\" applies to \"cron\" schedules only: ") +
                                   ZonelessKindNote(def.kind) + "; leave \"tz\" out");
  }
  PGJOBS_RETURN_IF_ERROR(GetString(o, "queue", def.queue));
  PGJOBS_RETURN_IF_ERROR(GetArgs(o, def));
  PGJOBS_RETURN_IF_ERROR(GetInt(o, "priority", 0, 9, def.priority));
  PGJOBS_RETURN_IF_ERROR(GetDuration(o, "timeout", def.timeout_ms));
  PGJOBS_RETURN_IF_ERROR(GetInt(o, "max_attempts", 1, 1000, def.max_attempts));
  PGJOBS_RETURN_IF_ERROR(GetString(o, "misfire", def.misfire));
  PGJOBS_RETURN_IF_ERROR(GetInt(o, "catch_up_limit", 1, 10000, def.catch_up_limit));
  if (o.contains("catch_up_limit") && def.misfire != "catch_up") {
    return Status::InvalidArgument("catch_up_limit applies only with \"misfire\": \"catch_up\"");
  }
  PGJOBS_RETURN_IF_ERROR(GetString(o, "overlap", def.overlap));
  PGJOBS_RETURN_IF_ERROR(GetInstant(o, "start", def.start_at));
  PGJOBS_RETURN_IF_ERROR(GetInstant(o, "end", def.end_at));
  PGJOBS_RETURN_IF_ERROR(GetString(o, "description", def.description));
  if (o.contains("enabled")) {
    if (!o["enabled"].is_boolean()) return Status::InvalidArgument("enabled must be true or false");
    def.enabled = o["enabled"].get<bool>();
  }
  return Status::Ok();
}

ordered_json ToJson(const ScheduleDef& def, bool all_keys) {
  ordered_json o = ordered_json::object();
  auto put = [&](const char* key, ordered_json value, bool is_default) {
    if (all_keys || !is_default) o[key] = std::move(value);
  };
  put("cron", def.kind == ScheduleKind::kCron ? ordered_json(def.cron) : ordered_json(),
      def.kind != ScheduleKind::kCron);
  put("every",
      def.kind == ScheduleKind::kInterval ? ordered_json(FormatDurationMs(def.every_ms))
                                          : ordered_json(),
      def.kind != ScheduleKind::kInterval);
  put("at", def.kind == ScheduleKind::kOnce ? ordered_json(FormatInstant(def.at)) : ordered_json(),
      def.kind != ScheduleKind::kOnce);
  const bool zoned = def.kind == ScheduleKind::kCron;
  put("tz", zoned ? def.time_zone : "UTC", !zoned || def.time_zone == "UTC");
  put("task", def.task, false);
  put("queue", def.queue, def.queue == "default");
  put("args", ordered_json::parse(def.args, nullptr, false), def.args == "{}");
  put("priority", def.priority, def.priority == 5);
  put("timeout", def.timeout_ms ? ordered_json(FormatDurationMs(*def.timeout_ms)) : ordered_json(),
      !def.timeout_ms);
  put("max_attempts", def.max_attempts, def.max_attempts == 4);
  put("misfire", def.misfire, def.misfire == "run_once");
  put("catch_up_limit", def.catch_up_limit,
      def.misfire != "catch_up" || def.catch_up_limit == kDefaultCatchUpLimit);
  put("overlap", def.overlap, def.overlap == "allow");
  put("start", def.start_at ? ordered_json(FormatInstant(*def.start_at)) : ordered_json(),
      !def.start_at);
  put("end", def.end_at ? ordered_json(FormatInstant(*def.end_at)) : ordered_json(), !def.end_at);
  put("description", def.description, def.description.empty());
  put("enabled", def.enabled, def.enabled);
  return o;
}

}  // namespace

Result<std::vector<ScheduleDef>> ParseScheduleFile(std::string_view text, const std::string& source,
                                                   std::chrono::sys_seconds now) {
  SyntaxProbe probe;
  json::sax_parse(text, &probe, json::input_format_t::json, /*strict=*/true,
                  /*ignore_comments=*/true);
  if (!probe.error().empty()) return Status::InvalidArgument(source + ": " + probe.error());
  json root = json::parse(text, nullptr, false, /*ignore_comments=*/true);
  if (!root.is_object()) {
    return Status::InvalidArgument(
        source +
        ": the file must be an object such as "
        "{\"schedules\": {\"NAME\": {\"cron\": \"0 3 * * *\", \"task\": \"T\"}}}");
  }
  PGJOBS_RETURN_IF_ERROR(CheckKeys(root, kTopKeys, source + ": "));
  if (!root.contains("schedules") || !root["schedules"].is_object()) {
    return Status::InvalidArgument(
        source +
        ": \"schedules\" must be an object of schedules by name, "
        "such as {\"schedules\": {\"sync\": {\"every\": \"4h\", \"task\": \"sync\"}}}");
  }
  std::vector<ScheduleDef> defs;
  for (const auto& [name, body] : root["schedules"].items()) {
    ScheduleDef def;
    def.name = name;
    Status st = FillDef(body, def);
    if (st.ok()) st = ValidateScheduleDef(def, now);
    if (!st.ok()) return st.WithContext(source + ": schedule \"" + name + "\"");
    defs.push_back(std::move(def));
  }
  std::sort(defs.begin(), defs.end(),
            [](const ScheduleDef& a, const ScheduleDef& b) { return a.name < b.name; });
  return defs;
}

std::string ScheduleToJson(const ScheduleDef& def, bool all_keys) {
  return ToJson(def, all_keys).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string FormatScheduleFile(const std::vector<ScheduleDef>& defs, bool with_comment) {
  ordered_json schedules = ordered_json::object();
  std::vector<const ScheduleDef*> sorted;
  for (const ScheduleDef& d : defs) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(),
            [](const ScheduleDef* a, const ScheduleDef* b) { return a->name < b->name; });
  for (const ScheduleDef* d : sorted) schedules[d->name] = ToJson(*d, false);
  ordered_json root = {{"schedules", schedules}};
  std::string out;
  if (with_comment) {
    out = "// " + std::to_string(defs.size()) +
          " schedules, written by `pgjobs schedules export`; "
          "`pgjobs schedules apply FILE [--prune]` makes the database match this file.\n";
  }
  return out + root.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace pgjobs::store
