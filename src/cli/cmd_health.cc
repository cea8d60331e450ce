// `pgjobs stats` (throughput and timings from history) and `pgjobs doctor`
// (health checks; non-zero exit when unhealthy, for health probes).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "store/db_errors.h"
#include "store/stats.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

struct StatsOptions {
  std::string since = "1h";
  std::string queue;
  bool as_json = false;
  bool watch = false;
  std::string interval = "2s";
};

// Jobs per minute: two decimals below 10, so that a slow queue is not 0.
std::string PerMinute(const json& v) {
  if (!v.is_number()) return "-";
  double n = v.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof(buf), n < 10 ? "%.2f" : "%.0f", n);
  return buf;
}

std::string Percent(const json& rate) {
  if (!rate.is_number()) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate.get<double>() * 100);
  return buf;
}

std::string Triple(const json& row, const std::string& prefix) {
  return ShortDuration(row[prefix + "_p50"]) + " / " + ShortDuration(row[prefix + "_p95"]) + " / " +
         ShortDuration(row[prefix + "_p99"]);
}

int PrintStats(AdminSession& s, const StatsOptions& o, double since) {
  std::optional<std::string> queue;
  if (!o.queue.empty()) queue = o.queue;
  auto stats = store::GetStats(*s.conn, s.catalog, since, queue);
  if (!stats.ok()) return Fail(stats.status());
  if (o.as_json) {
    json doc{{"since_seconds", since}, {"rows", *stats}};
    // --watch: one document per line, for line-by-line readers.
    if (o.watch) {
      std::printf("%s\n", doc.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    } else {
      PrintJson(doc);
    }
    return kExitOk;
  }
  if (stats->empty()) {
    std::printf("no job finished in the last %s\n", o.since.c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"QUEUE", "TASK", "FINISHED", "PER MIN",
                                                 "SUCCEEDED", "FAILED", "CANCELLED", "FAILURE RATE",
                                                 "RUN P50/P95/P99", "WAIT P50/P95/P99"}};
  for (const json& r : *stats) {
    rows.push_back({Cell(r["queue"]), r["task"].is_null() ? "(all)" : Cell(r["task"]),
                    Cell(r["finished"]), PerMinute(r["per_minute"]), Cell(r["succeeded"]),
                    Cell(r["failed"]), Cell(r["cancelled"]), Percent(r["failure_rate"]),
                    Triple(r, "run"), Triple(r, "wait")});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunStats(GlobalOptions& global, const StatsOptions& o) {
  auto since = ParseSeconds("--since", o.since);
  if (!since.ok()) return Fail(since.status());
  auto interval = ParseSeconds("--interval", o.interval);
  if (!interval.ok()) return Fail(interval.status());
  if (!o.queue.empty()) {
    if (Status valid = ValidateQueueName(o.queue); !valid.ok()) return Fail(valid.WithContext("--queue"));
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  // --watch: the table again every interval, until interrupted (Ctrl-C).
  for (;;) {
    int rc = PrintStats(**s, o, *since);
    if (!o.watch || rc != kExitOk) return rc;
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(*interval * 1000)));
    std::printf("\n");
  }
}

json FindingJson(const store::Finding& f) {
  return {{"check", f.check}, {"status", f.status}, {"detail", f.detail},
          {"fix", f.fix.empty() ? json() : json(f.fix)}};
}

void PrintFindings(const std::vector<store::Finding>& findings, bool healthy, bool as_json) {
  if (as_json) {
    json checks = json::array();
    for (const store::Finding& f : findings) checks.push_back(FindingJson(f));
    PrintJson({{"healthy", healthy}, {"checks", checks}});
    return;
  }
  for (const store::Finding& f : findings) {
    std::printf("%-4s  %-19s %s\n", f.status.c_str(), f.check.c_str(), f.detail.c_str());
    if (!f.fix.empty()) std::printf("      %-19s fix: %s\n", "", f.fix.c_str());
  }
  std::printf("%s\n", healthy ? "healthy" : "UNHEALTHY");
}

struct DoctorOptions {
  bool as_json = false;
  std::string idle_threshold = "60s";
};

int RunDoctor(GlobalOptions& global, const DoctorOptions& o) {
  const bool as_json = o.as_json;
  auto idle = ParseSeconds("--idle-threshold", o.idle_threshold);
  if (!idle.ok()) return Fail(idle.status());
  store::HealthThresholds thresholds;
  thresholds.idle_in_transaction_seconds = *idle;
  auto s = OpenAdmin(global);
  if (!s.ok()) {
    // The first check: the database is reachable and its schema current.
    std::string fix = s.status().code() == Status::Code::kUnavailable
                          ? "check --dsn / PGJOBS_DSN and that PostgreSQL runs"
                      : s.status().code() == Status::Code::kPermissionDenied
                          ? "grant this login role one of the pgjobs roles (README, Deployment)"
                          : "run `pgjobs migrate`";
    PrintFindings({{"database", "fail", s.status().message(), fix}}, false, as_json);
    return ExitCode(s.status()) == kExitOk ? kExitError : ExitCode(s.status());
  }
  auto facts = store::GetDoctorFacts(*(*s)->conn, (*s)->catalog);
  if (!facts.ok() && facts.status().code() == Status::Code::kPermissionDenied) {
    // A worker host's configuration connects as the worker role, which may
    // not read schedules or queues.
    return Fail(facts.status().WithContext(
        "doctor reads every table of the schema; run it as a role in " + global.schema +
        "_admin or " + global.schema + "_reader (--dsn)"));
  }
  if (!facts.ok()) return Fail(facts.status());
  std::vector<store::Finding> findings = {
      {"database", "ok", "reachable, schema current", ""}};
  for (store::Finding& f : store::JudgeHealth(*facts, thresholds)) {
    findings.push_back(std::move(f));
  }
  bool healthy = true;
  for (const store::Finding& f : findings) healthy = healthy && f.status != "fail";
  PrintFindings(findings, healthy, as_json);
  return healthy ? kExitOk : kExitError;
}

}  // namespace

void AddStatsCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<StatsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "stats", "throughput, failure rate, run and wait time percentiles per queue and task");
  cmd->add_option("--since", o->since, "window: jobs finished in the last DURATION (default 1h)");
  cmd->add_option("--queue", o->queue, "only this queue");
  cmd->add_flag("--json", o->as_json, "print JSON");
  cmd->add_flag("--watch", o->watch, "print the stats again every --interval until interrupted");
  cmd->add_option("--interval", o->interval, "with --watch: how often (default 2s)");
  cmd->callback([&global, &exit_code, o] { exit_code = RunStats(global, *o); });
}

void AddDoctorCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand(
      "doctor", "health checks, each with what to do; exit 1 when unhealthy, 4 when the "
                "database cannot be reached");
  cmd->add_flag("--json", o->as_json, "print JSON");
  cmd->add_option("--idle-threshold", o->idle_threshold,
                  "report sessions idle in transaction for longer than DURATION (default 60s)");
  cmd->callback([&global, &exit_code, o] { exit_code = RunDoctor(global, *o); });
}

}  // namespace pgjobs::cli
