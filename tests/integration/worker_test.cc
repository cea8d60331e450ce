// The job protocol end to end with an in-process Worker and C++ handlers.
#include "pgjobs/worker.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "pg/connection.h"
#include "pgjobs/client.h"
#include "store/job_store.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

class WorkerTest : public ::testing::Test {
 protected:
  WorkerOptions Options() {
    WorkerOptions o;
    o.dsn = schema_.dsn();
    o.schema = schema_.name();
    o.queues = {{"default", 4}};
    o.poll_interval = 10s;  // so that only NOTIFY can explain a fast pick-up
    o.logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return o;
  }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Insert(const std::string& task, const std::string& extra_cols = "",
              const std::string& extra_vals = "") {
    testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task" + extra_cols +
                                        ") VALUES ('" + task + "'" + extra_vals + ")");
  }
  std::string HistoryState(const std::string& id) {
    return Q("SELECT state FROM " + S() + ".job_history WHERE id = " + id);
  }
  TestSchema schema_;
};

TEST_F(WorkerTest, RawSqlInsertIsPickedUpByNotifyWellUnderThePollInterval) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("ping", [&](JobContext&) {
    runs++;
    return HandlerResult::Success(R"({"pong": true})");
  });
  ASSERT_TRUE(worker.Start().ok());
  // Let the first poll pass so that the next pick-up needs the NOTIFY.
  std::this_thread::sleep_for(300ms);
  auto start = std::chrono::steady_clock::now();
  Insert("ping");
  ASSERT_TRUE(Eventually([&] { return runs.load() == 1; }, 5s));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 2s) << "poll interval is 10 s: the NOTIFY did not wake the worker";
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  worker.Stop(5s);
  EXPECT_EQ("succeeded|{\"pong\": true}|1",
            Q("SELECT concat_ws('|', state, result, attempt) FROM " + S() + ".job_history"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(WorkerTest, EveryNotifiedJobIsPickedUpWithoutWaitingForThePoll) {
  // A NOTIFY that arrives while a claim is in flight must not be forgotten
  // when that claim comes back short: with a 10 s poll, one lost wake-up
  // fails this test.
  Worker worker(Options());
  worker.Register("quick", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker.Start().ok());
  for (int round = 1; round <= 100; ++round) {
    Insert("quick");
    ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == round; }, 3s))
        << "round " << round;
  }
  worker.Stop(5s);
}

// The NOTIFY that woke an idle worker deleted its idle row but left its
// queue's bit in idle_gate set (migration 0026). A worker whose next claim
// comes back full writes its busy mark, which clears the bit: enqueues into
// a queue whose workers are all busy skip the read of idle_queues.
TEST_F(WorkerTest, AWokenWorkerWhoseClaimComesBackFullClearsItsQueuesIdleBit) {
  WorkerOptions o = Options();
  o.queues = {{"default", 1}};  // a first claim takes one job: full while more wait
  o.rescue_interval = 60s;      // its pruning of dead workers recomputes the gate too
  Worker worker(o);
  std::atomic<bool> release{false};
  worker.Register("hold", [&](JobContext&) {
    while (!release.load()) std::this_thread::sleep_for(10ms);
    return HandlerResult::Success();
  });
  auto bit = [&] {
    return Q("SELECT (coalesce(pg_sequence_last_value('" + S() +
             ".idle_gate'), 0) >> (hashtext('default') & 63)) & 1");
  };
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(Eventually([&] { return bit() == "1"; }, 5s)) << "an idle worker sets the bit";
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() +
                                      ".jobs (task) VALUES ('hold'), "
                                      "('hold'), ('hold')");
  EXPECT_TRUE(Eventually([&] { return bit() == "0"; }, 5s))
      << "the woken worker's full claim left the bit set";
  release = true;
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 3; }, 10s));
  EXPECT_TRUE(Eventually([&] { return bit() == "1"; }, 5s)) << "idle again: the bit is set";
  worker.Stop(5s);
}

