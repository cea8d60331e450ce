#include "pgjobs/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/waker.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "store/broker_store.h"
#include "store/db_errors.h"
#include "worker/completer.h"
#include "worker/executor_pool.h"
#include "worker/fetcher.h"
#include "worker/maintainer.h"
#include "worker/worker_core.h"

#ifndef PGJOBS_VERSION
#define PGJOBS_VERSION "dev"
#endif

namespace pgjobs {
namespace {

using Clock = std::chrono::steady_clock;

std::string DefaultWorkerId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x",
                static_cast<unsigned>(RandomBetween(0, 4294967295.0)));
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + suffix;
}

Status ValidateOptions(const WorkerOptions& o) {
  if (o.queues.empty()) {
    return Status::InvalidArgument("no queues to work on; give at least one, e.g. default=4");
  }
  for (const auto& [queue, concurrency] : o.queues) {
    PGJOBS_RETURN_IF_ERROR(ValidateQueueName(queue));
    if (concurrency < 1 || concurrency > 1000) {
      return Status::InvalidArgument("concurrency of queue " + queue + " is " +
                                     std::to_string(concurrency) + "; use 1-1000");
    }
  }
  if (o.lease < std::chrono::seconds(3)) {
    return Status::InvalidArgument("lease must be at least 3 s (default 30 s)");
  }
  if (o.stop_margin.count() < 0 || o.stop_margin > o.lease / 2) {
    return Status::InvalidArgument("stop_margin must be between 0 (lease/4) and lease/2");
  }
  if (o.poll_interval < std::chrono::milliseconds(10)) {
    return Status::InvalidArgument("poll_interval must be at least 10 ms (default 2 s)");
  }
  if (o.prefetch < WorkerOptions::kPrefetchAuto || o.completion_batch < 1) {
    return Status::InvalidArgument(
        "prefetch must be >= 0 or kPrefetchAuto, and completion_batch >= 1");
  }
  return Status::Ok();
}

}  // namespace

class Worker::Impl {
 public:
  explicit Impl(WorkerOptions options) : options_(std::move(options)) {
    if (options_.worker_id.empty()) options_.worker_id = DefaultWorkerId();
    if (!options_.logger) options_.logger = spdlog::default_logger();
  }
  ~Impl() {
    hard_ = true;
    Stop(std::chrono::milliseconds(0));
    if (stopper_.joinable()) stopper_.join();
  }

  void Register(const std::string& task, Handler handler, TaskOptions options) {
    handlers_[task] = worker::HandlerEntry{std::move(handler), options};
  }

  Status Start();
  void Stop(std::chrono::milliseconds drain);
  void RequestStop();
  void Wait();
  WorkerStats Stats() const;
  const std::string& id() const { return options_.worker_id; }

 private:
  void GiveBack(const std::vector<store::JobKey>& claims, const std::string& reason);
  void WarnRedisQueuesWithoutRedis(pg::Connection& conn);
  store::WorkerInfo Info() const;

  WorkerOptions options_;
  std::map<std::string, worker::HandlerEntry> handlers_;
  std::unique_ptr<worker::WorkerCore> core_;
  std::unique_ptr<worker::Completer> completer_;
  std::unique_ptr<worker::ExecutorPool> pool_;
  std::unique_ptr<worker::Fetcher> fetcher_;
  std::unique_ptr<worker::Listener> listener_;
  std::unique_ptr<worker::Maintainer> maintainer_;
  // Declared last: its threads wake the fetcher, so it goes first.
  std::unique_ptr<broker::QueueBroker> broker_;

  std::mutex stop_mu_;
  std::condition_variable stopped_cv_;
  bool started_ = false;
  bool stopping_ = false;  // a Stop is under way (only one runs; others wait)
  bool stopped_ = false;
  int stop_requests_ = 0;
  std::atomic<bool> hard_{false};
  std::thread stopper_;
};

