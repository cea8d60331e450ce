// Validation of job requests: the same rules as the constraints of the jobs
// table (migrations/0001_jobs.sql, 0004_input_limits.sql), said in words that
// name the fix; and the size of args as the database measures it.
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "pgjobs/client.h"
#include "store/db_errors.h"

namespace pgjobs {
namespace {

// A JSON string as PostgreSQL's escape_json writes it: quoted; '"', '\\'
// and \b \f \n \r \t as two characters, other control characters as
// \u00XX, every other byte (UTF-8 included) as it is.
size_t EscapedBytes(const std::string& s) {
  size_t n = 2;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
      case '\\':
      case '\b':
      case '\f':
      case '\n':
      case '\r':
      case '\t':
        n += 2;
        break;
      default:
        n += c < 0x20 ? 6 : 1;
    }
  }
  return n;
}

// The length of numeric_out's text for a JSON number as written (jsonb keeps
// numbers as numeric): never an exponent, the written scale kept, less the
// exponent (1.50 is "1.50", 1e3 is "1000", 1.0e-1 is "0.10"), no sign on zero.
size_t NumericTextBytes(std::string_view raw) {
  bool negative = !raw.empty() && raw.front() == '-';
  if (negative) raw.remove_prefix(1);
  long long exponent = 0;
  if (size_t e = raw.find_first_of("eE"); e != std::string_view::npos) {
    exponent = std::strtoll(std::string(raw.substr(e + 1)).c_str(), nullptr, 10);
    exponent = std::clamp(exponent, -1000000LL, 1000000LL);  // PostgreSQL refuses beyond
    raw = raw.substr(0, e);
  }
  size_t dot = raw.find('.');
  std::string_view whole = raw.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : raw.substr(dot + 1);
  long long scale = std::max(0LL, static_cast<long long>(fraction.size()) - exponent);
  size_t decimals = scale > 0 ? static_cast<size_t>(1 + scale) : 0;
  std::string digits = std::string(whole) + std::string(fraction);
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) return 1 + decimals;  // zero: "0", "0.00"
  long long whole_digits =
      static_cast<long long>(whole.size()) + exponent - static_cast<long long>(lead);
  return (negative ? 1 : 0) + static_cast<size_t>(std::max(whole_digits, 1LL)) + decimals;
}

// Measures jsonb's output (JsonbToCString) while parsing: ", " between items,
// ": " after keys, and a key repeated in one object counted once, the last
// value winning, as jsonb keeps it.
class JsonbTextSizer : public nlohmann::json_sax<nlohmann::json> {
 public:
  size_t bytes() const { return bytes_; }
  const std::string& repeated_key() const { return repeated_key_; }

