#include "store/schedule_store.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "scheduler/schedule_plan.h"
#include "store/db_errors.h"
#include "store/schedule_file.h"

namespace pgjobs::store {
namespace {

using nlohmann::json;
using scheduler::Instant;

std::optional<double> OptDouble(const pg::Rows& r, size_t row, size_t col) {
  if (r.IsNull(row, col)) return std::nullopt;
  return r.Double(row, col);
}

// Columns 1-8 of schedules_to_plan and due_schedules.
scheduler::ScheduleRow ReadRow(const pg::Rows& r, size_t i) {
  scheduler::ScheduleRow row;
  row.kind = r.Text(i, 1);
  row.cron = r.Text(i, 2);
  row.every_seconds = OptDouble(r, i, 3);
  row.at = OptDouble(r, i, 4);
  row.time_zone = r.Text(i, 5);
  row.start_at = OptDouble(r, i, 6);
  row.end_at = OptDouble(r, i, 7);
  row.created_at = r.Double(i, 8);
  return row;
}

double Epoch(Instant t) { return static_cast<double>(t.time_since_epoch().count()); }

// The database's now() to whole seconds, rounded down: a tick is due once
// its second has begun.
Instant FloorEpoch(double epoch) {
  return Instant(std::chrono::seconds(static_cast<int64_t>(std::floor(epoch))));
}

json NextOrNull(const std::optional<Instant>& t) { return t ? json(Epoch(*t)) : json(); }

struct Decision {
  int64_t id = 0;
  std::string name;
  scheduler::DuePlan plan;
  bool ahead = false;   // its one tick is still to come: made ahead
  std::string error;    // the expression or zone cannot be used
  std::string refused;  // the database refused the job of a tick
};

Decision Decide(const pg::Rows& r, size_t i) {
  Decision d;
  d.id = r.Int(i, 0);
  d.name = r.Text(i, 15);
  auto spec = scheduler::MakeSpec(ReadRow(r, i));
  auto misfire = scheduler::ParseMisfire(r.Text(i, 11));
  if (!spec.ok() || !misfire.ok()) {
    d.error = !spec.ok() ? spec.status().message() : misfire.status().message();
    return d;
  }
  Instant now = FloorEpoch(r.Double(i, 9));
  Instant next_run = scheduler::FromEpoch(r.Double(i, 10));
  if (next_run > now) {
    // Returned for fire ahead (due_schedules says when): the one tick.
    d.ahead = true;
    d.plan.fire.push_back(next_run);
    d.plan.next = scheduler::NextTick(*spec, next_run);
    return d;
  }
  bool overlap_blocked = r.Text(i, 13) == "skip" && r.Bool(i, 14);
  d.plan = scheduler::PlanDue(*spec, next_run, now, *misfire, static_cast<int>(r.Int(i, 12)),
                              overlap_blocked);
  return d;
}

// Whether a failed tick insert may be caused by the rows themselves: a
// constraint, a unique index, a trigger of the user's that raises. Then the
// batch is split to find the schedules at fault. Failures of the server
// rather than of a row are left to the next round and put no schedule in
// error: connection and serialization failures (Unavailable), and the
// SQLSTATE classes 53 (resources: disk full, memory), 55 (lock not
// available), 57 (operator intervention: statement timeout, shutdown), 58
// (system, I/O) and XX (internal).
bool MayBeRowError(const Status& st) {
  if (st.code() == Status::Code::kInvalidArgument || st.code() == Status::Code::kAlreadyExists) {
    return true;
  }
  if (st.code() != Status::Code::kFailedPrecondition) return false;
  // pg/connection.cc ends these messages with " [SQLSTATE xxxxx]".
  constexpr std::string_view kTag = "[SQLSTATE ";
  size_t at = st.message().rfind(kTag);
  if (at == std::string::npos) return true;
  std::string cls = st.message().substr(at + kTag.size(), 2);
  return cls != "53" && cls != "55" && cls != "57" && cls != "58" && cls != "XX";
}

// What the error column of a schedule whose job was refused says. The
// database's message is cut before DETAIL (it repeats the row, args
// included), CONTEXT and HINT, and to at most 500 bytes.
std::string RefusalMessage(const Decision& d, const Status& st) {
  std::string why = st.message();
  for (const char* cut : {" DETAIL: ", " CONTEXT: ", " HINT: ", " [SQLSTATE "}) {
    size_t at = why.find(cut);
    if (at != std::string::npos) why.erase(at);
  }
  why = ExplainJobsError(Status::InvalidArgument(why)).message();
  if (why.size() > 500) {
    size_t end = 500;
    while (end > 0 && (static_cast<unsigned char>(why[end]) & 0xC0) == 0x80) --end;
    why = why.substr(0, end) + "...";
  }
  auto tick = static_cast<Micros>(Epoch(d.plan.fire.front())) * 1000000;
  return "the job of tick " + FormatInstant(tick) + " was refused: " + why +
         "; change the job template, or fix what refuses it and set error to NULL, to resume";
}

using Made = std::unordered_map<int64_t, std::pair<int64_t, int>>;  // schedule -> (last job, count)

// Inserts the ticks of decisions [begin, end) in one statement.
Status InsertTicks(pg::Tx& tx, const std::vector<Decision*>& firing, size_t begin, size_t end,
                   Made& made) {
  json ticks = json::array();
  for (size_t i = begin; i < end; ++i) {
    for (Instant t : firing[i]->plan.fire) {
      ticks.push_back({{"schedule_id", firing[i]->id}, {"at", Epoch(t)}});
    }
  }
  auto inserted = tx.Exec("insert_ticks", {ticks.dump()});
  if (!inserted.ok()) return inserted.status();
  for (size_t i = 0; i < inserted->size(); ++i) {
    auto& m = made[inserted->Int(i, 1)];
    m.first = std::max(m.first, inserted->Int(i, 0));
    m.second++;
  }
  return Status::Ok();
}

// Inserts the ticks of [begin, end) under a savepoint. If the database
// refuses them for a reason that may lie in the rows, rolls back to the
// savepoint and tries each half, down to single schedules, which are then
// marked refused. k schedules at fault among n cost about 2k log2(n)
// statements; the ticks that went in stay in, exactly once.
Status InsertIsolating(pg::Tx& tx, const std::vector<Decision*>& firing, size_t begin, size_t end,
                       Made& made) {
  if (begin == end) return Status::Ok();
  // Savepoints cannot be prepared, so they are the only SQL written here.
  PGJOBS_RETURN_IF_ERROR(tx.ExecSql("SAVEPOINT pgjobs_ticks").status());
  Status st = InsertTicks(tx, firing, begin, end, made);
  if (st.ok()) return tx.ExecSql("RELEASE SAVEPOINT pgjobs_ticks").status();
  if (!MayBeRowError(st)) return st;
  PGJOBS_RETURN_IF_ERROR(
      tx.ExecSql("ROLLBACK TO SAVEPOINT pgjobs_ticks; RELEASE SAVEPOINT pgjobs_ticks").status());
  if (end - begin == 1) {
    firing[begin]->refused = RefusalMessage(*firing[begin], st);
    return Status::Ok();
  }
  size_t mid = begin + (end - begin) / 2;
  PGJOBS_RETURN_IF_ERROR(InsertIsolating(tx, firing, begin, mid, made));
  return InsertIsolating(tx, firing, mid, end, made);
}

// The advance of every schedule handled, but those in error or refused.
json Advances(const std::vector<Decision>& decisions, const Made& made, FireResult& result) {
  json advance = json::array();
  for (const Decision& d : decisions) {
    if (!d.error.empty() || !d.refused.empty()) continue;
    auto it = made.find(d.id);
    int fired = it == made.end() ? 0 : it->second.second;
    advance.push_back(
        {{"id", d.id},
         {"next", NextOrNull(d.plan.next)},
         {"done", !d.plan.next.has_value()},
         {"last_run", d.plan.fire.empty() ? json() : json(Epoch(d.plan.fire.back()))},
         {"last_job_id", it == made.end() ? json() : json(it->second.first)},
         {"fired", fired},
         {"skipped", d.plan.skipped + static_cast<int64_t>(d.plan.fire.size()) - fired}});
    result.fired += fired;
    if (d.ahead) result.ahead += fired;
    result.skipped += d.plan.skipped;
  }
  return advance;
}

// Writes the errors of the batch: expressions that cannot be used (as
// set_plans does when planning) and refused jobs (set_fire_errors).
Status WriteErrors(pg::Tx& tx, const std::vector<Decision>& decisions, FireResult& result) {
  json plan_errors = json::array();
  json refused = json::array();
  for (const Decision& d : decisions) {
    if (!d.error.empty()) {
      plan_errors.push_back({{"id", d.id}, {"next", nullptr}, {"done", false}, {"error", d.error}});
    }
    if (!d.refused.empty()) {
      refused.push_back({{"id", d.id}, {"error", d.refused}});
      result.refused.push_back(d.name + ": " + d.refused);
    }
  }
  if (!plan_errors.empty()) {
    PGJOBS_RETURN_IF_ERROR(tx.Exec("set_plans", {plan_errors.dump()}).status());
  }
  if (refused.empty()) return Status::Ok();
  return tx.Exec("set_fire_errors", {refused.dump()}).status();
}

// One transaction: lock the due schedules, insert their ticks' jobs, advance
// them. isolate: insert under savepoints, isolating refused schedules.
// Otherwise a failed insert that may be the rows' fault sets *row_failure.
Result<FireResult> FireBatch(pg::Connection& conn, int batch, double ahead, bool isolate,
                             bool* row_failure) {
  FireResult result;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    result = FireResult{};
    // Planned with sorts disabled (sql/schedules.sql says why), for this
    // statement only.
    PGJOBS_RETURN_IF_ERROR(tx.ExecSql("SET LOCAL enable_sort = off").status());
    auto rows = tx.Exec("due_schedules", {std::to_string(batch), std::to_string(ahead)});
    if (!rows.ok()) return rows.status();
    PGJOBS_RETURN_IF_ERROR(tx.ExecSql("SET LOCAL enable_sort TO DEFAULT").status());
    if (rows->empty()) return Status::Ok();
    std::vector<Decision> decisions;
    for (size_t i = 0; i < rows->size(); ++i) {
      decisions.push_back(Decide(*rows, i));
      const Decision& d = decisions.back();
      if (d.plan.fire.empty() || !d.error.empty()) continue;
      double now = rows->Double(i, 9);
      double until = Epoch(d.plan.fire.back()) - now;
      if (!d.ahead) {
        result.max_lateness_seconds = std::max(result.max_lateness_seconds, -until);
      } else if (!result.first_ahead_in_seconds || until < *result.first_ahead_in_seconds) {
        result.first_ahead_in_seconds = until;
      }
    }
    std::vector<Decision*> firing;
    for (Decision& d : decisions) {
      if (!d.plan.fire.empty()) firing.push_back(&d);
    }
    Made made;
    if (isolate) {
      PGJOBS_RETURN_IF_ERROR(InsertIsolating(tx, firing, 0, firing.size(), made));
    } else if (!firing.empty()) {
      Status inserted = InsertTicks(tx, firing, 0, firing.size(), made);
      if (!inserted.ok() && row_failure != nullptr) *row_failure = MayBeRowError(inserted);
      PGJOBS_RETURN_IF_ERROR(inserted);
    }
    PGJOBS_RETURN_IF_ERROR(WriteErrors(tx, decisions, result));
    result.schedules = static_cast<int>(rows->size());
    result.full = static_cast<int>(rows->size()) == batch;
    return tx.Exec("advance_schedules", {Advances(decisions, made, result).dump()}).status();
  });
  if (!st.ok()) return st;
  return result;
}

}  // namespace

