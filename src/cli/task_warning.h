// The warning printed when a job or schedule names a task that no live
// worker handles on its queue: accepted (a worker may start later), but said
// on stderr with the tasks live workers do handle, so that a typo is seen.
#ifndef PGJOBS_CLI_TASK_WARNING_H_
#define PGJOBS_CLI_TASK_WARNING_H_

#include <string>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "store/task_coverage.h"

namespace pgjobs::cli {

// The warning for coverage ("" when a live worker handles task on queue).
// waits says what waits: "the job waits" or "its jobs wait".
std::string NoWorkerWarning(const store::TaskCoverage& coverage, const std::string& task,
                            const std::string& queue, const std::string& waits);

// Asks the database and prints NoWorkerWarning on stderr. A failed query
// prints nothing: the check is a courtesy and must not fail the command.
void WarnIfNoWorker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& task,
                    const std::string& queue, const std::string& waits);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_TASK_WARNING_H_
