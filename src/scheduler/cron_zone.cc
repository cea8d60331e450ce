// TimeZone, and the segment view of a zone used by the cron search.
#include "scheduler/cron_zone.h"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <string>

#include "pgjobs/cron.h"
#include "scheduler/cron_internal.h"

namespace pgjobs {

Result<TimeZone> TimeZone::Load(std::string_view iana_name) {
  constexpr const char* kHint = "; use an IANA name such as Europe/Paris or UTC";
  if (iana_name == "UTC") return TimeZone();
  if (iana_name.empty())
    return Status::InvalidArgument(std::string("empty time zone name") + kHint);
  if (iana_name == "localtime") {
    // A file of the zone database that points at each host's /etc/localtime:
    // schedulers on two hosts would fire the same schedule at different times.
    return Status::InvalidArgument(
        "time zone \"localtime\" is each host's own setting, so schedulers on different hosts "
        "would disagree" +
        std::string(kHint));
  }
  try {
    date::get_tzdb();
  } catch (const std::exception& e) {
    return Status::FailedPrecondition(std::string("cannot read the system time zone database (") +
                                      e.what() + "); install the tzdata package");
  }
  try {
    return TimeZone(date::locate_zone(iana_name));
  } catch (const std::exception&) {
    return Status::InvalidArgument("unknown time zone " + scheduler::QuoteForMessage(iana_name) +
                                   kHint);
  }
}

std::string_view TimeZone::name() const {
  if (zone_ == nullptr) return "UTC";
  return zone_->name();  // lives as long as the time zone database
}

}  // namespace pgjobs

namespace pgjobs::scheduler {
namespace {

// Far beyond any instant the search uses (years 1-9999), and far from overflow.
constexpr int64_t kForever = std::numeric_limits<int64_t>::max() / 4;

// Offsets stay within +-15:00 (historic local mean times included), so any
// earlier segment that could have shown a later wall time ends less than two
// days back.
constexpr int64_t kLookBack = 2 * kSecondsPerDay;

}  // namespace

ZoneSegment ZoneView::SegmentAt(int64_t instant) const {
  if (zone_ == nullptr) return {-kForever, kForever, 0};
  date::sys_info info = zone_->get_info(date::sys_seconds(std::chrono::seconds(instant)));
  int64_t begin = info.begin.time_since_epoch().count();
  int64_t end = info.end.time_since_epoch().count();
  return {std::max(begin, -kForever), std::min(end, kForever), info.offset.count()};
}

int64_t ZoneView::HighWaterMark(int64_t instant) const {
  ZoneSegment segment = SegmentAt(instant);
  int64_t mark = instant + segment.offset;
  // Each earlier segment showed its latest wall time at its last instant.
  for (int64_t last = segment.begin - 1; last >= instant - kLookBack;) {
    ZoneSegment earlier = SegmentAt(last);
    mark = std::max(mark, last + earlier.offset);
    last = earlier.begin - 1;
  }
  return mark;
}

int64_t ZoneView::FirstReach(int64_t wall_time) const {
  // The wall clock shows less than wall_time two days earlier; walk forward.
  int64_t instant = wall_time - kLookBack;
  for (;;) {
    ZoneSegment segment = SegmentAt(instant);
    if (segment.end - 1 + segment.offset >= wall_time) {
      return std::max(instant, wall_time - segment.offset);
    }
    instant = segment.end;
  }
}

}  // namespace pgjobs::scheduler
