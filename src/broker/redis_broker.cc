#include "broker/redis_broker.h"

#include <algorithm>
#include <cstdlib>

#include "broker/redis_keys.h"
#include "store/broker_store.h"

namespace pgjobs::broker {
namespace {

using Clock = std::chrono::steady_clock;

// Entries are read for what the fetcher would claim now (the executors'
// free slots and prefetch, ExecutorPool::ClaimSize), at most this many per
// queue: read entries stay pending for this consumer until claimed, so a
// worker does not sit on entries that other workers could run.
constexpr size_t kBufferPerQueue = 1000;
constexpr auto kBlock = std::chrono::milliseconds(200);
constexpr auto kRefreshEvery = std::chrono::seconds(1);
// A consumer that holds no entry and has not read for this many leases is a
// worker that is gone: its entries were taken over after one lease.
constexpr int kConsumerIdleLeases = 4;

bool ParseId(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  out = std::strtoll(text.c_str(), nullptr, 10);
  return out > 0;
}

}  // namespace

RedisBroker::RedisBroker(worker::WorkerCore& core, const RedisAddress& address,
                         std::function<void(const std::string&)> wake,
                         std::function<int(const std::string&)> room)
    : core_(core),
      address_(address),
      wake_(std::move(wake)),
      room_(std::move(room)),
      conn_(core.options.dsn, &core.catalog, "pgjobs redis consumer"),
      reader_(address, core.options.redis.password, std::chrono::seconds(2)),
      acker_(address, core.options.redis.password, std::chrono::seconds(2)),
      relay_(core, address) {
  for (const auto& [queue, concurrency] : core_.options.queues) queues_[queue] = QueueState{};
}

RedisBroker::~RedisBroker() { Stop(); }

Status RedisBroker::Start() {
  PGJOBS_RETURN_IF_ERROR(Refresh());
  thread_ = std::thread([this] { Run(); });
  relay_.Start();
  return Status::Ok();
}

void RedisBroker::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  waker_.Wake();
  if (thread_.joinable()) thread_.join();
  relay_.Stop();
  std::vector<Entry> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [queue, state] : queues_) {
      for (Entry& e : state.buffer) left.push_back(std::move(e));
      state.buffer.clear();
    }
  }
  Release(conn_, left);
}

bool RedisBroker::Carries(const std::string& queue) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(queue);
  return it != queues_.end() && it->second.carried;
}

Status RedisBroker::Refresh() {
  auto redis_queues = store::RedisQueues(conn_);
  if (!redis_queues.ok()) return redis_queues.status();
  std::vector<std::string> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [queue, state] : queues_) {
      auto it = std::find_if(redis_queues->begin(), redis_queues->end(),
                             [&](const store::RedisQueue& q) { return q.name == queue; });
      bool carried = it != redis_queues->end() && !it->limited;
      state.paused = it != redis_queues->end() && it->paused;
      if (carried == state.carried) continue;
      state.carried = carried;
      changed.push_back(queue);
      if (carried) {
        core_.log->info("queue {}: its jobs come through Redis", queue);
      } else if (it != redis_queues->end()) {
        core_.log->info("queue {}: broker redis, but it has a global limit: claimed through "
                        "PostgreSQL, where the limit is exact", queue);
      } else {
        core_.log->info("queue {}: its jobs are claimed from PostgreSQL again", queue);
      }
    }
  }
  for (const std::string& queue : changed) wake_(queue);
  return Status::Ok();
}

std::vector<RedisBroker::Entry> RedisBroker::TakeUncarried() {
  std::vector<Entry> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [queue, state] : queues_) {
    if (state.carried || state.buffer.empty()) continue;
    for (Entry& e : state.buffer) out.push_back(std::move(e));
    state.buffer.clear();
  }
  return out;
}

