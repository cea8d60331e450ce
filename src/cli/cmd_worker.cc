// `pgjobs worker`: runs the tasks of the configuration file.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "cli/commands.h"
#include "pgjobs/worker.h"
#include "worker/builtin_tasks.h"
#include "worker/config.h"

namespace pgjobs::cli {
namespace {

struct WorkerCommandOptions {
  std::string queues;  // "emails=4,reports=1"
  std::string log_level;
};

// systemd's sd_notify protocol, written by hand: one datagram to
// $NOTIFY_SOCKET. A no-op when not run by systemd with Type=notify.
void NotifySystemd(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path));
  (void)sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  close(fd);
}

Result<worker::Config> LoadWorkerConfig(GlobalOptions& global, const WorkerCommandOptions& o) {
  worker::Config config;
  std::string path = global.config.empty() ? kDefaultConfig : global.config;
  if (global.config_given || access(path.c_str(), R_OK) == 0) {
    auto loaded = worker::LoadConfigFile(path);
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
  }
  worker::ApplyEnvironment(config);
  if (!global.dsn.empty()) config.dsn = config.worker.dsn = global.dsn;
  if (!global.schema.empty()) config.schema = config.worker.schema = global.schema;
  if (!o.queues.empty()) {
    auto queues = worker::ParseQueueList(o.queues);
    if (!queues.ok()) return queues.status().WithContext("--queues");
    config.worker.queues = *queues;
  }
  if (config.worker.queues.empty()) config.worker.queues = {{"default", 4}};
  if (!o.log_level.empty()) config.log_level = o.log_level;
  if (config.tasks.empty()) {
    return Status::InvalidArgument("no tasks configured; declare them under \"tasks\" in " + path +
                                   " (see the README, \"Configuration\") or pass --config FILE");
  }
  return config;
}

// Waits for SIGTERM/SIGINT on this thread (they are blocked everywhere):
// the first asks for a graceful stop, the second for a hard one.
void WatchSignals(Worker& worker, const std::atomic<bool>& done) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec tick{0, 100 * 1000 * 1000};
  int received = 0;
  while (!done.load()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig <= 0) continue;
    ++received;
    spdlog::info("{} received: {}", strsignal(sig),
                 received == 1 ? "draining running jobs (send again to stop at once)"
                               : "stopping at once; unfinished jobs go back to the queue");
    if (received == 1) NotifySystemd("STOPPING=1");
    worker.RequestStop();
  }
}

int RunWorker(GlobalOptions& global, const WorkerCommandOptions& options) {
  auto config = LoadWorkerConfig(global, options);
  if (!config.ok()) return Fail(config.status());
  SetUpLogging(config->log_level);
  Worker worker(config->worker);
  for (const worker::TaskConfig& task : config->tasks) {
    auto handler = worker::MakeHandler(task, config->dsn);
    if (!handler.ok()) return Fail(handler.status());
    worker.Register(task.name, std::move(*handler), task.options);
  }
  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and only WatchSignals receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Status st = worker.Start();
  if (!st.ok()) return Fail(st.WithContext("worker"));
  NotifySystemd("READY=1");
  std::atomic<bool> done{false};
  std::thread signals([&] { WatchSignals(worker, done); });
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
  cmd->callback([&global, &exit_code, options] { exit_code = RunWorker(global, *options); });
}

}  // namespace pgjobs::cli
