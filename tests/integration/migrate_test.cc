// The schema: migrations apply once, in order, from several processes at once,
// and produce exactly the schema the code expects (tests/schema_snapshot.txt).
#include <gtest/gtest.h>

#include <fstream>
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
