// The processes of one "runner" task definition (README, "Runner tasks"):
// pool_size long-lived programs that each run one job at a time, fed over
// the JSON-lines protocol of runner_protocol.h, like Celery's prefork pool.
//
// An executor running a job of a served task takes an idle runner, sends it
// the job and reads its lines until the outcome. A runner that dies, breaks
// the protocol, was stopped (timeout: SIGTERM, then SIGKILL kill_grace later;
// cancel; shutdown), ran max_jobs_per_runner jobs or is above
// max_memory_per_runner is replaced by the pool's own thread, which starts a
// fresh one. Thread-safe: Run is called from many executor threads at once.
#ifndef PGJOBS_WORKER_RUNNER_POOL_H_
#define PGJOBS_WORKER_RUNNER_POOL_H_

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pgjobs/handler.h"
#include "pgjobs/status.h"
#include "worker/config.h"
#include "worker/runner_process.h"

namespace pgjobs::worker {

class RunnerPool {
 public:
  // Starts pool_size runners of task (pool_size > 0) and waits for each to
  // say it is ready; an error (a runner exited, printed something else, or
  // was not ready within startup_timeout) names the runner, how it ended and
  // its stderr tail, and leaves nothing running.
  static Result<std::shared_ptr<RunnerPool>> Start(const TaskConfig& task, int pool_size,
                                                   std::shared_ptr<spdlog::logger> log);
  // Ends every runner: closes their stdin, waits up to kill_grace, then SIGKILL.
  ~RunnerPool();
  RunnerPool(const RunnerPool&) = delete;
  RunnerPool& operator=(const RunnerPool&) = delete;

  // The task names served: task.serves, with each "prefix.*" replaced by the
  // tasks the runners reported whose names start with "prefix.".
  const std::vector<std::string>& tasks() const { return tasks_; }

  // Runs one job on a runner; the handler of every served task.
  HandlerResult Run(JobContext& ctx);

 private:
  using Clock = std::chrono::steady_clock;
  RunnerPool(TaskConfig task, std::string path, std::shared_ptr<spdlog::logger> log);
  Result<std::unique_ptr<RunnerProcess>> StartOne();
  Status ServeTasks(const std::vector<std::string>& reported);
  struct Checkout {
    std::unique_ptr<RunnerProcess> runner;
    HandlerResult refused = HandlerResult::Failure("");
  };
  Checkout TakeRunner(JobContext& ctx);
  HandlerResult Talk(RunnerProcess& runner, JobContext& ctx, bool* replace);
  HandlerResult Died(RunnerProcess& runner, bool stopping);
  void GiveBack(std::unique_ptr<RunnerProcess> runner, bool replace);
  void Keep();  // the pool's thread: starts missing runners, ends retired ones
  void EndRetired(bool all);

  const TaskConfig task_;
  const std::string path_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::string> tasks_;

  std::mutex mu_;
  std::condition_variable cv_;  // idle_ grew, a start failed, or work for the keeper
  std::vector<std::unique_ptr<RunnerProcess>> idle_;
  struct Retired {
    std::unique_ptr<RunnerProcess> runner;
    Clock::time_point kill_at;
  };
  std::vector<Retired> retired_;
  int missing_ = 0;          // runners to start
  bool starting_ = false;    // the keeper is starting one
  std::string start_error_;  // why the last start failed; "" once one started
  int start_failures_ = 0;
  Clock::time_point next_start_at_;
  bool stopping_ = false;
  std::thread keeper_;
};

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_RUNNER_POOL_H_
