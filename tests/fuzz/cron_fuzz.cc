// libFuzzer target: arbitrary bytes as a cron expression. See
// cron_fuzz_check.h for what is checked, and CMakeLists.txt for how to run it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/cron_fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem =
      pgjobs::fuzz::CheckCronInput(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!problem.empty()) {
    std::fprintf(stderr, "cron_fuzz: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
