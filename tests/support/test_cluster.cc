#include "tests/support/test_cluster.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"

namespace pgjobs::testing {
namespace {

std::string Run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe.get())) out.append(buf, n);
  int rc = pclose(pipe.release());
  if (rc != 0) throw std::runtime_error(command + " failed with status " + std::to_string(rc));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string SourceDir() { return PGJOBS_SOURCE_DIR; }
std::string BinaryPath() { return PGJOBS_BINARY; }

TestCluster& TestCluster::Get() {
  static TestCluster cluster;
  return cluster;
}

TestCluster::TestCluster() {
  char tmpl[] = "/tmp/pgjobs-test.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  dsn_ = Tool("start", "--fast");
}

TestCluster::~TestCluster() {
  try {
    Tool("destroy");
  } catch (...) {
    // Best effort at exit.
  }
}

std::string TestCluster::Tool(const std::string& verb, const std::string& extra) {
  return Run(SourceDir() + "/tools/pg-throwaway " + verb + " " + dir_ + " " + extra +
             " 2>/dev/null");
}

void TestCluster::RestartImmediate() {
  StopImmediate();
  Start();
}

void TestCluster::StopImmediate() {
  // The test cluster runs with synchronous_commit=off for speed, so commits of
  // the last few hundred milliseconds would not survive a crash; a checkpoint
  // first makes the crash lose only what a real one would (nothing committed).
  Execute(dsn_, "CHECKPOINT");
  Tool("stop", "--immediate");
}

void TestCluster::Start() { dsn_ = Tool("start", "--fast"); }

TestSchema::TestSchema() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(rd() % 100000);
  auto catalog = SqlCatalog::Load(name_);
  if (!catalog.ok()) throw std::runtime_error(catalog.status().message());
  pg::Connection conn(dsn(), nullptr, "pgjobs tests");
  auto applied = migrate::Migrator(conn, *catalog).Apply();
  if (!applied.ok()) throw std::runtime_error(applied.status().message());
}

TestSchema::~TestSchema() {
  pg::Connection conn(dsn(), nullptr, "pgjobs tests");
  (void)conn.ExecSql("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
}

std::string QueryValue(const std::string& dsn, const std::string& sql) {
  pg::Connection conn(dsn, nullptr, "pgjobs tests");
  auto rows = conn.ExecSql(sql);
  if (!rows.ok()) {
    ADD_FAILURE() << sql << ": " << rows.status().message();
    return "";
  }
  return rows->empty() || rows->columns() == 0 ? "" : rows->Text(0, 0);
}

void Execute(const std::string& dsn, const std::string& sql) {
  pg::Connection conn(dsn, nullptr, "pgjobs tests");
  auto rows = conn.ExecSql(sql);
  ASSERT_TRUE(rows.ok()) << sql << ": " << rows.status().message();
}

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace pgjobs::testing