void RedisBroker::Run() {
  Backoff backoff;
  bool down = false;
  Clock::time_point next_refresh = Clock::now() + kRefreshEvery;
  Clock::time_point next_takeover = Clock::now();
  Clock::time_point next_prune = Clock::now() + core_.options.lease;
  while (!stopping_) {
    if (Clock::now() >= next_refresh) {
      Status st = Refresh();
      if (!st.ok()) core_.log->warn("redis consumer: {}", st.message());
      next_refresh = Clock::now() + kRefreshEvery;
      Release(conn_, TakeUncarried());
    }
    std::vector<std::string> carried;
    std::vector<std::string> readable;
    size_t want = 0;
    for (const auto& [queue, room] : Rooms()) {
      carried.push_back(queue);
      if (room > 0) readable.push_back(queue);
      want = std::max(want, room);
    }
    if (carried.empty()) {
      waker_.WaitFor(std::chrono::milliseconds(200));
      continue;
    }
    Status st = reader_.EnsureConnected();
    if (st.ok() && reader_.connect_count() != grouped_session_) {
      grouped_.clear();
      grouped_session_ = reader_.connect_count();
    }
    if (st.ok()) st = EnsureGroups(carried);
    if (st.ok() && Clock::now() >= next_takeover) {
      st = TakeOverIdle(carried);
      next_takeover = Clock::now() + core_.options.lease / 2;
    }
    if (st.ok() && Clock::now() >= next_prune) {
      st = PruneConsumers(carried);
      next_prune = Clock::now() + core_.options.lease * 2;
    }
    if (st.ok() && !readable.empty()) st = Read(readable, want);
    if (!st.ok()) {
      if (!down) {
        core_.log->warn("redis unreachable: jobs of Redis queues wait in PostgreSQL; reconnecting "
                        "with backoff: {}",
                        st.message());
      }
      down = true;
      reader_.Disconnect();
      waker_.WaitFor(backoff.Next());
      continue;
    }
    if (down) core_.log->info("redis reachable again: consuming Redis queues");
    down = false;
    backoff.Reset();
    if (readable.empty()) waker_.WaitFor(std::chrono::milliseconds(50));
  }
}

Status RedisBroker::EnsureGroups(const std::vector<std::string>& queues) {
  std::vector<std::vector<std::string>> creates;
  std::vector<std::string> added;
  for (const std::string& queue : queues) {
    if (grouped_.count(queue) != 0) continue;
    added.push_back(queue);
    // From id 0: entries pushed before the group existed are delivered too.
    for (const std::string& key : StreamKeys(core_.options.redis.key_prefix, queue)) {
      creates.push_back({"XGROUP", "CREATE", key, kGroup, "0", "MKSTREAM"});
    }
  }
  if (creates.empty()) return Status::Ok();
  auto replies = reader_.Pipeline(creates);
  if (!replies.ok()) return replies.status();
  for (const RedisReply& r : *replies) {
    if (r.is_error() && r.str.rfind("BUSYGROUP", 0) != 0) {
      return Status::Unavailable("XGROUP CREATE: " + r.str);
    }
  }
  grouped_.insert(added.begin(), added.end());
  return Status::Ok();
}

std::vector<std::pair<std::string, size_t>> RedisBroker::Rooms() {
  std::vector<std::pair<std::string, bool>> carried;  // queue, paused
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [queue, state] : queues_) {
      if (state.carried) carried.emplace_back(queue, state.paused);
    }
  }
  std::vector<std::pair<std::string, size_t>> out;
  for (const auto& [queue, paused] : carried) {
    size_t want = paused ? 0 : static_cast<size_t>(std::max(room_(queue), 0));
    std::lock_guard<std::mutex> lock(mu_);
    size_t buffered = queues_[queue].buffer.size();
    want = std::min(want, kBufferPerQueue);
    out.emplace_back(queue, want > buffered ? want - buffered : 0);
  }
  return out;
}

Status RedisBroker::Read(const std::vector<std::string>& queues, size_t count) {
  std::vector<std::string> keys;
  std::map<std::string, std::pair<std::string, int>> owner;  // key -> queue, priority
  for (const std::string& queue : queues) {
    for (int p = kPriorities - 1; p >= 0; --p) {
      std::string key = StreamKey(core_.options.redis.key_prefix, queue, p);
      owner[key] = {queue, p};
      keys.push_back(std::move(key));
    }
  }
  std::vector<std::string> argv = {"XREADGROUP", "GROUP", kGroup, core_.options.worker_id,
                                   "COUNT", std::to_string(std::max<size_t>(count, 1)),
                                   "BLOCK", std::to_string(kBlock.count()), "STREAMS"};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), keys.size(), ">");
  auto reply = reader_.BlockingCommand(argv, kBlock);
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) {
    if (reply->str.rfind("NOGROUP", 0) == 0) {
      // Redis lost its data (restart without persistence, FLUSHALL): the
      // groups are made again; jobs pushed before are pushed again by the
      // relay after redispatch_after.
      core_.log->warn("redis has lost the consumer groups (restarted empty?); creating them again");
      grouped_.clear();
      return Status::Ok();
    }
    return Status::Unavailable("XREADGROUP: " + reply->str);
  }
  if (reply->type != RedisReply::Type::kArray) return Status::Ok();  // timed out
  for (const RedisReply& stream : reply->elements) {
    if (stream.elements.size() != 2) continue;
    auto it = owner.find(stream.elements[0].str);
    if (it == owner.end()) continue;
    Deliver(it->second.first, it->second.second, it->first, stream.elements[1]);
  }
  return Status::Ok();
}