store::WorkerInfo Worker::Impl::Info() const {
  nlohmann::json queues = options_.queues;
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& [task, entry] : handlers_) tasks.push_back(task);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return store::WorkerInfo{options_.worker_id,
                           host,
                           static_cast<int>(getpid()),
                           queues.dump(),
                           tasks.dump(),
                           PGJOBS_VERSION,
                           static_cast<double>(options_.lease.count()) / 1000.0};
}

Status Worker::Impl::Start() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (started_) return Status::FailedPrecondition("worker already started");
  PGJOBS_RETURN_IF_ERROR(ValidateOptions(options_));
  if (handlers_.empty()) {
    return Status::InvalidArgument("no task handlers registered; a worker with no tasks would "
                                   "claim nothing");
  }
  auto catalog = SqlCatalog::Load(options_.schema);
  if (!catalog.ok()) return catalog.status();
  core_ = std::make_unique<worker::WorkerCore>(options_, std::move(*catalog));
  core_->log = options_.logger;
  core_->handlers = handlers_;
  std::vector<std::string> tasks;
  for (const auto& [task, entry] : handlers_) tasks.push_back(task);
  core_->tasks_literal = pg::ArrayLiteral(tasks);
  {
    pg::Connection check(options_.dsn, &core_->catalog, "pgjobs worker");
    PGJOBS_RETURN_IF_ERROR(check.EnsureConnected());
    migrate::Migrator migrator(check, core_->catalog);
    PGJOBS_RETURN_IF_ERROR(migrator.CheckCurrent());
    // A role that may not run the job protocol would fail on every claim
    // while looking alive: fail here instead.
    PGJOBS_RETURN_IF_ERROR(migrator.CheckRights({{"jobs", "UPDATE"},
                                                 {"jobs", "DELETE"},
                                                 {"job_history", "INSERT"},
                                                 {"workers", "INSERT"},
                                                 {"idle_workers", "INSERT"}},
                                                "worker", "run workers"));
    if (options_.redis.url.empty()) WarnRedisQueuesWithoutRedis(check);
  }
  completer_ = std::make_unique<worker::Completer>(
      *core_, [this](const std::string& q, double s) { fetcher_->WakeIn(q, s); });
  pool_ = std::make_unique<worker::ExecutorPool>(
      *core_, *completer_, [this](const std::string& q) { fetcher_->Wake(q); });
  core_->outcomes_waiting = [this] { return completer_->backlog(); };
  fetcher_ = std::make_unique<worker::Fetcher>(*core_, *pool_);
  core_->request_stop = [this] { RequestStop(); };
  if (!options_.redis.url.empty()) {
    auto made = broker::MakeRedisBroker(
        *core_, [this](const std::string& q) { fetcher_->Wake(q); },
        [this](const std::string& q) { return pool_->ClaimSize(q); });
    if (!made.ok()) return made.status().WithContext("redis broker");
    broker_ = std::move(*made);
    PGJOBS_RETURN_IF_ERROR(broker_->Start());
    core_->broker = broker_.get();
  }
  // The maintainer is made before the listener starts, which is what calls this.
  listener_ = std::make_unique<worker::Listener>(*core_, *fetcher_,
                                                 [this] { maintainer_->CheckNow(); });
  maintainer_ = std::make_unique<worker::Maintainer>(*core_, Info());
  PGJOBS_RETURN_IF_ERROR(maintainer_->Start());
  completer_->Start();
  pool_->Start();
  fetcher_->Start();
  listener_->Start();
  started_ = true;
  core_->log->info("worker started worker_id={} queues={} tasks={}", options_.worker_id,
                   nlohmann::json(options_.queues).dump(), tasks.size());
  return Status::Ok();
}

void Worker::Impl::WarnRedisQueuesWithoutRedis(pg::Connection& conn) {
  auto redis_queues = store::RedisQueues(conn);
  if (!redis_queues.ok()) return;  // an older schema or a passing error: nothing to say
  for (const store::RedisQueue& q : *redis_queues) {
    if (options_.queues.count(q.name) == 0) continue;
    core_->log->warn("queue {} is a Redis queue, but this worker has no redis.url{}: it claims "
                     "the queue's jobs from PostgreSQL",
                     q.name, broker::RedisSupported() ? "" : " (and no Redis support built in)");
  }
}

