// The database side of `pgjobs schedules ...`: reads and writes schedules
// with the named statements of sql/schedules_admin.sql. Definitions are
// validated (schedule_file.h) before anything is written; nothing here sets
// next_run_at, which the scheduler recomputes after every edit.
#ifndef PGJOBS_STORE_SCHEDULE_ADMIN_H_
#define PGJOBS_STORE_SCHEDULE_ADMIN_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"
#include "store/schedule_file.h"

namespace pgjobs::store {

// A schedule as stored: its definition and what the scheduler keeps.
struct ScheduleRecord {
  int64_t id = 0;
  ScheduleDef def;
  std::optional<Micros> next_run_at;  // nullopt: to be computed by the scheduler
  std::optional<Micros> last_run_at;
  std::optional<int64_t> last_job_id;
  int64_t run_count = 0;
  int64_t skipped_count = 0;
  bool done = false;
  std::string error;  // "" when none
  std::string
      last_outcome;  // pending, running, succeeded, failed, cancelled, unknown; "" before any tick
  Micros created_at = 0;
  Micros updated_at = 0;
  // The job of the next tick when it was made ahead of it (it waits, pending,
  // for next_run_at); nullopt otherwise.
  std::optional<int64_t> ahead_job_id;

  // "error", "done", "enabled" or "disabled", in that order of precedence.
  std::string State() const;
};

class ScheduleAdmin {
 public:
  // conn and catalog must outlive the ScheduleAdmin. conn needs no prepared
  // statements (statements are sent with their parameters).
  ScheduleAdmin(pg::Connection& conn, const SqlCatalog& catalog) : conn_(conn), catalog_(catalog) {}
  ScheduleAdmin(const ScheduleAdmin&) = delete;
  ScheduleAdmin& operator=(const ScheduleAdmin&) = delete;

  // Who makes the changes, recorded with each one in the audit log
  // (store/audit.h): "user@host", "NAME@web"; "" (the default) records the
  // database role.
  void set_actor(std::string actor) { actor_ = std::move(actor); }

  // The database's clock.
  Result<Micros> Now();
  // Every schedule, by name.
  Result<std::vector<ScheduleRecord>> List();
  // One schedule; NotFound, suggesting the nearest existing name, if none.
  Result<ScheduleRecord> Get(const std::string& name);

  // Inserts def (validated by the caller) and returns its id. A taken name is
  // InvalidArgument saying to use update.
  Result<int64_t> Create(const ScheduleDef& def);

  // Locks schedule name, lets edit change its definition, validates the
  // result with now, and writes it if it differs. Returns DiffScheduleDefs
  // (empty: nothing written). An error from edit or validation writes nothing.
  Result<std::vector<std::string>> Update(const std::string& name,
                                          const std::function<Status(ScheduleDef&)>& edit,
                                          std::chrono::sys_seconds now);

  // Enables or disables schedule name (nullopt: all). Returns the names whose
  // value changed. An unknown name is NotFound.
  Result<std::vector<std::string>> SetEnabled(const std::optional<std::string>& name, bool enabled);

  Status Remove(const std::string& name);

  // Enqueues one job from the schedule's template now; returns its id.
  Result<int64_t> RunNow(const std::string& name);

  // Makes the table match desired (validated by the caller) in one
  // transaction: creates, updates and, with prune, removes. With dry_run
  // nothing is written. Returns every change, unchanged ones included.
  Result<std::vector<ScheduleChange>> Apply(const std::vector<ScheduleDef>& desired, bool prune,
                                            bool dry_run);

 private:
  Result<std::vector<ScheduleRecord>> Select(pg::Tx& tx, const std::optional<std::string>& name);
  // NotFound for name, with the nearest existing name when there is one.
  Status NotFound(pg::Tx& tx, const std::string& name);

  // Records action on schedule name in tx.
  Status Audit(pg::Tx& tx, const std::string& action, const std::string& name,
               nlohmann::json details = nlohmann::json::object());

  pg::Connection& conn_;
  const SqlCatalog& catalog_;
  std::string actor_;
};

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_SCHEDULE_ADMIN_H_
