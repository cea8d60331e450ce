#include "store/broker_store.h"

#include <fmt/format.h>

#include "store/admin_query.h"
#include "store/audit.h"
#include "store/queue_admin.h"

namespace pgjobs::store {

Result<std::vector<RedisQueue>> RedisQueues(pg::Connection& conn) {
  auto rows = conn.Exec("redis_queues", {});
  if (!rows.ok()) return rows.status().WithContext("list Redis queues");
  std::vector<RedisQueue> out;
  for (size_t i = 0; i < rows->size(); ++i) {
    out.push_back({rows->Text(i, 0), rows->Bool(i, 1), rows->Bool(i, 2)});
  }
  return out;
}

Result<std::vector<Dispatched>> RelayDispatch(pg::Connection& conn, const std::string& queue,
                                              int limit, double redispatch_after_seconds) {
  auto rows = conn.Exec("relay_dispatch", {queue, std::to_string(limit),
                                           fmt::format("{}", redispatch_after_seconds)});
  if (!rows.ok()) return rows.status().WithContext("relay queue=" + queue);
  std::vector<Dispatched> out(rows->size());
  for (size_t i = 0; i < rows->size(); ++i) {
    out[i] = {rows->Int(i, 0), static_cast<int>(rows->Int(i, 1))};
  }
  return out;
}

Status RelayUndispatch(pg::Connection& conn, const std::vector<int64_t>& ids) {
  if (ids.empty()) return Status::Ok();
  auto rows = conn.Exec("relay_undispatch", {pg::ArrayLiteral(ids)});
  return rows.status().WithContext("mark " + std::to_string(ids.size()) + " jobs not pushed");
}

Result<bool> RelayLock(pg::Connection& conn) {
  auto rows = conn.Exec("relay_lock", {});
  if (!rows.ok()) return rows.status().WithContext("relay leader lock");
  return rows->Bool(0, 0);
}

Result<std::vector<ClaimedJob>> ClaimIds(pg::Connection& conn, const std::string& queue,
                                         const std::vector<int64_t>& ids,
                                         const std::string& tasks_literal,
                                         const std::string& worker_id, double lease_seconds) {
  const int64_t token = NewClaimToken();
  auto rows = conn.Exec("claim_ids", {queue, pg::ArrayLiteral(ids), tasks_literal, worker_id,
                                      fmt::format("{}", lease_seconds), std::to_string(token)});
  if (!rows.ok()) return rows.status().WithContext("claim delivered jobs queue=" + queue);
  return ClaimedJobsFromRows(*rows, token);
}

Status SetQueueBroker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& queue,
                      const std::string& broker, const std::string& by) {
  QueueChange change;
  change.broker = broker;
  return ChangeQueue(conn, catalog, queue, change, by);
}

}  // namespace pgjobs::store
