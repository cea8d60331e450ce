// The schema: migrations apply once, in order, from several processes at once,
// and produce exactly the schema the code expects (tests/schema_snapshot.txt).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::QueryValue;
using testing::TestCluster;
using testing::TestSchema;

// Tables, columns, constraints, indexes and functions of schema, one per line,
// with the schema name replaced so the snapshot does not depend on it.
std::string DescribeSchema(const std::string& dsn, const std::string& schema) {
  std::string sql = R"(
    SELECT string_agg(line, E'\n' ORDER BY line) FROM (
      SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type ||
             CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END ||
             coalesce(' default ' || column_default, '') AS line
      FROM information_schema.columns WHERE table_schema = '@schema@'
        AND table_name NOT LIKE 'job_history_p%'
      UNION ALL
      SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' ||
             pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = '@schema@'::regnamespace
        AND conrelid::regclass::text NOT LIKE '%job_history_p%'
      UNION ALL
      SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = '@schema@'
        AND tablename NOT LIKE 'job_history_p%'
      UNION ALL
      SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
      WHERE p.pronamespace = '@schema@'::regnamespace
      UNION ALL
      SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass::text FROM pg_trigger
      WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE '@schema@.%'
    ) x)";
  std::string s = FillSchema(sql, schema);
  std::string described = QueryValue(dsn, s);
  size_t pos;
  while ((pos = described.find(schema + ".")) != std::string::npos) {
    described.replace(pos, schema.size() + 1, "@schema@.");
  }
  return described + "\n";
}

// Applies the migrations of catalog whose version satisfies pred, in order,
// without recording them: for tests that put rows in between two versions.
Status ApplyMigrations(pg::Connection& conn, const SqlCatalog& catalog,
                       const std::function<bool(int)>& pred) {
  for (const Migration& m : catalog.migrations()) {
    if (!pred(m.version)) continue;
    Status st = conn.ExecSql(m.sql).status();
    if (!st.ok()) return st.WithContext(m.name);
  }
  return Status::Ok();
}

TEST(MigrateTest, AllMigrationsGiveTheSchemaSnapshot) {
  TestSchema schema;
  std::string actual = DescribeSchema(schema.dsn(), schema.name());
  std::string path = testing::SourceDir() + "/tests/schema_snapshot.txt";
  if (std::getenv("PGJOBS_UPDATE_SNAPSHOT") != nullptr) {
    std::ofstream(path) << actual;
  }
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual)
      << "the schema built by the migrations differs from tests/schema_snapshot.txt; if the "
         "change is intended, rerun with PGJOBS_UPDATE_SNAPSHOT=1 and commit the snapshot";
}

TEST(MigrateTest, ApplyingTwiceChangesNothingTheSecondTime) {
  TestSchema schema;
  auto catalog = SqlCatalog::Load(schema.name());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(schema.dsn(), nullptr, "test");
  auto again = migrate::Migrator(conn, *catalog).Apply();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->empty());
  EXPECT_TRUE(migrate::Migrator(conn, *catalog).CheckCurrent().ok());
}

