// Poison jobs: jobs that fail in the worst ways on every attempt.
// - A C++ handler that calls abort(): it takes its worker process down each
//   time. The worker is restarted as systemd would (Restart=on-failure); the
//   job comes back through the rescue of its expired lease, the attempt
//   counted, and ends failed ("worker lost") after max_attempts, not in an
//   endless crash loop; the other jobs all succeed. The other jobs the worker
//   had claimed ahead (prefetched) and not started come back without using
//   an attempt: a crash costs an attempt only to the jobs that had started.
// - A command that forks a child ignoring SIGTERM and waits for it, past its
//   time limit: SIGTERM, then SIGKILL to the whole process group; the job
//   ends failed with the stop as its error after its attempts, and no process
//   of it is left.
// - A command writing gigabytes to stdout: read and counted, not kept; the
//   job ends failed naming max_result_bytes, and the worker's memory stays
//   small.
// The pgjobs worker running the two commands keeps running throughout.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The job's row in history as JSON (state, attempt, max_attempts, errors), or null.
json HistoryRow(const std::string& dsn, const std::string& s, int64_t id) {
  std::string row = Q(dsn,
                      "SELECT json_build_object('state', state, 'attempt', attempt, "
                      "'max_attempts', max_attempts, 'errors', errors) FROM " +
                          s + ".job_history WHERE id = " + std::to_string(id));
  return row.empty() ? json() : json::parse(row);
}

int64_t Enqueue(const std::string& dsn, const std::string& s, const std::string& task,
                int max_attempts) {
  return std::stoll(Q(dsn, "INSERT INTO " + s + ".jobs (task, max_attempts) VALUES ('" + task +
                               "', " + std::to_string(max_attempts) + ") RETURNING id"));
}

