// The fixture of the `pgjobs schedules ...` black-box tests: the built
// binary run against a test schema, one-value SQL helpers, and a check that a
// refused command wrote nothing.
#ifndef PGJOBS_TESTS_SUPPORT_SCHEDULES_CLI_FIXTURE_H_
#define PGJOBS_TESTS_SUPPORT_SCHEDULES_CLI_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::testing {

struct CliResult {
  int rc;
  std::string out;  // stdout and stderr together
};

class SchedulesCliTest : public ::testing::Test {
 protected:
  // pgjobs --dsn ... --schema ... schedules ARGS
  CliResult Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        testing::BinaryPath(), "--dsn", schema_.dsn(), "--schema", S(), "schedules"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto [rc, out] = RunToEnd(argv);
    return {rc, out};
  }
  // A command that must succeed; returns its output.
  std::string Ok(std::vector<std::string> args) {
    CliResult r = Cli(args);
    EXPECT_EQ(0, r.rc) << Join(args) << "\n" << r.out;
    return r.out;
  }
  static std::string Join(const std::vector<std::string>& args) {
    std::string s;
    for (const std::string& a : args) s += a + " ";
    return s;
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  // One column of schedule name.
  std::string Col(const std::string& name, const std::string& expr) {
    return Q("SELECT " + expr + " FROM " + S() + ".schedules WHERE name = '" + name + "'");
  }
  // Everything in the schedules and jobs tables, to check that nothing changed.
  std::string Snapshot() {
    return Q("SELECT coalesce((SELECT string_agg(s::text, E'\\n' ORDER BY id) FROM " + S() +
             ".schedules s), '') || '#' || (SELECT count(*) FROM " + S() + ".jobs)");
  }
  std::string File(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // Expects args to fail with exit code rc, a message containing part, and no change.
  void Refused(const std::vector<std::string>& args, int rc, const std::string& part) {
    std::string before = Snapshot();
    CliResult r = Cli(args);
    EXPECT_EQ(rc, r.rc) << Join(args) << "\n" << r.out;
    EXPECT_NE(std::string::npos, r.out.find(part)) << Join(args) << "\n" << r.out;
    EXPECT_EQ(before, Snapshot()) << Join(args) << " wrote something";
  }
  void AddNightly() {
    Ok({"add", "nightly-cleanup", "--cron", "0 3 * * *", "--tz", "Europe/Paris", "--task",
        "cleanup"});
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-sched"};
  const std::string dir_ = tmp_.path();
};

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_SCHEDULES_CLI_FIXTURE_H_
