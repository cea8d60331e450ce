// Helpers shared by the cron unit tests: instants written as text, and zones
// and expressions that must load.
#ifndef PGJOBS_TESTS_UNIT_CRON_TEST_UTIL_H_
#define PGJOBS_TESTS_UNIT_CRON_TEST_UTIL_H_

#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgjobs/cron.h"

namespace pgjobs::crontest {

using std::chrono::sys_seconds;

// "2026-03-08T03:00-04:00", "2026-03-08T07:00:00Z": a local time with its
// UTC offset, or a UTC time.
inline sys_seconds At(std::string_view text) {
  std::string s(text);
  int y, mo, d, h, mi, sec = 0, consumed = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d%n", &y, &mo, &d, &h, &mi, &consumed) != 5) {
    ADD_FAILURE() << "bad instant " << s;
    return {};
  }
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == ':') {
    sec = std::atoi(s.c_str() + i + 1);
    i += 3;
  }
  int offset_minutes = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    std::sscanf(s.c_str() + i + 1, "%d:%d", &oh, &om);
    offset_minutes = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
  } else if (i >= s.size() || s[i] != 'Z') {
    ADD_FAILURE() << "instant without Z or offset: " << s;
  }
  auto day = date::sys_days(date::year(y) / mo / d);
  return sys_seconds(day) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(sec) - std::chrono::minutes(offset_minutes);
}

// "2026-03-08T03:00:00-04:00" in the zone's local time, for readable failures.
inline std::string Local(sys_seconds t, const TimeZone& zone) {
  const date::time_zone* z = date::locate_zone(zone.name());
  date::sys_info info = z->get_info(t);
  auto local = t + info.offset;
  long minutes = static_cast<long>(info.offset.count() / 60);
  char offset[48];
  std::snprintf(offset, sizeof offset, "%c%02ld:%02ld", minutes < 0 ? '-' : '+',
                std::labs(minutes) / 60, std::labs(minutes) % 60);
  return date::format("%FT%T", local) + offset;
}

inline std::vector<std::string> Locals(const std::vector<sys_seconds>& times,
                                       const TimeZone& zone) {
  std::vector<std::string> out;
  for (sys_seconds t : times) out.push_back(Local(t, zone));
  return out;
}

inline TimeZone Zone(std::string_view name) {
  Result<TimeZone> zone = TimeZone::Load(name);
  if (!zone.ok()) {
    ADD_FAILURE() << zone.status().ToString();
    return TimeZone::Utc();
  }
  return *zone;
}

inline CronExpr Cron(std::string_view text) {
  Result<CronExpr> expr = CronExpr::Parse(text);
  if (!expr.ok()) {
    ADD_FAILURE() << expr.status().ToString();
    return *CronExpr::Parse("* * * * *");
  }
  return *expr;
}

}  // namespace pgjobs::crontest

#endif  // PGJOBS_TESTS_UNIT_CRON_TEST_UTIL_H_
