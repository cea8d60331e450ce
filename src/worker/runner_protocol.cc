#include "worker/runner_protocol.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace pgjobs::worker {
namespace {

using nlohmann::json;

constexpr std::size_t kQuoteBytes = 200;

std::string Quote(std::string_view line) {
  std::string cut(line.substr(0, kQuoteBytes));
  std::string quoted = json(cut).dump(-1, ' ', false, json::error_handler_t::replace);
  if (line.size() > kQuoteBytes) quoted += " (" + std::to_string(line.size()) + " bytes)";
  return quoted;
}

Status NotProtocol(std::string_view line, const std::string& why) {
  return Status::InvalidArgument(
      "the runner printed a line that is not a pgjobs protocol message (" + why + "): " +
      Quote(line) + "; a runner must print only protocol lines on stdout and its logs on stderr");
}

std::string Text(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

Status ParseReady(const json& o, std::string_view line, RunnerMessage& out) {
  auto protocol = o.find("protocol");
  if (protocol != o.end() && *protocol != kRunnerProtocolVersion) {
    return NotProtocol(line, "it speaks protocol " + protocol->dump() + ", this worker speaks " +
                                 std::to_string(kRunnerProtocolVersion));
  }
  auto tasks = o.find("tasks");
  if (tasks == o.end() || !tasks->is_array()) {
    return NotProtocol(line, "\"ready\" needs \"tasks\": an array of task names");
  }
  for (const json& t : *tasks) {
    if (!t.is_string()) return NotProtocol(line, "every item of \"tasks\" must be a string");
    out.tasks.push_back(t.get<std::string>());
  }
  return Status::Ok();
}

Status ParseOutcome(const json& o, std::string_view line, RunnerMessage& out) {
  auto id = o.find("id");
  if (id == o.end() || !id->is_number_integer()) {
    return NotProtocol(line, "it has no \"id\" (the job id, a whole number)");
  }
  out.id = id->get<int64_t>();
  if (out.type == RunnerMessage::Type::kProgress) {
    auto progress = o.find("progress");
    if (progress == o.end()) return NotProtocol(line, "\"progress\" needs a \"progress\" value");
    out.json = progress->dump();
    return Status::Ok();
  }
  if (auto result = o.find("result"); result != o.end() && !result->is_null()) {
    out.json = result->dump();
  }
  out.error = Text(o, "error");
  out.traceback = Text(o, "traceback");
  if (auto after = o.find("after"); after != o.end() && !after->is_null()) {
    if (!after->is_number() || after->get<double>() < 0 || !std::isfinite(after->get<double>())) {
      return NotProtocol(line, "\"after\" must be a number of seconds, 0 or more");
    }
    out.after_seconds = after->get<double>();
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeRunnerJob(const Job& job, std::optional<double> deadline_unix_seconds) {
  json line = {{"type", "job"},          {"id", job.id},
               {"task", job.task},       {"args", json::parse(job.args_json, nullptr, false)},
               {"attempt", job.attempt}, {"max_attempts", job.max_attempts},
               {"queue", job.queue},     {"deadline", nullptr}};
  if (line["args"].is_discarded()) line["args"] = json::object();
  if (deadline_unix_seconds) line["deadline"] = *deadline_unix_seconds;
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string EncodeRunnerStop(int64_t job_id, std::string_view reason) {
  return json{{"type", "stop"}, {"id", job_id}, {"reason", std::string(reason)}}.dump() + "\n";
}

Result<RunnerMessage> ParseRunnerLine(std::string_view line) {
  json o = json::parse(line, nullptr, false);
  if (o.is_discarded()) return NotProtocol(line, "not JSON");
  if (!o.is_object()) return NotProtocol(line, "not a JSON object");
  auto type = o.find("type");
  if (type == o.end() || !type->is_string()) return NotProtocol(line, "it has no \"type\"");
  static const std::pair<const char*, RunnerMessage::Type> kTypes[] = {
      {"ready", RunnerMessage::Type::kReady},     {"progress", RunnerMessage::Type::kProgress},
      {"success", RunnerMessage::Type::kSuccess}, {"failure", RunnerMessage::Type::kFailure},
      {"retry", RunnerMessage::Type::kRetry},     {"discard", RunnerMessage::Type::kDiscard}};
  RunnerMessage out;
  bool known = false;
  for (const auto& [name, t] : kTypes) {
    if (*type == name) {
      out.type = t;
      known = true;
    }
  }
  if (!known) {
    return NotProtocol(line, "unknown type " + type->dump() +
                                 "; known: ready, progress, success, failure, retry, discard");
  }
  Status st = out.type == RunnerMessage::Type::kReady ? ParseReady(o, line, out)
                                                      : ParseOutcome(o, line, out);
  if (!st.ok()) return st;
  return out;
}

HandlerResult RunnerOutcome(const RunnerMessage& m, std::chrono::milliseconds retry_base) {
  using Type = RunnerMessage::Type;
  switch (m.type) {
    case Type::kSuccess:
      return HandlerResult::Success(m.json);
    case Type::kRetry: {
      auto delay = m.after_seconds ? std::chrono::milliseconds(static_cast<int64_t>(
                                         std::llround(*m.after_seconds * 1000)))
                                   : retry_base;
      return HandlerResult::RetryLater(delay, m.error.empty() ? "retry later" : m.error);
    }
    case Type::kDiscard:
      return HandlerResult::Discard(m.error.empty() ? "discarded by the task" : m.error);
    default: {
      HandlerResult r = HandlerResult::Failure(m.error.empty() ? "the task failed" : m.error);
      r.SetTraceback(m.traceback);
      return r;
    }
  }
}

}  // namespace pgjobs::worker
