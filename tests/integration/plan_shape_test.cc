// The job protocol's statements must cost in proportion to the rows they
// touch, whatever PostgreSQL's statistics say about the jobs table. Each
// statement of sql/jobs.sql is run under EXPLAIN ANALYZE (and rolled back)
// against a large table in the states production reaches: never analyzed,
// analyzed while everything was pending, analyzed while everything was
// running. A plan whose work grows with the table (a scan of every running
// job per batch row, a sequential scan) fails the test; no timing is read.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "store/job_store.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using nlohmann::json;
using testing::TestSchema;

constexpr int kBacklog = 1000000;  // jobs in the table
constexpr int kRunning = 100000;   // of them running, held by worker w1
constexpr int kBatch = 1000;       // rows each statement is given

// What one EXPLAIN ANALYZE showed about the work done.
struct Work {
  double jobs_rows_read = 0;     // rows of jobs (or of the table asked for) visited, all loops
  double join_filtered = 0;      // rows removed by join filters
  double buffers = 0;            // shared blocks hit or read by the whole statement
  std::vector<std::string> seq_scans;  // relations scanned sequentially
  std::string plan;              // the plan, for the failure message
};

void Walk(const json& node, const std::string& table, Work& w) {
  double loops = node.value("Actual Loops", 1.0);
  if (node.value("Relation Name", "") == table) {
    double rows = node.value("Actual Rows", 0.0) + node.value("Rows Removed by Filter", 0.0) +
                  node.value("Rows Removed by Index Recheck", 0.0);
    w.jobs_rows_read += rows * loops;
    if (node.value("Node Type", "") == "Seq Scan") w.seq_scans.push_back(table);
  }
  w.join_filtered += node.value("Rows Removed by Join Filter", 0.0) * loops;
  if (node.contains("Plans")) {
    for (const json& child : node["Plans"]) Walk(child, table, w);
  }
}

