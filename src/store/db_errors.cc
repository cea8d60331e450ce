#include "store/db_errors.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace pgjobs {

Status ExplainJobsError(const Status& status) {
  static const std::pair<const char*, const char*> kConstraints[] = {
      {"jobs_task_not_blank", "task name is empty"},
      {"jobs_task_at_most_200_chars", "task name is longer than 200 characters"},
      {"jobs_args_must_be_json_object", "args must be a JSON object"},
      {"jobs_args_at_most_1mib", "args are over the 1 MiB limit"},
      {"jobs_queue_name_format",
       "queue name must be 1-128 letters, digits, '_', '.', ':' or '-'"},
      {"jobs_priority_0_to_9", "priority must be 0-9"},
      {"jobs_max_attempts_1_to_1000", "max_attempts must be 1-1000"},
      {"jobs_timeout_positive", "timeout must be positive"},
      {"jobs_unique_key_1_to_512_chars", "unique_key must be 1-512 characters"},
  };
  if (status.ok()) return status;
  for (const auto& [name, meaning] : kConstraints) {
    if (status.message().find(name) != std::string::npos) {
      return Status::InvalidArgument(std::string(meaning) + " (" + status.message() + ")");
    }
  }
  return status;
}

std::string JsonProblem(const std::string& text) {
  try {
    nlohmann::json ignored = nlohmann::json::parse(text);
    (void)ignored;
    return "valid JSON";
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 7: ..."
    size_t at = what.find("parse error");
    return "not valid JSON: " + (at == std::string::npos ? what : what.substr(at));
  } catch (const nlohmann::json::out_of_range& e) {
    // "[json.exception.out_of_range.406] number overflow parsing '1e400'":
    // valid JSON, but beyond a double, which is how pgjobs reads numbers.
    std::string what = e.what();
    size_t at = what.find("number overflow parsing ");
    std::string number = at == std::string::npos ? what : what.substr(at + 24);
    return "valid JSON that pgjobs cannot read: the number " + number +
           " is beyond the range of a double (about 1.8e308), which pgjobs cannot read; "
           "pass it as a string, e.g. \"" +
           (number.size() > 2 && number.front() == '\'' ? number.substr(1, number.size() - 2)
                                                        : number) +
           "\"";
  } catch (const nlohmann::json::exception& e) {
    return std::string("not readable as JSON: ") + e.what();
  }
}

}  // namespace pgjobs
