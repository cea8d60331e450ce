// `pgjobs schedules add|update|enable|disable|remove|run-now`: the commands
// that change schedules one at a time. Input is checked before anything is
// written (and, for add, before connecting); a bad input writes nothing.
#include "cli/cmd_schedules.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "cli/task_warning.h"
#include "migrate/migrator.h"

namespace pgjobs::cli {
namespace {

using store::ScheduleDef;
using store::ScheduleKind;

// The options of add and update; unset ones leave the field as it is.
struct DefOptions {
  std::optional<std::string> cron, every, at, task, queue, args, priority, tz, timeout,
      max_attempts, misfire, catch_up_limit, overlap, start, end, description;
  bool disabled = false;
  bool enabled = false;  // update only
};

void AddDefOptions(CLI::App* cmd, DefOptions& o, bool is_add) {
  auto text = [cmd](const char* flag, std::optional<std::string>& out, const std::string& help) {
    cmd->add_option_function<std::string>(
        flag, [&out](const std::string& v) { out = v; }, help);
  };
  text("--cron", o.cron, "cron expression, e.g. \"0 3 * * *\", \"*/15 9-17 * * MON-FRI\", @hourly");
  text("--every", o.every, "fixed interval, e.g. 30s, 5m, 4h, 1d (at least 1s, whole seconds)");
  text("--at", o.at, "one run at this instant, e.g. 2026-12-01T09:00:00Z");
  text("--task", o.task, is_add ? "task each tick enqueues (required)" : "task each tick enqueues");
  text("--queue", o.queue, "queue of the jobs (default \"default\")");
  text("--args", o.args, "job arguments, a JSON object (default {})");
  text("--priority", o.priority, "0-9, 9 runs first (default 5)");
  text("--tz", o.tz, "IANA time zone the cron expression is read in (default UTC)");
  text("--timeout", o.timeout,
       "time limit per attempt, e.g. 10m (default: the task's own; none clears)");
  text("--max-attempts", o.max_attempts,
       "attempts before a job fails for good, 1-1000 (default 4)");
  text("--misfire", o.misfire, "after downtime: skip, run_once (default) or catch_up");
  text("--catch-up-limit", o.catch_up_limit,
       "with --misfire catch_up: at most this many missed ticks (default 100)");
  text("--overlap", o.overlap,
       "allow (default), or skip a tick while the previous job is pending or running");
  text("--start", o.start, "no tick before this instant (none clears)");
  text("--end", o.end, "no tick after this instant (none clears)");
  text("--description", o.description, "free text shown by list and show");
  cmd->add_flag("--disabled", o.disabled, "store it disabled: no ticks until enabled");
  if (!is_add) cmd->add_flag("--enabled", o.enabled, "enable it (like `schedules enable NAME`)");
}

Result<int> ParseIntOption(const std::string& text, const char* flag, int lo, int hi) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || v < lo || v > hi) {
    return Status::InvalidArgument(std::string(flag) + " \"" + text +
                                   "\" must be a whole number from " + std::to_string(lo) + " to " +
                                   std::to_string(hi));
  }
  return static_cast<int>(v);
}

Status SetInt(const std::optional<std::string>& text, const char* flag, int lo, int hi, int& out) {
  if (!text) return Status::Ok();
  auto v = ParseIntOption(*text, flag, lo, hi);
  if (!v.ok()) return v.status();
  out = *v;
  return Status::Ok();
}

// An instant option; "none" clears it.
Status SetInstant(const std::optional<std::string>& text, const char* flag,
                  std::optional<store::Micros>& out) {
  if (!text) return Status::Ok();
  if (*text == "none") {
    out.reset();
    return Status::Ok();
  }
  auto t = store::ParseInstant(*text);
  if (!t.ok()) return t.status().WithContext(flag);
  out = *t;
  return Status::Ok();
}

