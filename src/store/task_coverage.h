// Which live workers could run a task on a queue. The CLI asks after an
// enqueue or a schedule edit and warns when none could: a misspelled task
// name is accepted (a worker may start later) but never in silence.
#ifndef PGJOBS_STORE_TASK_COVERAGE_H_
#define PGJOBS_STORE_TASK_COVERAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// What the live workers (a heartbeat younger than their lease + 10 s) handle.
struct TaskCoverage {
  bool handled = false;  // one of them serves the queue and handles the task
  int64_t live_workers = 0;
  std::vector<std::string> tasks_on_queue;   // tasks handled by workers serving the queue
  std::vector<std::string> queues_for_task;  // queues whose workers handle the task
  std::vector<std::string> all_tasks;        // every task some live worker handles
};

// Runs task_coverage (sql/admin.sql) in its own transaction. conn needs no
// prepared statements; catalog must be the one of conn's schema.
Result<TaskCoverage> GetTaskCoverage(pg::Connection& conn, const SqlCatalog& catalog,
                                     const std::string& task, const std::string& queue);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_TASK_COVERAGE_H_
