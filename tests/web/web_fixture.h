// What the dashboard tests share: a migrated schema with jobs in every
// state, a dashboard served in-process on a free loopback port, and an HTTP
// client for it.
#ifndef PGJOBS_TESTS_WEB_WEB_FIXTURE_H_
#define PGJOBS_TESTS_WEB_WEB_FIXTURE_H_

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "tests/support/test_cluster.h"
#include "web/server.h"

namespace pgjobs::testing {

// An Authorization header value for HTTP basic auth.
std::string Basic(const std::string& user, const std::string& password);

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts the dashboard with options (schema, listen and, unless given, dsn
  // filled in).
  void StartServer(web::WebOptions options = {});
  void StopServer();
  httplib::Client Client() const;
  // GET path with optional headers; fails the test if no answer came.
  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) const;

  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void X(const std::string& sql) { Execute(schema_.dsn(), sql); }
  std::string S() const { return schema_.name(); }
  // Inserts a pending job; its id.
  std::string Insert(const std::string& task, const std::string& args = "{}",
                     const std::string& queue = "default");
  // Seeds jobs in every state: pending, scheduled, running (leased to a
  // made-up worker), succeeded, failed, cancelled (history), and a worker row.
  void SeedEveryState();
  // Runs the pgjobs binary with --dsn and --schema; its stdout (exit 0
  // expected).
  std::string Cli(const std::vector<std::string>& args);

  // POST path with headers and an empty JSON body.
  httplib::Result Post(const std::string& path, const httplib::Headers& headers) const;

  TestSchema schema_;
  std::string dir_;
  std::unique_ptr<web::WebServer> server_;
  std::thread serving_;
  int port_ = 0;
};

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_WEB_WEB_FIXTURE_H_
