#include "worker/runner_pool.h"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "worker/runner_protocol.h"

namespace pgjobs::worker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kSlice{100};          // how often stop requests are checked
constexpr milliseconds kSendTimeout{10000};  // a runner that reads no job line for this long
constexpr std::chrono::seconds kMaxStartBackoff{30};
constexpr milliseconds kDeadlineSlack{1000};
constexpr char kServedTasksEnv[] = "PGJOBS_TASKS";

std::string WithStderr(std::string message, const std::string& tail) {
  const std::size_t begin = tail.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return message;
  return message + "; stderr: " + tail.substr(begin, tail.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string JoinNames(const std::vector<std::string>& names) {
  return nlohmann::json(names).dump();
}

CommandSpec RunnerSpec(const TaskConfig& task) {
  CommandSpec spec;
  spec.argv = task.command;
  spec.env = task.env;
  spec.env["PGJOBS_RUNNER"] = task.name;
  std::string served;
  for (const std::string& name : task.serves) served += name + "\n";
  spec.env[kServedTasksEnv] = served;
  spec.working_dir = task.working_dir;
  spec.kill_grace = task.kill_grace;
  // A result line holds the result plus a little JSON around it.
  spec.max_stdout_bytes = task.max_result_bytes + 64 * 1024;
  return spec;
}

}  // namespace

RunnerPool::RunnerPool(TaskConfig task, std::string path, std::shared_ptr<spdlog::logger> log)
    : task_(std::move(task)), path_(std::move(path)), log_(std::move(log)) {}

Result<std::shared_ptr<RunnerPool>> RunnerPool::Start(const TaskConfig& task, int pool_size,
                                                      std::shared_ptr<spdlog::logger> log) {
  Result<std::string> path = ResolveProgram(task.command.front());
  if (!path.ok()) return path.status().WithContext("task " + task.name);
  std::shared_ptr<RunnerPool> pool(new RunnerPool(task, *path, std::move(log)));
  // All start at once (a Django runner takes a second or so), then each is awaited.
  std::vector<std::unique_ptr<RunnerProcess>> started;
  for (int i = 0; i < pool_size; ++i) {
    auto runner = pool->StartOne();
    if (!runner.ok()) return runner.status();
    started.push_back(std::move(*runner));
  }
  const Clock::time_point deadline = Clock::now() + task.startup_timeout;
  for (auto& runner : started) {
    auto reported = runner->AwaitReady(deadline);
    if (!reported.ok()) {
      return Status::FailedPrecondition(WithStderr(
          "runner " + task.name + " (" + task.command.front() + ", pid " +
              std::to_string(runner->pid()) + ") did not start: " + reported.status().message(),
          runner->stderr_tail()));
    }
    if (pool->tasks_.empty()) PGJOBS_RETURN_IF_ERROR(pool->ServeTasks(*reported));
  }
  pool->idle_ = std::move(started);
  pool->keeper_ = std::thread([p = pool.get()] { p->Keep(); });
  pool->log_->info("runners started runner={} count={} tasks={}", task.name, pool_size,
                   JoinNames(pool->tasks_));
  return pool;
}

RunnerPool::~RunnerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (keeper_.joinable()) keeper_.join();
  const Clock::time_point kill_at = Clock::now() + task_.kill_grace;
  for (auto& runner : idle_) {
    runner->CloseStdin();
    retired_.push_back({std::move(runner), kill_at});
  }
  idle_.clear();
  EndRetired(/*all=*/true);
}

Result<std::unique_ptr<RunnerProcess>> RunnerPool::StartOne() {
  auto runner = RunnerProcess::Start(RunnerSpec(task_), path_, task_.name, log_);
  if (!runner.ok()) return runner.status().WithContext("runner " + task_.name);
  return runner;
}

Status RunnerPool::ServeTasks(const std::vector<std::string>& reported) {
  for (const std::string& name : task_.serves) {
    if (name.back() == '*') {
      const std::string prefix = name.substr(0, name.size() - 1);
      bool any = false;
      for (const std::string& task : reported) {
        if (task.compare(0, prefix.size(), prefix) == 0) {
          tasks_.push_back(task);
          any = true;
        }
      }
      if (!any) {
        return Status::FailedPrecondition(
            "runner " + task_.name + " serves \"" + name +
            "\" but reports no task whose name "
            "starts with \"" +
            prefix + "\" (it reports " + JoinNames(reported) +
            "); list the module that defines them in its command, or fix the prefix");
      }
    } else if (std::find(reported.begin(), reported.end(), name) != reported.end()) {
      tasks_.push_back(name);
    } else {
      return Status::FailedPrecondition("runner " + task_.name + " serves task \"" + name +
                                        "\" but does not report it (it "
                                        "reports " +
                                        JoinNames(reported) +
                                        "); list the module that defines it in its command");
    }
  }
  std::sort(tasks_.begin(), tasks_.end());
  tasks_.erase(std::unique(tasks_.begin(), tasks_.end()), tasks_.end());
  return Status::Ok();
}