Status SetKind(const DefOptions& o, bool is_add, ScheduleDef& def) {
  int kinds = o.cron.has_value() + o.every.has_value() + o.at.has_value();
  if (kinds > 1) return Status::InvalidArgument("give only one of --cron, --every and --at");
  if (is_add && kinds == 0) {
    return Status::InvalidArgument("give one of --cron EXPR, --every DURATION or --at TIME");
  }
  if (kinds == 0) return Status::Ok();
  // Switching kind clears the other kinds' fields. Only a cron has a zone:
  // one that becomes a cron starts from UTC too (an older version may have
  // kept a zone on an interval, which export does not show), unless --tz.
  const bool was_cron = !is_add && def.kind == ScheduleKind::kCron;
  def.cron.clear();
  if (!o.cron || !was_cron) def.time_zone = "UTC";
  def.every_ms = 0;
  def.at = 0;
  if (o.cron) {
    def.kind = ScheduleKind::kCron;
    def.cron = *o.cron;
  } else if (o.every) {
    auto every = store::ParseEvery(*o.every);
    if (!every.ok()) return every.status().WithContext("--every");
    def.kind = ScheduleKind::kInterval;
    def.every_ms = *every;
  } else {
    std::optional<store::Micros> at;
    PGJOBS_RETURN_IF_ERROR(SetInstant(o.at, "--at", at));
    if (!at) return Status::InvalidArgument("--at needs a time, e.g. 2026-12-01T09:00:00Z");
    def.kind = ScheduleKind::kOnce;
    def.at = *at;
  }
  return Status::Ok();
}

Status SetJobTemplate(const DefOptions& o, ScheduleDef& def) {
  if (o.task) def.task = *o.task;
  if (o.queue) def.queue = *o.queue;
  if (o.args) {
    auto args = store::CanonicalArgs(*o.args);
    if (!args.ok()) return args.status().WithContext("--args");
    def.args = *args;
  }
  PGJOBS_RETURN_IF_ERROR(SetInt(o.priority, "--priority", 0, 9, def.priority));
  PGJOBS_RETURN_IF_ERROR(SetInt(o.max_attempts, "--max-attempts", 1, 1000, def.max_attempts));
  if (o.timeout && *o.timeout == "none") {
    def.timeout_ms.reset();
  } else if (o.timeout) {
    auto timeout = store::ParseTimeout(*o.timeout);
    if (!timeout.ok()) return timeout.status().WithContext("--timeout");
    def.timeout_ms = *timeout;
  }
  return Status::Ok();
}

Status SetPolicies(const DefOptions& o, ScheduleDef& def) {
  if (o.misfire) {
    // Leaving catch_up drops its limit, so that export does not write a
    // catch_up_limit that apply would refuse.
    if (*o.misfire != "catch_up") def.catch_up_limit = store::kDefaultCatchUpLimit;
    def.misfire = *o.misfire;
  }
  PGJOBS_RETURN_IF_ERROR(
      SetInt(o.catch_up_limit, "--catch-up-limit", 1, 10000, def.catch_up_limit));
  if (o.catch_up_limit && def.misfire != "catch_up") {
    return Status::InvalidArgument(
        "--catch-up-limit applies only with --misfire catch_up (misfire is " + def.misfire + ")");
  }
  if (o.overlap) def.overlap = *o.overlap;
  PGJOBS_RETURN_IF_ERROR(SetInstant(o.start, "--start", def.start_at));
  PGJOBS_RETURN_IF_ERROR(SetInstant(o.end, "--end", def.end_at));
  if (o.tz) def.time_zone = *o.tz;
  if (o.description) def.description = *o.description;
  if (o.disabled && o.enabled)
    return Status::InvalidArgument("give --enabled or --disabled, not both");
  if (o.disabled) def.enabled = false;
  if (o.enabled) def.enabled = true;
  return Status::Ok();
}

// Applies the options given to def. The result still needs ValidateScheduleDef.
Status ApplyDefOptions(const DefOptions& o, bool is_add, ScheduleDef& def) {
  PGJOBS_RETURN_IF_ERROR(SetKind(o, is_add, def));
  if (is_add && !o.task)
    return Status::InvalidArgument("--task is required: the task each tick enqueues");
  PGJOBS_RETURN_IF_ERROR(SetJobTemplate(o, def));
  PGJOBS_RETURN_IF_ERROR(SetPolicies(o, def));
  if (o.tz && !store::IsUtcZone(*o.tz) && def.kind != ScheduleKind::kCron) {
    return Status::InvalidArgument(std::string("--tz applies to --cron schedules only: ") +
                                   store::ZonelessKindNote(def.kind) + "; leave --tz out");
  }
  return Status::Ok();
}

