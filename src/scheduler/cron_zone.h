// A time zone seen as a sequence of segments of constant UTC offset, which is
// all the cron search needs. Wraps date::time_zone (nullptr is UTC).
#ifndef PGJOBS_SCHEDULER_CRON_ZONE_H_
#define PGJOBS_SCHEDULER_CRON_ZONE_H_

#include <cstdint>

namespace date {
class time_zone;
}  // namespace date

namespace pgjobs::scheduler {

// Instants [begin, end) whose wall time is instant + offset (all in seconds).
struct ZoneSegment {
  int64_t begin;
  int64_t end;
  int64_t offset;
};

class ZoneView {
 public:
  // `zone` must outlive the view; nullptr is UTC.
  explicit ZoneView(const date::time_zone* zone) : zone_(zone) {}

  // The segment holding `instant`.
  ZoneSegment SegmentAt(int64_t instant) const;

  // The latest wall time the clock has shown at or before `instant`: the wall
  // time at `instant`, except after a fall-back, where the clock once showed
  // later times.
  int64_t HighWaterMark(int64_t instant) const;

  // The first instant at which the wall clock reaches or passes `wall_time`:
  // its first occurrence, or the end of the gap when it was skipped.
  int64_t FirstReach(int64_t wall_time) const;

 private:
  const date::time_zone* zone_;
};

}  // namespace pgjobs::scheduler

#endif  // PGJOBS_SCHEDULER_CRON_ZONE_H_
