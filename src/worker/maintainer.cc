#include "worker/maintainer.h"

#include <algorithm>
#include <unordered_set>

namespace pgjobs::worker {
namespace {

constexpr auto kTick = std::chrono::milliseconds(250);
constexpr auto kProgressEvery = std::chrono::seconds(1);
constexpr auto kPartitionsEvery = std::chrono::hours(1);
constexpr int kPartitionDaysAhead = 7;
constexpr int kRescueBatch = 1000;
// Leases are renewed in statements of at most this many claims, each its own
// short transaction, so no statement holds many row locks for long.
constexpr size_t kRenewBatch = 1000;
// release_untracked only returns claims older than this (see sql/jobs.sql).
constexpr auto kUntrackedAge = std::chrono::seconds(5);

}  // namespace

Maintainer::Maintainer(WorkerCore& core, store::WorkerInfo info)
    : core_(core),
      info_(std::move(info)),
      conn_(core.options.dsn, &core.catalog, "pgjobs worker maintainer") {}

Maintainer::~Maintainer() { Stop(); }

Status Maintainer::Start() {
  if (thread_.joinable()) return Status::Ok();
  PGJOBS_RETURN_IF_ERROR(store::RegisterWorker(conn_, info_));
  auto partitions = store::EnsurePartitions(conn_, kPartitionDaysAhead);
  if (!partitions.ok()) core_.log->warn("{}", partitions.status().message());
  Clock::time_point now = Clock::now();
  next_progress_ = now + kProgressEvery;
  next_heartbeat_ = now + core_.options.lease / 3;
  next_rescue_ = now;  // at once: a restarted worker's old jobs come back soon
  // A worker restarted under the same id (a configured worker_id) may hold
  // claims from before: look for them once, as after a claim without reply.
  core_.claim_unsure_at = now.time_since_epoch().count();
  next_partitions_ = now + kPartitionsEvery;
  guard_ = std::thread([this] { Guard(); });
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Maintainer::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  waker_.Wake();
  guard_waker_.Wake();
  thread_.join();
  guard_.join();
  // Write the last progress, then leave.
  (void)store::SetProgress(conn_, core_.options.worker_id, core_.tracker.TakeProgress());
  Status st = store::DeregisterWorker(conn_, core_.options.worker_id);
  if (!st.ok()) core_.log->warn("{}", st.message());
}

void Maintainer::CheckNow() {
  check_now_ = true;
  waker_.Wake();
}

void Maintainer::Run() {
  while (!stopping_) {
    Tick(Clock::now());
    waker_.WaitFor(std::chrono::duration_cast<std::chrono::milliseconds>(kTick));
  }
}

void Maintainer::Guard() {
  const auto margin = std::max(core_.options.lease / 4, core_.options.stop_margin);
  while (!stopping_) {
    Clock::time_point now = Clock::now();
    int overdue = core_.tracker.StopOverdue(now);
    if (overdue > 0) core_.log->info("asked {} jobs past their time limit to stop", overdue);
    int unrenewed = core_.tracker.StopUnrenewed(now, margin);
    if (unrenewed > 0) {
      core_.log->warn("asked {} jobs to stop: their leases could not be renewed and run out "
                      "within {} ms (is the database reachable?); they will run again",
                      unrenewed, margin.count());
    }
    guard_waker_.WaitFor(std::chrono::duration_cast<std::chrono::milliseconds>(kTick));
  }
}

void Maintainer::Tick(Clock::time_point now) {
  if (now >= next_progress_) {
    Status st = store::SetProgress(conn_, core_.options.worker_id, core_.tracker.TakeProgress());
    if (!st.ok()) core_.log->warn("{}", st.message());
    next_progress_ = now + kProgressEvery;
  }
  if (check_now_.exchange(false)) next_heartbeat_ = now;
  if (now >= next_heartbeat_) {
    Status st = Heartbeat();
    if (!st.ok()) core_.log->warn("heartbeat failed, will retry: {}", st.message());
    // Retry a failed heartbeat soon: the leases are running out.
    next_heartbeat_ = now + (st.ok() ? core_.options.lease / 3 : std::chrono::milliseconds(1000));
  }
  if (now >= next_rescue_) {
    Status st = Rescue();
    if (!st.ok()) core_.log->warn("{}", st.message());
    next_rescue_ = now + core_.options.rescue_interval;
  }
  if (now >= next_partitions_) {
    auto created = store::EnsurePartitions(conn_, kPartitionDaysAhead);
    if (!created.ok()) core_.log->warn("{}", created.status().message());
    next_partitions_ = now + kPartitionsEvery;
  }
}

Status Maintainer::Heartbeat() {
  std::vector<store::JobKey> keys = core_.tracker.Keys();
  std::sort(keys.begin(), keys.end(),
            [](const store::JobKey& a, const store::JobKey& b) { return a.id < b.id; });
  std::unordered_set<store::JobKey, store::JobKeyHash> kept;
  for (size_t from = 0; from < keys.size(); from += kRenewBatch) {
    std::vector<store::JobKey> chunk(keys.begin() + static_cast<long>(from),
                                     keys.begin() + static_cast<long>(std::min(keys.size(), from + kRenewBatch)));
    // Claims still waiting in memory are recorded as such: if this worker
    // dies, they go back without using an attempt (sql/jobs.sql, rescue_expired).
    std::vector<bool> not_started;
    not_started.reserve(chunk.size());
    for (const store::JobKey& key : chunk) {
      auto job = core_.tracker.Find(key);
      not_started.push_back(job != nullptr && !job->started.load());
    }
    // The database extends each lease from its now(), never before this.
    Clock::time_point lease_until = Clock::now() + core_.options.lease;
    auto held = store::RenewLeases(conn_, core_.options.worker_id, chunk, core_.lease_seconds(),
                                   not_started);
    if (!held.ok()) return held.status();
    std::vector<store::JobKey> renewed;
    renewed.reserve(held->size());
    for (const store::Lease& lease : *held) renewed.push_back(lease.key);
    core_.tracker.Renewed(renewed, lease_until);
    for (const store::Lease& lease : *held) {
      kept.insert(lease.key);
      if (lease.cancel_requested) {
        if (auto job = core_.tracker.Find(lease.key)) job->RequestStop(StopReason::kCancelled);
      }
    }
  }
  for (const store::JobKey& key : keys) {
    if (kept.count(key) != 0) continue;
    auto job = core_.tracker.Find(key);
    if (job == nullptr) continue;  // completed meanwhile
    // Not renewed: the job finished meanwhile, or the lease expired and the
    // job was rescued. In the second case our result will be fenced out.
    job->RequestStop(StopReason::kLeaseLost);
  }
  PGJOBS_RETURN_IF_ERROR(ReleaseUntracked(keys));
  auto alive = store::WorkerHeartbeat(conn_, core_.options.worker_id);
  if (!alive.ok()) return alive.status();
  if (!alive->registered) return store::RegisterWorker(conn_, info_);
  if (alive->stop_requested && !stop_asked_ && core_.request_stop) {
    stop_asked_ = true;
    core_.log->info("stop requested through the database (pgjobs workers stop): draining");
    core_.request_stop();
  }
  return Status::Ok();
}

Status Maintainer::ReleaseUntracked(const std::vector<store::JobKey>& keys) {
  // Only a claim that failed without a reply can leave a claim this worker
  // does not know it holds; the check reads every running job, so it runs
  // only then, once that claim is old enough to be found.
  int64_t unsure = core_.claim_unsure_at.load();
  if (unsure == 0) return Status::Ok();
  if (Clock::now() < Clock::time_point(Clock::duration(unsure)) + kUntrackedAge) {
    return Status::Ok();
  }
  // Keys were taken before the renewal: every claim older than 5 s that is
  // not among them was never received (its reply was lost).
  auto released = store::ReleaseUntracked(conn_, core_.options.worker_id, keys);
  if (!released.ok()) return released.status();
  for (int64_t id : *released) {
    core_.log->warn("returned a job whose claim never reached this worker to the queue job_id={}",
                    id);
  }
  // A claim that failed meanwhile sets a newer time and is checked later.
  core_.claim_unsure_at.compare_exchange_strong(unsure, 0);
  return Status::Ok();
}

Status Maintainer::Rescue() {
  auto rescued = store::RescueExpired(conn_, kRescueBatch);
  if (!rescued.ok()) return rescued.status();
  for (int64_t id : rescued->retried) {
    core_.log->warn("returned a job whose worker was lost to the queue job_id={}", id);
  }
  for (int64_t id : rescued->failed) {
    core_.log->warn("job failed for good: its worker was lost on the last attempt job_id={}", id);
  }
  for (int64_t id : rescued->cancelled) {
    core_.log->info("job cancelled: its worker was lost after the cancel was requested job_id={}",
                    id);
  }
  core_.counters.rescued += static_cast<int64_t>(rescued->retried.size() + rescued->failed.size() +
                                                 rescued->cancelled.size());
  double silent = 10.0 * core_.lease_seconds();
  auto pruned = store::PruneWorkers(conn_, silent);
  if (!pruned.ok()) return pruned.status();
  return Status::Ok();
}

}  // namespace pgjobs::worker
