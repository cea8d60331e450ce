#include "worker/executor_pool.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/waker.h"
#include "worker/outcome_log.h"

namespace pgjobs::worker {
namespace {

using Clock = std::chrono::steady_clock;

// "2 s", "2.5 s", "0.25 s": a time limit as the user wrote it, in seconds.
std::string Seconds(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// What a handler sees; forwards progress to the tracker.
class Context : public JobContext {
 public:
  Context(TrackedJob& tracked, JobTracker& tracker, std::chrono::milliseconds timeout)
      : tracked_(tracked), tracker_(tracker), timeout_(timeout) {
    job_.id = tracked.job.id;
    job_.task = tracked.job.task;
    job_.queue = tracked.job.queue;
    job_.args_json = tracked.job.args_json;
    job_.attempt = tracked.job.attempt;
    job_.max_attempts = tracked.job.max_attempts;
    job_.priority = tracked.job.priority;
  }
  const Job& job() const override { return job_; }
  bool stop_requested() const override { return tracked_.stop.load(); }
  const std::atomic<bool>& stop_flag() const override { return tracked_.stop; }
  std::string stop_reason() const override {
    return tracked_.stop.load() ? StopReasonText(tracked_.stop_reason()) : "";
  }
  std::chrono::milliseconds timeout() const override { return timeout_; }
  void SetProgress(const std::string& progress_json) override {
    tracker_.SetProgress(tracked_.job.key(), progress_json);
  }

 private:
  TrackedJob& tracked_;
  JobTracker& tracker_;
  std::chrono::milliseconds timeout_;
  Job job_;
};

std::string ErrorJson(const TrackedJob& t, const std::string& kind, const std::string& message,
                      const std::string& worker_id, double seconds,
                      const std::string& traceback = "") {
  nlohmann::json e = {{"attempt", t.job.attempt},
                      {"kind", kind},
                      {"error", message},
                      {"worker", worker_id},
                      {"duration_seconds", std::round(seconds * 1000) / 1000}};
  if (!traceback.empty()) e["traceback"] = traceback;
  return e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

double RetryDelaySeconds(const RetryPolicy& policy, int attempt) {
  double base = static_cast<double>(policy.base.count()) / 1000.0;
  double cap = static_cast<double>(policy.max.count()) / 1000.0;
  double delay = std::min(cap, base * std::pow(2.0, std::max(0, attempt - 1)));
  return delay * RandomBetween(0.8, 1.2);
}

ExecutorPool::ExecutorPool(WorkerCore& core, Completer& completer,
                           std::function<void(const std::string&)> on_slot_free)
    : core_(core), completer_(completer), on_slot_free_(std::move(on_slot_free)) {
  for (const auto& [queue, concurrency] : core_.options.queues) {
    lanes_[queue].concurrency = concurrency;
  }
}

ExecutorPool::~ExecutorPool() { Stop(); }

void ExecutorPool::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!threads_.empty()) return;
  for (const auto& [queue, lane] : lanes_) {
    for (int i = 0; i < lane.concurrency; ++i) {
      threads_.emplace_back([this, q = queue] { RunLane(q); });
    }
  }
}

void ExecutorPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [queue, lane] : lanes_) lane.work_cv.notify_all();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ExecutorPool::PushAll(std::vector<std::shared_ptr<TrackedJob>> jobs) {
  std::lock_guard<std::mutex> lock(mu_);
  // Wakes as many of a lane's threads as it got jobs (all, for a big claim).
  auto wake = [](Lane& lane, int count) {
    if (count >= lane.concurrency) {
      lane.work_cv.notify_all();
    } else {
      for (int i = 0; i < count; ++i) lane.work_cv.notify_one();
    }
  };
  Lane* last = nullptr;
  int count = 0;
  for (auto& job : jobs) {
    Lane& lane = lanes_[job->job.queue];
    if (last != nullptr && last != &lane) {
      wake(*last, count);
      count = 0;
    }
    lane.ready.push_back(std::move(job));
    lane.held++;
    last = &lane;
    count++;
  }
  if (last != nullptr) wake(*last, count);
}

int ExecutorPool::ClaimSize(const std::string& queue) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return 0;
  const Lane& lane = lanes_[queue];
  int capacity = lane.concurrency + Prefetch(lane);
  int free = capacity - lane.held;
  if (free <= 0) return 0;
  if (!lane.ready.empty() && free < std::max(1, capacity / 2)) return 0;
  return free;
}

