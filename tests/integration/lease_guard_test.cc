// A worker whose lease renewals stop getting through must stop its jobs
// before their leases expire, so that another worker's rescue never re-runs a
// job that still runs here. The renewals are stopped by freezing (SIGSTOP)
// the database backend of the worker's maintainer connection: its next
// statement then blocks, as on a connection cut without a reset.
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "pgjobs/worker.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

// Sends SIGCONT on scope exit whatever happens, so the cluster never keeps a
// frozen backend.
class FrozenBackend {
 public:
  explicit FrozenBackend(pid_t pid) : pid_(pid) { frozen_ = kill(pid_, SIGSTOP) == 0; }
  ~FrozenBackend() { Thaw(); }
  void Thaw() {
    if (frozen_) kill(pid_, SIGCONT);
    frozen_ = false;
  }
  bool frozen() const { return frozen_; }

 private:
  pid_t pid_;
  bool frozen_ = false;
};

TEST(LeaseGuard, AJobWhoseLeaseCannotBeRenewedIsStoppedBeforeTheLeaseExpires) {
  TestSchema schema;
  const std::string s = schema.name();
  WorkerOptions o;
  o.dsn = schema.dsn();
  o.schema = s;
  o.queues = {{"default", 1}};
  o.lease = 6s;  // renewed every 2 s; stopped 1.5 s before it runs out
  o.logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  Worker worker(o);

  std::atomic<bool> running{false};
  std::atomic<bool> saw_stop{false};
  std::mutex mu;
  std::string stop_reason, before_expiry;
  TaskOptions fast_retry;
  fast_retry.retry.base = 10ms;
  worker.Register("long", [&](JobContext& ctx) {
    if (ctx.job().attempt > 1) return HandlerResult::Success(R"("second run")");
    running = true;
    auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!ctx.stop_requested() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(10ms);
    }
    if (ctx.stop_requested()) {
      // Ask the database, on a connection of our own, whether the lease it
      // holds for this claim is still live at this instant.
      std::string live = QueryValue(o.dsn, "SELECT clock_timestamp() < lease_expires_at FROM " + s +
                                               ".jobs WHERE id = " + std::to_string(ctx.job().id));
      std::lock_guard<std::mutex> lock(mu);
      stop_reason = ctx.stop_reason();
      before_expiry = live;
      saw_stop = true;
    }
    return HandlerResult::Failure("stopped");
  }, fast_retry);
  ASSERT_TRUE(worker.Start().ok());
  testing::Execute(o.dsn, "INSERT INTO " + s + ".jobs (task, max_attempts) VALUES ('long', 3)");
  ASSERT_TRUE(Eventually([&] { return running.load(); }, 10s));

  std::string pid = QueryValue(o.dsn, "SELECT pid FROM pg_stat_activity "
                                      "WHERE application_name = 'pgjobs worker maintainer'");
  ASSERT_FALSE(pid.empty()) << "the maintainer's backend was not found";
  FrozenBackend frozen(static_cast<pid_t>(std::stoi(pid)));
  ASSERT_TRUE(frozen.frozen()) << "could not SIGSTOP backend " << pid;
  auto frozen_at = std::chrono::steady_clock::now();

  // The last renewal was at most 2 s before the freeze: the lease runs out
  // at most 6 s after it, and the stop comes 1.5 s before that.
  ASSERT_TRUE(Eventually([&] { return saw_stop.load(); }, 8s))
      << "the job was not stopped while its lease could not be renewed";
  double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - frozen_at).count();
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ("lease lost", stop_reason);
    EXPECT_EQ("t", before_expiry) << "the job was stopped only after its lease expired";
  }
  EXPECT_LT(after, 6.0);
  frozen.Thaw();

  // The stopped run is a failed attempt (or a worker_lost rescue); the job
  // runs again and succeeds: nothing is lost.
  ASSERT_TRUE(Eventually([&] { return worker.Stats().succeeded == 1; }, 30s));
  worker.Stop(5s);
  EXPECT_EQ("succeeded|2|\"second run\"",
            QueryValue(o.dsn, "SELECT concat_ws('|', state, attempt, result) FROM " + s + ".job_history"));
  std::string kind = QueryValue(o.dsn, "SELECT errors->0->>'kind' FROM " + s + ".job_history");
  EXPECT_TRUE(kind == "lease_lost" || kind == "worker_lost") << kind;
}

}  // namespace
}  // namespace pgjobs
