#include "fuzz/cron_fuzz_check.h"

#include <chrono>
#include <optional>
#include <vector>

#include "pgjobs/cron.h"

namespace pgjobs::fuzz {
namespace {

using std::chrono::sys_seconds;

std::vector<TimeZone> Zones() {
  std::vector<TimeZone> zones = {TimeZone::Utc()};
  for (const char* name : {"America/New_York", "Australia/Lord_Howe"}) {
    Result<TimeZone> zone = TimeZone::Load(name);
    if (zone.ok()) zones.push_back(*zone);
  }
  return zones;
}

sys_seconds Seconds(long long s) { return sys_seconds(std::chrono::seconds(s)); }

std::string CheckRejection(std::string_view data, const Status& status) {
  if (status.code() != Status::Code::kInvalidArgument)
    return "not InvalidArgument: " + status.ToString();
  if (status.message().rfind("cron \"", 0) != 0)
    return "error does not quote the input: " + status.message();
  if (status.message().size() > 1000) return "error longer than 1000 bytes: " + status.message();
  (void)data;
  return "";
}

std::string CheckFireTimes(const CronExpr& expr) {
  static const std::vector<TimeZone> kZones = Zones();
  static const sys_seconds kInstants[] = {
      Seconds(1772951400),     // 2026-03-08T06:30Z, before New York springs forward
      Seconds(1793505600),     // 2026-11-01T04:00Z, before New York falls back
      Seconds(1775310000),     // 2026-04-04T13:40Z, before Lord Howe falls back
      Seconds(0),              // 1970-01-01
      Seconds(253368086400),   // 9998-12-01, near the end of the supported years
      Seconds(-62135424000)};  // 0001-01-03, near their start
  for (const TimeZone& zone : kZones) {
    for (sys_seconds instant : kInstants) {
      sys_seconds previous = instant;
      for (sys_seconds fire : expr.NextN(instant, zone, 4)) {
        if (fire <= previous) return "fire times do not increase in " + std::string(zone.name());
        if (expr.NextAfter(fire - std::chrono::seconds(1), zone) != fire) {
          return "NextAfter(fire - 1s) is not fire in " + std::string(zone.name());
        }
        previous = fire;
      }
    }
  }
  return "";
}

}  // namespace

std::string CheckCronInput(std::string_view data) {
  Result<CronExpr> expr = CronExpr::Parse(data);
  if (!expr.ok()) return CheckRejection(data, expr.status());
  std::string text = expr->ToString();
  Result<CronExpr> again = CronExpr::Parse(text);
  if (!again.ok()) return "canonical text does not parse: " + again.status().message();
  if (!(*again == *expr)) return "canonical text \"" + text + "\" parses to " + again->ToString();
  if (again->ToString() != text) return "canonical text is not stable: " + text;
  return CheckFireTimes(*expr);
}

}  // namespace pgjobs::fuzz
