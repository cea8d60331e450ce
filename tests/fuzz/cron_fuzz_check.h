// The invariants the cron fuzz target checks on every input, shared with a
// unit test that replays the seed corpus (tests/unit/cron_corpus_test.cc).
#ifndef PGJOBS_TESTS_FUZZ_CRON_FUZZ_CHECK_H_
#define PGJOBS_TESTS_FUZZ_CRON_FUZZ_CHECK_H_

#include <string>
#include <string_view>

namespace pgjobs::fuzz {

// Parses `data` as a cron expression. A rejected input must give an
// InvalidArgument error that quotes it; an accepted one must print as
// canonical text that parses back to an equal expression, and its fire times
// after a few instants (around DST transitions, and at the ends of the
// supported years) must strictly increase. Returns "" when all of that holds,
// else what broke.
std::string CheckCronInput(std::string_view data);

}  // namespace pgjobs::fuzz

#endif  // PGJOBS_TESTS_FUZZ_CRON_FUZZ_CHECK_H_
