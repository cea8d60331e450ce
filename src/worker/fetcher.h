// The fetcher claims jobs for the executors' free slots, and the listener
// wakes it when a NOTIFY says a queue has new jobs.
//
// A queue is claimed from when it is "due": on a NOTIFY for it, when a slot
// frees, when its earliest future job becomes ready, and every poll_interval
// (NOTIFY is only a hint). A claim that fills every free slot leaves the
// queue due, since more jobs may be waiting.
#ifndef PGJOBS_WORKER_FETCHER_H_
#define PGJOBS_WORKER_FETCHER_H_

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/waker.h"
#include "pg/connection.h"
#include "store/job_store.h"
#include "worker/executor_pool.h"
#include "worker/worker_core.h"

namespace pgjobs::worker {

class Fetcher {
 public:
  Fetcher(WorkerCore& core, ExecutorPool& pool);
  ~Fetcher();

  void Start();
  void Stop();  // idempotent; no claim starts after it returns

  // Marks queue due now (unknown queues are ignored).
  void Wake(const std::string& queue);
  // Marks every queue due now (after the listener reconnects).
  void WakeAll();
  // A NOTIFY for queue: due now, and this worker's idle row was taken by the
  // enqueue that sent it (it is written again if the queue is found empty).
  void Notified(const std::string& queue);
  // Makes queue due no later than `seconds` from now.
  void WakeIn(const std::string& queue, double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  struct QueueState {
    bool due = true;
    Clock::time_point next_check;  // poll or earliest future job
    // Bumped by every wake-up. A claim that started before a wake-up must not
    // clear `due` or move next_check when it returns: the wake-up may be for
    // a job its snapshot could not see.
    uint64_t wakes = 0;
    // This worker's row in idle_workers for the queue is written (it waits
    // for jobs, so enqueues NOTIFY). Cleared when the listener reconnects:
    // after a database crash the (unlogged) table is empty.
    bool idle_marked = false;
    // The row may differ from idle_marked: an enqueue's wake-up deletes it
    // (Notified), a reconnect may find the table emptied by a crash. The
    // next claim writes the mark either way, so a busy worker's mark clears
    // the queue's bit in idle_gate (migration 0026).
    bool idle_unknown = true;
    // Bumped by every event that may take or empty the row (Notified,
    // WakeAll): a mark written meanwhile is not trusted.
    uint64_t mark_changes = 0;
    // A claim wanted at this time whatever the claims before it found: the
    // second look after marking idle (a job committed while the mark was
    // written sent no NOTIFY, and the poll may be seconds away).
    Clock::time_point recheck_at;
    // The earliest time a job this worker retried becomes ready (WakeIn). A
    // claim that started before it may have been too early for that job, so
    // the claim's return keeps it as a deadline; a claim that started after
    // it saw the job ready, and clears it.
    Clock::time_point retry_ready_at = Clock::time_point::max();
    // The queue has a global concurrency or rate limit: claimed through
    // store::ClaimLimited. Learnt from the claim's answers (a plain claim
    // of a limited queue finds nothing, and the look at the next job that
    // follows says why).
    bool limited = false;
    // Where the last claims of each (task, priority) ended, and since when
    // these cursors are kept (dropped every kCursorLifetime: see `claim`).
    std::map<std::pair<std::string, int>, std::pair<int64_t, int64_t>> cursors;
    Clock::time_point cursors_since;
  };
  // What one claim found, for AfterClaim.
  struct ClaimOutcome {
    bool got_all = false;  // as many jobs as asked for
    // The queue's global limit, not a lack of jobs, cut the claim short:
    // look again after this long (a freed place or the rate window).
    std::optional<Clock::duration> held_back_for;
  };
  // Records in the database whether the worker waits for jobs of queue,
  // when that changes; going idle claims again at once and a little later.
  void UpdateIdleMark(const std::string& queue, bool got_all);
  void Run();
  // Claims for one queue; false on a database error.
  bool ClaimFor(const std::string& queue);
  // Settles the queue after a claim that started at wake count `wakes`.
  void AfterClaim(const std::string& queue, uint64_t wakes, Clock::time_point claim_started,
                  const ClaimOutcome& outcome);
  // The claim itself, plain or limited.
  Result<std::vector<store::ClaimedJob>> ClaimJobs(const std::string& queue, int want,
                                                   ClaimOutcome& outcome);
  uint64_t Wakes(const std::string& queue);
  Clock::time_point NextDeadline();

  WorkerCore& core_;
  ExecutorPool& pool_;
  pg::Connection conn_;
  Waker waker_;
  std::mutex mu_;
  std::map<std::string, QueueState> queues_;
  bool stopping_ = false;
  std::thread thread_;
};

// Holds the worker's LISTEN connection. On every (re)connect it LISTENs and
// then wakes every queue, since NOTIFYs sent while it was away are lost.
// It also LISTENs on the control channel (a job was cancelled, a worker was
// asked to stop) and calls on_control for each such message, and once after
// every (re)connect for the messages it may have missed.
class Listener {
 public:
  Listener(WorkerCore& core, Fetcher& fetcher, std::function<void()> on_control);
  ~Listener();
  void Start();
  void Stop();

 private:
  void Run();

  WorkerCore& core_;
  Fetcher& fetcher_;
  std::function<void()> on_control_;
  pg::Connection conn_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_FETCHER_H_
