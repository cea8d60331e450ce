// The Redis broker of one worker (README, "Redis broker"): a consumer thread
// reads the entries of its Redis queues' streams (XREADGROUP, blocking,
// batched, priority 9 first) into a buffer per queue and wakes the fetcher,
// which claims them in PostgreSQL (claim_ids: fenced by a new claim token,
// so a stale or duplicate entry starts no second run). An entry is
// acknowledged (XACK, then XDEL) once its claim is over: outcome committed,
// given back or fenced out; or at once when its job could not be claimed.
// Entries left with a dead consumer are taken over after one lease
// (XPENDING IDLE, then XCLAIM: XAUTOCLAIM would also take this consumer's own
// entries back from itself). The relay (relay.h) runs beside it.
#ifndef PGJOBS_BROKER_REDIS_BROKER_H_
#define PGJOBS_BROKER_REDIS_BROKER_H_

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "broker/redis_client.h"
#include "broker/relay.h"
#include "common/waker.h"
#include "worker/worker_core.h"

namespace pgjobs::broker {

class RedisBroker : public QueueBroker {
 public:
  RedisBroker(worker::WorkerCore& core, const RedisAddress& address,
              std::function<void(const std::string&)> wake,
              std::function<int(const std::string&)> room);
  ~RedisBroker() override;

  Status Start() override;
  void Stop() override;
  bool Carries(const std::string& queue) override;
  Result<std::vector<store::ClaimedJob>> Claim(pg::Connection& conn, const std::string& queue,
                                               int want) override;
  void Settled(const std::vector<store::JobKey>& keys) override;
  void Notified(const std::string& /*queue*/) override { relay_.Wake(); }

 private:
  struct Entry {
    std::string stream;
    std::string entry_id;
    int64_t job_id = 0;
    int priority = 0;
  };
  struct QueueState {
    bool carried = false;  // broker 'redis' and no global limit
    bool paused = false;
    std::vector<Entry> buffer;  // delivered, not yet claimed; best first
  };
  void Run();
  // Reads which of the worker's queues are Redis queues.
  Status Refresh();
  Status EnsureGroups(const std::vector<std::string>& queues);
  // The carried queues, each with how many entries to read for it now.
  std::vector<std::pair<std::string, size_t>> Rooms();
  // One XREADGROUP of up to count entries per stream of queues (blocks up
  // to 200 ms).
  Status Read(const std::vector<std::string>& queues, size_t count);
  // Takes over (XCLAIM) the entries other consumers have held for a lease.
  Status TakeOverIdle(const std::vector<std::string>& queues);
  // Removes from the queues' groups the consumers that hold no entry and
  // have not read for kConsumerIdleLeases leases: workers that are gone (a
  // live one removed is made again by its next read).
  Status PruneConsumers(const std::vector<std::string>& queues);
  // Adds entries of a stream reply ([[id, [field, value, ...]], ...]).
  void Deliver(const std::string& queue, int priority, const std::string& stream,
               const RedisReply& entries);
  // Acknowledges and deletes entries (best effort: an entry left behind is
  // taken over later, found stale, and acknowledged then).
  void Ack(const std::vector<Entry>& entries);
  // Entries that will not be claimed here: their pending jobs are pushed
  // again by the relay, the entries acknowledged.
  void Release(pg::Connection& conn, const std::vector<Entry>& entries);
  std::vector<Entry> TakeUncarried();

  worker::WorkerCore& core_;
  RedisAddress address_;
  std::function<void(const std::string&)> wake_;
  std::function<int(const std::string&)> room_;
  pg::Connection conn_;  // the consumer thread's, and Stop's
  RedisClient reader_;   // the consumer thread's
  std::mutex ack_mu_;
  RedisClient acker_;  // guarded by ack_mu_
  Relay relay_;
  Waker waker_;
  std::mutex mu_;
  std::map<std::string, QueueState> queues_;  // the worker's queues
  std::unordered_map<store::JobKey, Entry, store::JobKeyHash> claimed_;
  std::set<std::string> grouped_;  // queues whose groups exist in reader_'s session
  int grouped_session_ = -1;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace pgjobs::broker

#endif  // PGJOBS_BROKER_REDIS_BROKER_H_
