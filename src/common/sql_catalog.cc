#include "common/sql_catalog.h"

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cctype>
#include <cstdint>

#include "common/embedded_sql.h"

namespace pgjobs {
namespace {

// "-- name:" then the name; without a name the marker is an error, not SQL.
constexpr std::string_view kNameMarker = "-- name:";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// FNV-1a 64: enough to notice that an applied migration file was edited.
std::string Checksum(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<Migration> ParseMigration(const EmbeddedFile& file, std::string_view schema) {
  std::string_view path = file.path;
  std::string base(path.substr(path.rfind('/') + 1));
  if (base.size() < 10 || base.substr(4, 1) != "_" ||
      base.find_first_not_of("0123456789") != 4) {
    return Status::Internal("migration file " + file.path + " is not named NNNN_name.sql");
  }
  Migration m;
  m.version = std::atoi(base.substr(0, 4).c_str());
  m.name = base.substr(0, base.size() - 4);
  m.sql = FillSchema(file.text, schema);
  m.checksum = Checksum(file.text);
  return m;
}

}  // namespace

Status ValidateSchemaName(std::string_view schema) {
  bool ok = !schema.empty() && schema.size() <= 50 &&
            (std::islower(static_cast<unsigned char>(schema[0])) || schema[0] == '_');
  for (char c : schema) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument("schema name \"" + std::string(schema) +
                                 "\" is not allowed; use lower-case letters, digits and '_', "
                                 "starting with a letter, at most 50 characters");
}

std::string FillSchema(std::string_view text, std::string_view schema) {
  static constexpr std::string_view kPlaceholder = "@schema@";
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    size_t at = text.find(kPlaceholder, pos);
    out.append(text.substr(pos, at - pos));
    if (at == std::string_view::npos) break;
    out.append(schema);
    pos = at + kPlaceholder.size();
  }
  return out;
}

Result<std::map<std::string, std::string>> SplitNamedStatements(std::string_view file_text,
                                                                std::string_view file_name) {
  std::map<std::string, std::string> out;
  std::string current;
  std::string body;
  auto flush = [&]() -> Status {
    if (current.empty()) return Status::Ok();
    if (Trim(body).empty() || !out.emplace(current, Trim(body)).second) {
      return Status::Internal(std::string(file_name) + ": statement " + current +
                              " is empty or defined twice");
    }
    return Status::Ok();
  };
  size_t pos = 0;
  int line_number = 0;
  while (pos < file_text.size()) {
    size_t eol = file_text.find('\n', pos);
    if (eol == std::string_view::npos) eol = file_text.size();
    std::string_view line = file_text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_number;
    if (StartsWith(line, kNameMarker)) {
      PGJOBS_RETURN_IF_ERROR(flush());
      current = Trim(line.substr(kNameMarker.size()));
      if (current.empty()) {
        return Status::Internal(std::string(file_name) + ":" + std::to_string(line_number) +
                                ": \"-- name:\" without a statement name");
      }
      body.clear();
    } else if (!current.empty()) {
      body.append(line).append("\n");
    }
  }
  PGJOBS_RETURN_IF_ERROR(flush());
  return out;
}

Result<SqlCatalog> SqlCatalog::Load(std::string_view schema) {
  PGJOBS_RETURN_IF_ERROR(ValidateSchemaName(schema));
  SqlCatalog catalog;
  catalog.schema_ = schema;
  for (const EmbeddedFile& file : EmbeddedSqlFiles()) {
    if (StartsWith(file.path, "migrations/")) {
      Result<Migration> m = ParseMigration(file, schema);
      if (!m.ok()) return m.status();
      catalog.migrations_.push_back(std::move(*m));
      continue;
    }
    auto named = SplitNamedStatements(FillSchema(file.text, schema), file.path);
    if (!named.ok()) return named.status();
    bool foreign = StartsWith(file.path, "sql/foreign/");
    for (auto& [name, sql] : *named) {
      auto& into = foreign ? catalog.foreign_statements_ : catalog.statements_;
      if (catalog.statements_.count(name) + catalog.foreign_statements_.count(name) > 0 ||
          !into.emplace(name, sql).second) {
        return Status::Internal("statement " + name + " is defined in two sql files");
      }
    }
  }
  std::sort(catalog.migrations_.begin(), catalog.migrations_.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return catalog;
}

const std::string& SqlCatalog::Foreign(const std::string& name) const {
  auto it = foreign_statements_.find(name);
  if (it == foreign_statements_.end()) {
    std::fprintf(stderr, "pgjobs: bug: no foreign SQL statement named %s\n", name.c_str());
    std::abort();
  }
  return it->second;
}

const std::string& SqlCatalog::Get(const std::string& name) const {
  auto it = statements_.find(name);
  if (it == statements_.end()) {
    std::fprintf(stderr, "pgjobs: bug: no SQL statement named %s\n", name.c_str());
    std::abort();
  }
  return it->second;
}

}  // namespace pgjobs