TEST_F(WorkerTest, AJobThatAlwaysFailsEndsFailedWithEveryAttemptsError) {
  Worker worker(Options());
  TaskOptions fast_retry;
  fast_retry.retry.base = 10ms;
  worker.Register("flaky", [](JobContext& ctx) {
    return HandlerResult::Failure("boom on attempt " + std::to_string(ctx.job().attempt));
  }, fast_retry);
  ASSERT_TRUE(worker.Start().ok());
  Insert("flaky", ", max_attempts", ", 3");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().failed == 1; }));
  worker.Stop(5s);
  EXPECT_EQ("failed|3|3", Q("SELECT concat_ws('|', state, attempt, jsonb_array_length(errors)) "
                            "FROM " + S() + ".job_history"));
  EXPECT_EQ("boom on attempt 1,boom on attempt 2,boom on attempt 3",
            Q("SELECT string_agg(e->>'error', ',' ORDER BY (e->>'attempt')::int) FROM " + S() +
              ".job_history, jsonb_array_elements(errors) e"));
}

TEST_F(WorkerTest, AJobForATaskNoWorkerHandlesStaysPendingWithNoAttemptUsed) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("known", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("unknown_task");
  Insert("known");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  std::this_thread::sleep_for(300ms);
  worker.Stop(5s);
  EXPECT_EQ("pending|0|0", Q("SELECT concat_ws('|', state, attempt, jsonb_array_length(errors)) "
                             "FROM " + S() + ".jobs WHERE task = 'unknown_task'"));
}

TEST_F(WorkerTest, ConcurrentWorkersNeverRunAJobTwiceWhileItsLeaseIsLive) {
  constexpr int kJobs = 3000;
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, args) SELECT 'count', "
                                  "jsonb_build_object('n', g) FROM generate_series(1, " +
                                      std::to_string(kJobs) + ") g");
  std::mutex mu;
  std::multiset<int64_t> seen;
  auto handler = [&](JobContext& ctx) {
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(ctx.job().id);
    return HandlerResult::Success();
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) {
    WorkerOptions o = Options();
    o.queues = {{"default", 3}};
    o.prefetch = i * 10;  // mixed: prefetching and not
    workers.push_back(std::make_unique<Worker>(o));
    workers.back()->Register("count", handler);
    ASSERT_TRUE(workers.back()->Start().ok());
  }
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT count(*) FROM " + S() + ".job_history") == std::to_string(kJobs);
  }, 60s));
  for (auto& w : workers) w->Stop(5s);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(static_cast<size_t>(kJobs), seen.size());
  std::set<int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), unique.size()) << "some job ran twice";
  EXPECT_EQ(std::to_string(kJobs),
            Q("SELECT count(*) FROM " + S() + ".job_history WHERE state = 'succeeded' AND attempt = 1"));
}