Status RedisBroker::TakeOverIdle(const std::vector<std::string>& queues) {
  // XPENDING, then XCLAIM of the entries of other consumers only: this
  // worker's own entries (buffered or running) are never taken back from
  // itself, however long its jobs take.
  const std::string idle = std::to_string(core_.options.lease.count());
  std::vector<std::vector<std::string>> looks;
  std::vector<std::pair<std::string, int>> owners;
  for (const std::string& queue : queues) {
    for (int p = kPriorities - 1; p >= 0; --p) {
      looks.push_back({"XPENDING", StreamKey(core_.options.redis.key_prefix, queue, p), kGroup,
                       "IDLE", idle, "-", "+", "100"});
      owners.emplace_back(queue, p);
    }
  }
  auto pending = reader_.Pipeline(looks);
  if (!pending.ok()) return pending.status();
  std::vector<std::vector<std::string>> claims;
  std::vector<size_t> claim_of;  // index into owners
  for (size_t i = 0; i < pending->size(); ++i) {
    const RedisReply& r = (*pending)[i];
    if (r.is_error()) continue;  // NOGROUP: made on the next read
    std::vector<std::string> claim = {"XCLAIM", looks[i][1], kGroup, core_.options.worker_id,
                                      idle};
    for (const RedisReply& e : r.elements) {
      if (e.elements.size() < 2 || e.elements[1].str == core_.options.worker_id) continue;
      claim.push_back(e.elements[0].str);
    }
    if (claim.size() == 5) continue;
    claims.push_back(std::move(claim));
    claim_of.push_back(i);
  }
  if (claims.empty()) return Status::Ok();
  auto taken = reader_.Pipeline(claims);
  if (!taken.ok()) return taken.status();
  for (size_t c = 0; c < taken->size(); ++c) {
    const RedisReply& r = (*taken)[c];
    if (r.is_error()) continue;
    const auto& [queue, priority] = owners[claim_of[c]];
    core_.log->info("redis: took over {} entries of queue {} that another consumer held for a "
                    "lease (dead or stuck)", r.elements.size(), queue);
    Deliver(queue, priority, claims[c][1], r);
  }
  return Status::Ok();
}

Status RedisBroker::PruneConsumers(const std::vector<std::string>& queues) {
  // XINFO CONSUMERS replies, per consumer, the pairs name, pending, idle (ms
  // since it last read or claimed), and more in newer servers. A consumer
  // removed while it reads again loses only its pending list: its jobs are
  // claimed in PostgreSQL, so they end there or come back through the
  // rescue and redispatch_after, never lost.
  const int64_t idle_limit_ms = (core_.options.lease * kConsumerIdleLeases).count();
  std::vector<std::vector<std::string>> looks;
  for (const std::string& queue : queues) {
    for (const std::string& key : StreamKeys(core_.options.redis.key_prefix, queue)) {
      looks.push_back({"XINFO", "CONSUMERS", key, kGroup});
    }
  }
  if (looks.empty()) return Status::Ok();
  auto infos = reader_.Pipeline(looks);
  if (!infos.ok()) return infos.status();
  std::vector<std::vector<std::string>> removals;
  for (size_t i = 0; i < infos->size(); ++i) {
    const RedisReply& r = (*infos)[i];
    if (r.is_error()) continue;  // NOGROUP: made on the next read
    for (const RedisReply& consumer : r.elements) {
      std::string name;
      int64_t pending = -1;
      int64_t idle = -1;
      const auto& f = consumer.elements;
      for (size_t k = 0; k + 1 < f.size(); k += 2) {
        if (f[k].str == "name") name = f[k + 1].str;
        if (f[k].str == "pending") pending = f[k + 1].integer;
        if (f[k].str == "idle") idle = f[k + 1].integer;
      }
      if (name.empty() || name == core_.options.worker_id) continue;
      if (pending != 0 || idle < idle_limit_ms) continue;
      removals.push_back({"XGROUP", "DELCONSUMER", looks[i][2], kGroup, name});
    }
  }
  if (removals.empty()) return Status::Ok();
  auto removed = reader_.Pipeline(removals);
  if (!removed.ok()) return removed.status();
  std::set<std::string> names;
  for (size_t i = 0; i < removed->size(); ++i) {
    if (!(*removed)[i].is_error()) names.insert(removals[i][4]);
  }
  std::string listed;
  for (const std::string& name : names) listed += (listed.empty() ? "" : ", ") + name;
  if (!names.empty()) {
    core_.log->info("redis: removed {} consumers idle for over {} s with no entry (workers gone) "
                    "from the groups: {}",
                    names.size(), idle_limit_ms / 1000, listed);
  }
  return Status::Ok();
}

