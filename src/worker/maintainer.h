// The worker's periodic duties. On a guard thread that never waits on the
// database, every 250 ms:
//   - stop handlers whose time limit passed;
//   - stop handlers whose lease may run out within lease/4 because renewals
//     failed or are late (a cut connection can block the other thread for
//     up to tcp_user_timeout): the job must not run on after another worker
//     may have rescued it.
// On one thread and one connection:
//   - every second: write progress reported by handlers;
//   - every lease/3: renew the leases of held jobs in one statement, stop
//     those whose lease was lost or that were cancelled, give back claims
//     whose reply never arrived, and refresh the worker row (whose
//     stop_requested asks the worker to stop); at once after CheckNow;
//   - every rescue_interval: return expired leases (any worker's) to the
//     queue and prune rows of workers that stopped heartbeating;
//   - every hour: create history partitions ahead.
#ifndef PGJOBS_WORKER_MAINTAINER_H_
#define PGJOBS_WORKER_MAINTAINER_H_

#include <chrono>
#include <thread>

#include "common/waker.h"
#include "pg/connection.h"
#include "store/job_store.h"
#include "worker/worker_core.h"

namespace pgjobs::worker {

class Maintainer {
 public:
  Maintainer(WorkerCore& core, store::WorkerInfo info);
  ~Maintainer();

  // Registers the worker row (synchronously, so a dead database fails Start)
  // and starts the thread.
  Status Start();
  // Stops the thread and deletes the worker row. Idempotent.
  void Stop();
  // Runs the heartbeat at the next tick: a control NOTIFY says a job was
  // cancelled or this worker was asked to stop.
  void CheckNow();

 private:
  using Clock = std::chrono::steady_clock;
  void Run();
  void Guard();
  void Tick(Clock::time_point now);
  Status Heartbeat();
  Status Rescue();
  // Returns to the queue claims this worker holds without knowing it (see
  // WorkerCore::claim_unsure_at); keys are the claims it knows.
  Status ReleaseUntracked(const std::vector<store::JobKey>& keys);

  WorkerCore& core_;
  store::WorkerInfo info_;
  pg::Connection conn_;
  Waker waker_;
  Waker guard_waker_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> check_now_{false};
  bool stop_asked_ = false;  // request_stop was called (maintainer thread only)
  std::thread thread_;
  std::thread guard_;
  Clock::time_point next_progress_;
  Clock::time_point next_heartbeat_;
  Clock::time_point next_rescue_;
  Clock::time_point next_partitions_;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_MAINTAINER_H_
