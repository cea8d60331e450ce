// A queue broker other than PostgreSQL's own claim, as the worker's services
// see it (README, "Redis broker"). PostgreSQL stays the system of record: a
// broker only tells a worker which jobs are ready; the claim, lease,
// completion, give-back and rescue are the fenced statements of sql/jobs.sql
// whatever the broker, so a broker's failure can delay a job or run it twice,
// never lose it or record it twice.
#ifndef PGJOBS_BROKER_BROKER_H_
#define PGJOBS_BROKER_BROKER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/status.h"
#include "store/job_store.h"

namespace pgjobs::worker {
struct WorkerCore;
}

namespace pgjobs::broker {

class QueueBroker {
 public:
  virtual ~QueueBroker() = default;
  // Reads which queues it carries, then starts its threads.
  virtual Status Start() = 0;
  // Stops its threads and hands back the entries read but not claimed, so
  // they are pushed again at once. Idempotent. Call after the completer
  // stopped, so that committed outcomes are acknowledged first.
  virtual void Stop() = 0;
  // Whether the fetcher claims queue's jobs through this broker now.
  virtual bool Carries(const std::string& queue) = 0;
  // Claims (fenced, in PostgreSQL) up to want of the jobs of queue the broker
  // has delivered; fewer or none when fewer were delivered.
  virtual Result<std::vector<store::ClaimedJob>> Claim(pg::Connection& conn,
                                                       const std::string& queue, int want) = 0;
  // These claims are over (outcome committed, given back, or fenced out):
  // their deliveries are acknowledged.
  virtual void Settled(const std::vector<store::JobKey>& keys) = 0;
  // A NOTIFY said queue has new jobs.
  virtual void Notified(const std::string& queue) = 0;
};

// Whether this build has the Redis broker (hiredis was found at build time).
bool RedisSupported();
// The Redis broker of a worker; wake(queue) tells the fetcher that jobs of
// queue were delivered, room(queue) how many it would claim now (entries are
// read from Redis only for those, so a worker never sits on entries other
// workers could run). core must outlive it. An error when the build has no
// Redis support or the options are bad.
Result<std::unique_ptr<QueueBroker>> MakeRedisBroker(
    worker::WorkerCore& core, std::function<void(const std::string&)> wake,
    std::function<int(const std::string&)> room);
// The message for a build without hiredis.
extern const char* const kNoRedisSupport;

}  // namespace pgjobs::broker

#endif  // PGJOBS_BROKER_BROKER_H_