Result<PlanResult> PlanSchedules(pg::Connection& conn, int batch) {
  PlanResult result;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    result = PlanResult{};
    auto rows = tx.Exec("schedules_to_plan", {std::to_string(batch)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Status::Ok();
    json plans = json::array();
    for (size_t i = 0; i < rows->size(); ++i) {
      auto spec = scheduler::MakeSpec(ReadRow(*rows, i));
      json p = {{"id", rows->Int(i, 0)}, {"done", false}, {"next", nullptr}, {"error", nullptr}};
      if (!spec.ok()) {
        p["error"] = spec.status().message();
        result.errors++;
      } else {
        // The first tick after the timing was set (created, edited,
        // enabled), looking back at most kMisfireGrace: a tick that came
        // just before a scheduler saw the schedule (one starting or busy) is
        // made late rather than lost, but a schedule made long before any
        // scheduler ran (a migration from Celery beat: README, "Switch off
        // beat") starts from its next tick instead of catching up.
        Instant now = FloorEpoch(rows->Double(i, 9));
        Instant set_at =
            std::clamp(FloorEpoch(rows->Double(i, 11)), now - scheduler::kMisfireGrace, now);
        std::optional<Instant> first = scheduler::FirstTick(*spec, set_at);
        // Never a tick at or before the last one that made a job: its job may
        // have finished already, so the unique index would not stop a repeat.
        // The schedule goes on after it (a once schedule has no tick after
        // it). That last tick may still be to come: made ahead, its job
        // cancelled since, then the timing edited (a once schedule whose
        // time moves forgets such a tick: migration 0023).
        std::optional<double> last_run = OptDouble(*rows, i, 10);
        if (first && last_run && *first <= FloorEpoch(*last_run)) {
          first = scheduler::NextTick(*spec, FloorEpoch(*last_run));
        }
        p["next"] = NextOrNull(first);
        p["done"] = !first.has_value();
      }
      plans.push_back(std::move(p));
    }
    result.planned = static_cast<int>(rows->size());
    result.full = static_cast<int>(rows->size()) == batch;
    return tx.Exec("set_plans", {plans.dump()}).status();
  });
  if (!st.ok()) return st.WithContext("plan schedules");
  return result;
}

