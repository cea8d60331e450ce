// Parsing of cron expressions into CronFields, with errors that name the
// field, the offending text and its 1-based position.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/cron_internal.h"

namespace pgjobs::scheduler {
namespace {

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kWeekdayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int min;
  int max;                   // day-of-week: 7, which is Sunday again
  const char* const* names;  // names[i] is value min + i; or nullptr
  int name_count;
  const char* what;  // "a month (1-12 or JAN-DEC)"
};

constexpr FieldSpec kSecond{"second", 0, 59, nullptr, 0, "a number 0-59"};
constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0, "a number 0-59"};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0, "a number 0-23"};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr, 0, "a number 1-31"};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames, 12, "a month (1-12 or JAN-DEC)"};
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7,
                               kWeekdayNames, 7, "a weekday (0-7 or SUN-SAT, 0 and 7 both Sunday)"};

constexpr const char* kExpected =
    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds "
    "field";

// A piece of the expression text and where it starts (0-based).
struct Token {
  std::string_view text;
  size_t pos;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool AllOf(std::string_view s, bool (*pred)(char)) { return std::all_of(s.begin(), s.end(), pred); }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<Token> SplitFields(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) tokens.push_back({text.substr(start, i - start), start});
  }
  return tokens;
}

Status ExpressionError(std::string_view text, const std::string& problem) {
  return Status::InvalidArgument("cron " + QuoteForMessage(text) + ": " + problem);
}

// Parses one field; keeps the whole text for error messages.
class FieldParser {
 public:
  FieldParser(std::string_view whole, const FieldSpec& spec, Token field)
      : whole_(whole), spec_(spec), field_(field) {}

  Status Parse();

  uint64_t bits() const { return bits_; }
  bool wild() const { return wild_; }  // "*" or "/" anywhere
  bool star() const { return star_; }  // starts with "*"

 private:
  Status ParseItem(Token item);
  Status ParseRange(Token base, bool has_step, int* lo, int* hi) const;
  Status ParseValue(Token token, int* value) const;
  Status ParseName(Token token, int* value) const;
  Status ParseStep(Token token, int* step) const;
  Status Error(Token piece, const std::string& problem) const;
  std::string RangeText() const {
    return std::to_string(spec_.min) + "-" + std::to_string(spec_.max);
  }

  std::string_view whole_;
  const FieldSpec& spec_;
  Token field_;
  uint64_t bits_ = 0;
  bool wild_ = false;
  bool star_ = false;
};

Status FieldParser::Error(Token piece, const std::string& problem) const {
  std::string msg = "cron " + QuoteForMessage(whole_) + ": " + spec_.name + " field " +
                    QuoteForMessage(field_.text);
  if (piece.text.empty()) {
    msg += ": " + problem + " at position " + std::to_string(piece.pos + 1);
  } else {
    if (piece.pos != field_.pos || piece.text.size() != field_.text.size()) {
      msg += ": " + QuoteForMessage(piece.text);
    }
    msg += " at position " + std::to_string(piece.pos + 1) + " " + problem;
  }
  return Status::InvalidArgument(std::move(msg));
}

Status FieldParser::Parse() {
  size_t start = 0;
  for (;;) {
    size_t comma = field_.text.find(',', start);
    size_t end = comma == std::string_view::npos ? field_.text.size() : comma;
    PGJOBS_RETURN_IF_ERROR(ParseItem({field_.text.substr(start, end - start), field_.pos + start}));
    if (comma == std::string_view::npos) return Status::Ok();
    start = comma + 1;
  }
}

