// `pgjobs-bench worker`: the real pgjobs::Worker with a no-op handler for
// task "noop". Prints READY once it runs and its LISTEN is in place, waits
// for --exit-after committed outcomes, stops gracefully and prints one JSON
// line of timings (see StartRecorder::ResultJson).
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "bench_common.h"
#include "bench_recorder.h"
#include "common/waker.h"
#include "pg/connection.h"
#include "pgjobs/worker.h"
#include "store/db_errors.h"
#include "worker/builtin_tasks.h"
#include "worker/config.h"

namespace pgjobs::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

WorkerOptions MakeOptions(const CommonFlags& flags, const WorkerFlags& w) {
  WorkerOptions options;  // the documented defaults, but for the flags given
  options.dsn = flags.dsn;
  options.schema = flags.schema;
  options.queues = {{flags.queue, w.concurrency}};
  if (w.prefetch) options.prefetch = *w.prefetch;
  if (w.completion_batch) options.completion_batch = *w.completion_batch;
  if (w.completion_flush_ms)
    options.completion_flush = std::chrono::milliseconds(*w.completion_flush_ms);
  options.logger = StderrLogger();
  if (flags.broker == "redis") {
    options.redis.url = flags.redis_url;
    options.redis.key_prefix = flags.redis_prefix();
  }
  return options;
}

// The database's clock now, as timestamptz text.
Result<std::string> DatabaseNow(pg::Connection& conn) {
  auto rows = conn.ExecSql("SELECT clock_timestamp()::text");
  if (!rows.ok()) return rows.status();
  return rows->Text(0, 0);
}

