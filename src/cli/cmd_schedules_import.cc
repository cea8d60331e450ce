// `pgjobs schedules import-celery-beat --from DSN [--output FILE | --apply]`:
// django-celery-beat's periodic tasks as schedules (mapping: celery_beat.h),
// written as an apply file to review, or applied in one transaction.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/celery_beat.h"
#include "cli/cmd_schedules.h"

namespace pgjobs::cli {
namespace {

// Some periodic tasks were left out (named on stderr and in the file); the
// others were written or applied.
constexpr int kExitSomeLeftOut = 8;

struct ImportOptions {
  std::string from;
  std::string output;
  bool apply = false;
  std::string broker;
};

std::optional<int64_t> OptInt(const pg::Rows& rows, size_t r, size_t c) {
  if (rows.IsNull(r, c)) return std::nullopt;
  return rows.Int(r, c);
}

std::optional<std::string> OptText(const pg::Rows& rows, size_t r, size_t c) {
  if (rows.IsNull(r, c)) return std::nullopt;
  return rows.Text(r, c);
}

// The message of a failed connection without its hint about --dsn.
std::string WithoutDsnHint(const std::string& message) {
  size_t hint = message.find("; check the DSN");
  return hint == std::string::npos ? message : message.substr(0, hint);
}

Result<std::vector<celery::PeriodicTask>> ReadPeriodicTasks(const SqlCatalog& catalog,
                                                            const std::string& from) {
  pg::Connection conn(from, nullptr, "pgjobs schedules import-celery-beat");
  Status st = conn.EnsureConnected();
  if (!st.ok()) {
    return Status::Unavailable(
        "--from: " + WithoutDsnHint(st.message()) +
        "; give --from the libpq DSN of the Django database that holds django-celery-beat's "
        "tables (DATABASES[\"default\"]), e.g. --from \"host=db dbname=app user=app\"");
  }
  auto missing = conn.ExecSql(catalog.Foreign("celery_beat_missing_tables"));
  if (!missing.ok()) return missing.status().WithContext("--from");
  if (!missing->empty()) {
    std::string names;
    for (size_t i = 0; i < missing->size(); ++i) names += (i ? ", " : "") + missing->Text(i, 0);
    return Status::InvalidArgument(
        "--from: the database has no table " + names +
        " (on its search_path); point --from at the database of the Django project that uses "
        "django-celery-beat, or create the tables there with `python manage.py migrate "
        "django_celery_beat`");
  }
  auto rows = conn.ExecSql(catalog.Foreign("celery_beat_periodic_tasks"));
  if (!rows.ok()) {
    return Status::InvalidArgument(
        "--from: cannot read django-celery-beat's tables: " + rows.status().message() +
        "; they may be from a version older than 2.0: bring them up to date with `python "
        "manage.py migrate django_celery_beat`");
  }
  std::vector<celery::PeriodicTask> tasks;
  for (size_t r = 0; r < rows->size(); ++r) {
    celery::PeriodicTask t;
    size_t c = 0;
    t.name = rows->Text(r, c++);
    t.task = rows->Text(r, c++);
    t.args = rows->Text(r, c++);
    t.kwargs = rows->Text(r, c++);
    t.queue = OptText(*rows, r, c++);
    t.exchange = OptText(*rows, r, c++);
    t.routing_key = OptText(*rows, r, c++);
    t.headers = OptText(*rows, r, c++);
    t.priority = OptInt(*rows, r, c++);
    t.expires = OptInt(*rows, r, c++);
    t.expire_seconds = OptInt(*rows, r, c++);
    t.one_off = rows->Bool(r, c++);
    t.start_time = OptInt(*rows, r, c++);
    t.enabled = rows->Bool(r, c++);
    t.last_run_at = OptInt(*rows, r, c++);
    t.total_run_count = rows->Int(r, c++);
    t.description = rows->Text(r, c++);
    t.kind = rows->Text(r, c++);
    t.minute = rows->Text(r, c++);
    t.hour = rows->Text(r, c++);
    t.day_of_week = rows->Text(r, c++);
    t.day_of_month = rows->Text(r, c++);
    t.month_of_year = rows->Text(r, c++);
    t.timezone = rows->IsNull(r, c) ? "UTC" : rows->Text(r, c);
    ++c;
    t.every = rows->Int(r, c++);
    t.period = rows->Text(r, c++);
    t.clocked_time = OptInt(*rows, r, c++);
    t.solar_event = rows->Text(r, c++);
    t.latitude = rows->Text(r, c++);
    t.longitude = rows->Text(r, c++);
    tasks.push_back(std::move(t));
  }
  return tasks;
}

// "host=db dbname=app password=x" without the password, for the file's header.
std::string DescribeSource(const std::string& dsn) {
  std::string out;
  size_t pos = 0;
  while (pos < dsn.size()) {
    size_t end = dsn.find(' ', pos);
    std::string item = dsn.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (!item.empty() && item.rfind("password", 0) != 0) out += (out.empty() ? "" : " ") + item;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (out.find("://") != std::string::npos) {  // a URI: drop user:password@
    size_t scheme = out.find("://") + 3, at = out.find('@', scheme);
    if (at != std::string::npos) out.erase(scheme, at + 1 - scheme);
  }
  return out.empty() ? "libpq defaults" : out;
}

int RunImport(GlobalOptions& global, const ImportOptions& o) {
  if (o.apply && !o.output.empty()) {
    return Fail(
        Status::InvalidArgument("give --output FILE (to review, then apply) or --apply, not both"));
  }
  if (!o.output.empty() && o.output != "-") {
    // Checked before reading anything, so a typo costs no round trip.
    std::filesystem::path dir = std::filesystem::path(o.output).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec) || access(dir.c_str(), W_OK) != 0) {
      return Fail(Status::InvalidArgument("cannot write --output " + o.output + ": " +
                                          dir.string() +
                                          " is not a writable directory; check the path"));
    }
  }
  celery::PriorityOrder order = celery::PriorityOrder::kUnknown;
  if (!o.broker.empty()) {
    auto parsed = celery::ParsePriorityOrder(o.broker);
    if (!parsed.ok()) return Fail(parsed.status());
    order = *parsed;
  }
  // The catalog only supplies the statements; its schema plays no part in
  // reading beat's tables.
  auto catalog = SqlCatalog::Load("pgjobs");
  if (!catalog.ok()) return Fail(catalog.status());
  auto tasks = ReadPeriodicTasks(*catalog, o.from);
  if (!tasks.ok()) return Fail(tasks.status());
  std::vector<celery::Imported> imported = celery::MapPeriodicTasks(*tasks, order, HostNow());
  std::vector<store::ScheduleDef> defs;
  size_t left_out = 0;
  for (const celery::Imported& im : imported) {
    if (im.def) defs.push_back(*im.def);
    left_out += im.def ? 0 : 1;
  }
  if (o.apply) {
    auto session = OpenScheduleSession(global);
    if (!session.ok()) return Fail(session.status());
    auto changes = (*session)->admin->Apply(defs, /*prune=*/false, /*dry_run=*/false);
    if (!changes.ok()) return Fail(changes.status().WithContext("apply (nothing was changed)"));
    for (const store::ScheduleChange& c : *changes) {
      if (c.action != store::ScheduleChange::Action::kKept)
        std::printf("%s\n", c.ToString().c_str());
    }
    // Beat's run count and last run, for schedules that have made no job yet.
    const std::string& carry = (*session)->catalog.Get("schedule_admin_carry_over");
    Status carried = (*session)->conn->Transact([&](pg::Tx& tx) -> Status {
      for (const celery::Imported& im : imported) {
        if (!im.def || (!im.last_run_at && im.run_count == 0)) continue;
        pg::Param last = std::nullopt;
        if (im.last_run_at) last = store::FormatInstant(*im.last_run_at);
        auto r = tx.ExecParams(carry, {im.def->name, last, std::to_string(im.run_count)});
        if (!r.ok())
          return r.status().WithContext("carry over beat's run count of " + im.def->name);
      }
      return Status::Ok();
    });
    if (!carried.ok()) return Fail(carried);
  } else {
    std::string text = celery::FormatImportFile(imported, DescribeSource(o.from));
    if (o.output.empty() || o.output == "-") {
      std::printf("%s", text.c_str());
    } else {
      std::ofstream out(o.output);
      out << text;
      out.close();
      if (!out) {
        return Fail(Status::InvalidArgument("cannot write --output " + o.output +
                                            ": check the directory exists and is writable"));
      }
      std::fprintf(
          stderr,
          "pgjobs: wrote %zu schedule%s to %s; review it, then `pgjobs schedules apply %s`\n",
          defs.size(), defs.size() == 1 ? "" : "s", o.output.c_str(), o.output.c_str());
    }
  }
  std::fflush(stdout);
  for (const celery::Imported& im : imported) {
    if (!im.def) {
      std::fprintf(stderr, "pgjobs: left out \"%s\": %s\n", im.source_name.c_str(),
                   im.left_out_reason.c_str());
    }
  }
  if (left_out > 0) {
    std::fprintf(stderr, "pgjobs: %zu of %zu periodic tasks left out (exit status %d)\n", left_out,
                 imported.size(), kExitSomeLeftOut);
    return kExitSomeLeftOut;
  }
  return kExitOk;
}

}  // namespace

void AddSchedulesImportCommand(CLI::App& schedules, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* cmd = schedules.add_subcommand(
      "import-celery-beat",
      "read django-celery-beat's periodic tasks and write them as a schedules file, or apply "
      "them; exit status 8 when some could not be mapped exactly (they are named)");
  cmd->add_option("--from", o->from,
                  "libpq DSN of the Django database holding django-celery-beat's tables")
      ->required();
  cmd->add_option("-o,--output", o->output,
                  "write the schedules file here (default: standard output)");
  cmd->add_flag("--apply", o->apply,
                "apply the schedules in one transaction (as `schedules apply`, without --prune)");
  cmd->add_option("--broker", o->broker,
                  "the broker Celery used, for priorities: rabbitmq (a bigger number runs "
                  "first) or redis (0 runs first)");
  cmd->callback([&global, &exit_code, o] { exit_code = RunImport(global, *o); });
}

}  // namespace pgjobs::cli
