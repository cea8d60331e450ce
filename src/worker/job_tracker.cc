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

std::shared_ptr<TrackedJob> JobTracker::Add(store::ClaimedJob job) {
  auto tracked = std::make_shared<TrackedJob>();
  tracked->job = std::move(job);
  tracked->claimed_at = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[tracked->job.id] = Entry{tracked, std::nullopt, std::nullopt};
  return tracked;
}

void JobTracker::Remove(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(id);
}

void JobTracker::Start(int64_t id, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  it->second.tracked->started.store(true);
  if (timeout.count() > 0) it->second.deadline = std::chrono::steady_clock::now() + timeout;
}

void JobTracker::SetProgress(int64_t id, std::string progress_json) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it != jobs_.end()) it->second.progress = std::move(progress_json);
}

std::vector<int64_t> JobTracker::Ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int64_t> ids;
  ids.reserve(jobs_.size());
  for (const auto& [id, entry] : jobs_) ids.push_back(id);
  return ids;
}

std::shared_ptr<TrackedJob> JobTracker::Find(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.tracked;
}

int JobTracker::StopOverdue(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  int stopped = 0;
  for (auto& [id, entry] : jobs_) {
    if (entry.deadline && *entry.deadline <= now && !entry.tracked->stop.load()) {
      entry.tracked->RequestStop(StopReason::kTimeout);
      ++stopped;
    }
  }
  return stopped;
}

void JobTracker::StopAll(StopReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, entry] : jobs_) entry.tracked->RequestStop(reason);
}

std::vector<store::ProgressUpdate> JobTracker::TakeProgress() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<store::ProgressUpdate> out;
  for (auto& [id, entry] : jobs_) {
    if (!entry.progress) continue;
    out.push_back({id, entry.tracked->job.attempt, std::move(*entry.progress)});
    entry.progress.reset();
  }
  return out;
}

std::string JobTracker::TakeProgressOf(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
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