void RedisBroker::Deliver(const std::string& queue, int priority, const std::string& stream,
                          const RedisReply& entries) {
  std::vector<Entry> bad;
  bool added = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    for (const RedisReply& e : entries.elements) {
      if (e.elements.size() != 2) continue;  // deleted meanwhile (nil)
      Entry entry{stream, e.elements[0].str, 0, priority};
      const RedisReply& fields = e.elements[1];
      for (size_t f = 0; f + 1 < fields.elements.size(); f += 2) {
        if (fields.elements[f].str == "id") ParseId(fields.elements[f + 1].str, entry.job_id);
      }
      if (entry.job_id == 0) {
        bad.push_back(std::move(entry));
        continue;
      }
      state.buffer.push_back(std::move(entry));
      added = true;
    }
    // Best first; stable, so within a priority in the order read.
    std::stable_sort(state.buffer.begin(), state.buffer.end(),
                     [](const Entry& a, const Entry& b) { return a.priority > b.priority; });
  }
  if (!bad.empty()) {
    core_.log->warn("redis: {} entries of queue {} carry no job id; dropped", bad.size(), queue);
    Ack(bad);
  }
  if (added) wake_(queue);
}

Result<std::vector<store::ClaimedJob>> RedisBroker::Claim(pg::Connection& conn,
                                                          const std::string& queue, int want) {
  std::vector<Entry> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    size_t n = std::min(state.buffer.size(), static_cast<size_t>(std::max(want, 0)));
    taken.assign(std::make_move_iterator(state.buffer.begin()),
                 std::make_move_iterator(state.buffer.begin() + static_cast<ptrdiff_t>(n)));
    state.buffer.erase(state.buffer.begin(), state.buffer.begin() + static_cast<ptrdiff_t>(n));
  }
  waker_.Wake();  // room to read again
  if (taken.empty()) return std::vector<store::ClaimedJob>{};
  std::vector<int64_t> ids;
  for (const Entry& e : taken) ids.push_back(e.job_id);
  auto jobs = store::ClaimIds(conn, queue, ids, core_.tasks_literal, core_.options.worker_id,
                              core_.lease_seconds());
  if (!jobs.ok()) {
    // The claim may have committed: its jobs are then found by the
    // maintainer (claims held without knowing it); the entries are read again.
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    state.buffer.insert(state.buffer.begin(), std::make_move_iterator(taken.begin()),
                        std::make_move_iterator(taken.end()));
    return jobs.status();
  }
  std::vector<Entry> stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::unordered_map<int64_t, const store::ClaimedJob*> by_id;
    for (const store::ClaimedJob& j : *jobs) by_id[j.id] = &j;
    for (Entry& e : taken) {
      auto it = by_id.find(e.job_id);
      if (it == by_id.end()) {
        stale.push_back(std::move(e));
        continue;
      }
      claimed_[it->second->key()] = std::move(e);
      by_id.erase(it);  // a second entry of the same job is stale
    }
  }
  if (!stale.empty()) Release(conn, stale);
  return jobs;
}

void RedisBroker::Release(pg::Connection& conn, const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  std::vector<int64_t> ids;
  for (const Entry& e : entries) ids.push_back(e.job_id);
  // Only pending jobs are touched: a job claimed, finished or cancelled
  // meanwhile keeps its state; a pending one is pushed again when it is ready
  // (and its queue not paused).
  Status st = store::RelayUndispatch(conn, ids);
  if (!st.ok()) core_.log->warn("redis consumer: {} (pushed again after redispatch_after)",
                                st.message());
  Ack(entries);
}

void RedisBroker::Settled(const std::vector<store::JobKey>& keys) {
  std::vector<Entry> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const store::JobKey& k : keys) {
      auto it = claimed_.find(k);
      if (it == claimed_.end()) continue;
      done.push_back(std::move(it->second));
      claimed_.erase(it);
    }
  }
  Ack(done);
}

void RedisBroker::Ack(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  std::vector<std::vector<std::string>> commands;
  for (const Entry& e : entries) {
    commands.push_back({"XACK", e.stream, kGroup, e.entry_id});
    commands.push_back({"XDEL", e.stream, e.entry_id});
  }
  std::lock_guard<std::mutex> lock(ack_mu_);
  auto replies = acker_.Pipeline(commands);
  if (!replies.ok()) {
    // Left pending: taken over after a lease by some consumer, found
    // settled by its claim, and acknowledged then.
    core_.log->debug("redis: acknowledging {} entries failed: {}", entries.size(),
                     replies.status().message());
  }
}

}  // namespace pgjobs::broker