Status FieldParser::ParseItem(Token item) {
  if (item.text.empty()) return Error({"", item.pos}, "empty list element");
  size_t slash = item.text.find('/');
  Token base{item.text.substr(0, slash), item.pos};
  bool has_step = slash != std::string_view::npos;
  int step = 1;
  if (has_step) {
    Token step_token{item.text.substr(slash + 1), item.pos + slash + 1};
    if (step_token.text.find('/') != std::string_view::npos) {
      return Error(item, "has more than one '/'");
    }
    PGJOBS_RETURN_IF_ERROR(ParseStep(step_token, &step));
  }
  int lo = spec_.min;
  int hi = spec_.max;
  if (base.text != "*") PGJOBS_RETURN_IF_ERROR(ParseRange(base, has_step, &lo, &hi));
  if (item.pos == field_.pos && item.text[0] == '*') star_ = true;
  if (has_step || base.text == "*") wild_ = true;
  bits_ |= StepBits(lo, hi, step, spec_.max == 7);
  return Status::Ok();
}

Status FieldParser::ParseRange(Token base, bool has_step, int* lo, int* hi) const {
  if (base.text.empty()) return Error({"", base.pos}, "missing value before '/'");
  size_t dash = base.text.find('-');
  if (dash == std::string_view::npos) {
    PGJOBS_RETURN_IF_ERROR(ParseValue(base, lo));
    *hi = has_step ? spec_.max : *lo;  // "5/15" means 5-59/15
    return Status::Ok();
  }
  Token first{base.text.substr(0, dash), base.pos};
  Token second{base.text.substr(dash + 1), base.pos + dash + 1};
  if (first.text.empty()) return Error(base, "is missing the start of its range");
  if (second.text.empty()) return Error(base, "is missing the end of its range");
  if (second.text.find('-') != std::string_view::npos) return Error(base, "has more than one '-'");
  PGJOBS_RETURN_IF_ERROR(ParseValue(first, lo));
  PGJOBS_RETURN_IF_ERROR(ParseValue(second, hi));
  if (*lo <= *hi) return Status::Ok();
  std::string hint = "; ranges go from low to high";
  if (spec_.max == 7 && *hi == 0) hint = "; write " + std::to_string(*lo) + "-7 (7 is Sunday)";
  return Error(base, "is a reversed range (" + std::to_string(*lo) + " > " + std::to_string(*hi) +
                         ")" + hint);
}

Status FieldParser::ParseValue(Token token, int* value) const {
  std::string_view t = token.text;
  if (t == "*") return Error(token, "cannot be part of a range; write * alone, or */step");
  if (t.find('?') != std::string_view::npos) {
    return Error(token, "is Quartz syntax, which pgjobs does not use; write * instead of ?");
  }
  if (AllOf(t, IsDigit)) {
    // More than 4 digits is out of range anyway; this also avoids overflow.
    *value = t.size() > 4 ? 99999 : std::stoi(std::string(t));
    if (*value >= spec_.min && *value <= spec_.max) return Status::Ok();
    return Error(token, "is out of range " + RangeText());
  }
  if (AllOf(t, IsAlpha) && spec_.names != nullptr) return ParseName(token, value);
  if (t.find('#') != std::string_view::npos || t.back() == 'L' || t.back() == 'W') {
    return Error(token, "is Quartz syntax (L, W, #), which pgjobs does not support");
  }
  return Error(token, std::string("is not ") + spec_.what);
}

Status FieldParser::ParseName(Token token, int* value) const {
  std::string upper = Upper(token.text);
  for (int i = 0; i < spec_.name_count; ++i) {
    if (upper == spec_.names[i]) {
      *value = spec_.min + i;
      return Status::Ok();
    }
    if (upper.size() > 3 && upper.compare(0, 3, spec_.names[i]) == 0) {
      return Error(token, std::string("is not a name pgjobs knows; write ") + spec_.names[i]);
    }
  }
  return Error(token, std::string("is not ") + spec_.what);
}

