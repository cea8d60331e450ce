// `pgjobs queues list|pause|resume`.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "store/db_errors.h"
#include "store/queue_admin.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

int RunList(GlobalOptions& global, bool as_json) {
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto queues = store::ListQueues(*(*s)->conn, (*s)->catalog);
  if (!queues.ok()) return Fail(queues.status());
  if (as_json) {
    PrintJson(*queues);
    return kExitOk;
  }
  // The first six columns keep the order they had before the others came.
  std::vector<std::vector<std::string>> rows = {{"QUEUE", "PENDING", "SCHEDULED", "RUNNING",
                                                 "FAILED 24H", "WORKERS", "SUCCEEDED 1H",
                                                 "FAILED 1H", "OLDEST PENDING", "PAUSED"}};
  for (const json& q : *queues) {
    rows.push_back({Cell(q["queue"]), Cell(q["pending"]), Cell(q["scheduled"]), Cell(q["running"]),
                    Cell(q["failed_24h"]), Cell(q["workers"]), Cell(q["succeeded_1h"]),
                    Cell(q["failed_1h"]), ShortDuration(q["oldest_pending_seconds"]),
                    q["paused"] == true ? "paused" : "-"});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunSetPaused(GlobalOptions& global, const std::string& queue, bool paused) {
  Status valid = ValidateQueueName(queue);
  if (!valid.ok()) return Fail(valid);
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, queue);
  if (!known.ok()) return Fail(known);
  Status st = store::SetQueuePaused(*(*s)->conn, (*s)->catalog, queue, paused);
  if (!st.ok()) return Fail(st);
  if (paused) {
    std::printf("queue %s paused: workers claim none of its jobs until `pgjobs queues resume %s`; "
                "running jobs finish\n",
                queue.c_str(), queue.c_str());
  } else {
    std::printf("queue %s resumed\n", queue.c_str());
  }
  return kExitOk;
}

int RunSet(GlobalOptions& global, const std::string& queue, const std::string& notify) {
  Status valid = ValidateQueueName(queue);
  if (!valid.ok()) return Fail(valid);
  if (notify.empty()) {
    return Fail(Status::InvalidArgument(
        "nothing to set; give --notify on|off (per-queue concurrency and rate limits are not "
        "implemented yet)"));
  }
  if (notify != "on" && notify != "off") {
    return Fail(Status::InvalidArgument("--notify \"" + notify + "\" is not on or off"));
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, queue);
  if (!known.ok()) return Fail(known);
  Status st = store::SetQueueNotify(*(*s)->conn, (*s)->catalog, queue, notify == "on");
  if (!st.ok()) return Fail(st);
  std::printf("queue %s: notify %s%s\n", queue.c_str(), notify.c_str(),
              notify == "off" ? " (workers find its jobs by polling, every poll_interval)" : "");
  return kExitOk;
}

}  // namespace

void AddQueuesCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* queues = app.add_subcommand("queues", "list, pause and resume queues");
  queues->require_subcommand(1);
  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = queues->add_subcommand(
      "list", "per queue: pending, scheduled and running jobs, failures, live workers, "
              "throughput of the last hour, oldest pending job, paused");
  list->add_flag("--json", *as_json, "print JSON");
  list->callback([&global, &exit_code, as_json] { exit_code = RunList(global, *as_json); });
  auto set_queue = std::make_shared<std::string>();
  auto notify = std::make_shared<std::string>();
  CLI::App* set = queues->add_subcommand("set", "change a queue's settings");
  set->add_option("queue", *set_queue, "queue name")->required();
  set->add_option("--notify", *notify,
                  "on: inserts wake idle workers with a NOTIFY (default); off: workers poll");
  set->callback([&global, &exit_code, set_queue, notify] {
    exit_code = RunSet(global, *set_queue, *notify);
  });
  for (bool paused : {true, false}) {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = queues->add_subcommand(
        paused ? "pause" : "resume",
        paused ? "stop claiming jobs of a queue (within a second; running jobs finish)"
               : "claim jobs of a paused queue again");
    cmd->add_option("queue", *name, "queue name")->required();
    cmd->callback([&global, &exit_code, name, paused] {
      exit_code = RunSetPaused(global, *name, paused);
    });
  }
}

}  // namespace pgjobs::cli
