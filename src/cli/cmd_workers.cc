// `pgjobs workers list|stop` and `pgjobs tasks list`.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "cli/task_warning.h"
#include "store/queue_admin.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

// {"default": 4, "emails": 8} as "default=4,emails=8".
std::string QueueList(const json& queues) {
  std::string out;
  for (const auto& [name, n] : queues.items()) out += (out.empty() ? "" : ",") + name + "=" + Cell(n);
  return out.empty() ? "-" : out;
}

std::string Joined(const json& names) {
  std::string out;
  for (const json& n : names) out += (out.empty() ? "" : ",") + Cell(n);
  return out.empty() ? "-" : out;
}

int RunWorkersList(GlobalOptions& global, bool as_json) {
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto workers = store::ListWorkers(*(*s)->conn, (*s)->catalog);
  if (!workers.ok()) return Fail(workers.status());
  if (as_json) {
    PrintJson(*workers);
    return kExitOk;
  }
  if (workers->empty()) {
    std::printf("no workers; start one with `pgjobs worker --config FILE`\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "HOST", "PID", "QUEUES", "RUNNING", "HEARTBEAT", "STARTED", "VERSION", "STATE"}};
  for (const json& w : *workers) {
    std::string state = w["stop_requested"] == true ? "stopping" : w["live"] == true ? "live" : "silent";
    rows.push_back({Cell(w["id"]), Cell(w["host"]), Cell(w["pid"]), QueueList(w["queues"]),
                    Cell(w["running"]) + "/" + Cell(w["concurrency"]),
                    Ago(w["heartbeat_at"], (*s)->db_now), Ago(w["started_at"], (*s)->db_now),
                    Cell(w["version"]), state});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunWorkersStop(GlobalOptions& global, const std::string& id) {
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  Status st = store::StopWorker(*(*s)->conn, (*s)->catalog, id, WhoAmI());
  if (!st.ok()) return Fail(st);
  std::printf("asked worker %s to stop: it claims nothing more, lets running jobs finish for up "
              "to its drain_timeout, then exits\n",
              id.c_str());
  // A worker that has stopped beating may be dead: nothing will read the
  // request (unless it comes back), and its jobs return with their leases.
  auto workers = store::ListWorkers(*(*s)->conn, (*s)->catalog);
  if (workers.ok()) {
    for (const auto& w : *workers) {
      if (w.value("id", "") != id || w.value("live", true)) continue;
      std::fprintf(stderr,
                   "pgjobs: warning: worker %s is silent (its last heartbeat was at %s, longer "
                   "ago than its lease): it may have died; if so, its jobs return to the queue "
                   "when their leases expire and its row is deleted 5 minutes after that "
                   "heartbeat\n",
                   id.c_str(), w.value("heartbeat_at", std::string("?")).c_str());
    }
  }
  return kExitOk;
}

// The warnings of the tasks that have ready jobs on queues no live worker
// serves for them, with the names live workers do handle.
void WarnUnserved(AdminSession& s, const json& tasks) {
  for (const json& t : tasks) {
    for (const json& q : t["unserved_queues"]) {
      WarnIfNoWorker(*s.conn, s.catalog, t["task"].get<std::string>(), q.get<std::string>(),
                     "Its jobs wait");
    }
  }
}

int RunTasksList(GlobalOptions& global, bool as_json) {
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto tasks = store::ListTasks(*(*s)->conn, (*s)->catalog);
  if (!tasks.ok()) return Fail(tasks.status());
  if (as_json) {
    PrintJson(*tasks);
  } else if (tasks->empty()) {
    std::printf("no tasks: no job waits and no live worker runs\n");
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"TASK", "PENDING", "SCHEDULED", "RUNNING", "OLDEST PENDING", "WORKERS", "NO WORKER ON"}};
    for (const json& t : *tasks) {
      rows.push_back({Cell(t["task"]), Cell(t["pending"]), Cell(t["scheduled"]), Cell(t["running"]),
                      ShortDuration(t["oldest_pending_seconds"]), Joined(t["workers"]),
                      Joined(t["unserved_queues"])});
    }
    PrintTable(rows);
  }
  WarnUnserved(**s, *tasks);
  return kExitOk;
}

}  // namespace

void AddWorkersCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* workers = app.add_subcommand("workers", "list and stop worker processes");
  workers->require_subcommand(1);
  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = workers->add_subcommand(
      "list", "every worker: host, pid, queues, running jobs, heartbeat, version");
  list->add_flag("--json", *as_json, "print JSON");
  list->callback([&global, &exit_code, as_json] { exit_code = RunWorkersList(global, *as_json); });
  auto id = std::make_shared<std::string>();
  CLI::App* stop = workers->add_subcommand(
      "stop", "ask a worker, through the database, to drain and exit");
  stop->add_option("id", *id, "worker id (`pgjobs workers list`)")->required();
  stop->callback([&global, &exit_code, id] { exit_code = RunWorkersStop(global, *id); });
}

void AddTasksCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* tasks = app.add_subcommand("tasks", "the tasks jobs name and workers handle");
  tasks->require_subcommand(1);
  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = tasks->add_subcommand(
      "list", "every task in waiting jobs or handled by a live worker; warns for tasks whose "
              "jobs no live worker runs");
  list->add_flag("--json", *as_json, "print JSON");
  list->callback([&global, &exit_code, as_json] { exit_code = RunTasksList(global, *as_json); });
}

}  // namespace pgjobs::cli
