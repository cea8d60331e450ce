// The expected ticks of a cron expression, for tests that check a scheduler
// made exactly these jobs.
#ifndef PGJOBS_TESTS_SUPPORT_CRON_TICKS_H_
#define PGJOBS_TESTS_SUPPORT_CRON_TICKS_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgjobs/cron.h"

namespace pgjobs::testing {

// The ticks of a cron expression in UTC from first to last inclusive, as
// epoch seconds.
inline std::vector<int64_t> CronTicks(const std::string& expr, int64_t first, int64_t last) {
  auto cron = CronExpr::Parse(expr);
  EXPECT_TRUE(cron.ok()) << cron.status().message();
  std::vector<int64_t> out;
  if (!cron.ok()) return out;
  std::optional<std::chrono::sys_seconds> t =
      std::chrono::sys_seconds(std::chrono::seconds(first - 1));
  while ((t = cron->NextAfter(*t, TimeZone::Utc())) && t->time_since_epoch().count() <= last) {
    out.push_back(t->time_since_epoch().count());
  }
  return out;
}

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_CRON_TICKS_H_
