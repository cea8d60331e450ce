// Long transactions and bloat: a session sits idle in transaction (holding
// back vacuum's horizon) while jobs pass through the hot table, then ends.
// Figures: throughput and the jobs table's size and dead rows during and
// after. Promise: jobs keep running; `pgjobs doctor` names the session.
// The long size holds the transaction for 10 minutes and asks doctor with its
// default threshold (idle in transaction over 60 s); the short one holds it a
// few seconds and asks with --idle-threshold 2s: the same check, sooner.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(LongTransaction, JobsKeepRunningWhileASessionIdlesInTransactionAndDoctorNamesIt) {
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const int jobs = Size(1000, 200000);
  const int warmup = Size(300, 20000);  // the throughput before
  const auto hold = Size(4s, 600s);
  Scratch scratch;
  WorkerSpec w;
  w.dsn = dsn;
  w.schema = s;
  w.tag = "w0";
  w.concurrency = 8;
  w.lease = "30s";
  w.tasks = "{\"noop\": {\"kind\": \"sql\", \"sql\": \"SELECT 1 AS ok\"}}";
  auto worker = StartWorker(scratch, w);

  auto table = [&] {
    return Q(dsn, "SELECT pg_total_relation_size('" + s + ".jobs') / 1024 || ' KiB, ' || "
                  "n_dead_tup || ' dead' FROM pg_stat_user_tables WHERE relid = '" + s +
                  ".jobs'::regclass");
  };
  // Runs `count` jobs in batches of 1000 inserted as the queue empties;
  // returns jobs per second.
  auto pass = [&](int count) {
    auto t0 = Clock::now();
    for (int done = 0; done < count; done += 1000) {
      InsertJobs(dsn, s, std::min(1000, count - done), "noop");
      EXPECT_TRUE(testing::Eventually(
          [&] { return Q(dsn, "SELECT count(*) FROM " + s + ".jobs") == "0"; }, 120s));
    }
    return count / std::chrono::duration<double>(Clock::now() - t0).count();
  };
  double before = pass(warmup);
  std::string size_before = table();

  PGconn* holder = PQconnectdb(dsn.c_str());
  ASSERT_EQ(CONNECTION_OK, PQstatus(holder)) << PQerrorMessage(holder);
  PQclear(PQexec(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ"));
  PGresult* r = PQexec(holder, ("SELECT count(*) FROM " + s + ".jobs").c_str());
  ASSERT_EQ(PGRES_TUPLES_OK, PQresultStatus(r));
  PQclear(r);
  std::string holder_pid = std::to_string(PQbackendPID(holder));
  auto t_hold = Clock::now();
  double during = pass(jobs);
  std::string size_during = table();
  std::this_thread::sleep_until(t_hold + hold);
  const auto idle_s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t_hold);
  std::vector<std::string> doctor_argv = {Binary(), "--dsn", dsn, "--schema", s, "doctor"};
  if (!Long()) doctor_argv.insert(doctor_argv.end(), {"--idle-threshold", "2s"});
  auto [doctor_status, doctor] = testing::RunToEnd(doctor_argv, 60s);
  PQfinish(holder);  // the transaction ends

  Q(dsn, "VACUUM " + s + ".jobs");
  double after = pass(jobs);
  std::string size_after = table();

  Figures f("long_transaction");
  f.Set("jobs_during", int64_t{jobs});
  f.Set("idle_in_transaction_s", static_cast<int64_t>(idle_s.count()));
  f.Set("doctor_idle_threshold", Long() ? "60s_default" : "2s");
  f.Set("jobs_per_s_before", before, 0);
  f.Set("jobs_per_s_during", during, 0);
  f.Set("jobs_per_s_after", after, 0);
  f.Set("jobs_table_before", "\"" + size_before + "\"");
  f.Set("jobs_table_during", "\"" + size_during + "\"");
  f.Set("jobs_table_after_vacuum_and_more_jobs", "\"" + size_after + "\"");
  f.Set("doctor_names_pid", doctor.find("pid " + holder_pid) != std::string::npos ? "yes" : "no");
  f.Print();

  EXPECT_GT(during, 0);
  EXPECT_GE(doctor_status, 0) << doctor;
  EXPECT_NE(std::string::npos, doctor.find("pid " + holder_pid)) << doctor;
  EXPECT_NE(std::string::npos, doctor.find("idle in transaction")) << doctor;
  EXPECT_EQ(std::to_string(warmup + 2 * jobs),
            Q(dsn, "SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"));
}

}  // namespace
}  // namespace pgjobs::faults
