// The dashboard's actions: cancel, retry, pause/resume and purge a queue,
// enable/disable a schedule and run it now. Each calls the same src/store/
// function as the CLI command of the same name, on behalf of who
// ("NAME@web"), and answers JSON.
#ifndef PGJOBS_WEB_ACTIONS_H_
#define PGJOBS_WEB_ACTIONS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::web {

// path is the part after /api/, split at '/': {"jobs", "12", "cancel"},
// {"queues", "emails", "pause"}, {"schedules", "nightly", "run"}.
// NotFound for an unknown action, the store's error otherwise.
Result<nlohmann::json> RunAction(pg::Connection& conn, const SqlCatalog& catalog,
                                 const std::vector<std::string>& path, const std::string& who);

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_ACTIONS_H_
