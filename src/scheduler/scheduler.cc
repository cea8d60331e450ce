#include "pgjobs/scheduler.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/sql_catalog.h"
#include "common/waker.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "store/job_store.h"
#include "store/index_upkeep.h"
#include "store/schedule_store.h"

namespace pgjobs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kLeaseName = "maintenance";
constexpr auto kPartitionsEvery = std::chrono::hours(1);
constexpr int kPartitionDaysAhead = 7;
// The hot table's indexes are measured this often, and rebuilt when at
// least kIndexUpkeepMinBytes and four times what their rows need.
constexpr auto kIndexUpkeepEvery = std::chrono::minutes(10);
constexpr int64_t kIndexUpkeepMinBytes = 16 << 20;

std::string DefaultId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(RandomBetween(0, 4294967295.0)));
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + suffix;
}

}  // namespace

class Scheduler::Impl {
 public:
  explicit Impl(SchedulerOptions o) : options_(std::move(o)) {
    if (options_.id.empty()) options_.id = DefaultId();
    if (!options_.logger) options_.logger = spdlog::default_logger();
  }
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  SchedulerStats Stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }
  const std::string& id() const { return options_.id; }

 private:
  void Run();
  void Listen();
  // Plans and fires until nothing is left; false on a database error.
  bool Work();
  void Maintain(Clock::time_point now);
  // Rebuilds bloated indexes of jobs on a connection and thread of its own:
  // a rebuild waits for older transactions, and ticks must not.
  void StartIndexUpkeep();
  milliseconds SleepTime();

  SchedulerOptions options_;
  std::unique_ptr<SqlCatalog> catalog_;
  std::unique_ptr<pg::Connection> conn_;
  std::unique_ptr<pg::Connection> listen_conn_;
  Waker waker_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::thread listener_;
  mutable std::mutex stats_mu_;
  SchedulerStats stats_;
  Clock::time_point next_lease_;
  Clock::time_point next_rescue_;
  Clock::time_point next_partitions_;
  Clock::time_point next_index_upkeep_;
  // When the earliest tick this scheduler made ahead comes: then the
  // schedule may make its next tick ahead.
  Clock::time_point ahead_due_;
  std::thread index_upkeep_;
  std::atomic<bool> index_upkeep_busy_{false};
  std::atomic<bool> index_upkeep_off_{false};
};

Status Scheduler::Impl::Start() {
  if (thread_.joinable()) return Status::Ok();
  if (stopping_) {
    return Status::FailedPrecondition("a stopped scheduler cannot be started again; create a new one");
  }
  if (options_.batch_size < 1) return Status::InvalidArgument("batch_size must be at least 1");
  if (options_.fire_ahead < milliseconds(0) || options_.fire_ahead > std::chrono::hours(1)) {
    return Status::InvalidArgument("fire_ahead must be between 0 (off) and 1 h (default 30 s)");
  }
  if (options_.leader_lease < std::chrono::seconds(2)) {
    return Status::InvalidArgument("leader_lease must be at least 2 s (default 15 s)");
  }
  auto catalog = SqlCatalog::Load(options_.schema);
  if (!catalog.ok()) return catalog.status();
  catalog_ = std::make_unique<SqlCatalog>(std::move(*catalog));
  conn_ = std::make_unique<pg::Connection>(options_.dsn, catalog_.get(), "pgjobs scheduler");
  listen_conn_ = std::make_unique<pg::Connection>(options_.dsn, nullptr, "pgjobs scheduler listener");
  PGJOBS_RETURN_IF_ERROR(conn_->EnsureConnected());
  {
    migrate::Migrator migrator(*conn_, *catalog_);
    PGJOBS_RETURN_IF_ERROR(migrator.CheckCurrent());
    // A role that may not plan schedules or insert their jobs would log a
    // refusal on every tick while looking alive: fail here instead.
    PGJOBS_RETURN_IF_ERROR(migrator.CheckRights(
        {{"schedules", "UPDATE"}, {"jobs", "INSERT"}, {"jobs", "UPDATE"}, {"leader", "UPDATE"}},
        "admin", "run the scheduler"));
  }
  auto now = Clock::now();
  next_lease_ = next_rescue_ = next_partitions_ = next_index_upkeep_ = now;
  thread_ = std::thread([this] { Run(); });
  listener_ = std::thread([this] { Listen(); });
  options_.logger->info("scheduler started scheduler_id={}", options_.id);
  return Status::Ok();
}

