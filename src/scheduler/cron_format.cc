// The canonical text of a cron expression.
//
// The text is a function of the value alone, and parses back to it. Besides
// the sets of values, two facts of how a field was written are part of the
// value and must survive: whether a seconds, minute or hour field contains "*"
// or "/" (periodic or fixed-time under daylight saving), and whether a
// day-of-month or day-of-week field starts with "*" (Vixie's OR rule for
// days). So such a field is rendered with a "*" or "/" and anything else
// without.
#include <bit>
#include <cstdio>
#include <string>
#include <vector>

#include "scheduler/cron_internal.h"

namespace pgjobs::scheduler {
namespace {

bool Has(uint64_t bits, int v) { return (bits >> v) & 1; }

std::vector<int> Values(uint64_t bits) {
  std::vector<int> values;
  for (; bits != 0; bits &= bits - 1) values.push_back(std::countr_zero(bits));
  return values;
}

void AppendItem(std::string* out, const std::string& item) {
  if (!out->empty()) *out += ',';
  *out += item;
}

// Values and runs of consecutive values: "1,2,5-9". Never "*" or "/".
std::string FormatPlain(uint64_t bits) {
  std::string out;
  std::vector<int> v = Values(bits);
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (j - i >= 2) {
      AppendItem(&out, std::to_string(v[i]) + "-" + std::to_string(v[j]));
    } else {
      for (size_t k = i; k <= j; ++k) AppendItem(&out, std::to_string(v[k]));
    }
    i = j + 1;
  }
  return out;
}

// An arithmetic progression of values.
struct Progression {
  int first;
  int last;
  int step;
  int count;
};

std::string FormatProgression(const Progression& p, int min, int max, bool force_step) {
  if (p.count == 1) return std::to_string(p.first);
  if (!force_step && p.count == 2) return std::to_string(p.first) + "," + std::to_string(p.last);
  if (!force_step && p.step == 1) return std::to_string(p.first) + "-" + std::to_string(p.last);
  if (p.first == min && p.last + p.step > max) return "*/" + std::to_string(p.step);
  return std::to_string(p.first) + "-" + std::to_string(p.last) + "/" + std::to_string(p.step);
}

// Splits bits greedily into progressions: the smallest value left and the
// next one fix the step, which runs as far as it goes.
std::vector<Progression> Progressions(uint64_t bits) {
  std::vector<Progression> out;
  while (bits != 0) {
    int first = std::countr_zero(bits);
    uint64_t rest = bits & (bits - 1);
    if (rest == 0) {
      out.push_back({first, first, 1, 1});
      break;
    }
    int step = std::countr_zero(rest) - first;
    Progression p{first, first, step, 0};
    for (int v = first; v < 64 && Has(bits, v); v += step) {
      p.last = v;
      ++p.count;
      bits &= ~(uint64_t{1} << v);
    }
    out.push_back(p);
  }
  return out;
}

// A seconds, minute or hour field written with "*" or "/": the result
// contains one of them too.
std::string FormatWild(uint64_t bits, int min, int max) {
  if (bits == StepBits(min, max, 1, false)) return "*";
  std::vector<Progression> progressions = Progressions(bits);
  std::string out;
  for (const Progression& p : progressions) AppendItem(&out, FormatProgression(p, min, max, false));
  if (out.find('/') != std::string::npos) return out;
  // Nothing needed a step: write the first progression with an explicit one.
  out.clear();
  for (size_t i = 0; i < progressions.size(); ++i) {
    AppendItem(&out, FormatProgression(progressions[i], min, max, i == 0));
  }
  if (progressions[0].count == 1) {  // a single value: "7-7/1"
    out = std::to_string(progressions[0].first) + "-" + out + "/1";
  }
  return out;
}

// A day-of-month or day-of-week field starting with "*": "*" or "*/step",
// with the smallest step whose values are all present, then the rest.
std::string FormatStar(uint64_t bits, int min, int max, bool fold_seven) {
  for (int step = 1; step <= max - min; ++step) {
    uint64_t head = StepBits(min, max, step, fold_seven);
    if ((head & ~bits) != 0) continue;
    std::string out = step == 1 ? "*" : "*/" + std::to_string(step);
    if ((bits & ~head) != 0) out += "," + FormatPlain(bits & ~head);
    return out;
  }
  return FormatPlain(bits);  // not reached for parsed fields
}

std::string FormatTimeField(uint64_t bits, bool wild, int max) {
  return wild ? FormatWild(bits, 0, max) : FormatPlain(bits);
}

}  // namespace

std::string FormatCronFields(const CronFields& f) {
  std::string out;
  if (f.has_seconds) out += FormatTimeField(f.seconds, f.seconds_wild, 59) + " ";
  out += FormatTimeField(f.minutes, f.minutes_wild, 59) + " ";
  out += FormatTimeField(f.hours, f.hours_wild, 23) + " ";
  out += (f.day_of_month_star ? FormatStar(f.days_of_month, 1, 31, false)
                              : FormatPlain(f.days_of_month)) +
         " ";
  out += (f.months == StepBits(1, 12, 1, false) ? "*" : FormatPlain(f.months)) + " ";
  out += f.day_of_week_star ? FormatStar(f.days_of_week, 0, 7, true) : FormatPlain(f.days_of_week);
  return out;
}

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMaxChars = 64;  // keeps messages readable whatever the input
  std::string out = "\"";
  size_t i = 0;
  for (; i < text.size() && out.size() <= kMaxChars; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (i < text.size()) out += "...";
  return out + "\"";
}

}  // namespace pgjobs::scheduler