TEST_F(WorkerTest, ALateCompletionAfterARescueIsRejected) {
  pg::Connection conn(schema_.dsn(), nullptr, "test");
  auto catalog = SqlCatalog::Load(S());
  pg::Connection store_conn(schema_.dsn(), &*catalog, "test");
  Insert("slow");
  auto claimed = store::Claim(store_conn, "default", "{slow}", 1, "worker-a", 30);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(1u, claimed->size());
  int64_t id = (*claimed)[0].id;
  // Worker A goes silent; its lease expires and the rescuer takes the job back.
  testing::Execute(schema_.dsn(), "UPDATE " + S() + ".jobs SET lease_expires_at = now() - interval '1 second'");
  auto rescued = store::RescueExpired(store_conn, 10);
  ASSERT_TRUE(rescued.ok());
  EXPECT_EQ(std::vector<int64_t>{id}, rescued->retried);
  // Worker A comes back with a result: fenced out, nothing recorded.
  store::Completion late;
  late.id = id;
  late.token = (*claimed)[0].token;
  late.attempt = 1;
  late.outcome = store::Outcome::kSucceeded;
  late.result_json = "{\"late\":true}";
  auto result = store::Complete(store_conn, "worker-a", {late});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(1u, result->fenced_out.size());
  EXPECT_EQ(id, result->fenced_out[0].id);
  EXPECT_EQ("pending|worker_lost", Q("SELECT state || '|' || (errors->0->>'kind') FROM " + S() + ".jobs"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, OneCompletionBatchCarriesEachKindOfOutcomeAndValue) {
  auto catalog = SqlCatalog::Load(S());
  pg::Connection conn(schema_.dsn(), &*catalog, "test");
  for (int i = 0; i < 5; ++i) Insert("mixed");
  auto claimed = store::Claim(conn, "default", "{mixed}", 5, "worker-a", 30);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(5u, claimed->size());
  std::vector<store::Completion> batch(5);
  for (size_t i = 0; i < 5; ++i) {
    batch[i].id = (*claimed)[i].id;
    batch[i].token = (*claimed)[i].token;
    batch[i].attempt = 1;
    batch[i].started_after_seconds = 0.000012;
  }
  batch[0].outcome = store::Outcome::kSucceeded;
  batch[0].result_json = R"({"rows": 3, "name": "é \"q\""})";
  batch[1].outcome = store::Outcome::kSucceeded;
  batch[1].result_json = "not JSON: kept as a string";
  batch[2].outcome = store::Outcome::kFailed;
  batch[2].error_json = R"({"kind": "exception", "error": "boom"})";
  batch[2].retry_in_seconds = 0.00001;  // printed as 1e-05: still a JSON number
  batch[3].outcome = store::Outcome::kSnooze;
  batch[3].retry_in_seconds = 60;
  batch[3].progress_json = R"({"done": 2})";
  batch[4].outcome = store::Outcome::kDiscard;
  batch[4].error_json = R"({"kind": "exception", "error": "bad input"})";
  batch[4].started_after_seconds = std::numeric_limits<double>::infinity();  // written as 0
  batch[4].result_json = std::string("raw \0 byte", 10);  // jsonb holds no U+0000
  batch[3].retry_in_seconds = 1e300;  // beyond make_interval: 31 years, not a failed batch
  batch[0].error_json = R"({"a\u0000b": "c\u0000d"})";
  auto done = store::Complete(conn, "worker-a", batch);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(3u, done->finished.size());
  EXPECT_EQ(2u, done->retried.size());
  EXPECT_EQ(0u, done->fenced_out.size());
  auto id = [&](size_t i) { return std::to_string((*claimed)[i].id); };
  EXPECT_EQ(
      "succeeded|{\"name\": \"é \\\"q\\\"\", \"rows\": 3}",
      Q("SELECT state || '|' || result::text FROM " + S() + ".job_history WHERE id = " + id(0)));
  EXPECT_EQ("\"not JSON: kept as a string\"",
            Q("SELECT result::text FROM " + S() + ".job_history WHERE id = " + id(1)));
  EXPECT_EQ("pending|boom|t", Q("SELECT concat_ws('|', state, errors->0->>'error', run_at < now() "
                                "+ interval '1 second') FROM " +
                                S() + ".jobs WHERE id = " + id(2)));
  EXPECT_EQ("pending|0|2|t",
            Q("SELECT concat_ws('|', state, attempt, progress->>'done', run_at > now() + interval "
              "'30 years') FROM " +
              S() + ".jobs WHERE id = " + id(3)));
  EXPECT_EQ("\"raw \xEF\xBF\xBD byte\"",
            Q("SELECT result::text FROM " + S() + ".job_history WHERE id = " + id(4)));
  EXPECT_EQ("c\xEF\xBF\xBD" "d", Q("SELECT errors->0->>('a' || chr(65533) || 'b') FROM " + S() +
                                ".job_history WHERE id = " + id(0)));
  EXPECT_EQ("failed|bad input|t",
            Q("SELECT concat_ws('|', state, errors->0->>'error', started_at IS NOT NULL) FROM " +
              S() + ".job_history WHERE id = " + id(4)));
}