void Scheduler::Impl::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  waker_.Wake();
  thread_.join();
  listener_.join();
  if (index_upkeep_.joinable()) index_upkeep_.join();
  if (Stats().leader) {
    (void)store::ReleaseLease(*conn_, kLeaseName, options_.id);
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.leader = false;
  }
  options_.logger->info("scheduler stopped scheduler_id={}", options_.id);
}

void Scheduler::Impl::Listen() {
  Backoff backoff;
  bool listening = false;
  const std::string channel = catalog_->schema() + "_schedules";
  while (!stopping_) {
    if (!listening) {
      if (!listen_conn_->Listen(channel).ok()) {
        std::this_thread::sleep_for(std::min(backoff.Next(), milliseconds(1000)));
        continue;
      }
      listening = true;
      backoff.Reset();
      waker_.Wake();  // changes made while away: look now
    }
    auto notes = listen_conn_->WaitForNotifications(milliseconds(200));
    if (!notes.ok()) {
      listen_conn_->Disconnect();
      listening = false;
      continue;
    }
    if (!notes->empty()) waker_.Wake();
  }
}

bool Scheduler::Impl::Work() {
  while (!stopping_) {
    auto planned = store::PlanSchedules(*conn_, options_.batch_size);
    if (!planned.ok()) {
      options_.logger->warn("{}", planned.status().message());
      return false;
    }
    double ahead = static_cast<double>(options_.fire_ahead.count()) / 1000.0;
    auto fired = store::FireDueSchedules(*conn_, options_.batch_size, ahead);
    if (!fired.ok()) {
      options_.logger->warn("{}", fired.status().message());
      return false;
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.planned += planned->planned;
      stats_.fired += fired->fired;
      stats_.skipped += fired->skipped;
      stats_.fired_ahead += fired->ahead;
      stats_.max_lateness_seconds = std::max(stats_.max_lateness_seconds, fired->max_lateness_seconds);
    }
    for (const std::string& refused : fired->refused) {
      options_.logger->warn("schedule {}", refused);
    }
    if (planned->errors > 0) {
      options_.logger->warn("{} schedules have an invalid expression or time zone; see "
                            "`pgjobs schedules list`", planned->errors);
    }
    if (fired->first_ahead_in_seconds) {
      auto in = static_cast<int64_t>(*fired->first_ahead_in_seconds * 1000);
      auto at = Clock::now() + milliseconds(in);
      if (ahead_due_ <= Clock::now() || at < ahead_due_) ahead_due_ = at;
    }
    // A schedule that fired a due tick may now make its next one ahead:
    // look once more while schedules were handled.
    bool again = options_.fire_ahead.count() > 0 && fired->schedules > 0;
    if (!planned->full && !fired->full && !again) return true;
  }
  return true;
}

void Scheduler::Impl::Maintain(Clock::time_point now) {
  if (now >= next_lease_) {
    double seconds = static_cast<double>(options_.leader_lease.count()) / 1000.0;
    auto held = store::AcquireLease(*conn_, kLeaseName, options_.id, seconds);
    bool leader = held.ok() && *held;
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      if (leader != stats_.leader) {
        options_.logger->info("{} scheduler_id={}",
                              leader ? "became the maintenance leader"
                                     : "is no longer the maintenance leader",
                              options_.id);
      }
      stats_.leader = leader;
    }
    next_lease_ = now + options_.leader_lease / 3;
  }
  if (!Stats().leader) return;
  if (now >= next_rescue_) {
    auto rescued = store::RescueExpired(*conn_, 1000);
    if (rescued.ok()) {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.rescued += static_cast<int64_t>(rescued->retried.size() + rescued->failed.size());
    }
    (void)store::PruneWorkers(*conn_, 300);
    next_rescue_ = now + options_.rescue_interval;
  }
  if (now >= next_partitions_) {
    auto created = store::EnsurePartitions(*conn_, kPartitionDaysAhead);
    if (!created.ok()) options_.logger->warn("{}", created.status().message());
    double retention = static_cast<double>(options_.history_retention.count()) / 1000.0;
    auto dropped = store::DropOldPartitions(*conn_, retention);
    if (!dropped.ok()) options_.logger->warn("{}", dropped.status().message());
    if (dropped.ok() && dropped->value_or(0) > 0) {
      options_.logger->info("dropped {} history partitions past retention", **dropped);
    }
    next_partitions_ = now + kPartitionsEvery;
  }
  if (now >= next_index_upkeep_ && !index_upkeep_busy_ && !index_upkeep_off_) {
    StartIndexUpkeep();
    next_index_upkeep_ = now + kIndexUpkeepEvery;
  }
}