Status FieldParser::ParseStep(Token token, int* step) const {
  int largest = spec_.max - spec_.min;
  if (token.text.empty()) return Error({"", token.pos}, "missing step after '/'");
  if (!AllOf(token.text, IsDigit)) {
    return Error(token, "is not a step; a step is a number, as in */15 or 0-30/5");
  }
  *step = token.text.size() > 4 ? 99999 : std::stoi(std::string(token.text));
  if (*step == 0) return Error(token, "is a zero step; steps start at 1");
  if (*step <= largest) return Status::Ok();
  return Error(token, "is a step larger than range " + RangeText() + " allows (at most " +
                          std::to_string(largest) + ")");
}

Result<CronFields> ParseMacro(std::string_view text, const std::vector<Token>& tokens) {
  struct Macro {
    const char* name;
    const char* expansion;
  };
  static constexpr Macro kMacros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                                      {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                                      {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                                      {"@hourly", "0 * * * *"}};
  std::string name = Lower(tokens[0].text);
  if (name == "@every") {
    return ExpressionError(text,
                           "@every is not cron syntax: an interval is its own schedule "
                           "kind; create an interval schedule instead");
  }
  if (name == "@reboot") {
    return ExpressionError(text,
                           "@reboot is not supported: schedules fire at times, not when "
                           "pgjobs starts");
  }
  for (const Macro& macro : kMacros) {
    if (name != macro.name) continue;
    if (tokens.size() == 1) return ParseCronFields(macro.expansion);
    return ExpressionError(text, std::string(macro.name) + " takes no fields, found " +
                                     QuoteForMessage(tokens[1].text) + " at position " +
                                     std::to_string(tokens[1].pos + 1));
  }
  return ExpressionError(text, "unknown macro " + QuoteForMessage(tokens[0].text) +
                                   "; use @yearly, @annually, @monthly, @weekly, @daily, "
                                   "@midnight or @hourly");
}

Status CountError(std::string_view text, const std::vector<Token>& tokens) {
  std::string problem = "found " + std::to_string(tokens.size()) + " fields, " + kExpected;
  if (tokens.size() > 6) {
    problem += "; the first extra field is " + QuoteForMessage(tokens[6].text) + " at position " +
               std::to_string(tokens[6].pos + 1);
  }
  return ExpressionError(text, problem);
}

}  // namespace

uint64_t StepBits(int lo, int hi, int step, bool fold_seven) {
  uint64_t bits = 0;
  for (int v = lo; v <= hi; v += step) bits |= uint64_t{1} << (fold_seven && v == 7 ? 0 : v);
  return bits;
}

Result<CronFields> ParseCronFields(std::string_view text) {
  std::vector<Token> tokens = SplitFields(text);
  if (tokens.empty()) {
    return ExpressionError(
        text, std::string("empty expression; ") + kExpected + ", or a macro such as @daily");
  }
  if (tokens[0].text[0] == '@') return ParseMacro(text, tokens);
  if (tokens.size() != 5 && tokens.size() != 6) return CountError(text, tokens);

  CronFields fields;
  fields.has_seconds = tokens.size() == 6;
  const FieldSpec* specs[] = {&kSecond, &kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  uint64_t* sets[] = {&fields.seconds,       &fields.minutes, &fields.hours,
                      &fields.days_of_month, &fields.months,  &fields.days_of_week};
  bool* wild[] = {
      &fields.seconds_wild, &fields.minutes_wild, &fields.hours_wild, nullptr, nullptr, nullptr};
  bool* star[] = {
      nullptr, nullptr, nullptr, &fields.day_of_month_star, nullptr, &fields.day_of_week_star};
  for (size_t i = 0; i < tokens.size(); ++i) {
    size_t k = i + 6 - tokens.size();  // without seconds, token 0 is the minute
    FieldParser parser(text, *specs[k], tokens[i]);
    PGJOBS_RETURN_IF_ERROR(parser.Parse());
    *sets[k] = parser.bits();
    if (wild[k] != nullptr) *wild[k] = parser.wild();
    if (star[k] != nullptr) *star[k] = parser.star();
  }
  return fields;
}

}  // namespace pgjobs::scheduler
