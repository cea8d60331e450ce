// Validation of job requests: the same rules as the CHECK constraints of
// migrations/0001_jobs.sql, said in words that name the fix.
#include <nlohmann/json.hpp>
#include <regex>

#include "pgjobs/client.h"
#include "store/db_errors.h"

namespace pgjobs {
namespace {

constexpr size_t kMaxArgsBytes = 1 << 20;

// Characters of UTF-8 text, as PostgreSQL's length() counts them: every byte
// that does not continue a multi-byte sequence.
size_t CharCount(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

Status ValidateArgs(const std::string& args_json) {
  if (args_json.size() > kMaxArgsBytes) {
    return Status::InvalidArgument("args are " + std::to_string(args_json.size()) +
                                   " bytes, over the 1 MiB limit; store large data elsewhere "
                                   "(a table, a file) and pass a reference in args");
  }
  nlohmann::json parsed = nlohmann::json::parse(args_json, nullptr, false);
  if (parsed.is_discarded()) {
    return Status::InvalidArgument("args are not valid JSON: " + DescribeJsonError(args_json) +
                                   "; pass a JSON object such as {\"to\": \"a@b.c\"}");
  }
  if (!parsed.is_object()) {
    return Status::InvalidArgument(std::string("args must be a JSON object, got a JSON ") +
                                   parsed.type_name() +
                                   "; wrap the value in an object, e.g. {\"value\": ...}");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateQueueName(const std::string& queue) {
  static const std::regex kQueue("^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$");
  if (std::regex_match(queue, kQueue)) return Status::Ok();
  return Status::InvalidArgument("queue name \"" + queue +
                                 "\" is not allowed; use 1-128 letters, digits, '_', '.', ':' "
                                 "or '-', starting with a letter or digit");
}

Status ValidateJobRequest(const JobRequest& request) {
  const EnqueueOptions& o = request.options;
  if (request.task.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("task name is empty; give the name of a task your workers run");
  }
  if (CharCount(request.task) > 200) {
    return Status::InvalidArgument("task name is longer than 200 characters");
  }
  PGJOBS_RETURN_IF_ERROR(ValidateArgs(request.args_json));
  PGJOBS_RETURN_IF_ERROR(ValidateQueueName(o.queue));
  if (o.priority < 0 || o.priority > 9) {
    return Status::InvalidArgument("priority " + std::to_string(o.priority) +
                                   " is out of range; use 0-9 (9 runs first, default 5)");
  }
  if (o.max_attempts < 1 || o.max_attempts > 1000) {
    return Status::InvalidArgument("max_attempts " + std::to_string(o.max_attempts) +
                                   " is out of range; use 1-1000");
  }
  if (o.timeout && o.timeout->count() <= 0) {
    return Status::InvalidArgument("timeout must be positive");
  }
  if (o.delay.count() < 0) return Status::InvalidArgument("delay must not be negative");
  if (o.run_at && o.delay.count() != 0) {
    return Status::InvalidArgument("give a run time or a delay, not both");
  }
  if (CharCount(o.unique_key) > 512) {
    return Status::InvalidArgument("unique_key is longer than 512 characters");
  }
  return Status::Ok();
}

}  // namespace pgjobs
