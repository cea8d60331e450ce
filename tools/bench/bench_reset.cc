// `pgjobs-bench reset`: drops the schema with everything in it and builds it
// again from the migrations, so that every run starts from an empty queue
// and an empty history.
#include <cstdio>

#include "bench_common.h"
#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "store/db_errors.h"

namespace pgjobs::bench {

int RunReset(const CommonFlags& flags) {
  Status st = ValidateQueueName(flags.queue);
  if (!st.ok()) return Fail(st.WithContext("--queue"));
  auto catalog = SqlCatalog::Load(flags.schema);  // validates the schema name
  if (!catalog.ok()) return Fail(catalog.status().WithContext("--schema"));
  pg::Connection conn(flags.dsn, nullptr, "pgjobs-bench reset");
  st = conn.EnsureConnected();
  if (!st.ok()) return Fail(st);
  // The name is validated (lower-case letters, digits, '_'), so quoting it
  // cannot change its meaning; quoting keeps it an identifier regardless.
  auto dropped = conn.ExecSql("DROP SCHEMA IF EXISTS \"" + flags.schema + "\" CASCADE");
  if (!dropped.ok()) return Fail(dropped.status().WithContext("drop schema " + flags.schema));
  auto applied = migrate::Migrator(conn, *catalog).Apply();
  if (!applied.ok()) return Fail(applied.status().WithContext("migrate schema " + flags.schema));
  st = ClearRedis(flags);
  if (!st.ok()) return Fail(st.WithContext("clear the queue's Redis streams"));
  std::fprintf(stderr, "pgjobs-bench: schema %s re-created (%zu migrations); queue %s is empty\n",
               flags.schema.c_str(), applied->size(), flags.queue.c_str());
  return kExitOk;
}

}  // namespace pgjobs::bench
