#include "worker/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "broker/redis_url.h"
#include "common/text.h"
#include "store/db_errors.h"

namespace pgjobs::worker {
namespace {

using nlohmann::json;

const std::vector<std::string> kTopKeys = {"dsn",   "schema",    "log_level", "worker",
                                           "tasks", "scheduler", "web",       "redis"};
const std::vector<std::string> kRedisKeys = {"url", "password_file", "key_prefix",
                                             "redispatch_after", "window"};
const std::vector<std::string> kSchedulerKeys = {"batch_size", "leader_lease", "rescue_interval",
                                                 "history_retention", "max_sleep",
                                                 "fire_ahead"};
const std::vector<std::string> kWorkerKeys = {
    "queues",          "lease",    "poll_interval",    "rescue_interval", "drain_timeout",
    "prefetch",        "completion_batch", "completion_flush", "worker_id"};
const std::vector<std::string> kTaskKeys = {
    "kind", "command", "env", "working_dir", "kill_grace", "max_result_bytes",
    "sql",  "timeout", "retry_base", "retry_max", "serves", "pool_size", "max_jobs_per_runner",
    "max_memory_per_runner", "startup_timeout"};
const std::vector<std::string> kRunnerOnlyKeys = {"serves", "pool_size", "max_jobs_per_runner",
                                                  "max_memory_per_runner", "startup_timeout"};

Status CheckKeys(const json& object, const std::vector<std::string>& known,
                 const std::string& where) {
  if (!object.is_object()) return Status::InvalidArgument(where + " must be a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return UnknownKeyError(key, known, where + ": ");
    }
  }
  return Status::Ok();
}

Status GetString(const json& o, const char* key, const std::string& where, std::string& out) {
  if (!o.contains(key)) return Status::Ok();
  if (!o[key].is_string()) {
    return Status::InvalidArgument(where + "." + key + " must be a string");
  }
  out = o[key].get<std::string>();
  return Status::Ok();
}

Status GetInt(const json& o, const char* key, const std::string& where, int lo, int hi,
              int& out) {
  if (!o.contains(key)) return Status::Ok();
  if (!o[key].is_number_integer() || o[key].get<int64_t>() < lo || o[key].get<int64_t>() > hi) {
    return Status::InvalidArgument(where + "." + key + " must be a whole number from " +
                                   std::to_string(lo) + " to " + std::to_string(hi));
  }
  out = o[key].get<int>();
  return Status::Ok();
}

// A duration is a string such as "30s" or a number of seconds.
Status GetDuration(const json& o, const char* key, const std::string& where,
                   std::chrono::milliseconds& out) {
  if (!o.contains(key)) return Status::Ok();
  const json& v = o[key];
  if (v.is_number()) {
    double seconds = v.get<double>();
    if (seconds < 0) return Status::InvalidArgument(where + "." + key + " is negative");
    // The limit of ParseDuration (1e13 ms); beyond it the cast below overflows.
    if (seconds > 1e10) return Status::InvalidArgument(where + "." + key + " is too long");
    out = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    return Status::Ok();
  }
  if (!v.is_string()) {
    return Status::InvalidArgument(where + "." + key + " must be a duration such as \"30s\"");
  }
  auto d = ParseDuration(v.get<std::string>());
  if (!d.ok()) return d.status().WithContext(where + "." + key);
  out = *d;
  return Status::Ok();
}

Status ParseQueues(const json& o, const std::string& where, std::map<std::string, int>& out) {
  if (!o.contains("queues")) return Status::Ok();
  const json& q = o["queues"];
  if (!q.is_object()) {
    return Status::InvalidArgument(where + ".queues must be an object such as "
                                   "{\"default\": 4, \"emails\": 2}");
  }
  out.clear();
  for (const auto& [name, concurrency] : q.items()) {
    PGJOBS_RETURN_IF_ERROR(ValidateQueueName(name).WithContext(where + ".queues"));
    int c = 0;
    PGJOBS_RETURN_IF_ERROR(GetInt(q, name.c_str(), where + ".queues", 1, 1000, c));
    out[name] = c;
  }
  return Status::Ok();
}

Status ParseWorker(const json& w, WorkerOptions& out) {
  const std::string where = "worker";
  PGJOBS_RETURN_IF_ERROR(CheckKeys(w, kWorkerKeys, where));
  PGJOBS_RETURN_IF_ERROR(ParseQueues(w, where, out.queues));
  PGJOBS_RETURN_IF_ERROR(GetDuration(w, "lease", where, out.lease));
  PGJOBS_RETURN_IF_ERROR(GetDuration(w, "poll_interval", where, out.poll_interval));
  PGJOBS_RETURN_IF_ERROR(GetDuration(w, "rescue_interval", where, out.rescue_interval));
  PGJOBS_RETURN_IF_ERROR(GetDuration(w, "drain_timeout", where, out.drain_timeout));
  PGJOBS_RETURN_IF_ERROR(GetDuration(w, "completion_flush", where, out.completion_flush));
  // "auto" (the default) or a whole number of jobs.
  if (w.contains("prefetch") && w["prefetch"] == "auto") {
    out.prefetch = WorkerOptions::kPrefetchAuto;
  } else if (!GetInt(w, "prefetch", where, 0, 100000, out.prefetch).ok()) {
    return Status::InvalidArgument(
        "worker.prefetch must be \"auto\" (the default) or a whole number from 0 to 100000");
  }
  PGJOBS_RETURN_IF_ERROR(GetInt(w, "completion_batch", where, 1, 100000, out.completion_batch));
  return GetString(w, "worker_id", where, out.worker_id);
}

// The password is read from its own file (mode 0600 is the operator's
// choice), never written in the configuration; one trailing newline is cut.
Status ReadPasswordFile(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) {
    return Status::InvalidArgument("redis.password_file " + path +
                                   " cannot be read: " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  out = text.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty()) return Status::InvalidArgument("redis.password_file " + path + " is empty");
  return Status::Ok();
}

Status ParseRedis(const json& r, RedisOptions& out) {
  const std::string where = "redis";
  PGJOBS_RETURN_IF_ERROR(CheckKeys(r, kRedisKeys, where));
  PGJOBS_RETURN_IF_ERROR(GetString(r, "url", where, out.url));
  if (out.url.empty()) return Status::InvalidArgument("redis.url is missing (or empty)");
  auto address = broker::ParseRedisUrl(out.url);
  if (!address.ok()) return address.status();
  std::string password_file;
  PGJOBS_RETURN_IF_ERROR(GetString(r, "password_file", where, password_file));
  if (!password_file.empty()) PGJOBS_RETURN_IF_ERROR(ReadPasswordFile(password_file, out.password));
  PGJOBS_RETURN_IF_ERROR(GetString(r, "key_prefix", where, out.key_prefix));
  if (out.key_prefix.empty()) return Status::InvalidArgument("redis.key_prefix must not be empty");
  PGJOBS_RETURN_IF_ERROR(GetDuration(r, "redispatch_after", where, out.redispatch_after));
  if (out.redispatch_after < std::chrono::seconds(1)) {
    return Status::InvalidArgument("redis.redispatch_after must be at least 1s (default 30s)");
  }
  return GetInt(r, "window", where, 1, 1000000, out.window);
}

Status ParseScheduler(const json& s, SchedulerOptions& out) {
  const std::string where = "scheduler";
  PGJOBS_RETURN_IF_ERROR(CheckKeys(s, kSchedulerKeys, where));
  PGJOBS_RETURN_IF_ERROR(GetInt(s, "batch_size", where, 1, 100000, out.batch_size));
  PGJOBS_RETURN_IF_ERROR(GetDuration(s, "leader_lease", where, out.leader_lease));
  PGJOBS_RETURN_IF_ERROR(GetDuration(s, "rescue_interval", where, out.rescue_interval));
  PGJOBS_RETURN_IF_ERROR(GetDuration(s, "history_retention", where, out.history_retention));
  PGJOBS_RETURN_IF_ERROR(GetDuration(s, "max_sleep", where, out.max_sleep));
  PGJOBS_RETURN_IF_ERROR(GetDuration(s, "fire_ahead", where, out.fire_ahead));
  if (out.fire_ahead > std::chrono::hours(1)) {
    return Status::InvalidArgument("scheduler.fire_ahead must be at most 1h (default 30s; 0s "
                                   "turns it off)");
  }
  if (out.history_retention < std::chrono::hours(24)) {
    return Status::InvalidArgument("scheduler.history_retention must be at least 1d "
                                   "(history is kept by whole days)");
  }
  return Status::Ok();
}

Status ParseCommand(const json& t, const std::string& where, TaskConfig& out) {
  if (!t.contains("command") || !t["command"].is_array() || t["command"].empty()) {
    return Status::InvalidArgument(where + ".command must be a non-empty array of strings, "
                                   "e.g. [\"/usr/bin/python3\", \"-m\", \"app.tasks.send\"]");
  }
  for (const json& arg : t["command"]) {
    if (!arg.is_string()) return Status::InvalidArgument(where + ".command: every item must be a string");
    out.command.push_back(arg.get<std::string>());
  }
  if (t.contains("env")) {
    if (!t["env"].is_object()) return Status::InvalidArgument(where + ".env must be an object");
    for (const auto& [k, v] : t["env"].items()) {
      if (!v.is_string()) return Status::InvalidArgument(where + ".env." + k + " must be a string");
      out.env[k] = v.get<std::string>();
    }
  }
  PGJOBS_RETURN_IF_ERROR(GetString(t, "working_dir", where, out.working_dir));
  PGJOBS_RETURN_IF_ERROR(GetDuration(t, "kill_grace", where, out.kill_grace));
  int max_result = static_cast<int>(out.max_result_bytes);
  PGJOBS_RETURN_IF_ERROR(GetInt(t, "max_result_bytes", where, 0, 64 << 20, max_result));
  out.max_result_bytes = static_cast<size_t>(max_result);
  if (t.contains("sql")) return Status::InvalidArgument(where + ": \"sql\" is for kind \"sql\"");
  return Status::Ok();
}

// "512MB", "2GB", "100kB" or a number of bytes.
Status GetBytes(const json& o, const char* key, const std::string& where, size_t& out) {
  if (!o.contains(key)) return Status::Ok();
  const json& v = o[key];
  const std::string usage = where + "." + key + " must be a size such as \"512MB\" or \"2GB\"";
  if (v.is_number_unsigned()) {
    out = v.get<size_t>();
    return Status::Ok();
  }
  if (!v.is_string()) return Status::InvalidArgument(usage);
  const std::string text = v.get<std::string>();
  size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    return Status::InvalidArgument(usage + ", not \"" + text + "\"");
  }
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1}, {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  for (const auto& [unit, scale] : kUnits) {
    if (text.substr(used) == unit && number >= 0 && number * scale < 1e15) {
      out = static_cast<size_t>(number * scale);
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(usage + ", not \"" + text + "\"");
}

Status ParseRunner(const json& t, const std::string& where, TaskConfig& out) {
  PGJOBS_RETURN_IF_ERROR(ParseCommand(t, where, out));
  const std::string serves_usage =
      where + ".serves must be a non-empty array of task names, where \"prefix.*\" stands for "
              "every task the runner reports whose name starts with \"prefix.\", e.g. "
              "[\"app.tasks.*\", \"billing.tasks.charge\"]";
  if (!t.contains("serves") || !t["serves"].is_array() || t["serves"].empty()) {
    return Status::InvalidArgument(serves_usage);
  }
  for (const json& name : t["serves"]) {
    if (!name.is_string() || name.get<std::string>().empty() || name.get<std::string>() == "*") {
      return Status::InvalidArgument(serves_usage);
    }
    out.serves.push_back(name.get<std::string>());
  }
  PGJOBS_RETURN_IF_ERROR(GetInt(t, "pool_size", where, 1, 1000, out.pool_size));
  PGJOBS_RETURN_IF_ERROR(
      GetInt(t, "max_jobs_per_runner", where, 0, 1000000000, out.max_jobs_per_runner));
  PGJOBS_RETURN_IF_ERROR(GetBytes(t, "max_memory_per_runner", where, out.max_memory_per_runner));
  PGJOBS_RETURN_IF_ERROR(GetDuration(t, "startup_timeout", where, out.startup_timeout));
  return Status::Ok();
}

Status ParseTask(const std::string& name, const json& t, TaskConfig& out) {
  const std::string where = "tasks." + name;
  PGJOBS_RETURN_IF_ERROR(CheckKeys(t, kTaskKeys, where));
  out.name = name;
  std::string kind;
  PGJOBS_RETURN_IF_ERROR(GetString(t, "kind", where, kind));
  PGJOBS_RETURN_IF_ERROR(GetDuration(t, "timeout", where, out.options.timeout));
  PGJOBS_RETURN_IF_ERROR(GetDuration(t, "retry_base", where, out.options.retry.base));
  PGJOBS_RETURN_IF_ERROR(GetDuration(t, "retry_max", where, out.options.retry.max));
  if (kind == "runner") {
    out.kind = TaskConfig::Kind::kRunner;
    return ParseRunner(t, where, out);
  }
  for (const std::string& key : kRunnerOnlyKeys) {
    if (t.contains(key)) {
      return Status::InvalidArgument(where + ": \"" + key + "\" is for kind \"runner\"");
    }
  }
  if (kind == "command") {
    out.kind = TaskConfig::Kind::kCommand;
    return ParseCommand(t, where, out);
  }
  if (kind == "sql") {
    out.kind = TaskConfig::Kind::kSql;
    PGJOBS_RETURN_IF_ERROR(GetString(t, "sql", where, out.sql));
    if (out.sql.empty()) {
      return Status::InvalidArgument(where + ".sql must be a statement, e.g. "
                                     "\"REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals\"");
    }
    // Settings of the command kind would be silently ignored here.
    for (const char* key : {"command", "env", "working_dir", "kill_grace", "max_result_bytes"}) {
      if (t.contains(key)) {
        return Status::InvalidArgument(where + ": \"" + key + "\" is for kind \"command\"");
      }
    }
    return Status::Ok();
  }
  return Status::InvalidArgument(where + ".kind must be \"command\", \"sql\" or \"runner\"" +
                                 (kind.empty() ? std::string(" (it is missing)")
                                               : ", not \"" + kind + "\""));
}

// A job whose lease cannot be renewed is told to stop before the lease
// ends (the guard looks every 250 ms) and, for a command or runner task,
// SIGKILLed kill_grace later: it has ended before any worker can rescue it
// only if it is told kill_grace + 500 ms before the lease ends (README,
// "Leases"). So the worker's stop_margin follows the longest kill_grace, up
// to lease/2 (more would stop jobs before their lease could be renewed
// twice): a kill_grace set in the file beyond that is refused, and the
// default (5 s) shrinks to fit a short lease.
constexpr std::chrono::milliseconds kStopSlack{500};

Status FitKillGrace(WorkerOptions& worker, bool explicit_grace, TaskConfig& task) {
  if (task.kind == TaskConfig::Kind::kSql) return Status::Ok();
  auto ToSeconds = [](std::chrono::milliseconds d) {
    return static_cast<double>(d.count()) / 1000;
  };
  const std::chrono::milliseconds most = worker.lease / 2 - kStopSlack;
  if (task.kill_grace > most) {
    if (explicit_grace) {
      return Status::InvalidArgument(
          "tasks." + task.name + ".kill_grace (" + CompactDuration(ToSeconds(task.kill_grace)) +
          ") is too long for worker.lease " + CompactDuration(ToSeconds(worker.lease)) +
          ": a job whose lease cannot be renewed must have ended before another worker can "
          "rescue it, and it is told to stop at most lease/2 before its lease ends; lower "
          "kill_grace to at most " +
          std::to_string(most.count()) + "ms or raise worker.lease to at least " +
          std::to_string(
              static_cast<int64_t>(std::ceil(ToSeconds(2 * (task.kill_grace + kStopSlack))))) +
          "s");
    }
    task.kill_grace = most;
  }
  worker.stop_margin = std::max(worker.stop_margin, task.kill_grace + kStopSlack);
  return Status::Ok();
}

Status ParseRoot(const json& root, Config& config) {
  PGJOBS_RETURN_IF_ERROR(CheckKeys(root, kTopKeys, "configuration"));
  PGJOBS_RETURN_IF_ERROR(GetString(root, "dsn", "configuration", config.dsn));
  PGJOBS_RETURN_IF_ERROR(GetString(root, "schema", "configuration", config.schema));
  PGJOBS_RETURN_IF_ERROR(GetString(root, "log_level", "configuration", config.log_level));
  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), config.log_level) == kLevels.end()) {
    return Status::InvalidArgument("log_level must be one of trace, debug, info, warn, error");
  }
  if (root.contains("worker")) PGJOBS_RETURN_IF_ERROR(ParseWorker(root["worker"], config.worker));
  if (root.contains("scheduler")) {
    PGJOBS_RETURN_IF_ERROR(ParseScheduler(root["scheduler"], config.scheduler));
  }
  if (root.contains("redis")) PGJOBS_RETURN_IF_ERROR(ParseRedis(root["redis"], config.worker.redis));
  if (root.contains("web")) {
    if (!root["web"].is_object()) return Status::InvalidArgument("web must be a JSON object");
    config.web = root["web"].dump();
  }
  if (root.contains("tasks")) {
    if (!root["tasks"].is_object()) return Status::InvalidArgument("tasks must be an object");
    for (const auto& [name, t] : root["tasks"].items()) {
      TaskConfig task;
      PGJOBS_RETURN_IF_ERROR(ParseTask(name, t, task));
      PGJOBS_RETURN_IF_ERROR(
          FitKillGrace(config.worker, t.is_object() && t.contains("kill_grace"), task));
      config.tasks.push_back(std::move(task));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& source) {
  json root;
  try {
    root = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    size_t at = what.find("parse error");
    return Status::InvalidArgument(source + ": not valid JSON: " +
                                   (at == std::string::npos ? what : what.substr(at)));
  }
  Config config;
  Status st = ParseRoot(root, config);
  if (!st.ok()) return st.WithContext(source);
  config.worker.dsn = config.scheduler.dsn = config.dsn;
  config.worker.schema = config.scheduler.schema = config.schema;
  return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  int error = in ? 0 : (errno != 0 ? errno : EIO);
  // A directory opens fine but reads as empty, which would be reported as bad JSON.
  std::error_code ec;
  if (error == 0 && std::filesystem::is_directory(path, ec)) error = EISDIR;
  if (error != 0) {
    return Status::NotFound("cannot read configuration file " + path + ": " +
                            std::strerror(error) + "; pass --config FILE");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfig(buffer.str(), path);
}

void ApplyEnvironment(Config& config) {
  if (const char* dsn = std::getenv("PGJOBS_DSN"); dsn != nullptr && *dsn != '\0') {
    config.dsn = dsn;
  }
  if (const char* schema = std::getenv("PGJOBS_SCHEMA"); schema != nullptr && *schema != '\0') {
    config.schema = schema;
  }
  config.worker.dsn = config.scheduler.dsn = config.dsn;
  config.worker.schema = config.scheduler.schema = config.schema;
}

Result<std::map<std::string, int>> ParseQueueList(const std::string& text) {
  std::map<std::string, int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    int concurrency = 1;
    if (eq != std::string::npos) {
      char* end = nullptr;
      long v = std::strtol(item.c_str() + eq + 1, &end, 10);
      if (end == item.c_str() + eq + 1 || *end != '\0' || v < 1 || v > 1000) {
        return Status::InvalidArgument("queue list item \"" + item +
                                       "\": concurrency must be 1-1000, e.g. emails=4");
      }
      concurrency = static_cast<int>(v);
    }
    PGJOBS_RETURN_IF_ERROR(ValidateQueueName(name));
    out[name] = concurrency;
  }
  if (out.empty()) {
    return Status::InvalidArgument("queue list \"" + text + "\" is empty; e.g. default=4,emails=2");
  }
  return out;
}

}  // namespace pgjobs::worker