TEST_F(WorkerTest, AReplayedOutcomeCannotTouchALaterClaimOfTheSameJobWithTheSameAttempt) {
  // A snooze does not use an attempt, so the same worker can claim the same
  // job again with the same attempt number. Replaying the first claim's
  // outcome (as after a commit whose reply was lost) must not touch the new
  // claim: outcomes are fenced on the claim token, not on the attempt.
  auto catalog = SqlCatalog::Load(S());
  pg::Connection conn(schema_.dsn(), &*catalog, "test");
  Insert("again");
  auto first = store::Claim(conn, "default", "{again}", 1, "worker-a", 30);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(1u, first->size());
  store::Completion snooze;
  snooze.id = (*first)[0].id;
  snooze.token = (*first)[0].token;
  snooze.attempt = 1;
  snooze.outcome = store::Outcome::kSnooze;
  ASSERT_TRUE(store::Complete(conn, "worker-a", {snooze}).ok());
  auto second = store::Claim(conn, "default", "{again}", 1, "worker-a", 30);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(1u, second->size());
  EXPECT_EQ(1, (*second)[0].attempt);
  EXPECT_NE((*first)[0].token, (*second)[0].token);
  auto replay = store::Complete(conn, "worker-a", {snooze});
  ASSERT_TRUE(replay.ok()) << replay.status().message();
  EXPECT_EQ(1u, replay->fenced_out.size());
  EXPECT_EQ("running", Q("SELECT state FROM " + S() + ".jobs"));
  // The lease renewal of the first claim is refused; the second's is kept.
  auto leases = store::RenewLeases(conn, "worker-a", {(*first)[0].key(), (*second)[0].key()}, 30);
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(1u, leases->size());
  EXPECT_EQ((*second)[0].token, (*leases)[0].key.token);
}

TEST_F(WorkerTest, AClaimWhoseReplyNeverArrivedIsGivenBackWithoutUsingAnAttempt) {
  // The claim commits under this worker's id, but the worker never learns of
  // it (as when the connection breaks before the reply).
  WorkerOptions o = Options();
  o.worker_id = "worker-with-a-lost-reply";
  o.lease = 3s;  // heartbeat every second
  auto catalog = SqlCatalog::Load(S());
  pg::Connection conn(schema_.dsn(), &*catalog, "test");
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, max_attempts) VALUES ('lost', 1)");
  auto claimed = store::Claim(conn, "default", "{lost}", 1, o.worker_id, 3600);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(1u, claimed->size());
  Worker worker(o);
  std::atomic<int> runs{0};
  worker.Register("lost", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());
  // Given back after 5 s (not after the hour-long lease), then run once.
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }, 20s));
  worker.Stop(5s);
  EXPECT_EQ(1, runs.load());
  EXPECT_EQ("succeeded|1|given_back", Q("SELECT concat_ws('|', state, attempt, errors->0->>'kind') FROM " +
                                       S() + ".job_history"));
}