void Worker::Impl::GiveBack(const std::vector<store::JobKey>& ids, const std::string& reason) {
  if (ids.empty()) return;
  pg::Connection conn(options_.dsn, &core_->catalog, "pgjobs worker shutdown");
  auto given = store::GiveBack(conn, options_.worker_id, ids, reason);
  if (!given.ok()) {
    core_->log->warn("could not give {} jobs back; they return when their lease expires: {}",
                     ids.size(), given.status().message());
    return;
  }
  core_->counters.given_back += static_cast<int64_t>(given->size());
  if (core_->broker != nullptr) core_->broker->Settled(*given);
  for (const store::JobKey& key : *given) core_->tracker.Remove(key);
  core_->log->info("gave {} unfinished jobs back to the queue", given->size());
}

void Worker::Impl::Stop(std::chrono::milliseconds drain) {
  {
    std::unique_lock<std::mutex> lock(stop_mu_);
    if (!started_ || stopped_) return;
    if (stopping_) {
      // Another thread is stopping the worker: make it hard if asked for no
      // drain, and wait for it to finish.
      if (drain.count() == 0) {
        hard_ = true;
        if (pool_) pool_->Interrupt();
      }
      stopped_cv_.wait(lock, [&] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  core_->log->info("worker stopping: no new claims; draining for up to {} ms", drain.count());
  fetcher_->Stop();
  GiveBack(pool_->TakeQueued(), "worker shut down before the job started");
  if (hard_) pool_->Interrupt();
  if (!pool_->WaitIdle(Clock::now() + drain)) {
    // Drain time is over (or a hard stop): stop what still runs and give it
    // back at once; late results are fenced out when they arrive.
    core_->tracker.StopAll(worker::StopReason::kShutdown);
    // Only claims whose handler has not returned: outcomes already handed to
    // the completer are written when it stops, not thrown away.
    std::vector<store::JobKey> running;
    for (const store::JobKey& key : core_->tracker.Keys()) {
      auto job = core_->tracker.Find(key);
      if (job && job->started.load() && !job->finished.load()) running.push_back(key);
    }
    GiveBack(running, "worker shut down before the job finished");
  }
  pool_->Stop();
  completer_->Stop();
  if (broker_) broker_->Stop();  // after the completer: its outcomes are acknowledged
  listener_->Stop();
  maintainer_->Stop();
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopped_ = true;
  }
  stopped_cv_.notify_all();
  core_->log->info("worker stopped worker_id={}", options_.worker_id);
}

void Worker::Impl::RequestStop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (++stop_requests_ == 1) {
    stopper_ = std::thread([this] { Stop(options_.drain_timeout); });
    return;
  }
  hard_ = true;
  if (pool_) pool_->Interrupt();
}

void Worker::Impl::Wait() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stopped_cv_.wait(lock, [&] { return stopped_ || !started_; });
  lock.unlock();
  if (stopper_.joinable()) stopper_.join();
}

WorkerStats Worker::Impl::Stats() const {
  WorkerStats s;
  if (!core_) return s;
  const worker::Counters& c = core_->counters;
  s.claimed = c.claimed;
  s.succeeded = c.succeeded;
  s.failed = c.failed;
  s.retried = c.retried;
  s.lost = c.lost;
  s.given_back = c.given_back;
  s.rescued = c.rescued;
  s.running = c.running;
  return s;
}

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Worker::~Worker() = default;
void Worker::Register(const std::string& task, Handler handler, TaskOptions options) {
  impl_->Register(task, std::move(handler), options);
}
Status Worker::Start() { return impl_->Start(); }
void Worker::Stop(std::chrono::milliseconds drain) { impl_->Stop(drain); }
void Worker::RequestStop() { impl_->RequestStop(); }
void Worker::Wait() { impl_->Wait(); }
WorkerStats Worker::Stats() const { return impl_->Stats(); }
const std::string& Worker::id() const { return impl_->id(); }

}  // namespace pgjobs
