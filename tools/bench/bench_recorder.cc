#include "bench_recorder.h"

#include <sys/resource.h>

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>

namespace pgjobs::bench {

StartRecorder::StartRecorder(size_t capacity) : samples_(capacity) {}

int64_t StartRecorder::Record(double start_ms, const std::string& args_json) {
  const int64_t seen = next_.fetch_add(1, std::memory_order_relaxed);
  const auto slot = static_cast<size_t>(seen);
  if (slot < samples_.size()) samples_[slot] = Sample{start_ms, ParseStamp(args_json)};
  return seen + 1;
}

std::string StartRecorder::ResultJson(int64_t count, double last_end_ms) const {
  size_t n = std::min(samples_.size(), static_cast<size_t>(recorded()));
  double first = n == 0 ? 0 : samples_[0].start_ms;
  fmt::memory_buffer latencies;
  for (size_t i = 0; i < n; ++i) {
    const Sample& s = samples_[i];
    first = std::min(first, s.start_ms);
    if (std::isnan(s.stamp_ms)) continue;
    fmt::format_to(std::back_inserter(latencies), "{}{:.3f}", latencies.size() ? ", " : "",
                   s.start_ms - s.stamp_ms);
  }
  // The process's peak resident set so far (Linux reports KiB).
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return fmt::format(
      "{{\"count\": {}, \"first_start_ms\": {:.3f}, \"last_end_ms\": {:.3f}, "
      "\"max_rss_kb\": {}, \"latencies_ms\": [{}]}}",
      count, first, last_end_ms, usage.ru_maxrss, fmt::to_string(latencies));
}

double ParseStamp(const std::string& args_json) {
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  size_t key = args_json.find("\"t\"");
  if (key == std::string::npos) return kNone;
  size_t colon = args_json.find(':', key + 3);
  if (colon == std::string::npos) return kNone;
  const char* begin = args_json.data() + colon + 1;
  char* end = nullptr;
  double value = std::strtod(begin, &end);
  return end == begin ? kNone : value;
}

}  // namespace pgjobs::bench