TEST(MigrateTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  const std::string name = "concurrent_migrate";
  auto catalog = SqlCatalog::Load(name);
  ASSERT_TRUE(catalog.ok());
  std::atomic<int> applied{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      pg::Connection conn(TestCluster::Get().dsn(), nullptr, "test");
      auto result = migrate::Migrator(conn, *catalog).Apply();
      if (!result.ok()) failures++;
      if (result.ok()) applied += static_cast<int>(result->size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(0, failures.load());
  EXPECT_EQ(static_cast<int>(catalog->migrations().size()), applied.load());
  EXPECT_EQ(std::to_string(catalog->migrations().size()),
            QueryValue(TestCluster::Get().dsn(), "SELECT count(*) FROM " + name + ".schema_migrations"));
  testing::Execute(TestCluster::Get().dsn(), "DROP SCHEMA " + name + " CASCADE");
}

TEST(MigrateTest, StatusListsPendingMigrationsOfAnEmptyDatabase) {
  auto catalog = SqlCatalog::Load("never_migrated");
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(TestCluster::Get().dsn(), nullptr, "test");
  migrate::Migrator migrator(conn, *catalog);
  auto list = migrator.List();
  ASSERT_TRUE(list.ok());
  ASSERT_FALSE(list->empty());
  for (const auto& m : *list) EXPECT_FALSE(m.applied) << m.name;
  Status current = migrator.CheckCurrent();
  EXPECT_FALSE(current.ok());
  EXPECT_NE(std::string::npos, current.message().find("run `pgjobs migrate`"));
}

TEST(MigrateTest, AnEditedAppliedMigrationIsRefused) {
  TestSchema schema;
  testing::Execute(schema.dsn(), "UPDATE " + schema.name() +
                                     ".schema_migrations SET checksum = 'edited' WHERE version = 1");
  auto catalog = SqlCatalog::Load(schema.name());
  pg::Connection conn(schema.dsn(), nullptr, "test");
  auto result = migrate::Migrator(conn, *catalog).Apply();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(std::string::npos, result.status().message().find("changed after it was applied"));
}

// Migration 0004 on a database with rows its new checks refuse: nothing is
// lost or blocked. The schedules say what is wrong in error (the scheduler
// skips them) until their template is fixed; the queued job still runs.
TEST(MigrateTest, Migration0004KeepsOldRowsAndPutsSchedulesThatBreakItInError) {
  const std::string s = "migrate_0004";
  const std::string dsn = TestCluster::Get().dsn();
  auto catalog = SqlCatalog::Load(s);
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(dsn, nullptr, "test");
  ASSERT_TRUE(conn.ExecSql("DROP SCHEMA IF EXISTS " + s + " CASCADE; CREATE SCHEMA " + s).ok());
  auto apply = [&](const std::function<bool(int)>& pred) {
    Status st = ApplyMigrations(conn, *catalog, pred);
    ASSERT_TRUE(st.ok()) << st.message();
  };
  apply([](int v) { return v < 4; });
  testing::Execute(dsn, "CREATE TABLE " + s + ".src AS SELECT jsonb_build_object('a', "
                        "repeat('a', 1100 * 1024)) AS a");
  testing::Execute(dsn, "INSERT INTO " + s + ".schedules (name, kind, every, task, args) "
                        "SELECT 'long_task', 'interval', interval '1 hour', repeat('t', 300), "
                        "'{}'::jsonb UNION ALL "
                        "SELECT 'big_args', 'interval', '1 hour', 't', a FROM " + s + ".src "
                        "UNION ALL SELECT 'fine', 'interval', '1 hour', 't', '{}'");
  testing::Execute(dsn, "INSERT INTO " + s + ".jobs (task, args) SELECT 't', a FROM " + s + ".src");
  apply([](int v) { return v >= 4; });

  auto q = [&](const std::string& sql) { return QueryValue(dsn, sql); };
  auto error = [&](const std::string& name) {
    return q("SELECT coalesce(error, '') FROM " + s + ".schedules WHERE name = '" + name + "'");
  };
  EXPECT_NE(std::string::npos, error("long_task").find("task name is longer than 200 characters"));
  EXPECT_NE(std::string::npos, error("big_args").find("args are 1126409 bytes of JSON text"));
  EXPECT_EQ("", error("fine"));
  // Left NOT VALID because of the old rows; still enforced on new ones.
  EXPECT_EQ("f", q("SELECT convalidated FROM pg_constraint WHERE conname = "
                   "'schedules_task_at_most_200_chars' AND connamespace = '" + s +
                   "'::regnamespace"));
  // The old job is still claimed and updated like any other.
  testing::Execute(dsn, "UPDATE " + s + ".jobs SET state = 'running', lease_owner = 'w', "
                        "lease_expires_at = now() + interval '1 minute'");
  // Fixing a template clears its error and the schedule is planned again.
  testing::Execute(dsn, "UPDATE " + s + ".schedules SET task = 't' WHERE name = 'long_task'");
  EXPECT_EQ("|", q("SELECT coalesce(error, '') || '|' || coalesce(next_run_at::text, '') FROM " +
                   s + ".schedules WHERE name = 'long_task'"));
  testing::Execute(dsn, "DROP SCHEMA " + s + " CASCADE");
}

// Migration 0019 makes the enqueue trigger read the view idle_queues before
// it calls wake_idle_workers(): a role that was given the rights to enqueue
// by hand (not by grant_roles) must not lose them in the upgrade.
TEST(MigrateTest, Migration0019KeepsARoleGrantedByHandEnqueuing) {
  const std::string s = "migrate_0019";
  const std::string role = s + "_hand";
  const std::string dsn = TestCluster::Get().dsn();
  auto catalog = SqlCatalog::Load(s);
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(dsn, nullptr, "test");
  ASSERT_TRUE(conn.ExecSql("DROP SCHEMA IF EXISTS " + s + " CASCADE; CREATE SCHEMA " + s).ok());
  (void)conn.ExecSql("DROP ROLE IF EXISTS " + role);
  auto apply = [&](const std::function<bool(int)>& pred) {
    Status st = ApplyMigrations(conn, *catalog, pred);
    ASSERT_TRUE(st.ok()) << st.message();
  };
  apply([](int v) { return v < 19; });
  testing::Execute(dsn, "CREATE ROLE " + role + " LOGIN; GRANT USAGE ON SCHEMA " + s + " TO " +
                            role + "; GRANT INSERT ON " + s + ".jobs TO " + role +
                            "; GRANT USAGE ON ALL SEQUENCES IN SCHEMA " + s + " TO " + role +
                            "; GRANT EXECUTE ON FUNCTION " + s + ".wake_idle_workers(text) TO " +
                            role);
  apply([](int v) { return v >= 19; });
  testing::Execute(dsn, "INSERT INTO " + s + ".idle_workers (queue, worker_id) VALUES ('q', 'w')");
  pg::Connection listener(dsn, nullptr, "test listener");
  ASSERT_TRUE(listener.Listen(s + "_jobs").ok());

  pg::Connection hand(dsn + " user=" + role, nullptr, "test");
  auto inserted = hand.ExecSql("INSERT INTO " + s + ".jobs (task, queue) VALUES ('t', 'q')");
  EXPECT_TRUE(inserted.ok()) << inserted.status().message();
  auto notes = listener.WaitForNotifications(std::chrono::seconds(5));
  ASSERT_TRUE(notes.ok()) << notes.status().message();
  ASSERT_EQ(1u, notes->size());
  EXPECT_EQ("q", (*notes)[0].payload);
  // It sees which queues have an idle worker, not the workers.
  auto peek = hand.ExecSql("SELECT worker_id FROM " + s + ".idle_workers");
  ASSERT_FALSE(peek.ok());
  EXPECT_NE(std::string::npos, peek.status().message().find("permission denied"));
  EXPECT_TRUE(hand.ExecSql("SELECT queue FROM " + s + ".idle_queues").ok());
  hand.Disconnect();
  testing::Execute(dsn, "DROP SCHEMA " + s + " CASCADE; DROP OWNED BY " + role + "; DROP ROLE " +
                            role);
}

TEST(MigrateTest, HistoryPartitionsExistAheadAndTheDefaultCatchesTheRest) {
  TestSchema schema;
  const std::string s = schema.name();
  EXPECT_GE(std::stoi(QueryValue(schema.dsn(),
                                 "SELECT count(*) FROM pg_inherits WHERE inhparent = '" + s +
                                     ".job_history'::regclass")),
            8);
  // A row far in the future lands in the default partition, and creating its
  // day's partition later moves it there.
  testing::Execute(schema.dsn(),
                   "INSERT INTO " + s + ".job_history (id, queue, task, args, priority, state, "
                   "attempt, max_attempts, created_at, run_at, finished_at) VALUES (1, 'q', 't', "
                   "'{}', 5, 'succeeded', 1, 1, now(), now(), now() + interval '40 days')");
  EXPECT_EQ(s + ".job_history_default",
            QueryValue(schema.dsn(), "SELECT tableoid::regclass::text FROM " + s + ".job_history"));
  testing::Execute(schema.dsn(), "SELECT " + s + ".ensure_history_partitions(45)");
  EXPECT_NE(s + ".job_history_default",
            QueryValue(schema.dsn(), "SELECT tableoid::regclass::text FROM " + s + ".job_history"));
}

}  // namespace
}  // namespace pgjobs
