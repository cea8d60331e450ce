// In-process C++ task handlers.
//
// A handler runs one attempt of one job on a worker thread. It should be
// idempotent: pgjobs runs each job at least once, and a job whose worker died
// runs again. A handler that throws has failed that attempt (the exception's
// what() is recorded), like one that returns HandlerResult::Failure.
#ifndef PGJOBS_HANDLER_H_
#define PGJOBS_HANDLER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pgjobs {

struct Job {
  int64_t id = 0;
  std::string task;
  std::string queue;
  std::string args_json;  // a JSON object
  int attempt = 0;        // 1 on the first run
  int max_attempts = 0;
  int priority = 0;
};

// What a handler sees of its job. Valid only during the handler call.
class JobContext {
 public:
  virtual ~JobContext() = default;
  virtual const Job& job() const = 0;
  // True once the handler should stop: the job was cancelled, its soft time
  // limit passed, its lease was lost, or the worker is stopping hard. Long
  // handlers check it between steps and return early.
  virtual bool stop_requested() const = 0;
  // The flag behind stop_requested(), for code that polls an atomic.
  virtual const std::atomic<bool>& stop_flag() const = 0;
  // Why stop_requested() became true: "timeout", "cancelled", "lease lost",
  // "worker shutdown"; "" while it is false.
  virtual std::string stop_reason() const { return ""; }
  // This attempt's time limit (the job's, else the task's); 0 = none.
  virtual std::chrono::milliseconds timeout() const = 0;
  // Records progress (a JSON value, e.g. {"done": 40, "total": 100}).
  // Written to the job row at most once a second; the last value wins.
  virtual void SetProgress(const std::string& progress_json) = 0;
};

class HandlerResult {
 public:
  enum class Kind { kSuccess, kFailure, kDiscard, kRetryLater };

  // result_json: a JSON value stored with the finished job ("" for none).
  static HandlerResult Success(std::string result_json = "") {
    return HandlerResult(Kind::kSuccess, std::move(result_json), {}, {});
  }
  // A failed attempt: retried with backoff while attempts remain.
  static HandlerResult Failure(std::string message) {
    return HandlerResult(Kind::kFailure, {}, std::move(message), {});
  }
  // Failed for good: no further attempts, whatever max_attempts says.
  static HandlerResult Discard(std::string message) {
    return HandlerResult(Kind::kDiscard, {}, std::move(message), {});
  }
  // Not now: back to the queue after delay without using an attempt.
  static HandlerResult RetryLater(std::chrono::milliseconds delay, std::string message = "") {
    return HandlerResult(Kind::kRetryLater, {}, std::move(message), delay);
  }

  // Details recorded in the failed attempt's error entry: a kind other than
  // "error" (e.g. "runner_died") and a traceback. Ignored on success.
  HandlerResult& SetErrorKind(std::string kind) {
    error_kind_ = std::move(kind);
    return *this;
  }
  HandlerResult& SetTraceback(std::string traceback) {
    traceback_ = std::move(traceback);
    return *this;
  }

  Kind kind() const { return kind_; }
  const std::string& error_kind() const { return error_kind_; }  // "" = "error"
  const std::string& traceback() const { return traceback_; }
  const std::string& result_json() const { return result_json_; }
  const std::string& message() const { return message_; }
  std::chrono::milliseconds delay() const { return delay_; }

 private:
  HandlerResult(Kind kind, std::string result, std::string message,
                std::chrono::milliseconds delay)
      : kind_(kind), result_json_(std::move(result)), message_(std::move(message)), delay_(delay) {}
  Kind kind_;
  std::string result_json_;
  std::string message_;
  std::chrono::milliseconds delay_;
  std::string error_kind_;
  std::string traceback_;
};

using Handler = std::function<HandlerResult(JobContext& context)>;

}  // namespace pgjobs

#endif  // PGJOBS_HANDLER_H_