HandlerResult RunnerPool::Run(JobContext& ctx) {
  Checkout checkout = TakeRunner(ctx);
  if (!checkout.runner) return checkout.refused;
  bool replace = false;
  HandlerResult result = Talk(*checkout.runner, ctx, &replace);
  checkout.runner->set_job(0);
  GiveBack(std::move(checkout.runner), replace);
  return result;
}

RunnerPool::Checkout RunnerPool::TakeRunner(JobContext& ctx) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!idle_.empty()) {
      std::unique_ptr<RunnerProcess> runner = std::move(idle_.back());
      idle_.pop_back();
      if (!runner->HasExited()) return {std::move(runner)};
      lock.unlock();
      log_->warn("{}", WithStderr("runner died while idle runner=" + task_.name + " pid=" +
                                      std::to_string(runner->pid()) + ": it " + runner->Reap(),
                                  runner->stderr_tail()));
      runner.reset();
      lock.lock();
      missing_++;
      cv_.notify_all();
      continue;
    }
    if (!start_error_.empty() && !starting_) {
      // Nothing can run the job now: back to the queue without using an
      // attempt, with the reason in its errors, until a runner starts.
      return {nullptr,
              HandlerResult::RetryLater(task_.options.retry.base,
                                        "runner " + task_.name + " cannot start: " + start_error_)};
    }
    if (ctx.stop_requested() || stopping_) {
      return {nullptr, HandlerResult::Failure("stopped (" + ctx.stop_reason() +
                                              ") while waiting for a free runner")};
    }
    cv_.wait_for(lock, kSlice);
  }
}

HandlerResult RunnerPool::Talk(RunnerProcess& runner, JobContext& ctx, bool* replace) {
  const Job& job = ctx.job();
  runner.set_job(job.id);
  const Clock::time_point began = Clock::now();
  const milliseconds timeout = ctx.timeout();
  Clock::time_point deadline = Clock::time_point::max();
  std::optional<double> deadline_unix;
  if (timeout.count() > 0) {
    deadline = began + timeout + kDeadlineSlack;
    deadline_unix =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch() + timeout)
            .count();
  }
  if (!runner.Send(EncodeRunnerJob(job, deadline_unix), began + kSendTimeout).ok()) {
    *replace = true;
    runner.SignalGroup(SIGKILL);
    std::string line;
    while (runner.Next(Clock::now() + kSlice, &line) != RunnerProcess::Event::kExited) {
    }
    return Died(runner, false);
  }
  bool stopping = false;
  bool killed = false;
  Clock::time_point term_at;
  std::string line;
  while (true) {
    const Clock::time_point now = Clock::now();
    // The worker's maintainer stops a job at its time limit (within its
    // tick); the deadline here, a little later, is only a safety net.
    if (!stopping && (ctx.stop_requested() || now >= deadline)) {
      // Tell the runner why, then SIGTERM (a Python runner raises in the task),
      // then SIGKILL kill_grace later. The runner is replaced either way.
      std::string reason = ctx.stop_reason().empty() ? "timeout" : ctx.stop_reason();
      (void)runner.Send(EncodeRunnerStop(job.id, reason), now + kSlice);
      runner.SignalGroup(SIGTERM);
      stopping = true;
      *replace = true;
      term_at = now;
      log_->info("stopping job on runner runner={} pid={} job_id={} reason={}", task_.name,
                 runner.pid(), job.id, reason);
    }
    if (stopping && !killed && now >= term_at + task_.kill_grace) {
      runner.SignalGroup(SIGKILL);
      killed = true;
    }
    const Clock::time_point until = now + kSlice;
    switch (runner.Next(until, &line)) {
      case RunnerProcess::Event::kTimeout:
        continue;
      case RunnerProcess::Event::kExited:
        *replace = true;
        return Died(runner, stopping);
      case RunnerProcess::Event::kTooLong:
        *replace = true;
        runner.SignalGroup(SIGKILL);
        return HandlerResult::Failure("runner " + task_.name + " printed a line longer than " +
                                      std::to_string(task_.max_result_bytes) +
                                      " bytes (max_result_bytes); return a smaller result")
            .SetErrorKind("runner_protocol");
      case RunnerProcess::Event::kLine:
        break;
    }
    auto message = ParseRunnerLine(line);
    if (message.ok() && message->id != job.id) {
      message = Status::InvalidArgument("the runner sent a message for job " +
                                        std::to_string(message->id) + " while it runs job " +
                                        std::to_string(job.id) + ": " + line);
    }
    if (!message.ok() || message->type == RunnerMessage::Type::kReady) {
      *replace = true;
      runner.SignalGroup(SIGKILL);
      std::string why = message.ok() ? "the runner said \"ready\" again while it ran a job"
                                     : message.status().message();
      log_->error("runner protocol error runner={} pid={} job_id={}: {}", task_.name, runner.pid(),
                  job.id, why);
      return HandlerResult::Failure("runner " + task_.name + ": " + why)
          .SetErrorKind("runner_protocol");
    }
    if (message->type == RunnerMessage::Type::kProgress) {
      ctx.SetProgress(message->json);
      continue;
    }
    return RunnerOutcome(*message, task_.options.retry.base);
  }
}

