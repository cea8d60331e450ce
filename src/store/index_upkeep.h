// The hot table's index upkeep: a drained backlog leaves jobs' indexes as
// large as the backlog was (vacuum frees their pages for reuse, never gives
// them back). The scheduler's maintenance leader rebuilds them when they are
// far larger than the rows they hold (README, "Performance").
#ifndef PGJOBS_STORE_INDEX_UPKEEP_H_
#define PGJOBS_STORE_INDEX_UPKEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

struct IndexUpkeep {
  std::vector<std::string> rebuilt;  // REINDEX INDEX CONCURRENTLY
  std::vector<std::string> dropped;  // leftovers of an interrupted rebuild
};

// Drops leftovers of interrupted rebuilds, then rebuilds each index of jobs
// at least min_bytes large and more than four times what its live rows need.
// Runs statements that cannot be in a transaction: conn must not be in one.
// Stops at the first failure (which names the index).
Result<IndexUpkeep> ShrinkJobIndexes(pg::Connection& conn, int64_t min_bytes);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_INDEX_UPKEEP_H_
