// What the admin commands (jobs, queues, workers, tasks, stats, doctor)
// share: a checked connection, tables for people, relative times, and the
// parsing of ids and durations (checked before connecting).
#ifndef PGJOBS_CLI_ADMIN_COMMON_H_
#define PGJOBS_CLI_ADMIN_COMMON_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "common/sql_catalog.h"
#include "pg/connection.h"

namespace pgjobs::cli {

// A connection to a migrated schema. Heap-allocated so that references to
// catalog and conn stay valid.
struct AdminSession {
  SqlCatalog catalog;
  std::unique_ptr<pg::Connection> conn;
  // The database's clock when the session opened (Unix seconds): relative
  // times are shown against it, not against this host's clock.
  double db_now = 0;
};

// Connects (Unavailable, exit 4, when the database cannot be reached) and
// checks that the schema is migrated.
Result<std::unique_ptr<AdminSession>> OpenAdmin(GlobalOptions& global);

// Columns separated by two spaces, each as wide as its widest cell; the
// first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// A JSON value as a table cell: strings as they are, null as "-".
std::string Cell(const nlohmann::json& v);
// An ISO 8601 time (as PostgreSQL's JSON prints it) relative to now:
// "3m ago", "in 20s", "-" for null.
std::string Ago(const nlohmann::json& iso, double now_unix);
// Seconds as "850ms", "12s", "4m", "3h", "2d"; "-" for null.
std::string ShortDuration(const nlohmann::json& seconds);
// JSON for scripts: two-space indent.
void PrintJson(const nlohmann::json& j);

// A job id as typed: digits only.
Result<int64_t> ParseJobId(const std::string& text);
// A duration option (--since 1h): positive, in the forms ParseDuration takes.
Result<double> ParseSeconds(const std::string& option, const std::string& text);
// Who runs this command, for cancelled_by: "user@host".
std::string WhoAmI();

// Exit statuses of `jobs wait` and `enqueue --wait` (documented in the
// README): success is kExitOk.
inline constexpr int kExitJobFailed = 5;
inline constexpr int kExitJobCancelled = 6;
inline constexpr int kExitWaitTimeout = 7;

// Waits until job id finishes or timeout passes (none: forever), then
// prints its result (JSON of the whole job with as_json) and returns the
// exit status for how it ended.
int WaitForJob(AdminSession& s, int64_t id, std::optional<std::chrono::milliseconds> timeout,
               bool as_json);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_ADMIN_COMMON_H_