std::string Literal(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

class PlanShapeTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Fills schema s: kBacklog jobs in queue "bench" (10 % delayed an hour, three
  // priorities, two tasks of which the worker handles "noop"), kRunning of
  // them claimed by worker w1 with token = id, 2,000 of those with an expired
  // lease. `analyze` says when statistics are taken.
  static void Fill(const TestSchema& schema, const std::string& analyze) {
    const std::string s = schema.name();
    const std::string dsn = schema.dsn();
    testing::Execute(dsn, "ALTER TABLE " + s + ".jobs SET (autovacuum_enabled = false)");
    auto insert = [&](int from, int to) {
      testing::Execute(
          dsn, "INSERT INTO " + s + ".jobs (id, task, args, queue, priority, run_at) "
               "SELECT g, CASE WHEN g % 50 = 0 THEN 'other' ELSE 'noop' END, "
               "jsonb_build_object('i', g), 'bench', g % 3 * 3, "
               "now() + CASE WHEN g % 10 = 0 THEN interval '1 hour' ELSE interval '0' END "
               "FROM generate_series(" + std::to_string(from) + ", " + std::to_string(to) + ") g");
    };
    auto claim = [&](const std::string& where) {
      testing::Execute(dsn, "UPDATE " + s + ".jobs SET state = 'running', attempt = 1, "
                            "lease_owner = 'w1', lease_token = id, started_at = now(), "
                            "ahead = id % 1000 = 1, "
                            "lease_expires_at = now() + CASE WHEN id % 500 = 1 "
                            "THEN interval '-1 minute' ELSE interval '1 hour' END WHERE " + where);
    };
    const std::string running = "id % 10 = 1";  // kRunning of kBacklog
    if (analyze == "never") {
      insert(1, kBacklog);
      claim(running);
    } else if (analyze == "all_pending") {
      insert(1, kBacklog);
      testing::Execute(dsn, "ANALYZE " + s + ".jobs");
      claim(running);
    } else {  // all_running: analyzed when only the running jobs existed
      testing::Execute(dsn, "INSERT INTO " + s + ".jobs (id, task, queue) "
                            "SELECT g, 'noop', 'bench' FROM generate_series(1, " +
                                std::to_string(kBacklog) + ", 10) g");
      claim("true");
      testing::Execute(dsn, "ANALYZE " + s + ".jobs");
      testing::Execute(dsn, "DELETE FROM " + s + ".jobs");
      insert(1, kBacklog);
      claim(running);
    }
    testing::Execute(dsn, "SELECT setval(pg_get_serial_sequence('" + s + ".jobs', 'id'), " +
                              std::to_string(kBacklog + 1) + ")");
    // A live worker of the queue, for the Redis relay's choice of tasks.
    testing::Execute(dsn, "INSERT INTO " + s + ".workers (id, host, pid, queues, tasks, version) "
                          "VALUES ('w1', 'h', 1, '{\"bench\": 2}', '[\"noop\"]', 'test')");
  }

  // EXPLAIN ANALYZE of the catalog statement `name` with `args` (SQL
  // literals), rolled back; generic or custom plan.
  static Work Explain(const TestSchema& schema, const std::string& name,
                      const std::vector<std::string>& args, bool generic,
                      const std::string& table = "jobs", const std::string& settings = "") {
    auto catalog = SqlCatalog::Load(schema.name());
    EXPECT_TRUE(catalog.ok());
    std::string sql = catalog->Get(name);
    while (!sql.empty() && (sql.back() == '\n' || sql.back() == ';' || sql.back() == ' ')) {
      sql.pop_back();
    }
    std::string list;
    for (const std::string& a : args) list += (list.empty() ? "" : ", ") + a;
    pg::Connection conn(schema.dsn(), nullptr, "pgjobs plan tests");
    auto rows = conn.ExecSql(
        std::string("BEGIN; SET LOCAL plan_cache_mode = ") +
        (generic ? "force_generic_plan" : "force_custom_plan") + "; " + settings +
        "PREPARE p AS " + sql +
        "; EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE p(" + list + ")");
    Work w;
    EXPECT_TRUE(rows.ok()) << name << ": " << rows.status().message();
    if (!rows.ok()) return w;
    (void)conn.ExecSql("ROLLBACK");
    json plan = json::parse(rows->Text(0, 0))[0]["Plan"];
    w.plan = plan.dump(1);
    w.buffers = plan.value("Shared Hit Blocks", 0.0) + plan.value("Shared Read Blocks", 0.0);
    Walk(plan, table, w);
    return w;
  }
};

// The ids literal of `count` pending, ready jobs of task noop.
std::string PendingIds(int count) {
  std::string ids = "{";
  for (int i = 0; i < count; ++i) ids += (i ? "," : "") + std::to_string(2 + 10 * i);
  return Literal(ids + "}");
}

// A boolean[] literal for `count` claims, every other one not started.
std::string NotStarted(int count) {
  std::string flags = "{";
  for (int i = 0; i < count; ++i) flags += i ? (i % 2 ? ",t" : ",f") : "f";
  return Literal(flags + "}");
}

// The ids and tokens literals of `count` running jobs of w1.
std::pair<std::string, std::string> Claims(int count) {
  std::string ids = "{";
  for (int i = 0; i < count; ++i) ids += (i ? "," : "") + std::to_string(1 + 10 * (i + 1));
  ids += "}";
  return {Literal(ids), Literal(ids)};  // token = id
}

// Outcomes for `count` running jobs of w1: half succeed and the rest fail an
// attempt (retried: 4 attempts left), or with `all_succeed` every one
// succeeds (the batch is deleted without locking its rows first).
std::string Outcomes(int count, bool all_succeed = false) {
  json batch = json::array();
  for (int i = 0; i < count; ++i) {
    int64_t id = 1 + 10 * (i + 1);
    json o = {{"id", id}, {"token", id}, {"attempt", 1}, {"retry_in", 5}, {"started_after", 0}};
    bool fails = !all_succeed && i % 2 == 1;
    o["outcome"] = fails ? "failed" : "succeeded";
    if (fails) o["error"] = {{"error", "boom"}};
    batch.push_back(o);
  }
  return Literal(batch.dump());
}

TEST_P(PlanShapeTest, EveryStatementOfTheJobProtocolCostsInProportionToItsBatch) {
  TestSchema schema;
  Fill(schema, GetParam());
  auto [ids, tokens] = Claims(kBatch);
  json progress = json::array();
  for (int i = 0; i < kBatch; ++i) {
    int64_t id = 1 + 10 * (i + 1);
    progress.push_back({{"id", id}, {"token", id}, {"progress", {{"done", i}}}});
  }
  struct Case {
    std::string name;
    std::vector<std::string> args;
    double rows_limit;  // rows of jobs the statement may visit
  };
  const double batch = kBatch;
  std::vector<Case> cases = {
      // Half the claim starts at once, half is claimed ahead.
      {"claim",
       {"'bench'", "'{noop,absent}'", std::to_string(kBatch), "'w2'", "30", "7", "false", "'[]'",
        std::to_string(kBatch / 2)},
       // Per priority and task: the claimed rows and ones locked meanwhile.
       4 * batch},
      // From a cursor: the range after it, then (only if short) the one before.
      {"claim",
       {"'bench'", "'{noop,absent}'", std::to_string(kBatch), "'w2'", "30", "8", "false",
        "'[{\"t\": \"noop\", \"p\": 5, \"r\": 1000000, \"i\": 500000}]'", "0"},
       4 * batch},
      {"next_run_at", {"'bench'", "'{noop,absent}'", "0.05"}, 100},
      {"renew_leases", {"'w1'", ids, tokens, "30", NotStarted(kBatch)}, 3 * batch},
      {"complete", {"'w1'", Outcomes(kBatch)}, 4 * batch},
      {"complete", {"'w1'", Outcomes(kBatch, true)}, 3 * batch},
      {"give_back", {"'w1'", ids, tokens, "'{\"kind\": \"given_back\"}'"}, 3 * batch},
      {"set_progress", {"'w1'", Literal(progress.dump())}, 3 * batch},
      // 2,000 leases expired (half of them claimed ahead); at most $1 are taken.
      {"rescue_expired", {std::to_string(kBatch)}, 4 * batch},
      // The Redis broker: the relay's push of the best ready jobs (a plan
      // that sorted every ready job read the whole backlog per batch), and
      // the claim of the ids a worker read from a stream.
      {"relay_dispatch", {"'bench'", std::to_string(kBatch), "30"}, 4 * batch},
      {"claim_ids", {"'bench'", PendingIds(kBatch), "'{noop}'", "'w2'", "30", "9"}, 3 * batch},
  };
  for (bool generic : {false, true}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name + (generic ? " (generic plan)" : " (custom plan)") + ", statistics " +
                   GetParam());
      Work w = Explain(schema, c.name, c.args, generic);
      EXPECT_TRUE(w.seq_scans.empty()) << w.plan;
      EXPECT_LE(w.jobs_rows_read, c.rows_limit) << w.plan;
      EXPECT_LE(w.join_filtered, 2 * batch) << w.plan;
      // Blocks: a few per row touched (heap, indexes, history), never the table.
      EXPECT_LE(w.buffers, 30 * c.rows_limit + 2000) << w.plan;
    }
  }
}

