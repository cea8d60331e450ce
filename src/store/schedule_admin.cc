#include "store/schedule_admin.h"

#include <algorithm>
#include <map>

#include "common/text.h"
#include "store/audit.h"

namespace pgjobs::store {
namespace {

// Columns of schedule_admin_select.
enum Col {
  kId,
  kName,
  kKind,
  kCron,
  kEveryMs,
  kAtUs,
  kTimeZone,
  kTask,
  kQueue,
  kArgs,
  kPriority,
  kTimeoutMs,
  kMaxAttempts,
  kEnabled,
  kMisfire,
  kCatchUpLimit,
  kOverlap,
  kStartUs,
  kEndUs,
  kDescription,
  kNextRunUs,
  kLastRunUs,
  kLastJobId,
  kRunCount,
  kSkippedCount,
  kDone,
  kError,
  kCreatedUs,
  kUpdatedUs,
  kLastOutcome,
  kAheadJobId
};

std::optional<int64_t> OptionalInt(const pg::Rows& rows, size_t row, Col col) {
  if (rows.IsNull(row, col)) return std::nullopt;
  return rows.Int(row, col);
}

Result<ScheduleRecord> ReadRecord(const pg::Rows& rows, size_t i) {
  ScheduleRecord r;
  r.id = rows.Int(i, kId);
  ScheduleDef& d = r.def;
  d.name = rows.Text(i, kName);
  auto kind = ParseKindName(rows.Text(i, kKind));
  if (!kind.ok()) return kind.status();
  d.kind = *kind;
  d.cron = rows.Text(i, kCron);
  d.every_ms = rows.Int(i, kEveryMs);
  d.at = rows.Int(i, kAtUs);
  d.time_zone = rows.Text(i, kTimeZone);
  d.task = rows.Text(i, kTask);
  d.queue = rows.Text(i, kQueue);
  auto args = CanonicalArgs(rows.Text(i, kArgs));
  d.args = args.ok() ? *args : rows.Text(i, kArgs);
  d.priority = static_cast<int>(rows.Int(i, kPriority));
  d.timeout_ms = OptionalInt(rows, i, kTimeoutMs);
  d.max_attempts = static_cast<int>(rows.Int(i, kMaxAttempts));
  d.enabled = rows.Bool(i, kEnabled);
  d.misfire = rows.Text(i, kMisfire);
  d.catch_up_limit = static_cast<int>(rows.Int(i, kCatchUpLimit));
  d.overlap = rows.Text(i, kOverlap);
  d.start_at = OptionalInt(rows, i, kStartUs);
  d.end_at = OptionalInt(rows, i, kEndUs);
  d.description = rows.Text(i, kDescription);
  r.next_run_at = OptionalInt(rows, i, kNextRunUs);
  r.last_run_at = OptionalInt(rows, i, kLastRunUs);
  r.last_job_id = OptionalInt(rows, i, kLastJobId);
  r.run_count = rows.Int(i, kRunCount);
  r.skipped_count = rows.Int(i, kSkippedCount);
  r.done = rows.Bool(i, kDone);
  r.error = rows.Text(i, kError);
  r.created_at = rows.Int(i, kCreatedUs);
  r.updated_at = rows.Int(i, kUpdatedUs);
  r.last_outcome = rows.Text(i, kLastOutcome);
  r.ahead_job_id = OptionalInt(rows, i, kAheadJobId);
  return r;
}

pg::Param Text(const std::string& s) { return s; }
pg::Param Int(std::optional<int64_t> v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}
pg::Param Instant(std::optional<Micros> t) {
  if (!t) return std::nullopt;
  return FormatInstant(*t);
}

// The parameters $1-$19 of schedule_admin_insert and schedule_admin_update.
pg::Params DefParams(const ScheduleDef& d) {
  bool cron = d.kind == ScheduleKind::kCron;
  bool interval = d.kind == ScheduleKind::kInterval;
  bool once = d.kind == ScheduleKind::kOnce;
  return {Text(d.name),
          Text(KindName(d.kind)),
          cron ? Text(d.cron) : std::nullopt,
          interval ? Int(d.every_ms) : std::nullopt,
          once ? Instant(d.at) : std::nullopt,
          Text(d.time_zone),
          Text(d.task),
          Text(d.queue),
          Text(d.args),
          Int(d.priority),
          Int(d.timeout_ms),
          Int(d.max_attempts),
          Text(d.enabled ? "true" : "false"),
          Text(d.misfire),
          Int(d.catch_up_limit),
          Text(d.overlap),
          Instant(d.start_at),
          Instant(d.end_at),
          Text(d.description)};
}

Status AlreadyExists(const std::string& name) {
  return Status::InvalidArgument("schedule \"" + name +
                                 "\" already exists; use `pgjobs schedules update " + name +
                                 " ...` to change it");
}

}  // namespace

std::string ScheduleRecord::State() const {
  if (!error.empty()) return "error";
  if (done) return "done";
  return def.enabled ? "enabled" : "disabled";
}

Result<std::vector<ScheduleRecord>> ScheduleAdmin::Select(pg::Tx& tx,
                                                          const std::optional<std::string>& name) {
  auto rows = tx.ExecParams(catalog_.Get("schedule_admin_select"), {name});
  if (!rows.ok()) return rows.status();
  std::vector<ScheduleRecord> out;
  for (size_t i = 0; i < rows->size(); ++i) {
    auto record = ReadRecord(*rows, i);
    if (!record.ok()) return record.status();
    out.push_back(std::move(*record));
  }
  return out;
}

Status ScheduleAdmin::NotFound(pg::Tx& tx, const std::string& name) {
  auto rows = tx.ExecParams(catalog_.Get("schedule_admin_names"), {});
  if (!rows.ok()) return rows.status();
  std::vector<std::string> names;
  for (size_t i = 0; i < rows->size(); ++i) names.push_back(rows->Text(i, 0));
  std::string nearest = NearestWord(name, names);
  if (!nearest.empty()) {
    return Status::NotFound("no schedule \"" + name + "\"; did you mean \"" + nearest + "\"?");
  }
  return Status::NotFound("no schedule \"" + name + "\" (`pgjobs schedules list` shows them)");
}

Status ScheduleAdmin::Audit(pg::Tx& tx, const std::string& action, const std::string& name,
                            nlohmann::json details) {
  return WriteAudit(tx, catalog_, AuditEntry{actor_, "schedule." + action, name, std::move(details)});
}

Result<Micros> ScheduleAdmin::Now() {
  Micros now = 0;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams(catalog_.Get("schedule_admin_now"), {});
    if (!rows.ok()) return rows.status();
    now = rows->Int(0, 0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return now;
}

Result<std::vector<ScheduleRecord>> ScheduleAdmin::List() {
  std::vector<ScheduleRecord> out;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto records = Select(tx, std::nullopt);
    if (!records.ok()) return records.status();
    out = std::move(*records);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<ScheduleRecord> ScheduleAdmin::Get(const std::string& name) {
  ScheduleRecord out;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto records = Select(tx, name);
    if (!records.ok()) return records.status();
    if (records->empty()) return NotFound(tx, name);
    out = std::move(records->front());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<int64_t> ScheduleAdmin::Create(const ScheduleDef& def) {
  int64_t id = 0;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams(catalog_.Get("schedule_admin_insert"), DefParams(def));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return AlreadyExists(def.name);
    id = rows->Int(0, 0);
    return Audit(tx, "create", def.name);
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::vector<std::string>> ScheduleAdmin::Update(
    const std::string& name, const std::function<Status(ScheduleDef&)>& edit,
    std::chrono::sys_seconds now) {
  std::vector<std::string> changes;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    changes.clear();
    auto locked = tx.ExecParams(catalog_.Get("schedule_admin_lock"), {name});
    if (!locked.ok()) return locked.status();
    if (locked->empty()) return NotFound(tx, name);
    auto records = Select(tx, name);
    if (!records.ok()) return records.status();
    const ScheduleRecord& old = records->front();
    ScheduleDef def = old.def;
    PGJOBS_RETURN_IF_ERROR(edit(def));
    PGJOBS_RETURN_IF_ERROR(ValidateScheduleDef(def, now));
    changes = DiffScheduleDefs(old.def, def);
    if (changes.empty()) return Status::Ok();
    pg::Params params = DefParams(def);
    params.push_back(std::to_string(old.id));
    auto updated = tx.ExecParams(catalog_.Get("schedule_admin_update"), params);
    if (!updated.ok()) return updated.status();
    return Audit(tx, "update", name, {{"changes", changes}});
  });
  if (!st.ok()) return st;
  return changes;
}

Result<std::vector<std::string>> ScheduleAdmin::SetEnabled(const std::optional<std::string>& name,
                                                           bool enabled) {
  std::vector<std::string> changed;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    changed.clear();
    if (name) {
      auto locked = tx.ExecParams(catalog_.Get("schedule_admin_lock"), {*name});
      if (!locked.ok()) return locked.status();
      if (locked->empty()) return NotFound(tx, *name);
    }
    auto rows = tx.ExecParams(catalog_.Get("schedule_admin_set_enabled"),
                              {name, enabled ? "true" : "false"});
    if (!rows.ok()) return rows.status();
    for (size_t i = 0; i < rows->size(); ++i) changed.push_back(rows->Text(i, 0));
    std::string action = enabled ? "enable" : "disable";
    if (name) return Audit(tx, action, *name, {{"changed", !changed.empty()}});
    for (const std::string& n : changed) PGJOBS_RETURN_IF_ERROR(Audit(tx, action, n, {{"all", true}}));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::sort(changed.begin(), changed.end());
  return changed;
}

Status ScheduleAdmin::Remove(const std::string& name) {
  return conn_.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams(catalog_.Get("schedule_admin_delete"), {name});
    if (!rows.ok()) return rows.status();
    return rows->empty() ? NotFound(tx, name) : Audit(tx, "remove", name);
  });
}

Result<int64_t> ScheduleAdmin::RunNow(const std::string& name) {
  int64_t id = 0;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams(catalog_.Get("schedule_admin_run_now"), {name});
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return NotFound(tx, name);
    id = rows->Int(0, 0);
    return Audit(tx, "run_now", name, {{"job_id", id}});
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::vector<ScheduleChange>> ScheduleAdmin::Apply(const std::vector<ScheduleDef>& desired,
                                                         bool prune, bool dry_run) {
  std::vector<ScheduleChange> changes;
  Status st = conn_.Transact([&](pg::Tx& tx) -> Status {
    auto locked = tx.ExecParams(catalog_.Get("schedule_admin_lock"), {std::nullopt});
    if (!locked.ok()) return locked.status();
    auto records = Select(tx, std::nullopt);
    if (!records.ok()) return records.status();
    std::vector<ScheduleDef> current;
    std::map<std::string, int64_t> ids;
    for (const ScheduleRecord& r : *records) {
      current.push_back(r.def);
      ids[r.def.name] = r.id;
    }
    changes = PlanScheduleChanges(current, desired, prune);
    if (dry_run) return Status::Ok();
    std::map<std::string, const ScheduleDef*> wanted;
    for (const ScheduleDef& d : desired) wanted[d.name] = &d;
    for (const ScheduleChange& c : changes) {
      Result<pg::Rows> r = pg::Rows();
      using Action = ScheduleChange::Action;
      if (c.action == Action::kCreate) {
        r = tx.ExecParams(catalog_.Get("schedule_admin_insert"), DefParams(*wanted[c.name]));
        if (r.ok() && r->empty()) {
          return Status::FailedPrecondition(
              "schedule \"" + c.name + "\" was created by someone else meanwhile; run apply again");
        }
      } else if (c.action == Action::kUpdate) {
        pg::Params params = DefParams(*wanted[c.name]);
        params.push_back(std::to_string(ids[c.name]));
        r = tx.ExecParams(catalog_.Get("schedule_admin_update"), params);
      } else if (c.action == Action::kRemove) {
        r = tx.ExecParams(catalog_.Get("schedule_admin_delete"), {c.name});
      }
      if (!r.ok()) return r.status().WithContext(c.ToString());
      if (c.action == Action::kCreate || c.action == Action::kUpdate || c.action == Action::kRemove) {
        std::string verb = c.action == Action::kCreate   ? "create"
                           : c.action == Action::kUpdate ? "update"
                                                         : "remove";
        nlohmann::json details{{"via", "apply"}};
        if (c.action == Action::kUpdate) details["changes"] = c.details;
        PGJOBS_RETURN_IF_ERROR(Audit(tx, verb, c.name, std::move(details)));
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return changes;
}

}  // namespace pgjobs::store
