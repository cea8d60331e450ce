// The database side of `pgjobs jobs ...` and of pgjobs.cancel / pgjobs.retry:
// listing, showing, cancelling, retrying and purging jobs, with the
// statements of sql/admin.sql. Results are JSON as PostgreSQL builds it
// (times in ISO 8601), the field names the CLI documents. Every change is
// recorded in the audit log (store/audit.h) in its own transaction, with
// `by` as the actor ("" records the database role).
#ifndef PGJOBS_STORE_JOB_ADMIN_H_
#define PGJOBS_STORE_JOB_ADMIN_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// The states a job list can be filtered on.
inline constexpr const char* kJobStates[] = {"pending",   "scheduled", "running",
                                             "succeeded", "failed",    "cancelled"};
bool IsJobState(const std::string& state);
// True for the states of a job that has ended.
bool IsFinishedState(const std::string& state);

struct JobFilter {
  std::optional<std::string> queue;
  std::optional<std::string> state;  // one of kJobStates
  std::optional<std::string> task;
  std::optional<std::string> schedule;     // schedule name
  std::optional<double> since_seconds;     // created in the last ... seconds
  std::optional<int64_t> before_id;        // ids below this one (the next page)
  int limit = 50;
};

class JobAdmin {
 public:
  // conn and catalog must outlive the JobAdmin; conn needs no prepared statements.
  JobAdmin(pg::Connection& conn, const SqlCatalog& catalog) : conn_(conn), catalog_(catalog) {}
  JobAdmin(const JobAdmin&) = delete;
  JobAdmin& operator=(const JobAdmin&) = delete;

  // One job, hot or finished; NotFound when there is none.
  Result<nlohmann::json> Show(int64_t id);
  // Newest first (a JSON array).
  Result<nlohmann::json> List(const JobFilter& filter);
  // "cancelled" (was pending), "stopping" (running: its worker stops it).
  // NotFound for no such job; FailedPrecondition naming the end state for a
  // finished one.
  Result<std::string> Cancel(int64_t id, const std::string& by);
  // Cancels every job of queue (and task); counts per outcome, e.g.
  // {"cancelled": 3, "stopping": 1}.
  Result<nlohmann::json> CancelMany(const std::string& queue, const std::optional<std::string>& task,
                                    const std::string& by);
  // A new pending job from failed or cancelled job id; the new id.
  Result<int64_t> Retry(int64_t id, const std::string& by = "");
  // Which finished jobs a redrive runs again.
  enum class Redrive { kFailed, kCancelled };
  // Every job that ended failed (or cancelled) of queue, task, finished in
  // the last since seconds, not retried yet:
  // {"retried": n, "skipped_unique_key": m}.
  Result<nlohmann::json> RetryAll(Redrive which, const std::optional<std::string>& queue,
                                  const std::optional<std::string>& task,
                                  std::optional<double> since_seconds, const std::string& by = "");
  // Pending jobs (ready or scheduled) of queue and task: what Purge deletes.
  Result<int64_t> PendingCount(const std::string& queue, const std::optional<std::string>& task);
  Result<int64_t> Purge(const std::string& queue, const std::optional<std::string>& task,
                        const std::string& by = "");

 private:
  pg::Connection& conn_;
  const SqlCatalog& catalog_;
};

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_JOB_ADMIN_H_
