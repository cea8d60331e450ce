#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
// date::parse trips a false -Wmaybe-uninitialized in GCC 12 at -O2.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/date.h>
#include <sstream>

namespace pgjobs {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Milliseconds per unit, or 0 for an unknown unit.
double UnitMs(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s" || unit.empty()) return 1000;
  if (unit == "m" || unit == "min") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return 0;
}

}  // namespace

std::string CompactDuration(double seconds) {
  double a = std::fabs(seconds);
  char buf[32];
  if (a < 1) {
    std::snprintf(buf, sizeof buf, "%.0fms", a * 1000);
  } else if (a < 120) {
    std::snprintf(buf, sizeof buf, "%.0fs", a);
  } else if (a < 7200) {
    std::snprintf(buf, sizeof buf, "%.0fm", a / 60);
  } else if (a < 172800) {
    std::snprintf(buf, sizeof buf, "%.0fh", a / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fd", a / 86400);
  }
  return buf;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("duration \"" + std::string(text) + "\" " + why +
                                   "; use forms like 500ms, 30s, 5m, 2h, 1d or 1h30m");
  };
  if (text.empty()) return bad("is empty");
  if (text[0] == '-') return bad("cannot be negative");
  double total_ms = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) ||
                                 text[pos] == '.')) {
      ++pos;
    }
    if (pos == start) return bad("has no number at position " + std::to_string(pos + 1));
    std::string number(text.substr(start, pos - start));
    // "5 parsecs": a word after spaces is read as the unit, to name it.
    size_t unit_start = pos;
    size_t word = pos;
    while (word < text.size() && text[word] == ' ') ++word;
    bool spaced = word > pos && word < text.size() &&
                  std::isalpha(static_cast<unsigned char>(text[word]));
    if (spaced) unit_start = pos = word;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    double per = UnitMs(unit);
    if (per == 0) {
      return Status::InvalidArgument("duration \"" + std::string(text) +
                                     "\" has an unknown unit \"" + std::string(unit) +
                                     "\" (use ms, s, m, h, d, as in 500ms, 30s, 5m, 2h, 1d or "
                                     "1h30m)");
    }
    if (spaced) {
      return bad("has a space before its unit \"" + std::string(unit) + "\"");
    }
    if (unit.empty() && (start != 0 || pos != text.size())) return bad("mixes a bare number");
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end == nullptr || *end != '\0') return bad("has a malformed number \"" + number + "\"");
    total_ms += value * per;
  }
  if (total_ms > 1e13) return bad("is too long");
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms + 0.5));
}

std::string CountOf(int64_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

Result<std::chrono::system_clock::time_point> ParseTimestamp(std::string_view text) {
  std::string s(text);
  if (s.size() > 10 && s[10] == ' ') s[10] = 'T';
  bool utc = !s.empty() && (s.back() == 'Z' || s.back() == 'z');
  if (utc) s.pop_back();
  // A time is held in nanoseconds since 1970 (system_clock), which covers
  // the years 1678-2261 only: a later year would wrap into the past (a job
  // "at 2300" running now, an end "9999-12-31" that has already passed).
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits >= 4 && digits < s.size() && s[digits] == '-') {
    long year = std::strtol(s.substr(0, digits).c_str(), nullptr, 10);
    if (digits > 4 || year < kFirstYear || year > kLastYear) {
      return Status::InvalidArgument(
          "time \"" + std::string(text) + "\" is outside the years " + std::to_string(kFirstYear) +
          "-" + std::to_string(kLastYear) +
          " that pgjobs handles; for a schedule that never ends, leave its end out");
    }
  }
  // Nanoseconds, so that up to 9 fractional digits parse (`date --rfc-3339=ns`).
  std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds> tp;
  std::istringstream in(s);
  if (utc) {
    in >> date::parse("%FT%T", tp);
  } else {
    in >> date::parse("%FT%T%Ez", tp);
  }
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) {
    return Status::InvalidArgument(
        "time \"" + std::string(text) +
        "\" is not an ISO 8601 instant with a zone; use e.g. 2026-11-25T15:00:00Z or "
        "2026-11-25T16:00:00+01:00");
  }
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(tp);
}

Status UnknownKeyError(const std::string& key, const std::vector<std::string>& known,
                       const std::string& prefix) {
  std::string nearest = NearestWord(key, known);
  std::string hint = nearest.empty() ? "" : "; did you mean \"" + nearest + "\"?";
  std::string all;
  for (const std::string& k : known) all += (all.empty() ? "" : ", ") + k;
  return Status::InvalidArgument(prefix + "unknown key \"" + key + "\"" + hint +
                                 " (known keys: " + all + ")");
}

std::string NearestWord(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace pgjobs
