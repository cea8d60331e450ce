// `pgjobs scheduler`: turns schedules into jobs and runs maintenance.
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "cli/commands.h"
#include "cli/daemon.h"
#include "pgjobs/scheduler.h"

namespace pgjobs::cli {
namespace {

int RunScheduler(GlobalOptions& global, const std::string& log_level) {
  if (!log_level.empty()) {
    Status level = CheckLogLevel(log_level);
    if (!level.ok()) return Fail(level);
  }
  auto config = LoadDaemonConfig(global);
  if (!config.ok()) return Fail(config.status());
  SetUpLogging(log_level.empty() ? config->log_level : log_level);
  BlockStopSignals();
  Scheduler scheduler(config->scheduler);
  Status st = scheduler.Start();
  if (!st.ok()) return FailStart(st.WithContext("scheduler"));
  NotifySystemd("READY=1");
  std::atomic<bool> done{false};
  WatchStopSignals(
      [&](int) {
        NotifySystemd("STOPPING=1");
        done = true;
      },
      done);
  scheduler.Stop();
  SchedulerStats stats = scheduler.Stats();
  spdlog::info("scheduler exited fired={} skipped={}", stats.fired, stats.skipped);
  return kExitOk;
}

}  // namespace

void AddSchedulerCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto log_level = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "scheduler", "turn schedules into jobs; run maintenance (rescue, history partitions)");
  cmd->add_option("--log-level", *log_level, "trace, debug, info, warn or error");
  cmd->callback([&global, &exit_code, log_level] { exit_code = RunScheduler(global, *log_level); });
}

}  // namespace pgjobs::cli
