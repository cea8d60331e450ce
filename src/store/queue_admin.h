// The database side of `pgjobs queues ...`, `workers ...` and `tasks list`.
// Every change is recorded in the audit log (store/audit.h) in its own
// transaction, with `by` as the actor ("" records the database role).
#ifndef PGJOBS_STORE_QUEUE_ADMIN_H_
#define PGJOBS_STORE_QUEUE_ADMIN_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// Per queue counts and settings (queue_stats), a JSON array by name.
Result<nlohmann::json> ListQueues(pg::Connection& conn, const SqlCatalog& catalog);

// Ok when queue is known (it has jobs, settings, live workers or recent
// history); else NotFound naming the nearest known queue and listing them.
Status CheckQueueKnown(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue);
// Whether queue has ever had a job (hot or in the history still kept) or a
// settings row: three index probes.
Result<bool> QueueEverUsed(pg::Connection& conn, const SqlCatalog& catalog,
                           const std::string& queue);

// Pauses or resumes queue (creating its settings row) and wakes its workers.
Status SetQueuePaused(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      bool paused, const std::string& by = "");

// A queue's global limits (README, "Global limits"). Unset fields are kept;
// a set field holding nullopt removes that limit.
struct QueueLimits {
  bool set_concurrency = false;
  std::optional<int> concurrency;
  bool set_rate = false;
  std::optional<int> rate_limit;  // jobs per rate_period_seconds
  double rate_period_seconds = 0;
};
// What `queues set` changes (creating the queue's settings row): its
// limits, whether its inserts NOTIFY, its broker ("postgres" or "redis").
// Unset fields are kept. All of it commits together, each part recorded in
// the audit log (queue.notify, queue.limits, queue.broker), by `by`.
struct QueueChange {
  QueueLimits limits;
  std::optional<bool> notify;
  std::optional<std::string> broker;
};
Status ChangeQueue(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                   const QueueChange& change, const std::string& by = "");

// Every worker row (worker_list), a JSON array by id.
Result<nlohmann::json> ListWorkers(pg::Connection& conn, const SqlCatalog& catalog);
// Asks worker id to drain and exit; NotFound (listing the workers) if none.
Status StopWorker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& id,
                  const std::string& by = "");

// Every task seen in jobs or handled by a live worker (task_list).
Result<nlohmann::json> ListTasks(pg::Connection& conn, const SqlCatalog& catalog);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_QUEUE_ADMIN_H_
