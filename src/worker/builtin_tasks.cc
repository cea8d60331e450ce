#include "worker/builtin_tasks.h"

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "pg/connection.h"
#include "worker/command_runner.h"
#include "worker/runner_pool.h"

namespace pgjobs::worker {
namespace {

using nlohmann::json;

std::string Trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// stdout as a JSON value: the JSON it holds, or the text as a JSON string.
std::string ResultJson(const std::string& out) {
  std::string text = Trimmed(out);
  if (text.empty()) return "";
  json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_discarded()) return text;
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string WithStderr(std::string message, const std::string& tail) {
  std::string t = Trimmed(tail);
  return t.empty() ? message : message + "; stderr: " + t;
}

HandlerResult CommandOutcomeToResult(const TaskConfig& task, const CommandOutcome& o) {
  using End = CommandOutcome::End;
  if (o.end == End::kTimedOut || o.end == End::kCancelled) {
    return HandlerResult::Failure(WithStderr("stopped with SIGTERM/SIGKILL", o.stderr_tail));
  }
  if (o.end == End::kSignaled) {
    return HandlerResult::Failure(WithStderr(
        "killed by signal " + std::to_string(o.term_signal) + " (" + strsignal(o.term_signal) + ")",
        o.stderr_tail));
  }
  if (o.exit_code == kRetryLaterExitCode) {
    return HandlerResult::RetryLater(task.options.retry.base,
                                     WithStderr("exit status 75: retry later", o.stderr_tail));
  }
  if (o.exit_code != 0) {
    return HandlerResult::Failure(
        WithStderr("exit status " + std::to_string(o.exit_code), o.stderr_tail));
  }
  if (o.stdout_truncated) {
    return HandlerResult::Failure(
        "the command printed " + std::to_string(o.stdout_total_bytes) +
        " bytes on stdout, over max_result_bytes (" + std::to_string(task.max_result_bytes) +
        "); print a small result and put large output in a file or table, or raise "
        "max_result_bytes");
  }
  return HandlerResult::Success(ResultJson(o.stdout_data));
}

Handler CommandHandler(const TaskConfig& task) {
  return [task](JobContext& ctx) -> HandlerResult {
    const Job& job = ctx.job();
    CommandSpec spec;
    spec.argv = task.command;
    spec.env = task.env;
    spec.env["PGJOBS_JOB_ID"] = std::to_string(job.id);
    spec.env["PGJOBS_TASK"] = job.task;
    spec.env["PGJOBS_QUEUE"] = job.queue;
    spec.env["PGJOBS_ATTEMPT"] = std::to_string(job.attempt);
    spec.env["PGJOBS_MAX_ATTEMPTS"] = std::to_string(job.max_attempts);
    spec.stdin_data = job.args_json + "\n";
    spec.working_dir = task.working_dir;
    spec.kill_grace = task.kill_grace;  // the time limit itself arrives as a stop request
    spec.max_stdout_bytes = task.max_result_bytes;
    auto on_progress = [&ctx](std::string_view line) {
      std::string text = Trimmed(std::string(line));
      if (text.empty()) return;
      json parsed = json::parse(text, nullptr, false);
      ctx.SetProgress(parsed.is_discarded() ? json(text).dump() : text);
    };
    auto outcome = RunCommand(spec, on_progress, &ctx.stop_flag());
    if (!outcome.ok()) return HandlerResult::Failure(outcome.status().message());
    return CommandOutcomeToResult(task, *outcome);
  };
}

// Connections for "sql" tasks, reused across jobs; one per running job.
class ConnectionPool {
 public:
  explicit ConnectionPool(std::string dsn) : dsn_(std::move(dsn)) {}
  std::unique_ptr<pg::Connection> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.empty()) return std::make_unique<pg::Connection>(dsn_, nullptr, "pgjobs sql task");
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  void Return(std::unique_ptr<pg::Connection> c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->connected()) idle_.push_back(std::move(c));
  }
  const std::string& dsn() const { return dsn_; }

 private:
  std::string dsn_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pg::Connection>> idle_;
};