// A process that exists and is not a zombie.
bool Alive(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// Peak resident memory of a live process in KiB (VmHWM), -1 if unknown.
int64_t PeakRssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST(PoisonJobs, AHandlerThatCrashesItsWorkerEveryAttemptEndsFailedAfterMaxAttempts) {
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const int max_attempts = Size(3, 5);
  const int poison_jobs = Size(1, 3);
  const int ok_jobs = Size(100, 2000);
  const double lease_s = 3, rescue_s = 1;  // the shortest lease a worker takes
  Scratch scratch;
  // Other jobs share the crashing worker: 10 ms each, enqueued before and
  // after the poison ones, so that the worker holds many of them in memory
  // (claimed ahead) when a poison job starts. Only the ones that had started
  // may lose an attempt in a crash (counted below), but give them enough.
  auto enqueue_ok = [&](int count) {
    testing::Execute(dsn, "INSERT INTO " + s +
                              ".jobs (task, args, max_attempts) SELECT 'ok', '{\"ms\": 10}', 50 FROM "
                              "generate_series(1, " + std::to_string(count) + ")");
  };
  enqueue_ok(ok_jobs / 2);
  std::vector<int64_t> poison;
  for (int i = 0; i < poison_jobs; ++i) poison.push_back(Enqueue(dsn, s, "crash", max_attempts));
  enqueue_ok(ok_jobs - ok_jobs / 2);

  const std::string log = scratch.File("crash-worker.log");
  auto start = [&] {
    return std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{PGJOBS_FAULT_CRASH_WORKER, dsn, s, "cpp-worker",
                                 std::to_string(static_cast<int>(lease_s * 1000))},
        log);
  };
  auto worker = start();
  auto t0 = Clock::now();
  int crashes = 0, other_exits = 0;
  std::vector<double> comeback_s;  // from a crash to the next crash (lease + rescue + start)
  Clock::time_point last_crash;
  auto all_done = [&] {
    return Q(dsn, "SELECT count(*) FROM " + s + ".job_history") ==
           std::to_string(ok_jobs + poison_jobs);
  };
  // Restarts the worker whenever it dies, as systemd would, until every job
  // has ended; a bound on the time keeps a crash loop from running forever.
  const double bound_s = poison_jobs * max_attempts * (lease_s + rescue_s + 5) + 60;
  while (!all_done()) {
    ASSERT_LT(Since(t0), bound_s) << "jobs still not ended after " << crashes
                                  << " crashes (a crash loop?): " << worker->Log();
    if (std::optional<int> rc = worker->Wait(100ms)) {
      if (*rc == 128 + SIGABRT) {
        if (crashes > 0) comeback_s.push_back(Since(last_crash));
        last_crash = Clock::now();
        ++crashes;
      } else {
        ++other_exits;
        ASSERT_LT(other_exits, 3) << "the worker exits without crashing: " << worker->Log();
      }
      worker = start();
    }
  }
  // After the last poison job ended, nothing crashes any more.
  std::this_thread::sleep_for(Size(3s, 10s));
  EXPECT_FALSE(worker->Wait(0ms).has_value())
      << "the worker died after every job had ended: " << worker->Log();
  double total_s = Since(t0);

  int64_t failed_worker_lost = 0, poison_free_returns = 0, poison_maybe_started = 0;
  for (int64_t id : poison) {
    json row = HistoryRow(dsn, s, id);
    ASSERT_FALSE(row.is_null()) << "poison job " << id << " not in history";
    EXPECT_EQ("failed", row["state"]) << row.dump();
    EXPECT_EQ(max_attempts, row["attempt"]) << row.dump();
    // One entry per counted attempt, and free returns: while it waited in
    // memory when another poison job crashed the worker, and at most twice
    // when it may have been the one that started (a job claimed ahead that
    // started and crashed before the next heartbeat looks not started), at
    // most 10 in all (sql/jobs.sql, rescue_expired).
    int counted = 0, free_returns = 0, maybe_started = 0;
    bool all_lost = true;
    for (const json& e : row["errors"]) {
      all_lost = all_lost && e.value("kind", "") == "worker_lost" &&
                 e.value("error", "").find("worker lost") != std::string::npos;
      (e.value("counted", true) ? counted : free_returns) += 1;
      maybe_started += e.value("maybe_started", false) ? 1 : 0;
    }
    EXPECT_EQ(max_attempts, counted) << row.dump();
    EXPECT_LE(maybe_started, 2) << row.dump();
    EXPECT_LE(free_returns, 10) << row.dump();
    poison_free_returns += free_returns;
    poison_maybe_started += maybe_started;
    EXPECT_TRUE(all_lost) << row.dump();
    failed_worker_lost += all_lost ? 1 : 0;
  }
  std::string ok_succeeded = Q(
      dsn, "SELECT count(*) FROM " + s + ".job_history WHERE task = 'ok' AND state = 'succeeded'");

  Figures f("poison_crashing_handler");
  f.Set("poison_jobs", int64_t{poison_jobs});
  f.Set("max_attempts", int64_t{max_attempts});
  f.Set("other_jobs", int64_t{ok_jobs});
  f.Set("worker_crashes", int64_t{crashes});
  f.Set("other_exits", int64_t{other_exits});
  f.Set("poison_failed_worker_lost", failed_worker_lost);
  f.Set("other_jobs_succeeded", ok_succeeded);
  const int64_t other_attempt_used = std::stoll(
      Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE task = 'ok' AND attempt > 1"));
  f.Set("other_jobs_attempt_used_by_crash", other_attempt_used);
  f.Set("other_jobs_returned_free",
        Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE task = 'ok' AND attempt = 1 "
               "AND errors @> '[{\"kind\": \"worker_lost\", \"counted\": false}]'"));
  f.Set("poison_free_returns", poison_free_returns);
  f.Set("poison_free_returns_maybe_started", poison_maybe_started);
  f.Set("crash_to_crash_p50_s", Percentile(comeback_s, 50));
  f.Set("lease_plus_rescue_s", lease_s + rescue_s);
  f.Set("total_s", total_s, 1);
  f.Print();

  // Every run of a poison job crashed the worker, and every crash counted an
  // attempt of the poison job that ran or gave it a free return: at least
  // max_attempts crashes, and at most one per counted attempt or free return
  // (at most 10 per job, checked above): no crash loop. The job that ran is
  // usually among the first jobs waiting ("maybe started", at most 2), but
  // finished jobs whose outcome was not written yet can push it further.
  EXPECT_GE(crashes, max_attempts);
  EXPECT_LE(crashes, poison_jobs * max_attempts + poison_free_returns);
  // A crash costs an attempt only to the jobs that may have started: the
  // ones running (at most the 4 slots) and, once their 2 free returns are
  // used, the first 2 × 4 of the jobs waiting in memory (see rescue_expired
  // in sql/jobs.sql): at most 12 per crash. Without the free return, every
  // held job lost one (the prefetch holds about 100 of these 10 ms jobs).
  EXPECT_LE(other_attempt_used, crashes * 12);
  EXPECT_EQ(0, other_exits) << worker->Log();
  EXPECT_EQ(std::to_string(ok_jobs), ok_succeeded);
  EXPECT_EQ("0", Q(dsn, "SELECT count(*) FROM " + s + ".jobs"));
}