int ExecutorPool::FreeSlots(const std::string& queue) {
  std::lock_guard<std::mutex> lock(mu_);
  const Lane& lane = lanes_[queue];
  return std::max(0, lane.concurrency - lane.held);
}

int ExecutorPool::Prefetch(const Lane& lane) const {
  if (core_.options.prefetch != WorkerOptions::kPrefetchAuto) return core_.options.prefetch;
  // Unknown run time: claim for free slots only, so a worker that starts on
  // long jobs never hoards them.
  if (lane.avg_run_seconds < 0) return 0;
  double horizon = std::min(0.25, core_.lease_seconds() / 10);
  double finishable = lane.concurrency * horizon / std::max(lane.avg_run_seconds, 1e-6);
  return static_cast<int>(std::min<double>(WorkerOptions::kMaxAutoPrefetch, finishable));
}

std::vector<store::JobKey> ExecutorPool::TakeQueued() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<store::JobKey> ids;
  for (auto& [queue, lane] : lanes_) {
    for (const auto& job : lane.ready) ids.push_back(job->job.key());
    lane.held -= static_cast<int>(lane.ready.size());
    lane.ready.clear();
  }
  return ids;
}

bool ExecutorPool::WaitIdle(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] { return running_ == 0 || interrupted_; }) &&
         running_ == 0;
}

void ExecutorPool::Interrupt() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    interrupted_ = true;
  }
  idle_cv_.notify_all();
}

int ExecutorPool::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

void ExecutorPool::RunLane(const std::string& queue) {
  Lane* lane;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lane = &lanes_[queue];  // a map node: stays put
  }
  while (true) {
    std::shared_ptr<TrackedJob> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      lane->work_cv.wait(lock, [&] { return stopping_ || !lane->ready.empty(); });
      if (lane->ready.empty()) return;  // stopping
      job = std::move(lane->ready.front());
      lane->ready.pop_front();
      running_++;
    }
    while (job) {
      core_.counters.running++;
      Clock::time_point began = Clock::now();
      RunJob(*job);
      double ran = std::chrono::duration<double>(Clock::now() - began).count();
      core_.counters.running--;
      job.reset();
      bool claim_now;
      bool idle;
      {
        // One lock per job: the accounting of this one and the start of the
        // next ready one.
        std::lock_guard<std::mutex> lock(mu_);
        running_--;
        lane->held--;
        // A moving average over about the last 20 jobs.
        lane->avg_run_seconds = lane->avg_run_seconds < 0
                                    ? ran
                                    : lane->avg_run_seconds + (ran - lane->avg_run_seconds) / 20;
        // Wake the fetcher only when it would claim (see ClaimSize), not after
        // every job: with short jobs that was a thread switch per job.
        int capacity = lane->concurrency + Prefetch(*lane);
        claim_now = lane->ready.empty() || capacity - lane->held >= std::max(1, capacity / 2);
        if (!lane->ready.empty()) {
          job = std::move(lane->ready.front());
          lane->ready.pop_front();
          running_++;
        }
        idle = running_ == 0;
      }
      if (idle) idle_cv_.notify_all();
      if (claim_now) on_slot_free_(queue);
    }
  }
}

