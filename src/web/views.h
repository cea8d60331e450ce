// The dashboard's pages. Each page has a data function, whose JSON is what
// /api/... returns (with the CLI's --json field names, from the same
// src/store/ calls), and an HTML function that renders that JSON with the
// helpers of html.h. A page is a head (title, filters; not refreshed) and a
// content part that the page's script refreshes in place.
#ifndef PGJOBS_WEB_VIEWS_H_
#define PGJOBS_WEB_VIEWS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::web {

// What a page is rendered with. conn and catalog outlive the call.
struct ViewContext {
  pg::Connection& conn;
  const SqlCatalog& catalog;
  std::map<std::string, std::string> query;  // the URL's query parameters
  bool can_act = false;                      // show action buttons (admin role)
  double now = 0;                            // the database's clock, Unix seconds
};

struct Page {
  std::string title;
  std::string head;     // HTML above the refreshed part
  std::string content;  // HTML of the refreshed part
};

// The query parameter name, or "" when absent.
std::string Param(const ViewContext& ctx, const std::string& name);

// "/": queues, the last hour's stats and throughput charts.
Result<nlohmann::json> OverviewData(ViewContext& ctx);
Page OverviewPage(const nlohmann::json& data, const ViewContext& ctx);

// "/jobs": filtered by queue, state, task, schedule, since; paged by before.
// Bad filters are InvalidArgument naming the parameter.
Result<nlohmann::json> JobsData(ViewContext& ctx);
Page JobsPage(const nlohmann::json& data, const ViewContext& ctx);

// "/jobs/ID": one job with the schedule that made it.
Result<nlohmann::json> JobData(ViewContext& ctx, int64_t id);
Page JobPage(const nlohmann::json& data, const ViewContext& ctx);

// "/schedules" and "/schedules/NAME" (with the next 10 fire times).
Result<nlohmann::json> SchedulesData(ViewContext& ctx);
Page SchedulesPage(const nlohmann::json& data, const ViewContext& ctx);
Result<nlohmann::json> ScheduleData(ViewContext& ctx, const std::string& name);
Page SchedulePage(const nlohmann::json& data, const ViewContext& ctx);

// "/actions": the audit log, newest first, filtered by target, kind (job,
// queue, schedule, worker or a whole action), actor, since; paged by before.
Result<nlohmann::json> ActionsData(ViewContext& ctx);
Page ActionsPage(const nlohmann::json& data, const ViewContext& ctx);
// The last 20 actions of kind on target (a job id, a schedule name).
Result<nlohmann::json> ActionsOn(ViewContext& ctx, const std::string& kind,
                                 const std::string& target);
// Actions as a table (with an "on" column when with_target).
std::string ActionsTable(const nlohmann::json& actions, const ViewContext& ctx, bool with_target);

// "/workers" and "/tasks".
Result<nlohmann::json> WorkersData(ViewContext& ctx);
Page WorkersPage(const nlohmann::json& data, const ViewContext& ctx);
Result<nlohmann::json> TasksData(ViewContext& ctx);
Page TasksPage(const nlohmann::json& data, const ViewContext& ctx);

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_VIEWS_H_