bool AnyOption(const DefOptions& o) {
  for (const auto* v : {&o.cron, &o.every, &o.at, &o.task, &o.queue, &o.args, &o.priority, &o.tz,
                        &o.timeout, &o.max_attempts, &o.misfire, &o.catch_up_limit, &o.overlap,
                        &o.start, &o.end, &o.description}) {
    if (v->has_value()) return true;
  }
  return o.disabled || o.enabled;
}

// A one-off time already past (a typo in the year, or an example copied
// late) is accepted, as SQL accepts it; say what it will do.
void WarnIfPast(const ScheduleDef& def) {
  if (def.kind != store::ScheduleKind::kOnce) return;
  const auto now =
      std::chrono::duration_cast<std::chrono::microseconds>(HostNow().time_since_epoch()).count();
  if (def.at >= now) return;
  std::fprintf(stderr,
               "pgjobs: warning: schedule %s's time %s has passed: a running scheduler makes "
               "its job at once\n",
               def.name.c_str(), store::FormatInstant(def.at).c_str());
}

int RunAdd(GlobalOptions& global, const std::string& name, const DefOptions& o) {
  ScheduleDef def;
  def.name = name;
  Status st = ApplyDefOptions(o, true, def);
  if (st.ok()) st = store::ValidateScheduleDef(def, HostNow());
  if (!st.ok()) return Fail(st);
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto id = (*session)->admin->Create(def);
  if (!id.ok()) return Fail(id.status());
  std::printf("created schedule %s (id %lld): %s\n", name.c_str(), static_cast<long long>(*id),
              store::DescribeSchedule(def).c_str());
  std::fflush(stdout);
  WarnIfPast(def);
  WarnIfNoWorker(*(*session)->conn, (*session)->catalog, def.task, def.queue, "Its jobs wait");
  return kExitOk;
}

int RunUpdate(GlobalOptions& global, const std::string& name, const DefOptions& o) {
  if (!AnyOption(o)) {
    return Fail(
        Status::InvalidArgument("nothing to change; give the options to change, e.g. "
                                "--cron \"*/5 * * * *\" (see --help)"));
  }
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto changes = (*session)->admin->Update(
      name, [&o](ScheduleDef& def) { return ApplyDefOptions(o, false, def); }, HostNow());
  if (!changes.ok()) return Fail(changes.status());
  store::ScheduleChange change{changes->empty() ? store::ScheduleChange::Action::kUnchanged
                                                : store::ScheduleChange::Action::kUpdate,
                               name, *changes};
  std::printf("%s\n", change.ToString().c_str());
  if (o.task || o.queue || o.at) {
    std::fflush(stdout);
    auto record = (*session)->admin->Get(name);
    if (record.ok() && o.at) WarnIfPast(record->def);
    if (record.ok() && (o.task || o.queue)) {
      WarnIfNoWorker(*(*session)->conn, (*session)->catalog, record->def.task, record->def.queue,
                     "Its jobs wait");
    }
  }
  return kExitOk;
}

int RunSetEnabled(GlobalOptions& global, const std::string& name, bool all, bool enabled) {
  const char* verb = enabled ? "enable" : "disable";
  if (all && !name.empty())
    return Fail(Status::InvalidArgument("give a schedule NAME or --all, not both"));
  if (!all && name.empty()) {
    return Fail(Status::InvalidArgument(std::string("give a schedule NAME, or --all to ") + verb +
                                        " every schedule"));
  }
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  std::optional<std::string> which;
  if (!all) which = name;
  auto changed = (*session)->admin->SetEnabled(which, enabled);
  if (!changed.ok()) return Fail(changed.status());
  for (const std::string& n : *changed) std::printf("%sd %s\n", verb, n.c_str());
  if (changed->empty()) {
    std::printf("%s already %sd\n", all ? "every schedule is" : (name + " is").c_str(), verb);
  }
  return kExitOk;
}

