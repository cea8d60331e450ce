// `pgjobs schedules apply FILE` and `pgjobs schedules export`: schedules as a
// declarative file (format: src/store/schedule_file.h). export > f, then
// apply f, changes nothing.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cmd_schedules.h"

namespace pgjobs::cli {
namespace {

using Action = store::ScheduleChange::Action;

struct ApplyOptions {
  std::string file;
  bool prune = false;
  bool dry_run = false;
  bool verbose = false;
};

// The text of path, or of standard input for "-".
Result<std::string> ReadInput(const std::string& path) {
  std::stringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("cannot read " + path + ": it is a directory");
  }
  std::ifstream in(path);
  if (!in) {
    return Status::InvalidArgument("cannot read " + path + ": " +
                                   std::strerror(errno ? errno : EIO));
  }
  buffer << in.rdbuf();
  return buffer.str();
}

int RunApply(GlobalOptions& global, const ApplyOptions& o) {
  // The whole file is read and checked before connecting: a file with an
  // error writes nothing.
  auto text = ReadInput(o.file);
  if (!text.ok()) return Fail(text.status());
  auto defs = store::ParseScheduleFile(*text, o.file == "-" ? "<stdin>" : o.file, HostNow());
  if (!defs.ok()) return Fail(defs.status());
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto changes = (*session)->admin->Apply(*defs, o.prune, o.dry_run);
  if (!changes.ok())
    return Fail(changes.status().WithContext("apply " + o.file + " (nothing was changed)"));
  for (const store::ScheduleChange& c : *changes) {
    bool quiet = c.action == Action::kUnchanged || c.action == Action::kKept;
    if (!quiet || o.verbose) std::printf("%s\n", c.ToString().c_str());
  }
  std::fflush(stdout);  // the note follows the changes when both go to one file
  if (o.dry_run) std::fprintf(stderr, "pgjobs: dry run: nothing was written\n");
  return kExitOk;
}

int RunExport(GlobalOptions& global, bool as_json) {
  auto session = OpenScheduleSession(global);
  if (!session.ok()) return Fail(session.status());
  auto records = (*session)->admin->List();
  if (!records.ok()) return Fail(records.status());
  std::vector<store::ScheduleDef> defs;
  for (const store::ScheduleRecord& r : *records) defs.push_back(r.def);
  std::printf("%s", store::FormatScheduleFile(defs, /*with_comment=*/!as_json).c_str());
  return kExitOk;
}

}  // namespace

void AddSchedulesFileCommands(CLI::App& schedules, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ApplyOptions>();
  CLI::App* apply = schedules.add_subcommand(
      "apply", "make the schedules match a file, in one transaction; prints one line per change");
  apply->add_option("file", o->file, "schedules file (JSON, // comments allowed), or - for stdin")
      ->required();
  apply->add_flag("--prune", o->prune, "also remove schedules that are not in the file");
  apply->add_flag("--dry-run", o->dry_run, "print the changes without making them");
  apply->add_flag("-v,--verbose", o->verbose, "also print unchanged schedules");
  apply->callback([&global, &exit_code, o] { exit_code = RunApply(global, *o); });

  auto as_json = std::make_shared<bool>(false);
  CLI::App* exp = schedules.add_subcommand(
      "export",
      "print every schedule in the file format of apply (export > f; apply f changes nothing)");
  exp->add_flag("--json", *as_json, "strict JSON: without the leading // comment line");
  exp->callback([&global, &exit_code, as_json] { exit_code = RunExport(global, *as_json); });
}

}  // namespace pgjobs::cli