  bool null() override { return Value(4); }
  bool boolean(bool value) override { return Value(value ? 4 : 5); }
  bool number_integer(number_integer_t value) override {
    return Value(std::to_string(value).size());
  }
  bool number_unsigned(number_unsigned_t value) override {
    return Value(std::to_string(value).size());
  }
  bool number_float(number_float_t, const string_t& raw) override {
    return Value(NumericTextBytes(raw));
  }
  bool string(string_t& value) override { return Value(EscapedBytes(value)); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override {
    open_.emplace_back().object = true;
    return true;
  }
  bool key(string_t& key) override {
    Container& c = open_.back();
    if (repeated_key_.empty() && c.members.count(key) != 0) repeated_key_ = key;
    c.key = key;
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override {
    open_.emplace_back();
    return true;
  }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Container {
    bool object = false;
    std::string key;                                  // object: the key being read
    std::unordered_map<std::string, size_t> members;  // object: key -> bytes of `"key": value`
    size_t items = 0;                                 // array
    size_t item_bytes = 0;                            // array
  };

  bool Value(size_t n) {
    if (open_.empty()) {
      bytes_ = n;
      return true;
    }
    Container& c = open_.back();
    if (c.object) {
      c.members[c.key] = EscapedBytes(c.key) + 2 + n;
    } else {
      c.items++;
      c.item_bytes += n;
    }
    return true;
  }

  bool Close() {
    Container c = std::move(open_.back());
    open_.pop_back();
    size_t items = c.items;
    size_t n = c.item_bytes;
    if (c.object) {
      items = c.members.size();
      for (const auto& [key, member_bytes] : c.members) n += member_bytes;
    }
    return Value(2 + n + (items > 1 ? 2 * (items - 1) : 0));
  }

  std::vector<Container> open_;
  size_t bytes_ = 0;
  std::string repeated_key_;
};

// Characters of UTF-8 text, as PostgreSQL's length() counts them: every byte
// that does not continue a multi-byte sequence.
size_t CharCount(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

Status ValidateArgs(const std::string& args_json) {
  nlohmann::json parsed = nlohmann::json::parse(args_json, nullptr, false);
  if (parsed.is_discarded()) {
    std::string problem = JsonProblem(args_json);
    if (problem.rfind("not valid JSON", 0) == 0) {
      problem += "; pass a JSON object such as {\"to\": \"a@b.c\"}";
    }
    return Status::InvalidArgument("args are " + problem);
  }
  if (!parsed.is_object()) {
    return Status::InvalidArgument(std::string("args must be a JSON object, got a JSON ") +
                                   parsed.type_name() +
                                   "; wrap the value in an object, e.g. {\"value\": ...}");
  }
  std::string repeated;
  auto bytes = JsonbTextBytes(args_json, &repeated);
  if (!bytes.ok()) return bytes.status();
  if (!repeated.empty()) return RepeatedKeyError(repeated);
  if (*bytes > kMaxArgsTextBytes) {
    return Status::InvalidArgument("args are " + std::to_string(*bytes) +
                                   " bytes of JSON text (as PostgreSQL prints them), over the "
                                   "1 MiB limit; store large data elsewhere (a table, a file) "
                                   "and pass a reference in args");
  }
  return Status::Ok();
}

}  // namespace

Result<size_t> JsonbTextBytes(std::string_view json_text, std::string* repeated_key) {
  JsonbTextSizer sizer;
  if (!nlohmann::json::sax_parse(json_text, &sizer)) {
    return Status::InvalidArgument(JsonProblem(std::string(json_text)));
  }
  if (repeated_key != nullptr) *repeated_key = sizer.repeated_key();
  return sizer.bytes();
}

Status RepeatedKeyError(const std::string& key) {
  return Status::InvalidArgument("args hold the key \"" + key +
                                 "\" twice in one object; JSON keeps only the last value, so "
                                 "give each key once");
}

Status ValidateQueueName(const std::string& queue) {
  // ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (the jobs table's check), by hand:
  // std::regex took microseconds per call, and every enqueued job calls it.
  auto alnum = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  bool ok = !queue.empty() && queue.size() <= 128 && alnum(queue[0]) &&
            std::all_of(queue.begin() + 1, queue.end(), [&](char c) {
              return alnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
            });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("queue name \"" + queue +
                                 "\" is not allowed; use 1-128 letters, digits, '_', '.', ':' "
                                 "or '-', starting with a letter or digit");
}

Status ValidateJobRequest(const JobRequest& request) {
  const EnqueueOptions& o = request.options;
  if (request.task.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("task name is empty; give the name of a task your workers run");
  }
  if (CharCount(request.task) > 200) {
    return Status::InvalidArgument("task name is longer than 200 characters");
  }
  PGJOBS_RETURN_IF_ERROR(ValidateArgs(request.args_json));
  PGJOBS_RETURN_IF_ERROR(ValidateQueueName(o.queue));
  if (o.priority < 0 || o.priority > 9) {
    return Status::InvalidArgument("priority " + std::to_string(o.priority) +
                                   " is out of range; use 0-9 (9 runs first, default 5)");
  }
  if (o.max_attempts < 1 || o.max_attempts > 1000) {
    return Status::InvalidArgument("max_attempts " + std::to_string(o.max_attempts) +
                                   " is out of range; use 1-1000");
  }
  if (o.timeout && o.timeout->count() <= 0) {
    return Status::InvalidArgument("timeout must be positive");
  }
  if (o.delay.count() < 0) return Status::InvalidArgument("delay must not be negative");
  if (o.run_at && o.delay.count() != 0) {
    return Status::InvalidArgument("give a run time or a delay, not both");
  }
  if (CharCount(o.unique_key) > 512) {
    return Status::InvalidArgument("unique_key is longer than 512 characters");
  }
  return Status::Ok();
}

}  // namespace pgjobs
