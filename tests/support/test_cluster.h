// A real, throwaway PostgreSQL for integration tests, started by the test
// binary itself with tools/pg-throwaway (as the postgres user when run as
// root), and a fresh migrated schema per test so tests never see each
// other's rows.
#ifndef PGJOBS_TESTS_SUPPORT_TEST_CLUSTER_H_
#define PGJOBS_TESTS_SUPPORT_TEST_CLUSTER_H_

#include <chrono>
#include <functional>
#include <string>

namespace pgjobs::testing {

class TestCluster {
 public:
  // The process-wide cluster, started on first use and destroyed at exit.
  static TestCluster& Get();

  const std::string& dsn() const { return dsn_; }
  // pg_ctl stop -m immediate, then start again (crash recovery).
  void RestartImmediate();
  void StopImmediate();
  void Start();
  ~TestCluster();

 private:
  TestCluster();
  std::string Tool(const std::string& verb, const std::string& extra = "");
  std::string dir_;
  std::string dsn_;
};

// A fresh schema, migrated, dropped on destruction.
class TestSchema {
 public:
  TestSchema();
  ~TestSchema();
  const std::string& name() const { return name_; }
  const std::string& dsn() const { return TestCluster::Get().dsn(); }

 private:
  std::string name_;
};

// Runs sql with psql semantics through libpq (autocommit) and returns the
// first column of the first row as text ("" when there is none).
std::string QueryValue(const std::string& dsn, const std::string& sql);
// Runs sql; fails the test on error.
void Execute(const std::string& dsn, const std::string& sql);

// Polls pred every 10 ms until it is true or timeout passes.
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

std::string SourceDir();
std::string BinaryPath();  // the built pgjobs binary

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_TEST_CLUSTER_H_
