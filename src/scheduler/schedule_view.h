// A stored schedule as the admin tools show it: the JSON of `pgjobs schedules
// list|show --json` (also the dashboard's /api/schedules) and its next fire
// times, computed as the scheduler computes them.
#ifndef PGJOBS_SCHEDULER_SCHEDULE_VIEW_H_
#define PGJOBS_SCHEDULER_SCHEDULE_VIEW_H_

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/schedule_admin.h"

namespace pgjobs::scheduler {

// The record's definition and state, with the CLI's field names.
nlohmann::ordered_json ScheduleRecordJson(const store::ScheduleRecord& r);

// The next fire times from now; note says why there are none.
struct Upcoming {
  std::vector<std::chrono::sys_seconds> ticks;
  std::string note;
};
Upcoming ComputeUpcoming(const store::ScheduleRecord& r, std::chrono::sys_seconds now, int n);

// upcoming.ticks as [{"utc": ISO, "local": wall time in zone}].
nlohmann::ordered_json UpcomingJson(const Upcoming& upcoming, const std::string& zone);

}  // namespace pgjobs::scheduler

#endif  // PGJOBS_SCHEDULER_SCHEDULE_VIEW_H_
