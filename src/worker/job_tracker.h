// The claims this worker holds a lease on: claimed and not yet committed as
// finished, retried or given back. Keyed by claim (job id and claim token),
// so that a job claimed again by this worker is a different entry. Thread-safe.
//
// The fetcher adds claims, executors mark them started and read their stop
// flags, the completer removes them once their outcome is committed, and the
// maintainer renews their leases, times them out and writes their progress.
#ifndef PGJOBS_WORKER_JOB_TRACKER_H_
#define PGJOBS_WORKER_JOB_TRACKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/job_store.h"

namespace pgjobs::worker {

enum class StopReason : int { kNone = 0, kTimeout, kCancelled, kLeaseLost, kShutdown };

const char* StopReasonText(StopReason reason);

// Shared between the tracker and the executor running the job.
struct TrackedJob {
  store::ClaimedJob job;
  std::chrono::steady_clock::time_point claimed_at;
  std::chrono::steady_clock::time_point started_at;  // set by the executor
  std::atomic<bool> stop{false};
  std::atomic<int> reason{0};  // a StopReason
  std::atomic<bool> started{false};
  // The handler has returned and its outcome is with the completer.
  std::atomic<bool> finished{false};
  // Steady-clock time (ns since the clock's epoch) before which the lease is
  // certainly still held: the moment the claim or the last successful renewal
  // was sent, plus the lease. The database's expiry is never earlier.
  std::atomic<int64_t> lease_until_ns{0};

  void RequestStop(StopReason r) {
    int expected = 0;
    reason.compare_exchange_strong(expected, static_cast<int>(r));
    stop.store(true);
  }
  StopReason stop_reason() const { return static_cast<StopReason>(reason.load()); }
};

using store::JobKey;

class JobTracker {
 public:
  // lease_until: see TrackedJob::lease_until_ns.
  std::shared_ptr<TrackedJob> Add(store::ClaimedJob job,
                                  std::chrono::steady_clock::time_point lease_until);
  // A claim's jobs at once, in their order (one lock for the batch).
  std::vector<std::shared_ptr<TrackedJob>> AddAll(
      std::vector<store::ClaimedJob> jobs, std::chrono::steady_clock::time_point lease_until);
  void Remove(const JobKey& key);
  void RemoveAll(const std::vector<JobKey>& keys);
  // Marks the claim started, with its deadline (none when timeout is zero).
  void Start(const JobKey& key, std::chrono::milliseconds timeout);
  void SetProgress(const JobKey& key, std::string progress_json);

  std::vector<JobKey> Keys() const;
  std::shared_ptr<TrackedJob> Find(const JobKey& key) const;
  // Requests a stop of every claim whose deadline passed; returns how many.
  int StopOverdue(std::chrono::steady_clock::time_point now);
  // Records a successful renewal of these claims, sent at a time that makes
  // lease_until a lower bound of the database's expiry.
  void Renewed(const std::vector<JobKey>& keys, std::chrono::steady_clock::time_point lease_until);
  // Requests a stop (kLeaseLost) of every claim whose lease may run out
  // within margin: its renewals failed or are late. Returns how many.
  int StopUnrenewed(std::chrono::steady_clock::time_point now, std::chrono::milliseconds margin);
  // Requests a stop of every held claim.
  void StopAll(StopReason reason);
  // Progress recorded since the last call, one (latest) entry per claim.
  std::vector<store::ProgressUpdate> TakeProgress();
  // The claim's progress not yet written ("" when none), cleared.
  std::string TakeProgressOf(const JobKey& key);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<TrackedJob> tracked;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::optional<std::string> progress;  // not yet written
  };
  mutable std::mutex mu_;
  std::unordered_map<JobKey, Entry, store::JobKeyHash> jobs_;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_JOB_TRACKER_H_
