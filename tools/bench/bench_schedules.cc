// pgjobs-bench schedules: firing precision with many schedules.
//
// Creates --count schedules (task "noop", cron --cron, default every minute,
// so that every one of them is due at the same instant: the worst case), runs
// --schedulers in-process schedulers for --seconds, then reports how late the
// ticks' jobs were there: created_at (the inserting transaction's start, the
// database's clock) minus scheduled_for, and 0 for a job made ahead of its
// tick (scheduler fire_ahead, default 30 s). "ahead" counts those, and
// "min_margin_ms" says how close to its tick the latest of them was begun
// (a transaction of a batch takes milliseconds, so a margin of a second
// means the job was committed before its tick). "after_first" repeats the
// percentiles without the first tick, which may come only seconds after the
// schedules were created. Only ticks that have come by the end count; the
// jobs of ticks still to come are reported as "waiting". Also checks that no
// tick was inserted twice. Last stdout line:
//   {"schedules": N, "jobs": M, "waiting": W, "duplicates": 0, "ahead": A, "min_margin_ms": ..,
//    "lateness_ms": {"p50": .., "p99": .., "max": ..},
//    "after_first": {"jobs": .., "p50": .., "p99": .., "max": ..}}
#include <nlohmann/json.hpp>
#include <thread>

#include "bench_common.h"
#include "pg/connection.h"
#include "pgjobs/scheduler.h"

namespace pgjobs::bench {
namespace {

Status CreateSchedules(pg::Connection& conn, const CommonFlags& flags, const SchedulesFlags& s) {
  auto rows = conn.Transact([&](pg::Tx& tx) -> Status {
    return tx
        .ExecParams("INSERT INTO " + flags.schema +
                        ".schedules (name, kind, cron, task, queue) "
                        "SELECT 'bench-' || g, 'cron', $1, 'noop', $2 FROM generate_series(1, $3::int) g",
                    {s.cron, flags.queue, std::to_string(s.count)})
        .status();
  });
  return rows;
}

Result<nlohmann::json> Lateness(pg::Connection& conn, const CommonFlags& flags) {
  auto rows = conn.ExecSql(
      "SELECT count(*), count(*) - count(DISTINCT (schedule_id, scheduled_for)), "
      "coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(l, 0)), 0), "
      "coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY greatest(l, 0)), 0), "
      "coalesce(max(greatest(l, 0)), 0), count(*) FILTER (WHERE l < 0), "
      "coalesce(-max(l) FILTER (WHERE l < 0), 0), "
      "count(*) FILTER (WHERE NOT first), "
      "coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(l, 0)) "
      "FILTER (WHERE NOT first), 0), "
      "coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY greatest(l, 0)) "
      "FILTER (WHERE NOT first), 0), "
      "coalesce(max(greatest(l, 0)) FILTER (WHERE NOT first), 0) "
      "FROM (SELECT schedule_id, scheduled_for, "
      "extract(epoch FROM created_at - scheduled_for) * 1000 AS l, "
      "scheduled_for = min(scheduled_for) OVER () AS first FROM " +
      flags.schema + ".jobs WHERE schedule_id IS NOT NULL AND scheduled_for <= now()) x");
  if (!rows.ok()) return rows.status();
  auto waiting = conn.ExecSql("SELECT count(*) FROM " + flags.schema +
                              ".jobs WHERE schedule_id IS NOT NULL AND scheduled_for > now()");
  if (!waiting.ok()) return waiting.status();
  return nlohmann::json{{"jobs", rows->Int(0, 0)},
                        {"waiting", waiting->Int(0, 0)},
                        {"duplicates", rows->Int(0, 1)},
                        {"ahead", rows->Int(0, 5)},
                        {"min_margin_ms", rows->Double(0, 6)},
                        {"lateness_ms",
                         {{"p50", rows->Double(0, 2)},
                          {"p99", rows->Double(0, 3)},
                          {"max", rows->Double(0, 4)}}},
                        {"after_first",
                         {{"jobs", rows->Int(0, 7)},
                          {"p50", rows->Double(0, 8)},
                          {"p99", rows->Double(0, 9)},
                          {"max", rows->Double(0, 10)}}}};
}

}  // namespace

int RunSchedules(const CommonFlags& flags, const SchedulesFlags& s) {
  Status ready = CheckSchemaReady(flags);
  if (!ready.ok()) return Fail(ready);
  pg::Connection conn(flags.dsn, nullptr, "pgjobs-bench schedules");
  Status created = CreateSchedules(conn, flags, s);
  if (!created.ok()) return Fail(created.WithContext("create schedules"));
  std::vector<std::unique_ptr<Scheduler>> schedulers;
  for (int i = 0; i < s.schedulers; ++i) {
    SchedulerOptions o;
    o.dsn = flags.dsn;
    o.schema = flags.schema;
    o.logger = StderrLogger();
    o.fire_ahead = std::chrono::milliseconds(static_cast<int64_t>(s.fire_ahead * 1000));
    schedulers.push_back(std::make_unique<Scheduler>(o));
    Status st = schedulers.back()->Start();
    if (!st.ok()) return Fail(st);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(s.seconds * 1000)));
  for (auto& scheduler : schedulers) scheduler->Stop();
  auto result = Lateness(conn, flags);
  if (!result.ok()) return Fail(result.status());
  (*result)["schedules"] = s.count;
  std::printf("%s\n", result->dump().c_str());
  return kExitOk;
}

}  // namespace pgjobs::bench