TEST(PoisonJobs, ACommandWhoseChildIgnoresSigtermAndOneFloodingStdoutEndFailedWorkerSurvives) {
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const int max_attempts = 2;
  const int64_t flood_bytes = Size<int64_t>(int64_t{1} << 30, int64_t{4} << 30);  // 1 / 4 GiB
  const int ok_jobs = Size(50, 500);
  Scratch scratch;
  const std::string pids = scratch.File("stubborn.pids");
  // The stubborn command: a shell that starts a child ignoring SIGTERM,
  // writes both pids down and waits for the child, past the 2 s time limit.
  const std::string stubborn = "(trap '' TERM; exec sleep 3600) & echo $$ $! >> " + pids + "; wait";
  const std::string flood = "head -c " + std::to_string(flood_bytes) + " /dev/zero";
  WorkerSpec w;
  w.dsn = dsn;
  w.schema = s;
  w.tag = "w0";
  w.lease = "5s";
  w.tasks = json{{"stubborn",
                  {{"kind", "command"},
                   {"command", json::array({"/bin/sh", "-c", stubborn})},
                   {"timeout", "2s"},
                   {"kill_grace", "1s"},
                   {"retry_base", "200ms"},
                   {"retry_max", "500ms"}}},
                 {"flood",
                  {{"kind", "command"},
                   {"command", json::array({"/bin/sh", "-c", flood})},
                   {"retry_base", "200ms"},
                   {"retry_max", "500ms"}}},
                 {"rec",
                  {{"kind", "command"},
                   {"command", json::array({scratch.RecordScript(0)})},
                   {"env", {{"TAG", "w0"}}}}}}
                .dump();
  auto worker = StartWorker(scratch, w);
  auto t0 = Clock::now();
  int64_t stubborn_id = Enqueue(dsn, s, "stubborn", max_attempts);
  int64_t flood_id = Enqueue(dsn, s, "flood", max_attempts);
  InsertJobs(dsn, s, ok_jobs);

  ASSERT_TRUE(testing::Eventually(
      [&] { return Q(dsn, "SELECT count(*) FROM " + s + ".jobs") == "0"; }, Size(120s, 600s)))
      << Q(dsn,
           "SELECT string_agg(id || ' ' || task || ' ' || state || ' ' || attempt, '; ') FROM " +
               s + ".jobs")
      << worker->Log();
  double total_s = Since(t0);
  int64_t peak_kib = PeakRssKiB(worker->pid());
  EXPECT_FALSE(worker->Wait(0ms).has_value()) << "the worker died: " << worker->Log();

  json stubborn_row = HistoryRow(dsn, s, stubborn_id);
  json flood_row = HistoryRow(dsn, s, flood_id);
  ASSERT_FALSE(stubborn_row.is_null());
  ASSERT_FALSE(flood_row.is_null());
  EXPECT_EQ("failed", stubborn_row["state"]) << stubborn_row.dump();
  EXPECT_EQ(max_attempts, stubborn_row["attempt"]) << stubborn_row.dump();
  ASSERT_EQ(static_cast<size_t>(max_attempts), stubborn_row["errors"].size())
      << stubborn_row.dump();
  for (const json& e : stubborn_row["errors"]) {
    EXPECT_NE(std::string::npos, e.value("error", "").find("SIGTERM/SIGKILL")) << e.dump();
  }
  EXPECT_EQ("failed", flood_row["state"]) << flood_row.dump();
  EXPECT_EQ(max_attempts, flood_row["attempt"]) << flood_row.dump();
  ASSERT_EQ(static_cast<size_t>(max_attempts), flood_row["errors"].size()) << flood_row.dump();
  for (const json& e : flood_row["errors"]) {
    EXPECT_NE(
        std::string::npos,
        e.value("error", "").find("printed " + std::to_string(flood_bytes) + " bytes on stdout"))
        << e.dump();
    EXPECT_NE(std::string::npos, e.value("error", "").find("max_result_bytes")) << e.dump();
  }
  // No process of the stubborn command is left: each child was killed with its group.
  std::vector<std::string> survivors;
  int64_t stubborn_pids = 0;
  std::ifstream in(pids);
  for (std::string pid; in >> pid;) {
    ++stubborn_pids;
    if (Alive(pid)) survivors.push_back(pid);
  }
  std::string ok_succeeded = Q(
      dsn, "SELECT count(*) FROM " + s + ".job_history WHERE task = 'rec' AND state = 'succeeded'");

  Figures f("poison_commands");
  f.Set("max_attempts", int64_t{max_attempts});
  f.Set("stubborn_errors", "\"" + stubborn_row["errors"][0].value("error", "") + "\"");
  f.Set("stubborn_processes_started", stubborn_pids);
  f.Set("stubborn_processes_left", static_cast<int64_t>(survivors.size()));
  f.Set("flood_bytes_per_attempt", flood_bytes);
  f.Set("flood_error", "\"" + flood_row["errors"][0].value("error", "").substr(0, 60) + "...\"");
  f.Set("worker_peak_rss_mib", static_cast<double>(peak_kib) / 1024, 0);
  f.Set("other_jobs_succeeded", ok_succeeded);
  f.Set("total_s", total_s, 1);
  f.Print();

  EXPECT_EQ(2 * max_attempts, stubborn_pids);  // the shell and its child, each attempt
  EXPECT_TRUE(survivors.empty()) << "left running: " << Join(survivors, " ");
  EXPECT_EQ(std::to_string(ok_jobs), ok_succeeded);
  // What the flood printed went through the worker, not into its memory.
  EXPECT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 512 * 1024) << "the worker's peak memory grew with the output";
}

}  // namespace
}  // namespace pgjobs::faults
