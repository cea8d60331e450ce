#include "store/schedule_store.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "scheduler/schedule_plan.h"

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
  scheduler::DuePlan plan;
  std::string error;
};

Decision Decide(const pg::Rows& r, size_t i) {
  Decision d;
  d.id = r.Int(i, 0);
  auto spec = scheduler::MakeSpec(ReadRow(r, i));
  auto misfire = scheduler::ParseMisfire(r.Text(i, 11));
  if (!spec.ok() || !misfire.ok()) {
    d.error = !spec.ok() ? spec.status().message() : misfire.status().message();
    return d;
  }
  Instant now = FloorEpoch(r.Double(i, 9));
  Instant next_run = scheduler::FromEpoch(r.Double(i, 10));
  bool overlap_blocked = r.Text(i, 13) == "skip" && r.Bool(i, 14);
  d.plan = scheduler::PlanDue(*spec, next_run, now, *misfire, static_cast<int>(r.Int(i, 12)),
                              overlap_blocked);
  return d;
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
        std::optional<Instant> first = scheduler::FirstTick(*spec, FloorEpoch(rows->Double(i, 9)));
        // Never a tick at or before the last one that made a job: its job may
        // have finished already, so the unique index would not stop a repeat.
        std::optional<double> last_run = OptDouble(*rows, i, 10);
        if (first && last_run && *first <= FloorEpoch(*last_run)) first.reset();
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

Result<FireResult> FireDueSchedules(pg::Connection& conn, int batch) {
  FireResult result;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    result = FireResult{};
    auto rows = tx.Exec("due_schedules", {std::to_string(batch)});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return Status::Ok();
    std::vector<Decision> decisions;
    json ticks = json::array();
    json errors = json::array();
    for (size_t i = 0; i < rows->size(); ++i) {
      decisions.push_back(Decide(*rows, i));
      const Decision& d = decisions.back();
      if (!d.error.empty()) {
        errors.push_back({{"id", d.id}, {"next", nullptr}, {"done", false}, {"error", d.error}});
      }
      for (Instant t : d.plan.fire) ticks.push_back({{"schedule_id", d.id}, {"at", Epoch(t)}});
      double now = rows->Double(i, 9);
      if (!d.plan.fire.empty()) {
        result.max_lateness_seconds = std::max(result.max_lateness_seconds, now - Epoch(d.plan.fire.back()));
      }
    }
    std::unordered_map<int64_t, std::pair<int64_t, int>> made;  // schedule -> (last job, count)
    if (!ticks.empty()) {
      auto inserted = tx.Exec("insert_ticks", {ticks.dump()});
      if (!inserted.ok()) return inserted.status();
      for (size_t i = 0; i < inserted->size(); ++i) {
        auto& m = made[inserted->Int(i, 1)];
        m.first = std::max(m.first, inserted->Int(i, 0));
        m.second++;
      }
    }
    json advance = json::array();
    for (const Decision& d : decisions) {
      if (!d.error.empty()) continue;
      auto it = made.find(d.id);
      int fired = it == made.end() ? 0 : it->second.second;
      json a = {{"id", d.id},
                {"next", NextOrNull(d.plan.next)},
                {"done", !d.plan.next.has_value()},
                {"last_run", d.plan.fire.empty() ? json() : json(Epoch(d.plan.fire.back()))},
                {"last_job_id", it == made.end() ? json() : json(it->second.first)},
                {"fired", fired},
                {"skipped", d.plan.skipped + static_cast<int64_t>(d.plan.fire.size()) - fired}};
      advance.push_back(std::move(a));
      result.fired += fired;
      result.skipped += d.plan.skipped;
    }
    if (!errors.empty()) PGJOBS_RETURN_IF_ERROR(tx.Exec("set_plans", {errors.dump()}).status());
    result.schedules = static_cast<int>(rows->size());
    result.full = static_cast<int>(rows->size()) == batch;
    return tx.Exec("advance_schedules", {advance.dump()}).status();
  });
  if (!st.ok()) return st.WithContext("fire due schedules");
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