// A worker that lost a claim's reply (and every worker once at start) looks
// for claims it does not know it holds: its running jobs older than 5 s
// minus the 1,000 it holds. Here 1,010 are that old, so 10 are untracked.
// Taking the held ones away must not compare every running job with every
// held claim (a nested loop that, with the statistics saying nothing runs,
// ran for minutes against a worker's thousands of claims).
TEST_P(PlanShapeTest, ReleasingUntrackedClaimsNeverComparesEveryClaimWithEveryJob) {
  TestSchema schema;
  Fill(schema, GetParam());
  auto [ids, tokens] = Claims(kBatch);
  testing::Execute(schema.dsn(), "UPDATE " + schema.name() + ".jobs SET started_at = now() - "
                                 "interval '1 minute' WHERE state = 'running' AND id BETWEEN 11 AND " +
                                     std::to_string(1 + 10 * (kBatch + 10)));
  for (bool generic : {false, true}) {
    SCOPED_TRACE(std::string(generic ? "generic plan" : "custom plan") + ", statistics " +
                 GetParam());
    // Run as the worker runs it (src/store/job_store.cc).
    Work w = Explain(schema, "release_untracked", {"'w1'", ids, tokens}, generic, "jobs",
                     "SET LOCAL enable_seqscan = off; ");
    EXPECT_TRUE(w.seq_scans.empty()) << w.plan;
    // The worker's running jobs are read once (by the running-jobs index).
    EXPECT_LE(w.jobs_rows_read, kRunning + 4 * kBatch) << w.plan;
    EXPECT_LE(w.join_filtered, 2 * kBatch) << w.plan;
  }
  // Run for real: the 10 untracked claims go back to pending, no other.
  auto catalog = SqlCatalog::Load(schema.name());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(schema.dsn(), &*catalog, "pgjobs plan tests");
  std::vector<store::JobKey> held;  // the claims of Claims(kBatch): token = id
  for (int i = 0; i < kBatch; ++i) held.push_back({1 + 10 * (i + 1), 1 + 10 * (i + 1)});
  auto released = store::ReleaseUntracked(conn, "w1", held);
  ASSERT_TRUE(released.ok()) << released.status().message();
  EXPECT_EQ(10u, released->size());
  EXPECT_EQ("10", testing::QueryValue(schema.dsn(), "SELECT count(*) FROM " + schema.name() +
                                                        ".jobs WHERE errors @> "
                                                        "'[{\"kind\": \"given_back\"}]'"));
}

