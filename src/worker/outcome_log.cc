#include "worker/outcome_log.h"

#include <nlohmann/json.hpp>
#include <string>

namespace pgjobs::worker {
namespace {

// Enough to recognise an error in a log; the whole of it is in the job's
// errors (`pgjobs jobs show ID`).
constexpr size_t kMaxErrorChars = 300;

// The first line of the error message held in an error entry.
std::string FirstLine(const std::string& error_json) {
  nlohmann::json entry = nlohmann::json::parse(error_json, nullptr, false);
  if (!entry.is_object() || !entry.contains("error") || !entry["error"].is_string()) return "";
  std::string text = entry["error"].get<std::string>();
  text = text.substr(0, text.find('\n'));
  if (text.size() > kMaxErrorChars) text = text.substr(0, kMaxErrorChars) + "...";
  return text;
}

}  // namespace

void LogOutcome(spdlog::logger& log, const store::ClaimedJob& job, const store::Completion& c) {
  using store::Outcome;
  switch (c.outcome) {
    case Outcome::kSucceeded:
      log.debug("job succeeded task={} job_id={} attempt={}/{}", job.task, job.id, job.attempt,
                job.max_attempts);
      return;
    case Outcome::kSnooze:
      log.info(
          "job asked to retry later; no attempt used task={} job_id={} attempt={}/{} "
          "retry_in={:.1f}s",
          job.task, job.id, job.attempt, job.max_attempts, c.retry_in_seconds);
      return;
    case Outcome::kCancelled:
      log.info("job cancelled while running task={} job_id={} attempt={}/{}", job.task, job.id,
               job.attempt, job.max_attempts);
      return;
    case Outcome::kFailed:
      if (job.attempt < job.max_attempts) {
        log.warn(
            "job attempt failed, will retry task={} job_id={} attempt={}/{} retry_in={:.1f}s "
            "error=\"{}\"",
            job.task, job.id, job.attempt, job.max_attempts, c.retry_in_seconds,
            FirstLine(c.error_json));
        return;
      }
      log.error(
          "job failed for good: no attempts left task={} job_id={} attempt={}/{} "
          "error=\"{}\"",
          job.task, job.id, job.attempt, job.max_attempts, FirstLine(c.error_json));
      return;
    case Outcome::kDiscard:
      log.error(
          "job failed for good: its handler discarded it task={} job_id={} attempt={}/{} "
          "error=\"{}\"",
          job.task, job.id, job.attempt, job.max_attempts, FirstLine(c.error_json));
      return;
  }
}

}  // namespace pgjobs::worker
