#include "store/index_upkeep.h"

namespace pgjobs::store {

Result<IndexUpkeep> ShrinkJobIndexes(pg::Connection& conn, int64_t min_bytes) {
  IndexUpkeep done;
  auto leftovers = conn.Exec("leftover_job_indexes", {});
  if (!leftovers.ok()) return leftovers.status().WithContext("find leftover indexes of jobs");
  // The names come from the catalog as regclass text: quoted where needed.
  for (size_t i = 0; i < leftovers->size(); ++i) {
    std::string name = leftovers->Text(i, 0);
    auto dropped = conn.ExecSql("DROP INDEX CONCURRENTLY IF EXISTS " + name);
    if (!dropped.ok()) return dropped.status().WithContext("drop leftover index " + name);
    done.dropped.push_back(name);
  }
  auto bloated = conn.Exec("bloated_job_indexes", {std::to_string(min_bytes)});
  if (!bloated.ok()) return bloated.status().WithContext("measure the indexes of jobs");
  for (size_t i = 0; i < bloated->size(); ++i) {
    std::string name = bloated->Text(i, 0);
    auto rebuilt = conn.ExecSql("REINDEX INDEX CONCURRENTLY " + name);
    if (!rebuilt.ok()) return rebuilt.status().WithContext("rebuild index " + name);
    done.rebuilt.push_back(name);
  }
  return done;
}

}  // namespace pgjobs::store
