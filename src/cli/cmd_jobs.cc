// `pgjobs jobs list|show|wait`: what jobs there are and how they ended, as
// tables for people or JSON (--json) for scripts. The commands that change
// jobs (retry, cancel, purge) are in cmd_jobs_change.cc.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "store/job_admin.h"
#include "store/schedule_admin.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

constexpr int kMaxLimit = 10000;

struct ListOptions {
  std::string queue, state, task, schedule, since;
  int limit = 50;
  bool as_json = false;
};

std::optional<std::string> Given(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

Result<store::JobFilter> BuildFilter(const ListOptions& o) {
  store::JobFilter f;
  f.queue = Given(o.queue);
  f.task = Given(o.task);
  f.schedule = Given(o.schedule);
  if (!o.state.empty() && !store::IsJobState(o.state)) {
    return Status::InvalidArgument("--state \"" + o.state +
                                   "\" is not a state; use pending, scheduled, running, "
                                   "succeeded, failed or cancelled");
  }
  f.state = Given(o.state);
  if (!o.since.empty()) {
    auto since = ParseSeconds("--since", o.since);
    if (!since.ok()) return since.status();
    f.since_seconds = *since;
  }
  if (o.limit < 1 || o.limit > kMaxLimit) {
    return Status::InvalidArgument("--limit " + std::to_string(o.limit) + " is out of range; use 1-" +
                                   std::to_string(kMaxLimit));
  }
  f.limit = o.limit;
  return f;
}

// When a finished or running job last changed, for the WHEN column.
std::string When(const json& j, double now) {
  if (!j["finished_at"].is_null()) return "finished " + Ago(j["finished_at"], now);
  if (j["state"] == "running") return "started " + Ago(j["started_at"], now);
  if (j["state"] == "scheduled") return "runs " + Ago(j["run_at"], now);
  return "ready " + Ago(j["run_at"], now);
}

int RunList(GlobalOptions& global, const ListOptions& o) {
  auto filter = BuildFilter(o);
  if (!filter.ok()) return Fail(filter.status());
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto jobs = store::JobAdmin(*(*s)->conn, (*s)->catalog).List(*filter);
  if (!jobs.ok()) return Fail(jobs.status());
  if (jobs->empty() && filter->schedule) {
    // No job of a schedule that does not exist: a typo, not "nothing yet".
    auto schedule = store::ScheduleAdmin(*(*s)->conn, (*s)->catalog).Get(*filter->schedule);
    if (!schedule.ok()) return Fail(schedule.status().WithContext("--schedule"));
  }
  if (o.as_json) {
    PrintJson(*jobs);
    return kExitOk;
  }
  if (jobs->empty()) {
    std::printf("no jobs match\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "QUEUE", "TASK", "ATTEMPT", "CREATED", "WHEN", "WORKER", "RETRY OF"}};
  for (const json& j : *jobs) {
    rows.push_back({Cell(j["id"]), Cell(j["state"]), Cell(j["queue"]), Cell(j["task"]),
                    Cell(j["attempt"]) + "/" + Cell(j["max_attempts"]),
                    Ago(j["created_at"], (*s)->db_now), When(j, (*s)->db_now), Cell(j["worker_id"]),
                    Cell(j["retry_of"])});
  }
  PrintTable(rows);
  return kExitOk;
}

void PrintErrors(const json& errors) {
  if (!errors.is_array() || errors.empty()) return;
  std::printf("errors:\n");
  for (const json& e : errors) {
    std::printf("  attempt %s at %s [%s] %s\n", Cell(e.value("attempt", json())).c_str(),
                Cell(e.value("at", json())).c_str(), Cell(e.value("kind", json("error"))).c_str(),
                Cell(e.value("error", json())).c_str());
  }
}

void PrintJob(const json& j) {
  std::printf("job %s: %s\n", Cell(j["id"]).c_str(), Cell(j["state"]).c_str());
  const char* fields[][2] = {{"task", "task"},           {"queue", "queue"},
                             {"priority", "priority"},   {"created", "created_at"},
                             {"run at", "run_at"},       {"started", "started_at"},
                             {"finished", "finished_at"}, {"worker", "worker_id"},
                             {"unique key", "unique_key"}, {"retry of", "retry_of"},
                             {"args", "args"},           {"progress", "progress"},
                             {"result", "result"}};
  for (const auto& [label, key] : fields) {
    std::printf("  %-11s %s\n", label, Cell(j[key]).c_str());
  }
  std::printf("  %-11s %s of %s\n", "attempts", Cell(j["attempt"]).c_str(),
              Cell(j["max_attempts"]).c_str());
  if (!j["cancelled_by"].is_null()) {
    std::printf("  %-11s %s%s\n", "cancelled", Cell(j["cancelled_by"]).c_str(),
                j["state"] == "running" ? " (the worker is stopping it)" : "");
  }
  if (j["state"] == "pending" && j["has_worker"] == false) {
    std::printf("  note: no running worker handles task %s on queue %s; the job waits, "
                "with no attempt used, until one does\n",
                Cell(j["task"]).c_str(), Cell(j["queue"]).c_str());
  }
  PrintErrors(j["errors"]);
}

// Prints the job's state and progress whenever they change, until it ends.
int Follow(AdminSession& s, int64_t id, json job, bool as_json) {
  store::JobAdmin admin(*s.conn, s.catalog);
  json last_state = job["state"];
  json last_progress = job["progress"];
  while (!store::IsFinishedState(job["state"].get<std::string>())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto next = admin.Show(id);
    if (!next.ok()) return Fail(next.status());
    job = std::move(*next);
    if (job["state"] == last_state && job["progress"] == last_progress) continue;
    last_state = job["state"];
    last_progress = job["progress"];
    if (as_json) {
      std::printf("%s\n", json{{"state", last_state}, {"progress", last_progress}}.dump().c_str());
    } else {
      std::printf("%s  progress %s\n", Cell(last_state).c_str(), Cell(last_progress).c_str());
    }
    std::fflush(stdout);
  }
  if (as_json) {
    // One document per line, like the ones before it.
    std::printf("%s\n", job.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  } else {
    PrintJob(job);
  }
  return kExitOk;
}

int RunShow(GlobalOptions& global, const std::string& id_text, bool as_json, bool follow) {
  auto id = ParseJobId(id_text);
  if (!id.ok()) return Fail(id.status());
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto job = store::JobAdmin(*(*s)->conn, (*s)->catalog).Show(*id);
  if (!job.ok()) return Fail(job.status());
  if (follow) {
    if (as_json) {
      std::printf("%s\n", job->dump().c_str());
    } else {
      PrintJob(*job);
    }
    std::fflush(stdout);
    return Follow(**s, *id, *job, as_json);
  }
  if (as_json) {
    PrintJson(*job);
  } else {
    PrintJob(*job);
  }
  return kExitOk;
}

int RunWait(GlobalOptions& global, const std::string& id_text, const std::string& timeout,
            bool as_json) {
  auto id = ParseJobId(id_text);
  if (!id.ok()) return Fail(id.status());
  std::optional<std::chrono::milliseconds> limit;
  if (!timeout.empty()) {
    auto seconds = ParseSeconds("--timeout", timeout);
    if (!seconds.ok()) return Fail(seconds.status());
    limit = std::chrono::milliseconds(static_cast<int64_t>(*seconds * 1000));
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  return WaitForJob(**s, *id, limit, as_json);
}

void AddList(CLI::App& jobs, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ListOptions>();
  CLI::App* list = jobs.add_subcommand("list", "jobs newest first: waiting, running and finished");
  list->add_option("--queue", o->queue, "only this queue");
  list->add_option("--state", o->state,
                   "pending, scheduled, running, succeeded, failed or cancelled");
  list->add_option("--task", o->task, "only this task");
  list->add_option("--schedule", o->schedule, "only jobs made by this schedule (its name)");
  list->add_option("--since", o->since, "only jobs created in the last DURATION (1h, 7d)");
  list->add_option("--limit", o->limit, "at most N jobs (default 50)");
  list->add_flag("--json", o->as_json, "print JSON");
  list->callback([&global, &exit_code, o] { exit_code = RunList(global, *o); });
}

void AddShowAndWait(CLI::App& jobs, GlobalOptions& global, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto follow = std::make_shared<bool>(false);
  CLI::App* show = jobs.add_subcommand("show", "one job: state, attempts, errors, result, timings");
  show->add_option("id", *id, "job id")->required();
  show->add_flag("--json", *as_json, "print JSON");
  show->add_flag("--follow", *follow, "print state and progress changes until the job ends");
  show->callback([&global, &exit_code, id, as_json, follow] {
    exit_code = RunShow(global, *id, *as_json, *follow);
  });
  auto wait_id = std::make_shared<std::string>();
  auto timeout = std::make_shared<std::string>();
  auto wait_json = std::make_shared<bool>(false);
  CLI::App* wait = jobs.add_subcommand(
      "wait", "wait for a job to end and print its result (exit 0 succeeded, 5 failed, "
              "6 cancelled, 7 timeout)");
  wait->add_option("id", *wait_id, "job id")->required();
  wait->add_option("--timeout", *timeout, "give up after this long (e.g. 60s; default: never)");
  wait->add_flag("--json", *wait_json, "print the finished job as JSON");
  wait->callback([&global, &exit_code, wait_id, timeout, wait_json] {
    exit_code = RunWait(global, *wait_id, *timeout, *wait_json);
  });
}

}  // namespace

void AddJobsCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* jobs = app.add_subcommand("jobs", "list, inspect, wait for, retry, cancel and purge jobs");
  jobs->require_subcommand(1);
  AddList(*jobs, global, exit_code);
  AddShowAndWait(*jobs, global, exit_code);
  AddJobsChangeCommands(*jobs, global, exit_code);
}

}  // namespace pgjobs::cli
