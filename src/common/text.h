// Small text helpers shared by configuration and the CLI.
#ifndef PGJOBS_COMMON_TEXT_H_
#define PGJOBS_COMMON_TEXT_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/status.h"

namespace pgjobs {

// "500ms", "30s", "5m", "2h", "1d", "1h30m", or a bare number of seconds
// ("2.5"). Errors name the text and show the accepted forms.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "1 job", "3 jobs", "0 jobs": a count and its noun, plural unless it is 1
// (nouns whose plural is word + "s").
std::string CountOf(int64_t n, std::string_view word);

// |seconds| for people, one unit: "850ms", "12s", "4m", "3h", "2d".
std::string CompactDuration(double seconds);

// An ISO 8601 instant with a zone: "2026-11-25T15:00:00Z",
// "2026-11-25 15:00:00+01:00", fractions of a second allowed. A time without
// a zone is an error (it would be ambiguous), and so is a year outside
// kFirstYear-kLastYear (what system_clock's nanoseconds can hold).
inline constexpr long kFirstYear = 1678;
inline constexpr long kLastYear = 2261;
Result<std::chrono::system_clock::time_point> ParseTimestamp(std::string_view text);

// The error for a key that is not among `known`: names it, suggests the
// nearest known key and lists them all, after prefix ("worker: ").
Status UnknownKeyError(const std::string& key, const std::vector<std::string>& known,
                       const std::string& prefix);

// The candidate closest to word by edit distance, or "" when none is close
// enough to be a plausible typo.
std::string NearestWord(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace pgjobs

#endif  // PGJOBS_COMMON_TEXT_H_
