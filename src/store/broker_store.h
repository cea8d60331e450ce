// The database side of the Redis broker: each function runs one named
// statement of sql/redis.sql.
#ifndef PGJOBS_STORE_BROKER_STORE_H_
#define PGJOBS_STORE_BROKER_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/status.h"
#include "store/job_store.h"

namespace pgjobs::store {

struct RedisQueue {
  std::string name;
  bool paused = false;
  bool limited = false;  // a global limit: claimed through PostgreSQL
};
Result<std::vector<RedisQueue>> RedisQueues(pg::Connection& conn);

struct Dispatched {
  int64_t id = 0;
  int priority = 0;
};
// Marks up to limit ready jobs of queue as pushed and returns them, best first.
Result<std::vector<Dispatched>> RelayDispatch(pg::Connection& conn, const std::string& queue,
                                              int limit, double redispatch_after_seconds);
// Pending jobs among ids are pushed again by the next relay round.
Status RelayUndispatch(pg::Connection& conn, const std::vector<int64_t>& ids);
// Whether this session holds the relay's leader lock (takes it if free).
Result<bool> RelayLock(pg::Connection& conn);
// Claims the jobs among ids still pending and ready (sql/redis.sql claim_ids).
Result<std::vector<ClaimedJob>> ClaimIds(pg::Connection& conn, const std::string& queue,
                                         const std::vector<int64_t>& ids,
                                         const std::string& tasks_literal,
                                         const std::string& worker_id, double lease_seconds);
// broker: "postgres" or "redis". An admin statement: conn need not prepare.
// Written to the audit log as queue.broker, by `by`.
Status SetQueueBroker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      const std::string& broker, const std::string& by);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_BROKER_STORE_H_
