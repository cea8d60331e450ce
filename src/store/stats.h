// Throughput and timings from history (`pgjobs stats`), and the health
// checks of `pgjobs doctor`: the facts come from doctor_facts in
// sql/admin.sql, the judgement (thresholds, what to do) from JudgeHealth.
#ifndef PGJOBS_STORE_STATS_H_
#define PGJOBS_STORE_STATS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// Per queue and task, and per queue (task null), over the last
// since_seconds: counts, per_minute, failure_rate, run_p50/95/99 and
// wait_p50/95/99 in seconds (a JSON array).
Result<nlohmann::json> GetStats(pg::Connection& conn, const SqlCatalog& catalog,
                                double since_seconds, const std::optional<std::string>& queue);

struct Finding {
  std::string check;   // stable name, e.g. "live_workers"
  std::string status;  // "ok", "warn" or "fail"
  std::string detail;  // what was found
  std::string fix;     // what to do ("" when ok)
};

// The raw facts doctor judges (a JSON object; see doctor_facts).
Result<nlohmann::json> GetDoctorFacts(pg::Connection& conn, const SqlCatalog& catalog);

// The thresholds an operator can change (`pgjobs doctor --idle-threshold`).
struct HealthThresholds {
  // A session idle in transaction longer than this is reported.
  double idle_in_transaction_seconds = 60;
};

// One finding per check, from the facts. Pure, so its thresholds are tested
// without a database.
std::vector<Finding> JudgeHealth(const nlohmann::json& facts,
                                 const HealthThresholds& thresholds = {});

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_STATS_H_
