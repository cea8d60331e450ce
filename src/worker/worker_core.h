// State shared by the worker's services (fetcher, executors, completer,
// maintainer, listener). Owned by Worker::Impl, which outlives the services.
#ifndef PGJOBS_WORKER_WORKER_CORE_H_
#define PGJOBS_WORKER_WORKER_CORE_H_

#include <spdlog/spdlog.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "common/sql_catalog.h"
#include "pgjobs/handler.h"
#include "pgjobs/worker.h"
#include "worker/job_tracker.h"

namespace pgjobs::worker {

struct HandlerEntry {
  Handler handler;
  TaskOptions options;
};

struct Counters {
  std::atomic<int64_t> claimed{0};
  std::atomic<int64_t> succeeded{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> retried{0};
  std::atomic<int64_t> lost{0};
  std::atomic<int64_t> given_back{0};
  std::atomic<int64_t> rescued{0};
  std::atomic<int> running{0};
};

struct WorkerCore {
  WorkerCore(WorkerOptions o, SqlCatalog c) : options(std::move(o)), catalog(std::move(c)) {}

  // Set before the services start, read-only afterwards.
  WorkerOptions options;
  SqlCatalog catalog;
  std::shared_ptr<spdlog::logger> log;
  std::map<std::string, HandlerEntry> handlers;
  std::string tasks_literal;  // pg::ArrayLiteral of the handlers' task names

  JobTracker tracker;
  Counters counters;
  // When a claim last failed without a reply (steady clock, ns since its
  // epoch; 0: never since the last check). Its commit may have happened, so
  // the maintainer looks for claims this worker holds without knowing it.
  std::atomic<int64_t> claim_unsure_at{0};
  // Asks the worker to drain and stop (`pgjobs workers stop`); set by the
  // Worker before the services start.
  std::function<void()> request_stop;
  // How many job outcomes wait to be written (the completer's backlog), set
  // before the services start: the fetcher claims no more while the
  // completer is behind (see Fetcher::ClaimFor).
  std::function<size_t()> outcomes_waiting;
  // The Redis broker, when this worker has one (redis.url set); owned by the
  // Worker, set before the services start, outlives them.
  broker::QueueBroker* broker = nullptr;

  double lease_seconds() const { return static_cast<double>(options.lease.count()) / 1000.0; }
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_WORKER_CORE_H_
