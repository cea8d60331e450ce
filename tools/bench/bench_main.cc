// pgjobs-bench: measures enqueue throughput, worker throughput and
// enqueue-to-start latency against a real PostgreSQL.
//
//   pgjobs-bench reset   --dsn DSN [--queue Q] [--schema S] [--redis-url URL]
//   pgjobs-bench enqueue --dsn DSN --queue Q --count N --batch B
//   pgjobs-bench enqueue --dsn DSN --queue Q --count N --gap-ms G --stamp
//   pgjobs-bench schedules --dsn DSN [--count 10000] [--cron EXPR] [--seconds S] [--schedulers K]
//                        [--fire-ahead S]
//   pgjobs-bench worker  --dsn DSN --queue Q --concurrency C (--exit-after N | --exit-when-empty)
//                        [--prefetch P] [--completion-batch K] [--completion-flush-ms MS]
//                        [--max-seconds S]
//
// Every command also takes --schema S (default pgjobs); --queue defaults to
// "default". enqueue and worker take --broker postgres|redis (the queue's
// broker is set first) and worker --redis-url URL for the Redis broker. Times are wall-clock ms since the Unix epoch.
//
// tools/bench/run.sh runs the standard scenarios and prints a summary.
#include <CLI/CLI.hpp>

#include "bench_common.h"

namespace pgjobs::bench {
namespace {

void AddCommonFlags(CLI::App& cmd, CommonFlags& flags) {
  cmd.add_option("--dsn", flags.dsn, "libpq connection string of the database")->required();
  cmd.add_option("--queue", flags.queue, "queue to use")->capture_default_str();
  cmd.add_option("--schema", flags.schema, "schema pgjobs lives in")->capture_default_str();
  cmd.add_option("--broker", flags.broker,
                 "postgres or redis: set the queue's broker first (default: leave it)");
  cmd.add_option("--redis-url", flags.redis_url,
                 "the Redis of --broker redis (worker), or whose keys reset clears");
}

void AddEnqueue(CLI::App& app, CommonFlags& common, EnqueueFlags& e, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("enqueue", "enqueue no-op jobs (task \"noop\")");
  AddCommonFlags(*cmd, common);
  cmd->add_option("--count", e.count, "how many jobs")->required()->check(CLI::Range(1, 100000000));
  CLI::Option* batch = cmd->add_option("--batch", e.batch, "jobs per EnqueueMany call (bulk mode)")
                           ->capture_default_str()
                           ->check(CLI::Range(1, 100000));
  CLI::Option* gap =
      cmd->add_option("--gap-ms", e.gap_ms, "one Enqueue call every G ms on a steady schedule")
          ->check(CLI::Range(0.0, 60000.0));
  CLI::Option* stamp =
      cmd->add_flag("--stamp", e.stamp, "args {\"t\": wall ms just before each Enqueue call}");
  batch->excludes(gap)->excludes(stamp);
  cmd->callback([&] { exit_code = RunEnqueue(common, e); });
}

void AddWorker(CLI::App& app, CommonFlags& common, WorkerFlags& w, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("worker", "run a Worker with a no-op \"noop\" handler");
  AddCommonFlags(*cmd, common);
  cmd->add_option("--concurrency", w.concurrency, "handlers running at once")
      ->required()
      ->check(CLI::Range(1, 1000));
  CLI::Option* after =
      cmd->add_option("--exit-after", w.exit_after, "stop after this many committed outcomes")
          ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  CLI::Option* empty = cmd->add_flag(
      "--exit-when-empty", w.exit_when_empty,
      "stop once this worker holds no job and the queue has no pending one (several workers "
      "sharing one backlog); the count is this worker's outcomes");
  after->excludes(empty);
  cmd->add_option("--prefetch", w.prefetch, "WorkerOptions::prefetch (default automatic)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--completion-batch", w.completion_batch,
                  "WorkerOptions::completion_batch (default 1000)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--completion-flush-ms", w.completion_flush_ms,
                  "WorkerOptions::completion_flush in ms (default 5)")
      ->check(CLI::Range(0, 60000));
  cmd->add_option("--task-config", w.task_config,
                  "run \"noop\" with the one task of this pgjobs configuration file (kind "
                  "command, runner or sql) instead of in process; adds handler_ms percentiles");
  cmd->add_option("--max-seconds", w.max_seconds, "give up (exit 1) after this long")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  cmd->callback([&] { exit_code = RunWorker(common, w); });
}

void AddSchedules(CLI::App& app, CommonFlags& common, SchedulesFlags& s, int& exit_code) {
  CLI::App* cmd = app.add_subcommand("schedules", "firing precision with many schedules");
  AddCommonFlags(*cmd, common);
  cmd->add_option("--count", s.count, "schedules to create")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--cron", s.cron, "every schedule's cron expression")->capture_default_str();
  cmd->add_option("--seconds", s.seconds, "how long the schedulers run")->capture_default_str();
  cmd->add_option("--schedulers", s.schedulers, "schedulers running at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  cmd->add_option("--fire-ahead", s.fire_ahead, "seconds a tick's job may be made ahead (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  cmd->callback([&] { exit_code = RunSchedules(common, s); });
}

}  // namespace
}  // namespace pgjobs::bench

int main(int argc, char** argv) {
  using namespace pgjobs::bench;
  (void)StderrLogger();  // before anything can log: stdout is for results only
  CLI::App app("pgjobs-bench: pgjobs throughput and latency benchmark", "pgjobs-bench");
  app.require_subcommand(1);
  CommonFlags common;
  EnqueueFlags enqueue;
  WorkerFlags worker;
  SchedulesFlags schedules;
  int exit_code = kExitOk;
  CLI::App* reset = app.add_subcommand("reset", "drop and re-create the schema (empty queue)");
  AddCommonFlags(*reset, common);
  reset->callback([&] { exit_code = RunReset(common); });
  AddEnqueue(app, common, enqueue, exit_code);
  AddWorker(app, common, worker, exit_code);
  AddSchedules(app, common, schedules, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help to stdout, errors to stderr
    return code == 0 ? kExitOk : kExitUsage;
  }
  return exit_code;
}
