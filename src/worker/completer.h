// The batch completer: collects attempt outcomes from the executors and
// writes them in one fenced statement per batch (sql/jobs.sql `complete`).
#ifndef PGJOBS_WORKER_COMPLETER_H_
#define PGJOBS_WORKER_COMPLETER_H_

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/waker.h"
#include "pg/connection.h"
#include "store/job_store.h"
#include "worker/worker_core.h"

namespace pgjobs::worker {

class Completer {
 public:
  // on_retry(queue, seconds) is called after a retry is committed, so the
  // fetcher can wake when the job is due again.
  Completer(WorkerCore& core, std::function<void(const std::string&, double)> on_retry);
  ~Completer();

  void Start();
  // Writes what is pending (trying for up to give_up) and stops. Outcomes
  // that cannot be written by then are left to the lease: their jobs are
  // rescued and run again. Idempotent.
  void Stop(std::chrono::milliseconds give_up = std::chrono::seconds(10));

  void Add(store::Completion completion, std::string queue);
  size_t backlog() const;

 private:
  struct Item {
    store::Completion completion;
    std::string queue;
  };
  void Run();
  // Writes one batch; false when the database could not be reached.
  bool Flush(std::vector<Item>& batch);
  void Account(const std::vector<Item>& batch, const store::CompleteResult& result);

  WorkerCore& core_;
  std::function<void(const std::string&, double)> on_retry_;
  pg::Connection conn_;
  Waker waker_;
  mutable std::mutex mu_;
  std::vector<Item> pending_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point give_up_at_;
  std::thread thread_;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_COMPLETER_H_
