// Replays the cron fuzz target's seed corpus (tests/fuzz/corpus/cron) through
// the same checks, so that the normal suite exercises it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz/cron_fuzz_check.h"

namespace pgjobs {
namespace {

TEST(CronCorpusTest, EverySeedOfTheFuzzCorpusKeepsTheInvariants) {
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(PGJOBS_CRON_CORPUS_DIR)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(fuzz::CheckCronInput(data), "") << entry.path();
    ++seeds;
  }
  EXPECT_GE(seeds, 20);
}

}  // namespace
}  // namespace pgjobs
