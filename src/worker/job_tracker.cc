#include "worker/job_tracker.h"

namespace pgjobs::worker {

const char* StopReasonText(StopReason reason) {
  switch (reason) {
    case StopReason::kNone: return "none";
    case StopReason::kTimeout: return "timeout";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kLeaseLost: return "lease lost";
    case StopReason::kShutdown: return "worker shutdown";
  }
  return "unknown";
}

std::shared_ptr<TrackedJob> JobTracker::Add(store::ClaimedJob job,
                                            std::chrono::steady_clock::time_point lease_until) {
  auto tracked = std::make_shared<TrackedJob>();
  tracked->job = std::move(job);
  tracked->claimed_at = std::chrono::steady_clock::now();
  tracked->lease_until_ns = lease_until.time_since_epoch().count();
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[tracked->job.key()] = Entry{tracked, std::nullopt, std::nullopt};
  return tracked;
}

std::vector<std::shared_ptr<TrackedJob>> JobTracker::AddAll(
    std::vector<store::ClaimedJob> jobs, std::chrono::steady_clock::time_point lease_until) {
  std::vector<std::shared_ptr<TrackedJob>> out;
  out.reserve(jobs.size());
  const auto now = std::chrono::steady_clock::now();
  for (store::ClaimedJob& job : jobs) {
    auto tracked = std::make_shared<TrackedJob>();
    tracked->job = std::move(job);
    tracked->claimed_at = now;
    tracked->lease_until_ns = lease_until.time_since_epoch().count();
    out.push_back(std::move(tracked));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& tracked : out) {
    jobs_[tracked->job.key()] = Entry{tracked, std::nullopt, std::nullopt};
  }
  return out;
}

void JobTracker::Remove(const JobKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(key);
}

void JobTracker::RemoveAll(const std::vector<JobKey>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const JobKey& key : keys) jobs_.erase(key);
}

void JobTracker::Start(const JobKey& key, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;
  it->second.tracked->started.store(true);
  if (timeout.count() > 0) it->second.deadline = std::chrono::steady_clock::now() + timeout;
}

void JobTracker::SetProgress(const JobKey& key, std::string progress_json) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it != jobs_.end()) it->second.progress = std::move(progress_json);
}

std::vector<JobKey> JobTracker::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobKey> keys;
  keys.reserve(jobs_.size());
  for (const auto& [key, entry] : jobs_) keys.push_back(key);
  return keys;
}

std::shared_ptr<TrackedJob> JobTracker::Find(const JobKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : it->second.tracked;
}

int JobTracker::StopOverdue(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  int stopped = 0;
  for (auto& [key, entry] : jobs_) {
    if (entry.deadline && *entry.deadline <= now && !entry.tracked->stop.load()) {
      entry.tracked->RequestStop(StopReason::kTimeout);
      ++stopped;
    }
  }
  return stopped;
}

void JobTracker::Renewed(const std::vector<JobKey>& keys,
                         std::chrono::steady_clock::time_point lease_until) {
  int64_t until = lease_until.time_since_epoch().count();
  std::lock_guard<std::mutex> lock(mu_);
  for (const JobKey& key : keys) {
    auto it = jobs_.find(key);
    if (it == jobs_.end()) continue;
    std::atomic<int64_t>& at = it->second.tracked->lease_until_ns;
    // Renewals sent earlier may answer later: keep the latest bound.
    int64_t seen = at.load();
    while (seen < until && !at.compare_exchange_weak(seen, until)) {
    }
  }
}

int JobTracker::StopUnrenewed(std::chrono::steady_clock::time_point now,
                              std::chrono::milliseconds margin) {
  int64_t limit = (now + margin).time_since_epoch().count();
  std::lock_guard<std::mutex> lock(mu_);
  int stopped = 0;
  for (auto& [key, entry] : jobs_) {
    TrackedJob& job = *entry.tracked;
    if (job.lease_until_ns.load() > limit || job.finished.load() || job.stop.load()) continue;
    job.RequestStop(StopReason::kLeaseLost);
    ++stopped;
  }
  return stopped;
}

void JobTracker::StopAll(StopReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, entry] : jobs_) entry.tracked->RequestStop(reason);
}

std::vector<store::ProgressUpdate> JobTracker::TakeProgress() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<store::ProgressUpdate> out;
  for (auto& [key, entry] : jobs_) {
    if (!entry.progress) continue;
    out.push_back({key, std::move(*entry.progress)});
    entry.progress.reset();
  }
  return out;
}

std::string JobTracker::TakeProgressOf(const JobKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end() || !it->second.progress) return "";
  std::string out = std::move(*it->second.progress);
  it->second.progress.reset();
  return out;
}

size_t JobTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

}  // namespace pgjobs::worker
