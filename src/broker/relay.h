// The relay: pushes ready jobs of Redis queues from PostgreSQL into their
// Redis streams (README, "Redis broker"). It runs in every worker that has a
// Redis broker; one of them, the holder of a PostgreSQL advisory lock, does
// the work, so pushes are not duplicated. A round, per Redis queue that is
// neither paused nor limited: count the entries no worker has read yet
// (XLEN - XPENDING), mark up to (window - that) ready jobs as pushed (relay_dispatch) and XADD them in
// one pipelined round trip. A failed push unmarks its jobs. Woken by the
// jobs NOTIFY, soon again after a round that pushed, else every 250 ms.
#ifndef PGJOBS_BROKER_RELAY_H_
#define PGJOBS_BROKER_RELAY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "broker/redis_client.h"
#include "common/waker.h"
#include "pg/connection.h"
#include "worker/worker_core.h"

namespace pgjobs::broker {

class Relay {
 public:
  Relay(worker::WorkerCore& core, const RedisAddress& address);
  ~Relay();
  void Start();
  void Stop();  // idempotent
  void Wake() { waker_.Wake(); }

 private:
  void Run();
  // One round over every Redis queue; returns how many jobs were pushed, or
  // an error when PostgreSQL or Redis failed.
  Result<int> Round();
  Result<int> PushQueue(const std::string& queue);

  worker::WorkerCore& core_;
  pg::Connection conn_;
  RedisClient redis_;
  Waker waker_;
  std::atomic<bool> stopping_{false};
  bool leader_ = false;
  int leader_session_ = -1;  // the PostgreSQL session that holds the lock
  std::thread thread_;
};

}  // namespace pgjobs::broker

#endif  // PGJOBS_BROKER_RELAY_H_
