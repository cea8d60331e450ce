// `pgjobs audit`: who did what, and when (the audit log, store/audit.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "common/text.h"
#include "store/audit.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

constexpr int kMaxLimit = 10000;

struct AuditOptions {
  std::string target, kind, actor, since;
  int limit = 50;
  bool as_json = false;
};

std::optional<std::string> Given(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

Result<store::AuditFilter> BuildFilter(const AuditOptions& o) {
  store::AuditFilter f;
  f.target = Given(o.target);
  f.kind = Given(o.kind);
  if (f.kind) {
    // A closed set: a typo would only ever say "no actions match".
    std::vector<std::string> known = store::AuditKinds();
    known.insert(known.end(), store::AuditActions().begin(), store::AuditActions().end());
    if (std::find(known.begin(), known.end(), *f.kind) == known.end()) {
      std::string near = NearestWord(*f.kind, known);
      return Status::InvalidArgument(
          "--kind \"" + *f.kind + "\" is neither a kind (job, queue, schedule, worker) nor an " +
          "action such as queue.pause" + (near.empty() ? "" : "; did you mean \"" + near + "\"?") +
          " (README, \"Who did what: the audit log\", lists the actions)");
    }
  }
  f.actor = Given(o.actor);
  if (!o.since.empty()) {
    auto since = ParseSeconds("--since", o.since);
    if (!since.ok()) return since.status();
    f.since_seconds = *since;
  }
  if (o.limit < 1 || o.limit > kMaxLimit) {
    return Status::InvalidArgument("--limit " + std::to_string(o.limit) +
                                   " is out of range; use 1-" + std::to_string(kMaxLimit));
  }
  f.limit = o.limit;
  return f;
}

int RunAudit(GlobalOptions& global, const AuditOptions& o) {
  auto filter = BuildFilter(o);
  if (!filter.ok()) return Fail(filter.status());
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto actions = store::ListAudit(*(*s)->conn, (*s)->catalog, *filter);
  if (!actions.ok()) return Fail(actions.status());
  if (o.as_json) {
    PrintJson(*actions);
    return kExitOk;
  }
  if (actions->empty()) {
    std::printf("no actions match\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "WHEN", "WHO", "ACTION", "TARGET", "DETAILS"}};
  for (const json& a : *actions) {
    rows.push_back({Cell(a["id"]), Ago(a["at"], (*s)->db_now), Cell(a["actor"]), Cell(a["action"]),
                    Cell(a["target"]), a["details"].empty() ? "-" : a["details"].dump()});
  }
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddAuditCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<AuditOptions>();
  CLI::App* audit = app.add_subcommand(
      "audit", "who did what, and when: every action on jobs, queues, schedules and workers "
               "from the CLI or the dashboard, newest first");
  audit->add_option("--target", o->target, "only actions on this job id, queue, schedule or worker");
  audit->add_option("--kind", o->kind,
                    "only this kind (job, queue, schedule, worker) or action (queue.pause)");
  audit->add_option("--actor", o->actor, "only actions by this actor (alice@web, root@host)");
  audit->add_option("--since", o->since, "only actions in the last DURATION (1h, 7d)");
  audit->add_option("--limit", o->limit, "at most N actions (default 50)");
  audit->add_flag("--json", o->as_json, "print JSON");
  audit->callback([&global, &exit_code, o] { exit_code = RunAudit(global, *o); });
}

}  // namespace pgjobs::cli
