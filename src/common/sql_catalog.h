// Named SQL statements from sql/*.sql, and the migrations, with the schema
// name filled in. A statement starts at a "-- name: NAME" line and runs to the
// next one.
#ifndef PGJOBS_COMMON_SQL_CATALOG_H_
#define PGJOBS_COMMON_SQL_CATALOG_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/status.h"

namespace pgjobs {

// Checks a schema name: lower-case letters, digits and '_', starting with a
// letter or '_', at most 50 characters (so derived names fit PostgreSQL's 63).
Status ValidateSchemaName(std::string_view schema);

// Replaces every "@schema@" in text with schema.
std::string FillSchema(std::string_view text, std::string_view schema);

// Splits "-- name: X" sections of one file into name -> SQL.
Result<std::map<std::string, std::string>> SplitNamedStatements(std::string_view file_text,
                                                                std::string_view file_name);

struct Migration {
  int version = 0;       // from the NNNN prefix of the file name
  std::string name;      // the file name without directory and ".sql"
  std::string sql;       // with the schema filled in
  std::string checksum;  // of the file as embedded, before filling in
};

class SqlCatalog {
 public:
  // Loads every embedded statement and migration for schema.
  static Result<SqlCatalog> Load(std::string_view schema);

  const std::string& schema() const { return schema_; }
  // Name -> SQL of every runtime statement.
  const std::map<std::string, std::string>& statements() const { return statements_; }
  // The statement called name; a missing name is a bug and aborts.
  const std::string& Get(const std::string& name) const;
  // A statement of sql/foreign/*.sql: it reads another application's tables
  // (django-celery-beat's), so it is never prepared on pgjobs connections and
  // is run unprepared on a connection to that application's database.
  const std::string& Foreign(const std::string& name) const;
  // Ordered by version.
  const std::vector<Migration>& migrations() const { return migrations_; }
  // The NOTIFY channel on which inserts into schema.jobs are announced.
  std::string JobsChannel() const { return schema_ + "_jobs"; }
  // Control messages to workers (a cancel, a stop request): payload "cancel"
  // or "stop"; each makes the worker check its jobs and its row at once.
  std::string ControlChannel() const { return schema_ + "_control"; }

 private:
  std::string schema_;
  std::map<std::string, std::string> statements_;
  std::map<std::string, std::string> foreign_statements_;
  std::vector<Migration> migrations_;
};

}  // namespace pgjobs

#endif  // PGJOBS_COMMON_SQL_CATALOG_H_
