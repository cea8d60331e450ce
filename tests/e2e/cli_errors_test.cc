// Black-box tests of how the pgjobs binary refuses bad input: the exit status
// (2 for anything the user must fix, 3 only for a job or schedule that does
// not exist), a message on stderr that names the problem and the fix, and
// nothing written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/cli_run.h"
#include "tests/support/expect_has.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::CliRun;
using testing::TestSchema;

class CliErrorsTest : public ::testing::Test {
 protected:
  CliRun Run(const std::vector<std::string>& args) { return testing::RunCli(dir_, args); }
  // pgjobs --dsn ... --schema ... ARGS
  CliRun RunDb(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", schema_.name()};
    all.insert(all.end(), args.begin(), args.end());
    return Run(all);
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  std::string WorkerConfig(const std::string& worker, const std::string& tasks) {
    std::string path = dir_ + "/pgjobs.conf";
    std::ofstream(path) << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
                        << "\", \"worker\": " << worker << ", \"tasks\": " << tasks << "}";
    return path;
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-clierr"};
  const std::string dir_ = tmp_.path();
};

TEST_F(CliErrorsTest, AnUnknownCommandIsNamedWithTheValidCommandsAndTheNearestOne) {
  CliRun r = Run({"jobs", "lsit"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: unknown command \"jobs lsit\"; did you mean \"jobs list\"?\n");
  EXPECT_HAS(r.err, "The commands of pgjobs jobs are: list, show, wait, retry, cancel, purge.");
  EXPECT_HAS(r.err, "See `pgjobs jobs --help`.");

  r = Run({"inspect", "active"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: unknown command \"inspect\"");
  EXPECT_HAS(r.err,
             "The commands of pgjobs are: migrate, worker, enqueue, jobs, queues, workers, "
             "tasks, stats, doctor, scheduler, schedules, web, audit.");

  r = Run({"purge"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: unknown command \"purge\"");

  r = Run({"schedules", "lst"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: unknown command \"schedules lst\"; did you mean \"schedules list\"?");
  EXPECT_HAS(r.err,
             "add, update, enable, disable, remove, run-now, list, show, next, apply, export");

  r = Run({"queues", "lsit"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "did you mean \"queues list\"?");
}

TEST_F(CliErrorsTest, ACommandGroupWithoutItsCommandListsThem) {
  CliRun r = Run({"jobs"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: pgjobs jobs needs a command: list, show, wait, retry, cancel, "
                    "purge\nSee `pgjobs jobs --help`.");
}

TEST_F(CliErrorsTest, AnUnknownOptionIsNamedWithThePgjobsPrefixAndAPointerToHelp) {
  CliRun r = RunDb({"enqueue", "t", "--frobnicate", "1"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: unknown option \"--frobnicate\"\nSee `pgjobs enqueue --help`.");
  r = RunDb({"enqueue", "t", "--dealy", "5s"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: unknown option \"--dealy\"; did you mean \"--delay\"?");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(CliErrorsTest, AJobIdThatIsNotANumberIsBadInputSayingSo) {
  CliRun r = RunDb({"jobs", "show", "abc"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: job id must be a number: \"abc\"");
  r = RunDb({"jobs", "show", "999999"});
  EXPECT_EQ(3, r.rc);  // a well-formed id that does not exist: not found
  EXPECT_HAS(r.err, "no job 999999");
}

TEST_F(CliErrorsTest, ANegativeDelayIsRefusedSayingADelayCannotBeNegative) {
  CliRun r = RunDb({"enqueue", "t", "--delay", "-5s"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: --delay \"-5s\": a delay cannot be negative; leave out --delay");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(CliErrorsTest, AnUnknownDurationUnitInTheConfigurationIsNamedWithTheUnitsToUse) {
  std::string config =
      WorkerConfig("{\"lease\": \"5 parsecs\"}",
                   "{\"t\": {\"kind\": \"command\", \"command\": [\"/bin/true\"]}}");
  CliRun r = Run({"worker", "--config", config});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err,
             "worker.lease: duration \"5 parsecs\" has an unknown unit \"parsecs\" (use ms, "
             "s, m, h, d");
}

TEST_F(CliErrorsTest, AWorkerConfigurationNamingAMissingProgramIsBadInputNotNotFound) {
  std::string config =
      WorkerConfig("{}", "{\"t\": {\"kind\": \"command\", \"command\": [\"/no/such/program\"]}}");
  CliRun r = Run({"worker", "--config", config});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "pgjobs: task t: cannot run /no/such/program: No such file or directory");

  config = WorkerConfig(
      "{}", "{\"t\": {\"kind\": \"command\", \"command\": [\"no-such-program-in-path\"]}}");
  r = Run({"worker", "--config", config});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "cannot run no-such-program-in-path: not found in PATH");

  r = Run({"worker", "--config", dir_ + "/missing.conf"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "cannot read configuration file " + dir_ + "/missing.conf");
}

TEST_F(CliErrorsTest, AnUnknownLogLevelIsRefusedWithTheLevels) {
  std::string config =
      WorkerConfig("{}", "{\"t\": {\"kind\": \"command\", \"command\": [\"/bin/true\"]}}");
  CliRun r = Run({"worker", "--config", config, "--log-level", "loud"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--log-level \"loud\" is not a level; use trace, debug, info, warn or error");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".workers"));
}

TEST_F(CliErrorsTest, ACronThatNeverFiresIsRefusedWithTheRealReason) {
  CliRun r = Run({"schedules", "next", "0 0 31 4 *"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "cron \"0 0 31 4 *\" never fires after ");
  EXPECT_HAS(r.err, ": day 31 never occurs in April; check the day-of-month and month fields");
  EXPECT_EQ(std::string::npos, r.err.find("February")) << r.err;

  r = RunDb({"schedules", "add", "x", "--cron", "0 0 30,31 2 *", "--task", "t"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "cron \"0 0 30,31 2 *\" never fires: days 30 and 31 never occur in February");
  r = RunDb({"schedules", "add", "x", "--cron", "0 0 31 4,6 *", "--task", "t"});
  EXPECT_HAS(r.err, "day 31 never occurs in April or June");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".schedules"));
}

TEST_F(CliErrorsTest, SchedulesNextPreviewsAnIntervalAsTheSchedulerWouldTickIt) {
  CliRun r =
      Run({"schedules", "next", "--every", "5m", "--from", "2026-01-01T00:00:10Z", "-n", "3"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("2026-01-01T00:05:10Z\n2026-01-01T00:10:10Z\n2026-01-01T00:15:10Z\n", r.out);

  r = Run({"schedules", "next", "--every", "1h", "--start", "2026-01-01T00:15:00Z", "--from",
           "2026-01-01T03:00:00Z", "-n", "2", "--json"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "\"utc\": \"2026-01-01T03:15:00Z\"");
  EXPECT_HAS(r.out, "\"utc\": \"2026-01-01T04:15:00Z\"");

  r = Run({"schedules", "next", "--every", "5 parsecs"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--every: duration \"5 parsecs\" has an unknown unit \"parsecs\"");
  r = Run({"schedules", "next"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "give a cron expression or --every DURATION");
}

TEST_F(CliErrorsTest, QueuesListSaysItsFailedColumnCountsTheLast24Hours) {
  testing::Execute(schema_.dsn(),
                   "INSERT INTO " + S() +
                       ".job_history (id, queue, task, args, priority, state, attempt, "
                       "max_attempts, created_at, run_at, finished_at) VALUES "
                       "(1, 'mail', 't', '{}', 5, 'failed', 4, 4, now(), now(), now()), "
                       "(2, 'mail', 't', '{}', 5, 'failed', 4, 4, now() - interval '3 days', "
                       "now() - interval '3 days', now() - interval '2 days')");
  CliRun r = RunDb({"queues", "list"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "FAILED 24H");
  // QUEUE PENDING SCHEDULED RUNNING FAILED-24H WORKERS: only the recent failure counts.
  std::istringstream table(r.out.substr(r.out.find("\nmail ") + 1));
  std::vector<std::string> cells(6);
  for (std::string& cell : cells) table >> cell;
  EXPECT_EQ((std::vector<std::string>{"mail", "0", "0", "0", "1", "0"}), cells) << r.out;
  r = RunDb({"queues", "list", "--json"});
  EXPECT_HAS(r.out, "\"failed_24h\": 1");
}

}  // namespace
}  // namespace pgjobs
