// Runs claimed jobs: per queue, `concurrency` threads take jobs from that
// queue's ready list and run their handlers, then hand the outcome to the
// completer.
#ifndef PGJOBS_WORKER_EXECUTOR_POOL_H_
#define PGJOBS_WORKER_EXECUTOR_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "worker/completer.h"
#include "worker/job_tracker.h"
#include "worker/worker_core.h"

namespace pgjobs::worker {

class ExecutorPool {
 public:
  // on_slot_free(queue) is called after a job of queue finished running.
  ExecutorPool(WorkerCore& core, Completer& completer,
               std::function<void(const std::string&)> on_slot_free);
  ~ExecutorPool();

  void Start();
  // Removes the jobs that were claimed but not started and returns their claims.
  std::vector<store::JobKey> TakeQueued();
  // Waits until no handler runs or the deadline passes (or Interrupt is
  // called); true when idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  void Interrupt();
  // Ends the threads once their current job is done. Idempotent.
  void Stop();

  // A claim's jobs (of one queue or several), in their order, under one lock.
  void PushAll(std::vector<std::shared_ptr<TrackedJob>> jobs);
  // How many jobs the fetcher should claim for queue now: 0 while enough are
  // ready, else the free capacity (concurrency + prefetch - held), where an
  // automatic prefetch follows the queue's observed run time (see
  // WorkerOptions::prefetch). Claiming only when half the capacity is free
  // keeps claims batched.
  int ClaimSize(const std::string& queue);
  // How many of the next jobs claimed for queue would start at once: its
  // slots that neither run a job nor have one waiting. The rest of a claim
  // waits in memory (claimed ahead).
  int FreeSlots(const std::string& queue);
  int running() const;

 private:
  struct Lane {
    // Each lane has its own condition variable: with one shared by all lanes,
    // notify_one could wake another queue's thread and the job would wait.
    std::condition_variable work_cv;
    int concurrency = 0;
    std::deque<std::shared_ptr<TrackedJob>> ready;
    int held = 0;  // ready + running
    double avg_run_seconds = -1;  // moving average of handler run time; -1: none yet
  };
  int Prefetch(const Lane& lane) const;
  void RunLane(const std::string& queue);
  void RunJob(TrackedJob& tracked);
  store::Completion Outcome(TrackedJob& tracked, const HandlerResult& result,
                            const TaskOptions& options, std::chrono::milliseconds timeout);

  WorkerCore& core_;
  Completer& completer_;
  std::function<void(const std::string&)> on_slot_free_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<std::string, Lane> lanes_;
  int running_ = 0;
  bool stopping_ = false;
  bool interrupted_ = false;
  std::vector<std::thread> threads_;
};

// The delay before the next attempt after a failed attempt number `attempt`.
double RetryDelaySeconds(const RetryPolicy& policy, int attempt);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_EXECUTOR_POOL_H_