HandlerResult RunnerPool::Died(RunnerProcess& runner, bool stopping) {
  const pid_t pid = runner.pid();
  std::string how = runner.Reap();
  if (stopping) {
    // The executor records this as a timeout or a cancellation.
    return HandlerResult::Failure(
        WithStderr("the runner was stopped and " + how, runner.stderr_tail()));
  }
  std::string message = WithStderr("runner " + task_.name + " (pid " + std::to_string(pid) + ") " +
                                       how + " while it ran the job",
                                   runner.stderr_tail());
  log_->error("{}", message);
  return HandlerResult::Failure(message).SetErrorKind("runner_died");
}

void RunnerPool::GiveBack(std::unique_ptr<RunnerProcess> runner, bool replace) {
  std::string recycle;
  if (!replace) {
    runner->jobs_done++;
    if (task_.max_jobs_per_runner > 0 && runner->jobs_done >= task_.max_jobs_per_runner) {
      recycle = "it ran max_jobs_per_runner=" + std::to_string(task_.max_jobs_per_runner) + " jobs";
    } else if (task_.max_memory_per_runner > 0) {
      const size_t rss = runner->RssBytes();
      if (rss > task_.max_memory_per_runner) {
        recycle = fmt::format("its memory ({:.1f} MB) is above max_memory_per_runner ({:.1f} MB)",
                              static_cast<double>(rss) / 1e6,
                              static_cast<double>(task_.max_memory_per_runner) / 1e6);
      }
    }
    if (!recycle.empty()) {
      log_->info("replacing runner runner={} pid={}: {}", task_.name, runner->pid(), recycle);
      runner->CloseStdin();  // it finishes and exits; the keeper reaps it
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (replace || !recycle.empty()) {
      retired_.push_back({std::move(runner), Clock::now() + task_.kill_grace});
      missing_++;
    } else {
      idle_.push_back(std::move(runner));
    }
  }
  cv_.notify_all();
}

void RunnerPool::Keep() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const bool can_start = missing_ > 0 && Clock::now() >= next_start_at_;
    if (!can_start) {
      cv_.wait_for(lock, kSlice);
    }
    lock.unlock();
    EndRetired(/*all=*/false);
    lock.lock();
    if (stopping_ || missing_ == 0 || Clock::now() < next_start_at_) continue;
    missing_--;
    starting_ = true;
    lock.unlock();
    auto runner = StartOne();
    Status ready = runner.ok()
                       ? (*runner)->AwaitReady(Clock::now() + task_.startup_timeout).status()
                       : runner.status();
    std::string error;
    if (!ready.ok()) {
      error = runner.ok() ? WithStderr(ready.message(), (*runner)->stderr_tail()) : ready.message();
      log_->error("runner did not start runner={}: {}", task_.name, error);
    }
    lock.lock();
    starting_ = false;
    if (ready.ok()) {
      idle_.push_back(std::move(*runner));
      start_error_.clear();
      start_failures_ = 0;
    } else {
      missing_++;
      start_error_ = error;
      start_failures_++;
      next_start_at_ = Clock::now() + std::min<Clock::duration>(
                                          kMaxStartBackoff,
                                          std::chrono::seconds(1 << std::min(start_failures_, 5)));
    }
    cv_.notify_all();
  }
}

// Reaps the retired runners that have exited; SIGKILLs those past kill_at.
// With all, waits for every one of them.
void RunnerPool::EndRetired(bool all) {
  std::vector<Retired> retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    retired.swap(retired_);
  }
  std::vector<Retired> left;
  std::string line;
  for (Retired& r : retired) {
    if (all) {
      r.runner->Finish(r.kill_at);
      continue;
    }
    r.runner->Next(Clock::now(), &line);  // keeps its stderr flowing into the log
    if (r.runner->HasExited()) {
      r.runner->Reap();
    } else if (Clock::now() >= r.kill_at) {
      r.runner->Finish(r.kill_at);
    } else {
      left.push_back(std::move(r));
    }
  }
  if (left.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (Retired& r : left) retired_.push_back(std::move(r));
}

}  // namespace pgjobs::worker
