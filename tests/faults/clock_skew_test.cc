// Clock skew: one worker's clock is 10 minutes ahead, another's 10 minutes
// behind (Debian's libfaketime). Promise: the database's clock rules: both
// run jobs, leases are set and renewed in the database's time, and when the
// fast worker is killed its jobs come back after its lease, not 10 minutes
// early or late.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kFaketime[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

TEST(ClockSkew, WorkersTenMinutesOffRunAndRenewAndAreRescuedOnTheDatabasesClock) {
  if (access(kFaketime, R_OK) != 0) {
    GTEST_SKIP() << "needs Debian's libfaketime (tools/install-deps installs faketime)";
  }
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const int jobs = Size(200, 2000);
  Scratch scratch;
  std::string script = scratch.RecordScript(0.1);
  InsertJobs(dsn, s, jobs);
  auto skewed = [&](const std::string& tag, const std::string& offset) {
    WorkerSpec w;
    w.dsn = dsn;
    w.schema = s;
    w.tag = tag;
    w.script = script;
    w.env = {{"LD_PRELOAD", kFaketime}, {"FAKETIME", offset},
             {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
    return StartWorker(scratch, w);
  };
  auto ahead = skewed("ahead", "+10m");
  auto behind = skewed("behind", "-10m");
  auto count = [&](const std::string& where) {
    return std::stoll(Q(dsn, "SELECT count(*) FROM " + s + ".jobs WHERE " + where));
  };
  ASSERT_TRUE(testing::Eventually([&] { return count("lease_owner = 'ahead'") > 0; }, 30s))
      << ahead->Log();
  std::this_thread::sleep_for(2s);  // a renewal or two
  // Leases in the database's time: at most the lease (3 s) ahead of now(),
  // give or take the moments between this statement's now() and a renewal
  // that committed just before it (0.02 s seen on a loaded machine).
  std::string lease_ahead = Q(dsn, "SELECT round(extract(epoch FROM max(lease_expires_at) - now())"
                                   "::numeric, 2) FROM " + s + ".jobs WHERE state = 'running'");
  EXPECT_LE(std::stod(lease_ahead), 3.25);
  EXPECT_GT(std::stod(lease_ahead), 0.0);
  int64_t held = count("lease_owner = 'ahead'");
  auto t_kill = Clock::now();
  double kill_wall = WallSeconds();
  KillNine(*ahead);
  bool rescued = testing::Eventually([&] { return count("lease_owner = 'ahead'") == 0; }, 30s);
  double rescue_s = std::chrono::duration<double>(Clock::now() - t_kill).count();
  ASSERT_TRUE(testing::Eventually([&] { return count("true") == 0; }, 300s)) << behind->Log();

  // The skew was real: the job script, started by each worker with its
  // clock, logged times 10 minutes off. Each worker's last run is compared
  // with the real time soon after it: the kill for the fast worker, the end
  // of the run for the slow one.
  std::vector<JobRun> runs = ReadJobLog(scratch.JobLog());
  double end_wall = WallSeconds();
  double ahead_skew = -1e9, behind_skew = -1e9;
  for (const JobRun& r : runs) {
    if (r.tag == "ahead") ahead_skew = std::max(ahead_skew, r.started - kill_wall);
    if (r.tag == "behind") behind_skew = std::max(behind_skew, r.started - end_wall);
  }
  Figures f("clock_skew");
  f.Set("jobs", int64_t{jobs});
  f.Set("skew_s", "+600/-600");
  f.Set("ahead_clock_seen_by_jobs_s", ahead_skew, 0);
  f.Set("behind_clock_seen_by_jobs_s", behind_skew, 0);
  f.Set("lease_left_at_most_s", lease_ahead);
  f.Set("held_by_killed_ahead_worker", held);
  f.Set("rescue_s", rescue_s);
  f.Set("done_by_ahead", Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE worker_id = 'ahead'"));
  f.Set("done_by_behind", Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE worker_id = 'behind'"));
  f.Set("succeeded", Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"));
  f.Print();

  EXPECT_GT(ahead_skew, 500);
  EXPECT_LT(behind_skew, -500);
  EXPECT_TRUE(rescued);
  // Lease 3 s + rescue every 1 s + 1 s slack; and not before the lease ran out.
  EXPECT_LE(rescue_s, 5.0);
  if (held > 0) {
    EXPECT_GE(rescue_s, 1.0);
  }
  EXPECT_EQ(std::to_string(jobs), Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"));
  EXPECT_NE("0", Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE worker_id = 'ahead'"));
  EXPECT_NE("0", Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE worker_id = 'behind'"));
}

}  // namespace
}  // namespace pgjobs::faults