void Scheduler::Impl::StartIndexUpkeep() {
  if (index_upkeep_.joinable()) index_upkeep_.join();
  index_upkeep_busy_ = true;
  index_upkeep_ = std::thread([this] {
    pg::Connection conn(options_.dsn, catalog_.get(), "pgjobs scheduler index upkeep");
    // Never queue behind a lock for long, never run away.
    conn.SetSessionSql("SET lock_timeout = '5s'; SET statement_timeout = '60s'");
    auto done = store::ShrinkJobIndexes(conn, kIndexUpkeepMinBytes);
    if (!done.ok() && done.status().message().find("must be owner") != std::string::npos) {
      // A least-privilege scheduler role (pgjobs_admin) may not rebuild
      // indexes; say so once, not every 10 minutes.
      index_upkeep_off_ = true;
      options_.logger->info("index upkeep of the jobs table is off: this scheduler's database role "
                            "does not own the table ({}); the owner can run REINDEX INDEX "
                            "CONCURRENTLY on the indexes of jobs after a big backlog drains",
                            done.status().message());
    } else if (!done.ok()) {
      options_.logger->warn("index upkeep of the jobs table: {}", done.status().message());
    } else {
      for (const std::string& name : done->dropped) {
        options_.logger->info("dropped {}, left by an interrupted rebuild", name);
      }
      for (const std::string& name : done->rebuilt) {
        options_.logger->info("rebuilt {}: a drained backlog had left it far larger than its "
                              "rows", name);
      }
    }
    index_upkeep_busy_ = false;
  });
}

milliseconds Scheduler::Impl::SleepTime() {
  milliseconds sleep = options_.max_sleep;
  auto next = store::NextScheduleIn(*conn_);
  if (!next.ok()) return milliseconds(1000);
  // Another scheduler may be planning it right now (its row is locked):
  // look again shortly rather than spin.
  if (next->needs_plan) return milliseconds(50);
  auto now = Clock::now();
  if (next->seconds) {
    // Wake just after the tick is due by the database's clock, or as soon as
    // it may be made ahead. When that time has passed, the earliest tick
    // waits on a tick made ahead before it (or has overlap "skip"): wake
    // when that tick made ahead comes, or when the earliest is due.
    double seconds = *next->seconds;
    double ahead = static_cast<double>(options_.fire_ahead.count()) / 1000.0;
    if (ahead > 0 && seconds - ahead > 0) {
      seconds -= ahead;
    } else if (ahead > 0 && ahead_due_ > now) {
      seconds = std::min(seconds, std::chrono::duration<double>(ahead_due_ - now).count());
    }
    auto until = milliseconds(static_cast<int64_t>(seconds * 1000) + 1);
    sleep = std::min(sleep, std::max(until, milliseconds(0)));
  }
  // The lease is tried by every scheduler; rescue is due only in the leader
  // (a follower's next_rescue_ stays in the past: counting it would spin).
  auto wake_by = [&](Clock::time_point t) {
    sleep = std::min(sleep, std::chrono::duration_cast<milliseconds>(t - now) + milliseconds(1));
  };
  wake_by(next_lease_);
  if (Stats().leader) wake_by(next_rescue_);
  return std::max(sleep, milliseconds(0));
}

void Scheduler::Impl::Run() {
  Backoff backoff;
  while (!stopping_) {
    Maintain(Clock::now());
    if (!Work()) {
      waker_.WaitFor(backoff.Next());
      continue;
    }
    backoff.Reset();
    milliseconds sleep = SleepTime();
    if (sleep.count() > 0) waker_.WaitFor(sleep);
  }
}

Scheduler::Scheduler(SchedulerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Scheduler::~Scheduler() = default;
Status Scheduler::Start() { return impl_->Start(); }
void Scheduler::Stop() { impl_->Stop(); }
SchedulerStats Scheduler::Stats() const { return impl_->Stats(); }
const std::string& Scheduler::id() const { return impl_->id(); }

}  // namespace pgjobs
