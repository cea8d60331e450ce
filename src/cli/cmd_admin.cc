// `pgjobs jobs show ID` and `pgjobs queues list`: read-only views, as tables
// for people or JSON (--json) for scripts.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

struct AdminSession {
  SqlCatalog catalog;
  std::unique_ptr<pg::Connection> conn;
};

Result<AdminSession> OpenAdmin(GlobalOptions& global) {
  PGJOBS_RETURN_IF_ERROR(ResolveConnection(global));
  auto catalog = SqlCatalog::Load(global.schema);
  if (!catalog.ok()) return catalog.status();
  AdminSession s{std::move(*catalog), nullptr};
  s.conn = std::make_unique<pg::Connection>(global.dsn, nullptr, "pgjobs admin");
  PGJOBS_RETURN_IF_ERROR(s.conn->EnsureConnected());
  PGJOBS_RETURN_IF_ERROR(migrate::Migrator(*s.conn, s.catalog).CheckCurrent());
  return s;
}

// One statement of the catalog whose single column is a JSON document.
Result<json> QueryJson(AdminSession& s, const std::string& name, const pg::Params& params) {
  std::string result;
  Status st = s.conn->Transact([&](pg::Tx& tx) -> Status {
    auto r = tx.ExecParams(s.catalog.Get(name), params);
    if (!r.ok()) return r.status();
    if (!r->empty() && !r->IsNull(0, 0)) result = r->Text(0, 0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (result.empty()) return json();
  return json::parse(result);
}

std::string Show(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void PrintErrors(const json& errors) {
  if (!errors.is_array() || errors.empty()) return;
  std::printf("errors:\n");
  for (const json& e : errors) {
    std::printf("  attempt %s at %s [%s] %s\n", Show(e.value("attempt", json())).c_str(),
                Show(e.value("at", json())).c_str(), Show(e.value("kind", json("error"))).c_str(),
                Show(e.value("error", json())).c_str());
  }
}

void PrintJob(const json& j) {
  std::printf("job %s: %s\n", Show(j["id"]).c_str(), Show(j["state"]).c_str());
  const char* fields[][2] = {{"task", "task"},           {"queue", "queue"},
                             {"priority", "priority"},   {"created", "created_at"},
                             {"run at", "run_at"},       {"started", "started_at"},
                             {"finished", "finished_at"}, {"worker", "worker_id"},
                             {"unique key", "unique_key"}, {"args", "args"},
                             {"progress", "progress"},   {"result", "result"}};
  for (const auto& [label, key] : fields) {
    std::printf("  %-11s %s\n", label, Show(j[key]).c_str());
  }
  std::printf("  %-11s %s of %s\n", "attempts", Show(j["attempt"]).c_str(),
              Show(j["max_attempts"]).c_str());
  if (j["state"] == "pending" && j["has_worker"] == false) {
    std::printf("  note: no running worker handles task %s on queue %s; the job waits, "
                "with no attempt used, until one does\n",
                Show(j["task"]).c_str(), Show(j["queue"]).c_str());
  }
  PrintErrors(j["errors"]);
}

// A job id as typed: digits only, checked before connecting.
Result<int64_t> ParseJobId(const std::string& text) {
  bool digits = !text.empty() && text.size() <= 18 &&
                text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    return Status::InvalidArgument("job id must be a number: \"" + text +
                                   "\" (`pgjobs enqueue` prints it; so does the id column of "
                                   "pgjobs.jobs)");
  }
  return static_cast<int64_t>(std::stoll(text));
}

int RunJobsShow(GlobalOptions& global, const std::string& id_text, bool as_json) {
  auto parsed = ParseJobId(id_text);
  if (!parsed.ok()) return Fail(parsed.status());
  int64_t id = *parsed;
  auto session = OpenAdmin(global);
  if (!session.ok()) return Fail(session.status());
  auto job = QueryJson(*session, "job_show", {std::to_string(id)});
  if (!job.ok()) return Fail(job.status());
  if (job->is_null()) {
    return Fail(Status::NotFound("no job " + std::to_string(id) +
                                 " (finished jobs are kept for the history retention period)"));
  }
  if (as_json) {
    std::printf("%s\n", job->dump(2).c_str());
  } else {
    PrintJob(*job);
  }
  return kExitOk;
}

int RunQueuesList(GlobalOptions& global, bool as_json) {
  auto session = OpenAdmin(global);
  if (!session.ok()) return Fail(session.status());
  auto stats = QueryJson(*session, "queue_stats", {});
  if (!stats.ok()) return Fail(stats.status());
  if (as_json) {
    std::printf("%s\n", stats->dump(2).c_str());
    return kExitOk;
  }
  std::printf("%-24s %9s %9s %9s %10s %8s\n", "QUEUE", "PENDING", "SCHEDULED", "RUNNING",
              "FAILED 24H", "WORKERS");
  for (const json& q : *stats) {
    std::printf("%-24s %9s %9s %9s %10s %8s\n", Show(q["queue"]).c_str(),
                Show(q["pending"]).c_str(), Show(q["scheduled"]).c_str(),
                Show(q["running"]).c_str(), Show(q["failed_24h"]).c_str(),
                Show(q["workers"]).c_str());
  }
  return kExitOk;
}

}  // namespace

void AddJobsCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* jobs = app.add_subcommand("jobs", "inspect jobs");
  jobs->require_subcommand(1);
  auto id = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  CLI::App* show = jobs->add_subcommand("show", "one job: state, attempts, errors, result, timings");
  show->add_option("id", *id, "job id")->required();
  show->add_flag("--json", *as_json, "print JSON");
  show->callback([&global, &exit_code, id, as_json] {
    exit_code = RunJobsShow(global, *id, *as_json);
  });
}

void AddQueuesCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* queues = app.add_subcommand("queues", "inspect queues");
  queues->require_subcommand(1);
  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = queues->add_subcommand(
      "list", "per queue: pending, scheduled and running jobs, failures in the last 24 hours, "
              "workers");
  list->add_flag("--json", *as_json, "print JSON");
  list->callback([&global, &exit_code, as_json] { exit_code = RunQueuesList(global, *as_json); });
}

}  // namespace pgjobs::cli
