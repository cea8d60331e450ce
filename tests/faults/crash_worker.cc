// A worker program embedding the pgjobs library (include/pgjobs/worker.h),
// as an application with C++ handlers would, for the poison-job scenario:
// the handler of task "crash" calls abort(), taking the whole process (and
// every job it holds) down on every attempt; task "ok" succeeds. SIGTERM or
// SIGINT stops it gracefully.
//
// Usage: pgjobs_fault_crash_worker DSN SCHEMA WORKER_ID LEASE_MS
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "pgjobs/worker.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DSN SCHEMA WORKER_ID LEASE_MS\n", argv[0]);
    return 2;
  }
  // Crashes are the point: no core files.
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  // Stop signals are taken by sigwait below; every thread inherits the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  pgjobs::WorkerOptions options;
  options.dsn = argv[1];
  options.schema = argv[2];
  options.worker_id = argv[3];
  options.queues = {{"default", 4}};
  options.lease = std::chrono::milliseconds(std::atoll(argv[4]));
  options.rescue_interval = std::chrono::seconds(1);
  pgjobs::Worker worker(options);
  worker.Register("crash", [](pgjobs::JobContext& ctx) -> pgjobs::HandlerResult {
    std::fprintf(stderr, "crash: job %lld attempt %d of %d: abort()\n",
                 static_cast<long long>(ctx.job().id), ctx.job().attempt, ctx.job().max_attempts);
    std::fflush(stderr);
    std::abort();
  });
  // Succeeds after {"ms": N} milliseconds (0 when absent).
  worker.Register("ok", [](pgjobs::JobContext& ctx) {
    int ms = nlohmann::json::parse(ctx.job().args_json).value("ms", 0);
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return pgjobs::HandlerResult::Success();
  });
  pgjobs::Status started = worker.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", started.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "started %s\n", worker.id().c_str());
  std::fflush(stderr);
  int sig = 0;
  sigwait(&stop, &sig);
  worker.Stop(std::chrono::seconds(5));
  return 0;
}
