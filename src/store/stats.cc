#include "store/stats.h"

#include <fmt/format.h>

#include "store/admin_query.h"

namespace pgjobs::store {

using nlohmann::json;

Result<json> GetStats(pg::Connection& conn, const SqlCatalog& catalog, double since_seconds,
                      const std::optional<std::string>& queue) {
  auto stats = QueryJson(conn, catalog, "stats", {json(since_seconds).dump(), Opt(queue)});
  if (!stats.ok()) return stats.status().WithContext("stats");
  return stats;
}

Result<json> GetDoctorFacts(pg::Connection& conn, const SqlCatalog& catalog) {
  auto facts = QueryJson(conn, catalog, "doctor_facts", {});
  if (!facts.ok()) return facts.status().WithContext("health facts");
  return facts;
}

namespace {

double Num(const json& facts, const char* key) {
  const json& v = facts.contains(key) ? facts[key] : json();
  return v.is_number() ? v.get<double>() : 0.0;
}

std::string Age(double seconds) {
  if (seconds < 120) return fmt::format("{:.0f} s", seconds);
  if (seconds < 7200) return fmt::format("{:.0f} min", seconds / 60);
  if (seconds < 172800) return fmt::format("{:.1f} h", seconds / 3600);
  return fmt::format("{:.1f} days", seconds / 86400);
}

Finding Ok(const std::string& check, const std::string& detail) {
  return {check, "ok", detail, ""};
}

Finding Workers(const json& f) {
  double live = Num(f, "live_workers");
  double ready = Num(f, "ready_jobs");
  if (live > 0) return Ok("live_workers", fmt::format("{:.0f} live workers", live));
  std::string fix = "start `pgjobs worker --config FILE` (or its systemd unit) on a worker host";
  if (ready > 0) {
    return {"live_workers", "fail",
            fmt::format("no live worker, and {:.0f} jobs are ready to run", ready), fix};
  }
  return {"live_workers", "warn", "no live worker (no job is waiting now)", fix};
}

Finding Leader(const json& f) {
  const json& left = f.contains("leader_seconds_left") ? f["leader_seconds_left"] : json();
  if (left.is_number() && left.get<double>() > 0) return Ok("scheduler_leader", "a scheduler leads");
  double schedules = Num(f, "enabled_schedules");
  std::string fix = "start `pgjobs scheduler` (or a worker with --with-scheduler)";
  if (schedules > 0) {
    return {"scheduler_leader", "fail",
            fmt::format("no live scheduler: {:.0f} enabled schedules do not fire", schedules), fix};
  }
  return {"scheduler_leader", "warn",
          "no live scheduler: no enabled schedule needs one, but the scheduler is also what drops "
          "history past scheduler.history_retention",
          fix + ": without one, job_history keeps growing"};
}

Finding ExpiredLeases(const json& f) {
  double n = Num(f, "expired_leases");
  if (n == 0) return Ok("expired_leases", "no job runs past its lease");
  return {"expired_leases", "warn",
          fmt::format("{:.0f} jobs are still marked running 10 s after their lease expired", n),
          "a running worker or scheduler returns them to the queue; start one if none runs"};
}

Finding Unhandled(const json& f) {
  const json& u = f.contains("unhandled") ? f["unhandled"] : json::array();
  if (!u.is_array() || u.empty()) return Ok("unhandled_tasks", "every ready job has a live worker");
  std::string detail;
  for (const json& g : u) {
    if (!detail.empty()) detail += "; ";
    detail += fmt::format("{} jobs of task \"{}\" on queue \"{}\", oldest waiting {}",
                          g.value("jobs", 0), g.value("task", ""), g.value("queue", ""),
                          Age(g.value("oldest_seconds", 0.0)));
  }
  return {"unhandled_tasks", "warn", "ready jobs no live worker handles: " + detail,
          "start a worker that declares these tasks and serves these queues, or fix the task "
          "name (`pgjobs tasks list`); `pgjobs jobs cancel --queue Q --task T` drops them"};
}

Finding PausedQueues(const json& f) {
  const json& p = f.contains("paused_with_ready") ? f["paused_with_ready"] : json::array();
  if (!p.is_array() || p.empty()) return Ok("paused_queues", "no paused queue has jobs waiting");
  std::string detail, queues;
  for (const json& g : p) {
    if (!detail.empty()) detail += "; ";
    detail +=
        fmt::format("queue \"{}\" is paused with {} ready jobs, the oldest waiting {}",
                    g.value("queue", ""), g.value("jobs", 0), Age(g.value("oldest_seconds", 0.0)));
    queues += std::string(queues.empty() ? "" : ", ") + "`pgjobs queues resume " +
              g.value("queue", std::string()) + "`";
  }
  return {"paused_queues", "warn", detail, "if the pause is over: " + queues};
}

Finding OldTransactions(const json& f, const HealthThresholds& t) {
  double oldest = Num(f, "oldest_xact_seconds");
  double idle = Num(f, "idle_in_transaction");
  double idle_for = Num(f, "idle_in_transaction_seconds");
  if (oldest < 300 && idle_for <= t.idle_in_transaction_seconds) {
    return Ok("old_transactions", fmt::format("oldest transaction {}", Age(oldest)));
  }
  return {"old_transactions", oldest > 3600 ? "fail" : "warn",
          fmt::format("oldest transaction open for {} (pid {}); {:.0f} sessions idle in "
                      "transaction, the longest for {}",
                      Age(oldest), f.value("oldest_xact_pid", json()).dump(), idle, Age(idle_for)),
          "long transactions stop vacuum from cleaning the jobs table: end them (see "
          "pg_stat_activity; pg_terminate_backend(pid)) and set idle_in_transaction_session_timeout"};
}

Finding DeadTuples(const json& f) {
  double dead = Num(f, "dead_tuples");
  double live = Num(f, "live_tuples");
  if (dead < 100000 || dead < 2 * live) {
    return Ok("jobs_dead_tuples", fmt::format("{:.0f} dead tuples in jobs", dead));
  }
  return {"jobs_dead_tuples", "warn",
          fmt::format("{:.0f} dead tuples in jobs for {:.0f} live", dead, live),
          "check that autovacuum runs on the jobs table (pg_stat_user_tables.last_autovacuum) and "
          "that no old transaction holds it back; VACUUM it by hand meanwhile"};
}

Finding NotifyQueue(const json& f) {
  double usage = Num(f, "notify_queue_usage");
  if (usage < 0.1) return Ok("notify_queue", fmt::format("NOTIFY queue {:.1f}% used", usage * 100));
  return {"notify_queue", usage >= 0.5 ? "fail" : "warn",
          fmt::format("NOTIFY queue {:.0f}% used (commits fail when it is full)", usage * 100),
          "a session LISTENs without reading its notifications: find it in pg_stat_activity "
          "(a LISTEN left idle in transaction) and end it"};
}

Finding Partitions(const json& f) {
  double ahead = Num(f, "partitions_ahead");
  if (ahead >= 2) return Ok("history_partitions", "history partitions exist for the next 2 days");
  return {"history_partitions", "warn",
          fmt::format("only {:.0f} of the next 2 days have a history partition; finished jobs "
                      "go to the default partition, which retention cannot drop",
                      ahead),
          "run a worker or scheduler (they create partitions hourly) or "
          "SELECT pgjobs.ensure_history_partitions()"};
}

Finding XidAge(const json& f) {
  double age = Num(f, "xid_age");
  std::string detail = fmt::format("age(datfrozenxid) is {:.0f}", age);
  if (age < 500e6) return Ok("xid_age", detail);
  return {"xid_age", age >= 1000e6 ? "fail" : "warn",
          detail + " (PostgreSQL stops writes near 2,000,000,000)",
          "let autovacuum freeze the database: end long transactions, then VACUUM (FREEZE) the "
          "oldest tables (pg_class.relfrozenxid)"};
}

}  // namespace

std::vector<Finding> JudgeHealth(const json& facts, const HealthThresholds& thresholds) {
  return {Workers(facts),    Leader(facts),       ExpiredLeases(facts),
          Unhandled(facts),  PausedQueues(facts), OldTransactions(facts, thresholds),
          DeadTuples(facts), NotifyQueue(facts),  Partitions(facts),
          XidAge(facts)};
}

}  // namespace pgjobs::store