Result<FireResult> FireDueSchedules(pg::Connection& conn, int batch, double fire_ahead_seconds) {
  // The common path inserts the batch's ticks in one statement. Only if that
  // fails for a reason that may lie in the rows does the batch run again,
  // isolating the schedules at fault.
  bool isolate = false;
  double ahead = std::max(0.0, fire_ahead_seconds);
  Result<FireResult> result = FireBatch(conn, batch, ahead, false, &isolate);
  if (!result.ok() && isolate) result = FireBatch(conn, batch, ahead, true, nullptr);
  if (!result.ok()) return result.status().WithContext("fire due schedules");
  return result;
}

Result<NextSchedule> NextScheduleIn(pg::Connection& conn) {
  auto rows = conn.Exec("next_schedule_in", {});
  if (!rows.ok()) return rows.status().WithContext("next schedule");
  NextSchedule next;
  if (!rows->IsNull(0, 0)) next.seconds = rows->Double(0, 0);
  next.needs_plan = rows->Bool(0, 1);
  return next;
}

Result<bool> AcquireLease(pg::Connection& conn, const std::string& name, const std::string& holder,
                          double seconds) {
  auto rows = conn.Exec("acquire_lease", {name, holder, std::to_string(seconds)});
  if (!rows.ok()) return rows.status().WithContext("leader lease");
  return !rows->empty();
}

Status ReleaseLease(pg::Connection& conn, const std::string& name, const std::string& holder) {
  return conn.Exec("release_lease", {name, holder}).status().WithContext("release leader lease");
}

Result<std::optional<int>> DropOldPartitions(pg::Connection& conn, double retention_seconds) {
  auto rows = conn.Exec("drop_old_partitions", {std::to_string(retention_seconds)});
  if (!rows.ok()) return rows.status().WithContext("drop old history partitions");
  if (rows->IsNull(0, 0)) return std::optional<int>();
  return std::optional<int>(static_cast<int>(rows->Int(0, 0)));
}

}  // namespace pgjobs::store