TEST_F(WorkerTest, StopLetsRunningJobsFinishWithinTheDrainTime) {
  Worker worker(Options());
  std::atomic<bool> started{false};
  worker.Register("short", [&](JobContext&) {
    started = true;
    std::this_thread::sleep_for(300ms);
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("short");
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  worker.Stop(5s);
  EXPECT_EQ("succeeded", Q("SELECT state FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, AWorkerRestartedUnderItsIdDescribesItselfNotTheProcessBefore) {
  // The row of an earlier process under the same id kept that process's
  // queues, tasks and version; it also records the lease (migration 0025).
  WorkerOptions o = Options();
  o.worker_id = "w-restarted";
  {
    Worker first(o);
    first.Register("old_task", [](JobContext&) { return HandlerResult::Success(); });
    ASSERT_TRUE(first.Start().ok());
    first.Stop(0ms);
  }
  QueryValue(schema_.dsn(), "INSERT INTO " + S() +
                                ".workers (id, host, pid, queues, tasks, version) VALUES "
                                "('w-restarted', 'elsewhere', 1, '{\"old\": 1}', '[\"old_task\"]', "
                                "'0.1') ON CONFLICT (id) DO UPDATE SET queues = excluded.queues, "
                                "tasks = excluded.tasks, host = excluded.host");
  o.queues = {{"mail", 3}};
  o.lease = 12s;
  Worker second(o);
  second.Register("new_task", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(second.Start().ok());
  EXPECT_EQ("{\"mail\": 3}|[\"new_task\"]|12|" + std::to_string(getpid()),
            Q("SELECT concat_ws('|', queues, tasks, lease_seconds, pid) FROM " + S() +
              ".workers WHERE id = 'w-restarted'"));
  second.Stop(0ms);
}

TEST_F(WorkerTest, StopGivesBackJobsStillRunningAfterTheDrainWithoutUsingAnAttempt) {
  WorkerOptions o = Options();
  std::ostringstream log;
  o.logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  Worker worker(o);
  std::atomic<bool> started{false};
  worker.Register("long", [&](JobContext& ctx) {
    started = true;
    while (!ctx.stop_requested()) std::this_thread::sleep_for(5ms);
    return HandlerResult::Failure("interrupted");
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("long");
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  auto t0 = std::chrono::steady_clock::now();
  worker.Stop(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ("pending|0|given_back|", Q("SELECT concat_ws('|', state, attempt, errors->0->>'kind', "
                                       "coalesce(lease_owner, '')) FROM " + S() + ".jobs"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".job_history"));
  // The log says what happened: not a failed attempt to be retried, and no
  // late result to drop.
  EXPECT_HAS(log.str(),
             "job stopped by the worker's shutdown, given back to the queue without "
             "using an attempt task=long");
  EXPECT_EQ(std::string::npos, log.str().find("job attempt failed")) << log.str();
  EXPECT_EQ(std::string::npos, log.str().find("dropped a late result")) << log.str();
  EXPECT_EQ(0, worker.Stats().failed);
}

TEST_F(WorkerTest, AJobPastItsTimeoutIsAskedToStopAndCountsAsAFailedAttempt) {
  Worker worker(Options());
  worker.Register("stuck", [](JobContext& ctx) {
    while (!ctx.stop_requested()) std::this_thread::sleep_for(5ms);
    return HandlerResult::Failure("gave up");
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("stuck", ", timeout, max_attempts", ", '300 milliseconds', 1");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().failed == 1; }));
  worker.Stop(5s);
  EXPECT_EQ("failed|timeout", Q("SELECT state || '|' || (errors->0->>'kind') FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, RetryLaterReturnsTheJobWithoutUsingAnAttempt) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("later", [&](JobContext&) {
    if (++runs == 1) return HandlerResult::RetryLater(50ms, "not yet");
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("later", ", max_attempts", ", 1");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  worker.Stop(5s);
  EXPECT_EQ("succeeded|1", Q("SELECT state || '|' || attempt FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, ProgressAndResultAreStoredWithTheFinishedJob) {
  Worker worker(Options());
  worker.Register("report", [](JobContext& ctx) {
    ctx.SetProgress(R"({"done": 10, "total": 10})");
    return HandlerResult::Success(R"({"rows": 10})");
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("report");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  worker.Stop(5s);
  EXPECT_EQ(R"({"done": 10, "total": 10}|{"rows": 10})",
            Q("SELECT concat_ws('|', progress, result) FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, AFutureJobRunsWhenDueWithoutWaitingForThePoll) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("later", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("later", ", run_at", ", now() + interval '1 second'");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(0, runs.load());
  EXPECT_TRUE(Eventually([&] { return runs.load() == 1; }, 3s));
  worker.Stop(5s);
}

TEST_F(WorkerTest, EveryQueueRunsItsJobsPromptlyWhenSeveralAreServed) {
  WorkerOptions o = Options();
  o.queues = {{"a", 1}, {"b", 1}, {"c", 2}};
  Worker worker(o);
  worker.Register("t", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker.Start().ok());
  for (int round = 0; round < 5; ++round) {
    testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, queue) VALUES "
                                    "('t', 'a'), ('t', 'b'), ('t', 'c')");
    // Each round must finish well within the 10 s poll interval.
    ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 3 * (round + 1); }, 3s))
        << "round " << round << " succeeded=" << worker.Stats().succeeded;
  }
  worker.Stop(5s);
}

TEST_F(WorkerTest, HigherPriorityRunsFirst) {
  WorkerOptions o = Options();
  o.queues = {{"default", 1}};
  Worker worker(o);
  std::mutex mu;
  std::vector<int> order;
  worker.Register("p", [&](JobContext& ctx) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(ctx.job().priority);
    return HandlerResult::Success();
  });
  testing::Execute(schema_.dsn(), "INSERT INTO " + S() + ".jobs (task, priority) VALUES "
                                  "('p', 1), ('p', 9), ('p', 5)");
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 3; }));
  worker.Stop(5s);
  EXPECT_EQ((std::vector<int>{9, 5, 1}), order);
}

TEST_F(WorkerTest, TheWorkerReconnectsAfterItsConnectionsAreTerminated) {
  Worker worker(Options());
  std::atomic<int> runs{0};
  worker.Register("again", [&](JobContext&) {
    runs++;
    return HandlerResult::Success();
  });
  ASSERT_TRUE(worker.Start().ok());
  Insert("again");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  testing::Execute(schema_.dsn(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name LIKE 'pgjobs worker%'");
  Insert("again");
  EXPECT_TRUE(Eventually([&] { return worker.Stats().succeeded == 2; }, 15s));
  worker.Stop(5s);
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, TheWorkerReconnectsAfterAPostgresRestart) {
  Worker worker(Options());
  worker.Register("again", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker.Start().ok());
  Insert("again");
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }));
  testing::TestCluster::Get().RestartImmediate();  // pg_ctl stop -m immediate; start
  Insert("again");
  EXPECT_TRUE(Eventually([&] { return worker.Stats().succeeded == 2; }, 30s));
  worker.Stop(5s);
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".job_history"));
}

TEST_F(WorkerTest, StartFailsClearlyWithoutQueuesHandlersOrDatabase) {
  WorkerOptions no_queues = Options();
  no_queues.queues.clear();
  Worker a(no_queues);
  a.Register("t", [](JobContext&) { return HandlerResult::Success(); });
  EXPECT_EQ(Status::Code::kInvalidArgument, a.Start().code());

  Worker b(Options());
  EXPECT_NE(std::string::npos, b.Start().message().find("no task handlers"));

  WorkerOptions dead = Options();
  dead.dsn = "host=/nonexistent port=1";
  Worker c(dead);
  c.Register("t", [](JobContext&) { return HandlerResult::Success(); });
  EXPECT_EQ(Status::Code::kUnavailable, c.Start().code());
}

TEST_F(WorkerTest, RequestStopThenDestroyingTheWorkerDoesNotHang) {
  auto worker = std::make_unique<Worker>(Options());
  worker->Register("t", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker->Start().ok());
  worker->RequestStop();
  worker.reset();  // a second, concurrent stop: must wait for the first
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".workers"));
}

TEST_F(WorkerTest, TheWorkerRowIsRegisteredWhileRunningAndRemovedOnStop) {
  Worker worker(Options());
  worker.Register("t", [](JobContext&) { return HandlerResult::Success(); });
  ASSERT_TRUE(worker.Start().ok());
  EXPECT_EQ("[\"t\"]", Q("SELECT tasks::text FROM " + S() + ".workers WHERE id = '" + worker.id() + "'"));
  worker.Stop(5s);
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".workers"));
}

}  // namespace
}  // namespace pgjobs
