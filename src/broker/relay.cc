#include "broker/relay.h"

#include <algorithm>

#include "broker/redis_keys.h"
#include "store/broker_store.h"

namespace pgjobs::broker {
namespace {

// Jobs marked and pushed per statement and round trip.
constexpr int kBatch = 1000;
// How soon the relay looks again after a round that pushed jobs (the window
// may have been full), and after one that found nothing (NOTIFY wakes it
// sooner; this poll finds retries and delayed jobs that became due).
constexpr auto kBusyPoll = std::chrono::milliseconds(10);
constexpr auto kIdlePoll = std::chrono::milliseconds(250);
// How often a worker that is not the relay's leader tries to become it.
constexpr auto kLeaderRetry = std::chrono::seconds(1);

}  // namespace

Relay::Relay(worker::WorkerCore& core, const RedisAddress& address)
    : core_(core),
      conn_(core.options.dsn, &core.catalog, "pgjobs redis relay"),
      redis_(address, core.options.redis.password, std::chrono::seconds(2)) {
  conn_.SetSessionSql("SET synchronous_commit = off");
}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Relay::Stop() {
  stopping_ = true;
  waker_.Wake();
  if (thread_.joinable()) thread_.join();
  // Ends the session, and with it the leader lock: another worker's relay
  // takes over within a second.
  conn_.Disconnect();
  redis_.Disconnect();
}

void Relay::Run() {
  Backoff backoff;
  bool failing = false;
  while (!stopping_) {
    if (!leader_ || conn_.connect_count() != leader_session_) {
      leader_ = false;
      auto got = store::RelayLock(conn_);
      if (!got.ok() || !*got) {
        waker_.WaitFor(std::chrono::duration_cast<std::chrono::milliseconds>(kLeaderRetry));
        continue;
      }
      leader_ = true;
      leader_session_ = conn_.connect_count();
      core_.log->info("redis relay: this worker pushes the ready jobs of Redis queues");
    }
    auto pushed = Round();
    if (!pushed.ok()) {
      if (!failing) {
        core_.log->warn("redis relay: pushing jobs failed, retrying with backoff; jobs of Redis "
                        "queues wait in PostgreSQL meanwhile: {}",
                        pushed.status().message());
      }
      failing = true;
      waker_.WaitFor(backoff.Next());
      continue;
    }
    if (failing) core_.log->info("redis relay: pushing jobs again");
    failing = false;
    backoff.Reset();
    waker_.WaitFor(*pushed > 0 ? kBusyPoll : kIdlePoll);
  }
}

Result<int> Relay::Round() {
  auto queues = store::RedisQueues(conn_);
  if (!queues.ok()) return queues.status();
  int total = 0;
  for (const store::RedisQueue& q : *queues) {
    if (q.paused || q.limited) continue;
    auto n = PushQueue(q.name);
    if (!n.ok()) return n.status();
    total += *n;
  }
  return total;
}

Result<int> Relay::PushQueue(const std::string& queue) {
  const RedisOptions& o = core_.options.redis;
  // The window counts entries not yet delivered to a worker: XLEN (entries
  // are deleted once acknowledged) minus those delivered and not yet
  // acknowledged (XPENDING), which are running or about to be claimed.
  std::vector<std::vector<std::string>> lengths;
  for (const std::string& key : StreamKeys(o.key_prefix, queue)) {
    lengths.push_back({"XLEN", key});
    lengths.push_back({"XPENDING", key, kGroup});
  }
  auto held = redis_.Pipeline(lengths);
  if (!held.ok()) return held.status();
  int64_t in_streams = 0;
  for (size_t i = 0; i + 1 < held->size(); i += 2) {
    const RedisReply& pending = (*held)[i + 1];
    int64_t delivered = pending.elements.empty() ? 0 : pending.elements[0].integer;
    in_streams += std::max<int64_t>((*held)[i].integer - delivered, 0);
  }
  int room = static_cast<int>(std::min<int64_t>(o.window - in_streams, kBatch));
  if (room <= 0) return 0;
  double redispatch = static_cast<double>(o.redispatch_after.count()) / 1000.0;
  auto jobs = store::RelayDispatch(conn_, queue, room, redispatch);
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty()) return 0;
  // Best first, so that a reader woken by the first XADD gets the best job.
  std::stable_sort(jobs->begin(), jobs->end(), [](const store::Dispatched& a,
                                                  const store::Dispatched& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
  });
  std::vector<std::vector<std::string>> adds;
  std::vector<int64_t> ids;
  for (const store::Dispatched& d : *jobs) {
    adds.push_back({"XADD", StreamKey(o.key_prefix, queue, d.priority), "*", "id",
                    std::to_string(d.id)});
    ids.push_back(d.id);
  }
  auto added = redis_.Pipeline(adds);
  std::string error = added.ok() ? "" : added.status().message();
  if (added.ok()) {
    for (const RedisReply& r : *added) {
      if (r.is_error()) error = "XADD: " + r.str;
    }
  }
  if (!error.empty()) {
    // Pushed again by a later round; if this fails too, after redispatch_after.
    Status back = store::RelayUndispatch(conn_, ids);
    if (!back.ok()) core_.log->warn("redis relay: {}", back.message());
    return Status::Unavailable("push " + std::to_string(ids.size()) + " jobs of queue " + queue +
                               ": " + error);
  }
  return static_cast<int>(jobs->size());
}

}  // namespace pgjobs::broker