void ExecutorPool::RunJob(TrackedJob& tracked) {
  const HandlerEntry& entry = core_.handlers.at(tracked.job.task);
  if (tracked.stop.load()) {
    // Told to stop while it waited in memory: do not start it. A lost lease
    // means the job is back in the queue (maybe running elsewhere); a
    // cancellation ends it; a shutdown gives it back.
    StopReason reason = tracked.stop_reason();
    if (reason == StopReason::kShutdown) {
      tracked.finished = true;
      return;
    }
    if (reason == StopReason::kLeaseLost) {
      // Its lease could not be renewed: give it back without using an
      // attempt. Fenced: if it was rescued meanwhile, this writes nothing.
      store::Completion back;
      back.id = tracked.job.id;
      back.token = tracked.job.token;
      back.attempt = tracked.job.attempt;
      back.outcome = store::Outcome::kSnooze;
      back.error_json = ErrorJson(tracked, "lease_lost",
                                  "not started: its lease could not be renewed in time",
                                  core_.options.worker_id, 0);
      completer_.Add(std::move(back), tracked.job.queue);
      tracked.finished = true;
      return;
    }
  }
  std::chrono::milliseconds timeout = entry.options.timeout;
  if (tracked.job.timeout_seconds) {
    timeout = std::chrono::milliseconds(static_cast<int64_t>(*tracked.job.timeout_seconds * 1000));
  }
  tracked.started_at = Clock::now();
  core_.tracker.Start(tracked.job.key(), timeout);
  Context context(tracked, core_.tracker, timeout);
  HandlerResult result = HandlerResult::Failure("handler did not run");
  try {
    result = entry.handler(context);
  } catch (const std::exception& e) {
    result = HandlerResult::Failure(std::string("handler threw: ") + e.what());
  } catch (...) {
    result = HandlerResult::Failure("handler threw an exception that is not a std::exception");
  }
  store::Completion completion = Outcome(tracked, result, entry.options, timeout);
  if (tracked.stop_reason() == StopReason::kShutdown &&
      completion.outcome != store::Outcome::kSucceeded) {
    // Stopped because the drain time ran out: the worker gives the job back
    // without using an attempt (or, if it cannot reach the database, its
    // lease expires), so this outcome would only be fenced out; it is not a
    // failed attempt, and saying so would alarm on every deploy.
    core_.log->info(
        "job stopped by the worker's shutdown, given back to the queue without "
        "using an attempt task={} job_id={} attempt={}/{}",
        tracked.job.task, tracked.job.id, tracked.job.attempt, tracked.job.max_attempts);
    tracked.finished = true;
    return;
  }
  LogOutcome(*core_.log, tracked.job, completion);
  completion.progress_json = core_.tracker.TakeProgressOf(tracked.job.key());
  completer_.Add(std::move(completion), tracked.job.queue);
  tracked.finished = true;
}

store::Completion ExecutorPool::Outcome(TrackedJob& tracked, const HandlerResult& result,
                                        const TaskOptions& options,
                                        std::chrono::milliseconds timeout) {
  const store::ClaimedJob& job = tracked.job;
  double ran = std::chrono::duration<double>(Clock::now() - tracked.started_at).count();
  store::Completion c;
  c.id = job.id;
  c.token = job.token;
  c.attempt = job.attempt;
  c.started_after_seconds =
      std::chrono::duration<double>(tracked.started_at - tracked.claimed_at).count();
  using Kind = HandlerResult::Kind;
  StopReason reason = tracked.stop_reason();
  if (result.kind() == Kind::kSuccess) {
    c.outcome = store::Outcome::kSucceeded;
    c.result_json = result.result_json();
    return c;
  }
  const std::string& worker = core_.options.worker_id;
  if (reason == StopReason::kCancelled) {
    c.outcome = store::Outcome::kCancelled;
    c.error_json = ErrorJson(tracked, "cancelled", "cancelled while running", worker, ran);
  } else if (reason == StopReason::kLeaseLost) {
    // The lease could not be renewed (or another worker rescued the job): a
    // failed attempt, retried by the task's policy. Fenced out if rescued.
    c.outcome = store::Outcome::kFailed;
    c.error_json = ErrorJson(tracked, "lease_lost",
                             "stopped: its lease could not be renewed in time; " + result.message(),
                             worker, ran);
  } else if (reason == StopReason::kTimeout) {
    c.outcome = store::Outcome::kFailed;
    c.error_json = ErrorJson(tracked, "timeout",
                             "timed out after " + Seconds(timeout) + "; " + result.message(),
                             worker, ran);
  } else if (result.kind() == Kind::kRetryLater) {
    c.outcome = store::Outcome::kSnooze;
    c.error_json = ErrorJson(tracked, "retry_later", result.message(), worker, ran);
    c.retry_in_seconds = static_cast<double>(result.delay().count()) / 1000.0;
    return c;
  } else {
    c.outcome = result.kind() == Kind::kDiscard ? store::Outcome::kDiscard : store::Outcome::kFailed;
    const std::string& kind = result.error_kind();
    c.error_json = ErrorJson(tracked, kind.empty() ? "error" : kind, result.message(), worker, ran,
                             result.traceback());
  }
  c.retry_in_seconds = RetryDelaySeconds(options.retry, job.attempt);
  return c;
}

}  // namespace pgjobs::worker