// Waits until a worker listener session that connected after `since` has
// run its LISTEN (pg_stat_activity shows a session's last statement). The
// Worker API has no "listening" signal. A job enqueued before the LISTEN is
// not lost (the listener polls once it listens), but its latency would
// measure the worker's start-up rather than the job path.
Status WaitUntilListening(pg::Connection& conn, const std::string& since,
                          SteadyClock::time_point deadline) {
  // Why this shape: a session's `query` is its latest statement, and the
  // listener issues nothing after LISTEN but waits on the socket.
  const std::string sql =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
      "AND application_name = 'pgjobs worker listener' AND query ILIKE 'listen %' "
      "AND backend_start >= $1::timestamptz";
  while (SteadyClock::now() < deadline) {
    int64_t n = 0;
    Status st = conn.Transact([&](pg::Tx& tx) -> Status {
      auto rows = tx.ExecParams(sql, {since});
      if (!rows.ok()) return rows.status();
      n = rows->Int(0, 0);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    if (n > 0) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Unavailable("the worker did not LISTEN within 10 s; it finds jobs by polling");
}

// Waits until `count` outcomes are committed: asleep until the handler of
// the Nth start wakes `started` (rather than waking every millisecond for
// the whole run, which took CPU from the worker it measures), then polling the worker's counters
// every millisecond for its commit (a retried job starts again, so the polling goes on until the
// outcomes are there). Returns the wall time it saw that, or nothing at the
// deadline.
std::optional<double> WaitForOutcomes(const Worker& worker, int64_t count, Waker& started,
                                      SteadyClock::time_point deadline) {
  started.WaitUntil(deadline);
  while (true) {
    WorkerStats s = worker.Stats();
    if (s.succeeded + s.failed >= count) return WallMs();
    if (SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The probes below read the queue's jobs through jobs_claim_idx and
// jobs_lease_idx, with sequential scans disabled for their transaction. On a
// backlog analyzed while all of it was pending, PostgreSQL otherwise read
// the whole table for them: the EXISTS stopped at the first pending row, it
// estimated, but the first pages held only jobs done since, so each probe
// read (and pruned) every page; four workers sent 41 such probes in one
// 100,000-job drain, and each worker's count ran while the others drained.

// Jobs of the queue, pending or running.
Result<int64_t> JobsLeft(pg::Connection& conn, const CommonFlags& flags) {
  int64_t n = 0;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    PGJOBS_RETURN_IF_ERROR(tx.ExecSql("SET LOCAL enable_seqscan = off").status());
    const std::string jobs = flags.schema + ".jobs";
    auto rows = tx.ExecParams("SELECT (SELECT count(*) FROM " + jobs +
                                  " WHERE queue = $1 AND state = 'pending') + (SELECT count(*) "
                                  "FROM " +
                                  jobs + " WHERE queue = $1 AND state = 'running')",
                              {flags.queue});
    if (!rows.ok()) return rows.status();
    n = rows->Int(0, 0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

// Whether the queue still has a pending job: one probe of jobs_claim_idx,
// where a count would read every row of the queue. Jobs other workers hold
// are theirs to finish and count.
Result<bool> AnyPending(pg::Connection& conn, const CommonFlags& flags) {
  bool any = false;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    PGJOBS_RETURN_IF_ERROR(tx.ExecSql("SET LOCAL enable_seqscan = off").status());
    auto rows = tx.ExecParams("SELECT EXISTS (SELECT 1 FROM " + flags.schema +
                                  ".jobs WHERE queue = $1 AND state = 'pending')",
                              {flags.queue});
    if (!rows.ok()) return rows.status();
    any = rows->Text(0, 0) == "t";
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return any;
}

// Waits until the queue has no pending job and this worker holds none;
// returns the wall time of the last handler's return, or nothing at the
// deadline. The queue is asked only while this worker holds no job, and at
// most every 20 ms: four workers counting a 100,000-job backlog every 10 ms
// while it drained spent as much of the server's time as the claims.
std::optional<double> WaitForEmptyQueue(pg::Connection& conn, const CommonFlags& flags,
                                        Worker& worker, const std::atomic<double>& last_end_ms,
                                        SteadyClock::time_point deadline) {
  while (SteadyClock::now() < deadline) {
    WorkerStats s = worker.Stats();
    bool holds_none = s.running == 0 && s.claimed == s.succeeded + s.failed + s.retried + s.lost +
                                                         s.given_back;
    if (holds_none) {
      auto any = AnyPending(conn, flags);
      if (any.ok() && !*any) return last_end_ms.load();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(holds_none ? 20 : 5));
  }
  return std::nullopt;
}

void StoreMax(std::atomic<double>& target, double value) {
  double seen = target.load(std::memory_order_relaxed);
  while (value > seen && !target.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

// The "noop" handler of the one task of --task-config (a command, a runner or
// an sql task).
Result<Handler> ConfiguredNoop(const WorkerFlags& w, const WorkerOptions& options) {
  auto config = worker::LoadConfigFile(w.task_config);
  if (!config.ok()) return config.status();
  if (config->tasks.size() != 1) {
    return Status::InvalidArgument(w.task_config + ": give exactly one task, serving \"noop\"");
  }
  config->dsn = options.dsn;
  config->worker.queues = options.queues;
  config->worker.logger = options.logger;
  auto handlers = worker::MakeHandlers(config->tasks[0], *config);
  if (!handlers.ok()) return handlers.status();
  for (auto& h : *handlers) {
    if (h.task == "noop") return h.handler;
  }
  return Status::InvalidArgument(w.task_config + ": its task does not serve \"noop\"");
}

// Per-job handler durations, for the overhead of a task kind.
class Durations {
 public:
  void Add(double ms) {
    std::lock_guard<std::mutex> lock(mu_);
    ms_.push_back(ms);
  }
  std::string Json() {
    std::lock_guard<std::mutex> lock(mu_);
    if (ms_.empty()) return "{}";
    std::sort(ms_.begin(), ms_.end());
    auto at = [&](double q) { return ms_[static_cast<size_t>(q * (ms_.size() - 1))]; };
    return fmt::format("{{\"handler_ms_p50\": {:.3f}, \"handler_ms_p99\": {:.3f}, "
                       "\"handler_ms_max\": {:.3f}, \"jobs\": {}}}",
                       at(0.5), at(0.99), ms_.back(), ms_.size());
  }

 private:
  std::mutex mu_;
  std::vector<double> ms_;
};

}  // namespace

int RunWorker(const CommonFlags& flags, const WorkerFlags& w) {
  Status st = ValidateQueueName(flags.queue);
  if (!st.ok()) return Fail(st.WithContext("--queue"));
  if (!w.exit_when_empty && w.exit_after < 1) {
    return Fail(Status::InvalidArgument("give --exit-after N or --exit-when-empty"));
  }
  st = CheckSchemaReady(flags);
  if (!st.ok()) return Fail(st);
  st = ApplyBroker(flags, /*needs_url=*/true);
  if (!st.ok()) return Fail(st);
  WorkerOptions options = MakeOptions(flags, w);
  pg::Connection probe(flags.dsn, nullptr, "pgjobs-bench probe");
  int64_t expected = w.exit_after;
  if (w.exit_when_empty) {
    auto left = JobsLeft(probe, flags);
    if (!left.ok()) return Fail(left.status());
    expected = *left;
  }
  // Room for every start this run can see: N, plus what is in flight when the
  // Nth outcome is committed. Later starts are counted but not kept.
  StartRecorder recorder(static_cast<size_t>(
      expected + w.concurrency + std::max(options.prefetch, WorkerOptions::kMaxAutoPrefetch)));
  std::atomic<double> last_end_ms{0};
  Worker worker(options);
  Handler inner;
  Durations durations;
  if (!w.task_config.empty()) {
    auto configured = ConfiguredNoop(w, options);
    if (!configured.ok()) return Fail(configured.status().WithContext("--task-config"));
    inner = std::move(*configured);
  }
  Waker started;
  const int64_t wake_at = w.exit_when_empty ? -1 : w.exit_after;
  worker.Register("noop", [&recorder, &last_end_ms, &inner, &durations, &started,
                           wake_at](JobContext& context) {
    const double start = WallMs();
    if (recorder.Record(start, context.job().args_json) == wake_at) started.Wake();
    HandlerResult result = HandlerResult::Success();
    if (inner) {
      result = inner(context);
      durations.Add(WallMs() - start);
    }
    StoreMax(last_end_ms, WallMs());
    return result;
  });

  auto since = DatabaseNow(probe);
  if (!since.ok()) return Fail(since.status());
  st = worker.Start();
  if (!st.ok()) return Fail(st.WithContext("start worker"));
  st = WaitUntilListening(probe, *since, SteadyClock::now() + std::chrono::seconds(10));
  if (!st.ok()) std::fprintf(stderr, "pgjobs-bench: warning: %s\n", st.message().c_str());
  std::printf("READY\n");
  std::fflush(stdout);

  auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                           std::chrono::duration<double>(w.max_seconds));
  std::optional<double> last_end =
      w.exit_when_empty ? WaitForEmptyQueue(probe, flags, worker, last_end_ms, deadline)
                        : WaitForOutcomes(worker, w.exit_after, started, deadline);
  probe.Disconnect();
  worker.Stop(WorkerOptions{}.drain_timeout);
  WorkerStats stats = worker.Stats();
  int64_t count = w.exit_when_empty ? stats.succeeded + stats.failed : w.exit_after;
  if (!last_end) {
    return Fail(Status::Unavailable(fmt::format(
        "gave up after --max-seconds {:g}: {} of {} outcomes committed (are the jobs enqueued "
        "in queue {}?)",
        w.max_seconds, stats.succeeded + stats.failed, expected, flags.queue)));
  }
  if (stats.failed > 0 || stats.lost > 0) {
    std::fprintf(stderr, "pgjobs-bench: warning: failed=%lld lost=%lld\n",
                 static_cast<long long>(stats.failed), static_cast<long long>(stats.lost));
  }
  std::printf("%s\n", recorder.ResultJson(count, *last_end).c_str());
  if (inner) std::printf("%s\n", durations.Json().c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace pgjobs::bench
