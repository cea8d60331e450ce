// The batch completer: collects attempt outcomes from the executors and
// writes them in one fenced statement per batch (sql/jobs.sql `complete`).
// Two writers, each with its own connection: the first writes every batch;
// the second takes only full batches, so it connects and works only while
// outcomes arrive faster than one connection writes them (a backlog of short
// jobs). Their statements never wait on each other: a claim has one outcome,
// so the two touch different rows, and each locks its rows in id order.
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
  struct Writer {
    Writer(const WorkerCore& core, bool full_batches_only);
    pg::Connection conn;
    Waker waker;
    bool full_batches_only;
    std::thread thread;
  };
  void Run(Writer& writer);
  // Writes one batch; false when the database could not be reached.
  bool Flush(pg::Connection& conn, std::vector<Item>& batch);
  void Account(const std::vector<Item>& batch, const store::CompleteResult& result);

  WorkerCore& core_;
  std::function<void(const std::string&, double)> on_retry_;
  Writer first_;
  Writer helper_;
  mutable std::mutex mu_;
  std::vector<Item> pending_;
  bool started_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point give_up_at_;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_COMPLETER_H_
