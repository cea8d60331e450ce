#include "store/admin_query.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace pgjobs::store {

Result<pg::Rows> QueryRows(pg::Connection& conn, const SqlCatalog& catalog,
                           const std::string& name, const pg::Params& params) {
  pg::Rows rows;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    auto r = tx.ExecParams(catalog.Get(name), params);
    if (!r.ok()) return r.status();
    rows = *r;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

namespace {

// json_text with every number beyond a double's range (jsonb holds any
// numeric: {"a": 1e400} inserted by SQL) turned into a JSON string, so that
// the job can still be shown; every other byte as it was.
std::string QuoteUnreadableNumbers(const std::string& json_text) {
  std::string out;
  out.reserve(json_text.size());
  bool in_string = false;
  for (size_t i = 0; i < json_text.size(); ++i) {
    char c = json_text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json_text.size()) {
        out += json_text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c != '-' && !std::isdigit(static_cast<unsigned char>(c))) {
      out += c;
      continue;
    }
    size_t end = i;
    while (end < json_text.size() && std::strchr("+-.eE0123456789", json_text[end]) != nullptr) {
      ++end;
    }
    std::string number = json_text.substr(i, end - i);
    double value = std::strtod(number.c_str(), nullptr);
    out += std::isfinite(value) ? number : "\"" + number + "\"";
    i = end - 1;
  }
  return out;
}

}  // namespace

Result<nlohmann::json> QueryJson(pg::Connection& conn, const SqlCatalog& catalog,
                                 const std::string& name, const pg::Params& params) {
  auto rows = QueryRows(conn, catalog, name, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty() || rows->IsNull(0, 0)) return nlohmann::json();
  nlohmann::json parsed = nlohmann::json::parse(rows->Text(0, 0), nullptr, false);
  if (parsed.is_discarded()) {
    // A number beyond a double in a job's args or result: shown as a string.
    parsed = nlohmann::json::parse(QuoteUnreadableNumbers(rows->Text(0, 0)), nullptr, false);
  }
  if (parsed.is_discarded()) return Status::Internal(name + " returned text that is not JSON");
  return parsed;
}

}  // namespace pgjobs::store
