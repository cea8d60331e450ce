// The SQL files of sql/ and migrations/, embedded at build time.
#ifndef PGJOBS_COMMON_EMBEDDED_SQL_H_
#define PGJOBS_COMMON_EMBEDDED_SQL_H_

#include <string>
#include <vector>

namespace pgjobs {

struct EmbeddedFile {
  std::string path;  // relative to the source root, e.g. "sql/claim.sql"
  std::string text;
};

// Every embedded file, in path order.
const std::vector<EmbeddedFile>& EmbeddedSqlFiles();

}  // namespace pgjobs

#endif  // PGJOBS_COMMON_EMBEDDED_SQL_H_
