// Named SQL statements and migrations: ValidateSchemaName, FillSchema,
// SplitNamedStatements and SqlCatalog::Load over the embedded files.
#include "common/sql_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include "tests/support/expect_has.h"

namespace pgjobs {
namespace {


// ---- ValidateSchemaName ----

TEST(ValidateSchemaNameTest, AcceptsLowerCaseLettersDigitsAndUnderscores) {
  for (const char* name : {"pgjobs", "a", "_", "_jobs", "jobs_2", "x1_y2", "pg_jobs"}) {
    EXPECT_TRUE(ValidateSchemaName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateSchemaName(std::string(50, 'a')).ok());
}

TEST(ValidateSchemaNameTest, RejectsEverythingElseNamingTheRule) {
  for (const char* name : {"", "Jobs", "JOBS", "1jobs", "9", "jobs-x", "jobs x", "jobs.x",
                           "jobs;drop", "\"jobs\"", "jöbs", "jobs\n"}) {
    Status st = ValidateSchemaName(name);
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_HAS(st.message(), "schema name \"" + std::string(name) + "\" is not allowed");
    EXPECT_HAS(st.message(), "lower-case letters, digits and '_'");
  }
}

TEST(ValidateSchemaNameTest, RejectsNamesLongerThan50Characters) {
  Status st = ValidateSchemaName(std::string(51, 'a'));
  ASSERT_FALSE(st.ok());
  EXPECT_HAS(st.message(), "at most 50 characters");
}

// ---- FillSchema ----

TEST(FillSchemaTest, ReplacesEveryPlaceholder) {
  EXPECT_EQ(FillSchema("SELECT * FROM @schema@.jobs JOIN @schema@.queues", "app"),
            "SELECT * FROM app.jobs JOIN app.queues");
  EXPECT_EQ(FillSchema("@schema@@schema@", "s"), "ss");
  EXPECT_EQ(FillSchema("pg_notify('@schema@_jobs')", "pgjobs"), "pg_notify('pgjobs_jobs')");
}

TEST(FillSchemaTest, LeavesTextWithoutPlaceholdersAlone) {
  EXPECT_EQ(FillSchema("", "s"), "");
  EXPECT_EQ(FillSchema("SELECT 1", "s"), "SELECT 1");
  EXPECT_EQ(FillSchema("@schema", "s"), "@schema");
  EXPECT_EQ(FillSchema("schema@", "s"), "schema@");
}

// ---- SplitNamedStatements ----

std::map<std::string, std::string> Split(std::string_view text) {
  auto named = SplitNamedStatements(text, "test.sql");
  EXPECT_TRUE(named.ok()) << named.status().message();
  return named.ok() ? *named : std::map<std::string, std::string>{};
}

std::string SplitError(std::string_view text) {
  auto named = SplitNamedStatements(text, "test.sql");
  EXPECT_FALSE(named.ok()) << text << " was accepted";
  if (named.ok()) return "";
  EXPECT_EQ(named.status().code(), Status::Code::kInternal);
  return named.status().message();
}

TEST(SplitNamedStatementsTest, SplitsAtEveryNameMarkerAndTrims) {
  EXPECT_EQ(Split("-- name: one\nSELECT 1;\n\n-- name: two\n  SELECT\n    2;\n"),
            (std::map<std::string, std::string>{{"one", "SELECT 1;"}, {"two", "SELECT\n    2;"}}));
}

TEST(SplitNamedStatementsTest, KeepsCommentsInsideAStatement) {
  EXPECT_EQ(Split("-- name: one\n-- Why it is shaped so.\nSELECT 1"),
            (std::map<std::string, std::string>{{"one", "-- Why it is shaped so.\nSELECT 1"}}));
}

TEST(SplitNamedStatementsTest, IgnoresTextBeforeTheFirstMarker) {
  EXPECT_EQ(Split("-- File header.\nSELECT 'ignored';\n-- name: one\nSELECT 1\n"),
            (std::map<std::string, std::string>{{"one", "SELECT 1"}}));
}

TEST(SplitNamedStatementsTest, AFileWithoutMarkersHasNoStatements) {
  EXPECT_TRUE(Split("").empty());
  EXPECT_TRUE(Split("SELECT 1;\n").empty());
}

TEST(SplitNamedStatementsTest, TrimsTheNameIncludingACarriageReturn) {
  EXPECT_EQ(Split("-- name:   spaced  \r\nSELECT 1\r\n"),
            (std::map<std::string, std::string>{{"spaced", "SELECT 1"}}));
}

TEST(SplitNamedStatementsTest, AnEmptyStatementIsAnError) {
  EXPECT_HAS(SplitError("-- name: one\n\n   \n-- name: two\nSELECT 2\n"),
             "test.sql: statement one is empty");
  EXPECT_HAS(SplitError("-- name: one\nSELECT 1\n-- name: last\n"), "statement last is empty");
}

TEST(SplitNamedStatementsTest, AStatementDefinedTwiceIsAnError) {
  EXPECT_HAS(SplitError("-- name: one\nSELECT 1\n-- name: one\nSELECT 2\n"),
             "test.sql: statement one is empty or defined twice");
}

TEST(SplitNamedStatementsTest, AMarkerWithoutANameIsAnErrorNotASilentlyDroppedStatement) {
  EXPECT_HAS(SplitError("-- name: one\nSELECT 1\n-- name: \nSELECT 2\n"),
             "test.sql:3: \"-- name:\" without a statement name");
  EXPECT_HAS(SplitError("-- name:\nSELECT 2\n"), "test.sql:1:");
}

// ---- SqlCatalog::Load over the embedded files ----

TEST(SqlCatalogTest, RejectsAnInvalidSchemaName) {
  auto catalog = SqlCatalog::Load("Bad-Schema");
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), Status::Code::kInvalidArgument);
  EXPECT_HAS(catalog.status().message(), "schema name \"Bad-Schema\" is not allowed");
}

TEST(SqlCatalogTest, FillsTheSchemaIntoEveryStatementAndMigration) {
  auto catalog = SqlCatalog::Load("myjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_EQ(catalog->schema(), "myjobs");
  EXPECT_EQ(catalog->JobsChannel(), "myjobs_jobs");
  ASSERT_FALSE(catalog->statements().empty());
  for (const auto& [name, sql] : catalog->statements()) {
    EXPECT_EQ(sql.find("@schema@"), std::string::npos) << name;
    EXPECT_FALSE(sql.empty()) << name;
  }
  ASSERT_FALSE(catalog->migrations().empty());
  for (const Migration& m : catalog->migrations()) {
    EXPECT_EQ(m.sql.find("@schema@"), std::string::npos) << m.name;
    EXPECT_HAS(m.sql, "myjobs.");
  }
}

TEST(SqlCatalogTest, NumbersMigrationsFromTheirFileNamesInOrder) {
  auto catalog = SqlCatalog::Load("pgjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  const auto& migrations = catalog->migrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations[0].version, 1);
  EXPECT_EQ(migrations[0].name, "0001_jobs");
  for (size_t i = 0; i < migrations.size(); ++i) {
    char prefix[5];
    std::snprintf(prefix, sizeof(prefix), "%04d", migrations[i].version);
    EXPECT_EQ(migrations[i].name.substr(0, 5), std::string(prefix) + "_");
    EXPECT_EQ(migrations[i].checksum.size(), 16u);
    if (i > 0) {
      EXPECT_LT(migrations[i - 1].version, migrations[i].version);
    }
  }
}

TEST(SqlCatalogTest, TheChecksumIsOfTheFileNotOfTheFilledInText) {
  auto a = SqlCatalog::Load("alpha");
  auto b = SqlCatalog::Load("beta");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->migrations().size(), b->migrations().size());
  for (size_t i = 0; i < a->migrations().size(); ++i) {
    EXPECT_EQ(a->migrations()[i].checksum, b->migrations()[i].checksum);
    EXPECT_NE(a->migrations()[i].sql, b->migrations()[i].sql);
  }
}

// The statements the code runs. Kept by hand so that a missing one is named
// even when the sources are not at hand; the next test also scans them.
const char* const kUsedStatements[] = {
    "enqueue",          "enqueue_many",      "claim",
    "next_run_at",      "renew_leases",      "complete",
    "give_back",        "set_progress",      "rescue_expired",
    "register_worker",  "worker_heartbeat",  "deregister_worker",
    "prune_workers",    "ensure_partitions", "job_show",
    "queue_stats",      "job_list",          "job_cancel",
    "job_cancel_many",  "job_retry",         "retry_failed_lock",
    "job_redrive",      "pending_count",     "job_purge",
    "queue_set_paused", "queue_set_notify",  "worker_list",
    "worker_stop",      "task_list",         "stats",
    "doctor_facts",     "task_coverage",
};

TEST(SqlCatalogTest, HasEveryStatementTheCodeRuns) {
  auto catalog = SqlCatalog::Load("pgjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  for (const char* name : kUsedStatements) {
    EXPECT_EQ(catalog->statements().count(name), 1u) << "no statement named " << name;
  }
}

// The repository root, from this file's path (CMake passes absolute paths).
std::filesystem::path SourceRoot() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(SqlCatalogTest, HasEveryStatementNamedInTheSources) {
  std::filesystem::path src = SourceRoot() / "src";
  ASSERT_TRUE(std::filesystem::is_directory(src)) << src;
  // conn.Exec("name", ...), catalog.Get("name"), QueryJson(conn, catalog, "name", ...),
  // QueryRows(conn, catalog, "name", ...), QueryRowsAudited(conn, catalog, "name", ...),
  // ExecAudited(tx, catalog, "name", ...).
  const std::regex kUse(
      R"((?:\bExec|\.Get|\b(?:Query(?:Json|Rows)(?:Audited)?|ExecAudited)\((?:\s*\*?\w+\s*,){1,2})\(?\s*"([a-z0-9_]+)\")");
  std::set<std::string> used;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    if (entry.path().extension() != ".cc") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      // std::regex is slow: look only at lines that can match.
      if (line.find("Exec(") == std::string::npos && line.find("Get(") == std::string::npos &&
          line.find("QueryJson(") == std::string::npos &&
          line.find("QueryRows(") == std::string::npos &&
          line.find("QueryRowsAudited(") == std::string::npos &&
          line.find("ExecAudited(") == std::string::npos) {
        continue;
      }
      for (std::sregex_iterator it(line.begin(), line.end(), kUse), end; it != end; ++it) {
        used.insert((*it)[1]);
      }
    }
  }
  for (const char* name : kUsedStatements) {
    EXPECT_EQ(used.count(name), 1u) << name << " is no longer found in the sources";
  }
  auto catalog = SqlCatalog::Load("pgjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  for (const std::string& name : used) {
    EXPECT_EQ(catalog->statements().count(name), 1u)
        << "the code runs " << name << " but no sql/*.sql file defines it";
  }
}

TEST(SqlCatalogTest, GetReturnsTheStatement) {
  auto catalog = SqlCatalog::Load("pgjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_EQ(&catalog->Get("claim"), &catalog->statements().at("claim"));
}

TEST(SqlCatalogDeathTest, GetOfAnUnknownStatementAbortsNamingIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto catalog = SqlCatalog::Load("pgjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  EXPECT_DEATH((void)catalog->Get("no_such_statement"),
               "bug: no SQL statement named no_such_statement");
}

}  // namespace
}  // namespace pgjobs