int RunRemove(GlobalOptions& global, const std::string& name) {
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  Status st = (*session)->admin->Remove(name);
  if (!st.ok()) return Fail(st);
  std::printf("removed %s\n", name.c_str());
  return kExitOk;
}

int RunNow(GlobalOptions& global, const std::string& name) {
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto id = (*session)->admin->RunNow(name);
  if (!id.ok()) return Fail(id.status());
  std::printf("%lld\n", static_cast<long long>(*id));
  return kExitOk;
}

struct NameOptions {
  std::string name;
  bool all = false;
  DefOptions def;
};

void AddEditCommands(CLI::App& schedules, GlobalOptions& global, int& exit_code) {
  auto add_o = std::make_shared<NameOptions>();
  CLI::App* add = schedules.add_subcommand("add", "create a schedule");
  add->add_option("name", add_o->name, "schedule name")->required();
  AddDefOptions(add, add_o->def, true);
  add->callback(
      [&global, &exit_code, add_o] { exit_code = RunAdd(global, add_o->name, add_o->def); });

  auto up_o = std::make_shared<NameOptions>();
  CLI::App* update = schedules.add_subcommand(
      "update",
      "change a schedule: only the options given change; --cron/--every/--at switch kind");
  update->add_option("name", up_o->name, "schedule name")->required();
  AddDefOptions(update, up_o->def, false);
  update->callback(
      [&global, &exit_code, up_o] { exit_code = RunUpdate(global, up_o->name, up_o->def); });

  for (bool enabled : {true, false}) {
    auto o = std::make_shared<NameOptions>();
    CLI::App* cmd = schedules.add_subcommand(
        enabled ? "enable" : "disable",
        enabled ? "enable a schedule, or --all" : "disable a schedule, or --all");
    cmd->add_option("name", o->name, "schedule name");
    cmd->add_flag("--all", o->all, "every schedule");
    cmd->callback([&global, &exit_code, o, enabled] {
      exit_code = RunSetEnabled(global, o->name, o->all, enabled);
    });
  }

  auto rm_o = std::make_shared<NameOptions>();
  CLI::App* remove = schedules.add_subcommand("remove", "delete a schedule (its jobs stay)");
  remove->add_option("name", rm_o->name, "schedule name")->required();
  remove->callback([&global, &exit_code, rm_o] { exit_code = RunRemove(global, rm_o->name); });

  auto now_o = std::make_shared<NameOptions>();
  CLI::App* run_now = schedules.add_subcommand("run-now",
                                               "enqueue one job from the schedule's template now, "
                                               "without moving the schedule; prints its id");
  run_now->add_option("name", now_o->name, "schedule name")->required();
  run_now->callback([&global, &exit_code, now_o] { exit_code = RunNow(global, now_o->name); });
}

}  // namespace

Result<std::unique_ptr<ScheduleSession>> OpenScheduleSession(GlobalOptions& global) {
  PGJOBS_RETURN_IF_ERROR(ResolveConnection(global));
  auto catalog = SqlCatalog::Load(global.schema);
  if (!catalog.ok()) return catalog.status();
  auto s = std::make_unique<ScheduleSession>();
  s->catalog = std::move(*catalog);
  s->conn = std::make_unique<pg::Connection>(global.dsn, nullptr, "pgjobs schedules");
  PGJOBS_RETURN_IF_ERROR(s->conn->EnsureConnected());
  PGJOBS_RETURN_IF_ERROR(migrate::Migrator(*s->conn, s->catalog).CheckCurrent());
  s->admin = std::make_unique<store::ScheduleAdmin>(*s->conn, s->catalog);
  s->admin->set_actor(WhoAmI());
  return s;
}

std::chrono::sys_seconds HostNow() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

void AddSchedulesCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* schedules =
      app.add_subcommand("schedules", "manage cron, interval and one-off schedules");
  schedules->require_subcommand(1);
  AddEditCommands(*schedules, global, exit_code);
  AddSchedulesViewCommands(*schedules, global, exit_code);
  AddSchedulesFileCommands(*schedules, global, exit_code);
  AddSchedulesImportCommand(*schedules, global, exit_code);
}

}  // namespace pgjobs::cli
