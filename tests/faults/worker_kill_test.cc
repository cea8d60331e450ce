// Worker kill -9 loop: two workers run command jobs while one of them, chosen
// at random, is killed with SIGKILL at a random moment and started again.
// Promise: every job ends in history exactly once, as succeeded; runs beyond
// one per job are no more than the jobs the killed workers held; a killed
// worker's jobs are back in the queue within lease + rescue_interval.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(WorkerKillLoop, EveryJobSucceedsOnceInHistoryAcrossKillNineOfRandomWorkers) {
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const int jobs = Size(500, 10000);
  const int kills = Size(6, 20);
  const double lease_s = 3, rescue_s = 1;
  Scratch scratch;
  std::string script = scratch.RecordScript(0.05);
  std::vector<int64_t> ids = InsertJobs(dsn, s, jobs);

  std::mt19937 rng(std::random_device{}());
  int incarnation = 0;
  auto spec = [&](int slot) {
    WorkerSpec w;
    w.dsn = dsn;
    w.schema = s;
    w.tag = "w" + std::to_string(slot) + "-" + std::to_string(incarnation++);
    w.script = script;
    w.concurrency = 8;
    return w;
  };
  std::unique_ptr<testing::ChildProcess> workers[2];
  std::string tags[2];
  for (int i = 0; i < 2; ++i) {
    WorkerSpec w = spec(i);
    tags[i] = w.tag;
    workers[i] = StartWorker(scratch, w);
  }

  struct Dead {
    std::string tag;
    Clock::time_point at;
    int64_t held = -1;
  };
  std::vector<Dead> pending;
  std::vector<double> rescue_seconds;
  int64_t held_total = 0;
  auto count_held = [&](const std::string& tag) {
    return std::stoll(Q(dsn, "SELECT count(*) FROM " + s + ".jobs WHERE state = 'running' AND "
                             "lease_owner = '" + tag + "'"));
  };
  auto check_pending = [&] {
    for (auto it = pending.begin(); it != pending.end();) {
      int64_t held = count_held(it->tag);
      if (it->held < 0) {
        it->held = held;
        held_total += held;
      }
      if (held == 0) {
        if (it->held > 0) {
          rescue_seconds.push_back(std::chrono::duration<double>(Clock::now() - it->at).count());
        }
        it = pending.erase(it);
      } else {
        ASSERT_LT(Clock::now() - it->at, 20s) << "jobs of killed worker " << it->tag
                                              << " were never rescued";
        ++it;
      }
    }
  };

  // Kills at random moments 0.5 to 3 s apart; the killed worker restarts at once.
  std::uniform_int_distribution<int> gap_ms(500, 3000);
  auto next_kill = Clock::now() + std::chrono::milliseconds(gap_ms(rng));
  int killed = 0;
  while (killed < kills) {
    ASSERT_NO_FATAL_FAILURE(check_pending());
    if (Clock::now() >= next_kill) {
      int victim = std::uniform_int_distribution<int>(0, 1)(rng);
      KillNine(*workers[victim]);
      pending.push_back({tags[victim], Clock::now()});
      ASSERT_NO_FATAL_FAILURE(check_pending());  // what it held, read at once
      WorkerSpec w = spec(victim);
      tags[victim] = w.tag;
      workers[victim] = StartWorker(scratch, w);
      ++killed;
      next_kill = Clock::now() + std::chrono::milliseconds(gap_ms(rng));
    }
    std::this_thread::sleep_for(50ms);
  }
  int64_t done_at_last_kill = std::stoll(Q(dsn, "SELECT count(*) FROM " + s + ".job_history"));
  while (!pending.empty()) {
    ASSERT_NO_FATAL_FAILURE(check_pending());
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(testing::Eventually(
      [&] { return Q(dsn, "SELECT count(*) FROM " + s + ".jobs") == "0"; }, 300s))
      << Q(dsn, "SELECT count(*) FROM " + s + ".jobs");

  std::vector<JobRun> runs = ReadJobLog(scratch.JobLog());
  std::map<int64_t, int> per_job = RunsPerJob(runs);
  int64_t extra_runs = static_cast<int64_t>(runs.size()) - static_cast<int64_t>(per_job.size());
  Figures f("worker_kill_loop");
  f.Set("jobs", int64_t{jobs});
  f.Set("kills", int64_t{killed});
  f.Set("jobs_done_during_kills", done_at_last_kill);
  f.Set("history_rows", Q(dsn, "SELECT count(*) FROM " + s + ".job_history"));
  f.Set("succeeded", Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"));
  f.Set("runs", static_cast<int64_t>(runs.size()));
  f.Set("duplicate_runs", extra_runs);
  f.Set("held_by_killed_workers", held_total);
  f.Set("rescued_after_worker_lost",
        Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE errors::text LIKE '%worker_lost%'"));
  f.Set("rescue_p50_s", Percentile(rescue_seconds, 50));
  f.Set("rescue_max_s", Percentile(rescue_seconds, 100));
  f.Set("rescue_bound_s", lease_s + rescue_s);
  f.Print();

  // Every job in history exactly once, succeeded, and every one ran.
  EXPECT_EQ(std::to_string(jobs), Q(dsn, "SELECT count(DISTINCT id) FROM " + s + ".job_history"));
  EXPECT_EQ(std::to_string(jobs), Q(dsn, "SELECT count(*) FROM " + s +
                                             ".job_history WHERE state = 'succeeded'"));
  EXPECT_EQ(static_cast<size_t>(jobs), per_job.size());
  for (int64_t id : ids) ASSERT_EQ(1u, per_job.count(id)) << "job " << id << " never ran";
  EXPECT_LE(extra_runs, held_total);
  // Lease 3 s renewed every 1 s expires at most 3 s after the kill; rescue
  // runs every 1 s; 1 s for the statements and this poll on 2 busy cores.
  for (double r : rescue_seconds) EXPECT_LE(r, lease_s + rescue_s + 1.0);
  EXPECT_EQ(killed, kills);
}

}  // namespace
}  // namespace pgjobs::faults