// Cancels the statement of backend pid when stop becomes true, until done.
// Looks at the stop flag every 50 ms; the end of the job wakes it at once
// (a job's end never waits for the look).
class CancelWatch {
 public:
  CancelWatch(const std::string& dsn, int pid, const std::atomic<bool>& stop)
      : thread_([this, dsn, pid, &stop] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!done_) {
            if (stop.load()) {
              lock.unlock();
              pg::Connection c(dsn, nullptr, "pgjobs sql task cancel");
              (void)c.ExecSql("SELECT pg_cancel_backend(" + std::to_string(pid) + ")");
              return;
            }
            cv_.wait_for(lock, std::chrono::milliseconds(50));
          }
        }) {}
  ~CancelWatch() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;  // last: started once the members above exist
};

HandlerResult RunSql(pg::Connection& conn, const std::string& sql, JobContext& ctx) {
  std::string result;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    int64_t ms = ctx.timeout().count();
    PGJOBS_RETURN_IF_ERROR(
        tx.ExecSql("SET LOCAL statement_timeout = " + std::to_string(std::max<int64_t>(ms, 0)))
            .status());
    // $1 is bound only when the statement uses it: PostgreSQL rejects a
    // parameter whose type it cannot infer from the statement.
    pg::Params params;
    if (sql.find("$1") != std::string::npos) params.push_back(ctx.job().args_json);
    auto rows = tx.ExecParams(sql, params);
    if (!rows.ok()) return rows.status();
    result = rows->FirstRowJson();
    return Status::Ok();
  });
  if (!st.ok()) return HandlerResult::Failure(st.message());
  return HandlerResult::Success(result);
}

Handler SqlHandler(const TaskConfig& task, const std::string& dsn) {
  auto pool = std::make_shared<ConnectionPool>(dsn);
  return [task, pool](JobContext& ctx) -> HandlerResult {
    std::unique_ptr<pg::Connection> conn = pool->Take();
    Status connected = conn->EnsureConnected();
    if (!connected.ok()) return HandlerResult::Failure(connected.message());
    HandlerResult result = HandlerResult::Failure("not run");
    {
      CancelWatch watch(pool->dsn(), conn->BackendPid(), ctx.stop_flag());
      result = RunSql(*conn, task.sql, ctx);
    }
    pool->Return(std::move(conn));
    return result;
  };
}

}  // namespace

Status CheckTask(const TaskConfig& task) {
  if (task.kind == TaskConfig::Kind::kSql) return Status::Ok();
  auto program = ResolveProgram(task.command.front());
  if (!program.ok()) return program.status().WithContext("task " + task.name);
  if (!task.working_dir.empty()) {
    struct stat st;
    if (stat(task.working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument("task " + task.name + ": working_dir " + task.working_dir +
                                     " is not a directory");
    }
  }
  return Status::Ok();
}

Result<Handler> MakeHandler(const TaskConfig& task, const std::string& dsn) {
  PGJOBS_RETURN_IF_ERROR(CheckTask(task));
  if (task.kind == TaskConfig::Kind::kSql) return SqlHandler(task, dsn);
  if (task.kind == TaskConfig::Kind::kRunner) {
    return Status::InvalidArgument("task " + task.name + ": a runner serves several tasks; use "
                                   "MakeHandlers");
  }
  return CommandHandler(task);
}

Result<std::vector<NamedHandler>> MakeHandlers(const TaskConfig& task, const Config& config) {
  if (task.kind != TaskConfig::Kind::kRunner) {
    auto handler = MakeHandler(task, config.dsn);
    if (!handler.ok()) return handler.status();
    return std::vector<NamedHandler>{{task.name, std::move(*handler), task.options}};
  }
  PGJOBS_RETURN_IF_ERROR(CheckTask(task));
  int pool_size = task.pool_size;
  if (pool_size == 0) {
    for (const auto& [queue, concurrency] : config.worker.queues) pool_size += concurrency;
  }
  auto logger = config.worker.logger ? config.worker.logger : spdlog::default_logger();
  auto pool = RunnerPool::Start(task, std::max(pool_size, 1), logger);
  if (!pool.ok()) return pool.status();
  std::shared_ptr<RunnerPool> shared = std::move(*pool);
  std::vector<NamedHandler> handlers;
  for (const std::string& name : shared->tasks()) {
    handlers.push_back({name, [shared](JobContext& ctx) { return shared->Run(ctx); },
                        task.options});
  }
  return handlers;
}

}  // namespace pgjobs::worker