// The scheduler's two statements that run at every turn of its loop, in the
// states that made them read whole tables (sql/schedules.sql): statistics
// taken while every schedule still needed planning and no job existed, then
// every schedule planned and due, each with a live job. schedules_to_plan
// then finds nothing and must read nothing; due_schedules looks for each due
// schedule's live job and must probe, not read every job.
TEST_P(PlanShapeTest, TheSchedulersLoopReadsOnlyTheSchedulesItWants) {
  constexpr int kSchedules = 20000;
  constexpr int kDueBatch = 500;
  TestSchema schema;
  const std::string s = schema.name();
  const std::string dsn = schema.dsn();
  testing::Execute(dsn, "ALTER TABLE " + s + ".jobs SET (autovacuum_enabled = false)");
  testing::Execute(dsn, "ALTER TABLE " + s + ".schedules SET (autovacuum_enabled = false)");
  testing::Execute(dsn, "INSERT INTO " + s + ".schedules (name, kind, cron, task) SELECT 'b' || g, "
                        "'cron', '* * * * *', 'noop' FROM generate_series(1, " +
                            std::to_string(kSchedules) + ") g");
  if (GetParam() != "never") testing::Execute(dsn, "ANALYZE " + s + ".schedules, " + s + ".jobs");
  testing::Execute(dsn, "UPDATE " + s + ".schedules SET next_run_at = now() - interval '1 second'");
  testing::Execute(dsn, "INSERT INTO " + s + ".jobs (task, schedule_id, scheduled_for) "
                        "SELECT 'noop', id, now() - interval '1 minute' FROM " + s + ".schedules");
  if (GetParam() == "all_running") {
    // Analyzed again in the planned state: the plans must stay as cheap.
    testing::Execute(dsn, "ANALYZE " + s + ".schedules, " + s + ".jobs");
  }
  for (bool generic : {false, true}) {
    SCOPED_TRACE(std::string(generic ? "generic plan" : "custom plan") + ", statistics " +
                 GetParam());
    Work to_plan = Explain(schema, "schedules_to_plan", {std::to_string(kDueBatch)}, generic,
                           "schedules");
    // Its index holds nothing but entries the UPDATE above left dead (gone
    // at the next vacuum), so no row is read.
    EXPECT_TRUE(to_plan.seq_scans.empty()) << to_plan.plan;
    EXPECT_EQ(0, to_plan.jobs_rows_read) << to_plan.plan;

    // Run as the scheduler runs it (src/store/schedule_store.cc).
    const std::string no_sort = "SET LOCAL enable_sort = off; ";
    // $2: the default fire ahead, 30 s.
    const std::vector<std::string> due_args = {std::to_string(kDueBatch), "30"};
    Work due_jobs = Explain(schema, "due_schedules", due_args, generic, "jobs", no_sort);
    EXPECT_TRUE(due_jobs.seq_scans.empty()) << due_jobs.plan;
    EXPECT_LE(due_jobs.jobs_rows_read, kDueBatch) << due_jobs.plan;
    Work due = Explain(schema, "due_schedules", due_args, generic, "schedules", no_sort);
    EXPECT_TRUE(due.seq_scans.empty()) << due.plan;
    EXPECT_LE(due.jobs_rows_read, 2 * kDueBatch) << due.plan;
    EXPECT_LE(due.buffers, 10 * kDueBatch) << due.plan;
  }
}

INSTANTIATE_TEST_SUITE_P(Statistics, PlanShapeTest,
                         ::testing::Values("never", "all_pending", "all_running"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pgjobs
