// `pgjobs worker`: runs the tasks of the configuration file.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "cli/commands.h"
#include "cli/daemon.h"
#include "pgjobs/scheduler.h"
#include "pgjobs/worker.h"
#include "worker/builtin_tasks.h"
#include "worker/config.h"

namespace pgjobs::cli {
namespace {

struct WorkerCommandOptions {
  std::string queues;  // "emails=4,reports=1"
  std::string log_level;
  bool with_scheduler = false;
};

Result<worker::Config> LoadWorkerConfig(GlobalOptions& global, const WorkerCommandOptions& o) {
  auto config = LoadDaemonConfig(global);
  if (!config.ok()) return config.status();
  if (!o.queues.empty()) {
    auto queues = worker::ParseQueueList(o.queues);
    if (!queues.ok()) return queues.status().WithContext("--queues");
    config->worker.queues = *queues;
  }
  if (config->worker.queues.empty()) config->worker.queues = {{"default", 4}};
  if (!o.log_level.empty()) {
    PGJOBS_RETURN_IF_ERROR(CheckLogLevel(o.log_level));
    config->log_level = o.log_level;
  }
  if (config->tasks.empty()) {
    return Status::InvalidArgument(
        "no tasks configured; declare them under \"tasks\" in the configuration file (see the "
        "README, \"Configuration\") and pass --config FILE");
  }
  return config;
}

int RunWorker(GlobalOptions& global, const WorkerCommandOptions& options) {
  auto config = LoadWorkerConfig(global, options);
  if (!config.ok()) return Fail(config.status());
  SetUpLogging(config->log_level);
  Worker worker(config->worker);
  // Before any thread starts (runner pools start theirs below): threads
  // inherit the blocked stop signals, which only the watcher thread takes.
  BlockStopSignals();
  for (const worker::TaskConfig& task : config->tasks) {
    // A task that cannot run (its program is missing, say) is a fault of
    // the configuration file: bad input, exit 2.
    auto handlers = worker::MakeHandlers(task, *config);
    if (!handlers.ok()) return Fail(AsBadInput(handlers.status()));
    for (auto& h : *handlers) worker.Register(h.task, std::move(h.handler), h.options);
  }
  Status st = worker.Start();
  if (!st.ok()) return FailStart(st.WithContext("worker"));
  std::unique_ptr<Scheduler> scheduler;
  if (options.with_scheduler) {
    scheduler = std::make_unique<Scheduler>(config->scheduler);
    st = scheduler->Start();
    if (!st.ok()) {
      worker.Stop(std::chrono::milliseconds(0));
      return FailStart(st.WithContext("scheduler"));
    }
  }
  NotifySystemd("READY=1");
  std::atomic<bool> done{false};
  std::thread signals([&] {
    WatchStopSignals(
        [&](int n) {
          spdlog::info("stop signal received: {}",
                       n == 1 ? "draining running jobs (send again to stop at once)"
                              : "stopping at once; unfinished jobs go back to the queue");
          if (n == 1) NotifySystemd("STOPPING=1");
          if (scheduler) scheduler->Stop();
          worker.RequestStop();
        },
        done);
  });
  worker.Wait();
  done = true;
  signals.join();
  WorkerStats stats = worker.Stats();
  spdlog::info("worker exited succeeded={} failed={} retried={} given_back={}", stats.succeeded,
               stats.failed, stats.retried, stats.given_back);
  return kExitOk;
}

}  // namespace

void AddWorkerCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<WorkerCommandOptions>();
  CLI::App* cmd = app.add_subcommand("worker", "claim and run jobs (the tasks of the config file)");
  cmd->add_option("--queues", options->queues,
                  "queues and their concurrency, e.g. emails=4,reports=1 (overrides the config)");
  cmd->add_option("--log-level", options->log_level, "trace, debug, info, warn or error");
  cmd->add_flag("--with-scheduler", options->with_scheduler,
                "also run the scheduler in this process (small setups, development)");
  cmd->callback([&global, &exit_code, options] { exit_code = RunWorker(global, *options); });
}

}  // namespace pgjobs::cli
