// `pgjobs enqueue TASK [--args JSON | --args - | --args-file FILE] ...`:
// enqueue one job, print its id, and warn when no live worker handles it.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "cli/task_warning.h"
#include "common/text.h"
#include "migrate/migrator.h"
#include "pgjobs/client.h"
#include "store/job_store.h"

namespace pgjobs::cli {
namespace {

// Read no further than this from an args file or standard input: far over
// the 1 MiB args limit (which the request's validation reports), far under
// what would hurt.
constexpr size_t kMaxArgsRead = 64 << 20;

struct EnqueueCommandOptions {
  std::string task;
  std::string args = "{}";
  std::string args_file;
  std::string queue = "default";
  int priority = 5;
  std::string delay;
  std::string at;
  std::string unique_key;
  bool unique_key_given = false;  // --unique-key "" is an error, not "no key"
  int max_attempts = 4;
  std::string timeout;
  bool wait = false;          // --wait: block until the job ends (like jobs wait)
  std::string wait_timeout;   // --wait-timeout: give up waiting after this long
};

Result<std::string> ReadAll(std::istream& in, const std::string& what) {
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxArgsRead) {
      return Status::InvalidArgument(what +
                                     " holds more than 64 MiB; a job's args are at most "
                                     "1 MiB of JSON: store large data elsewhere (a table, "
                                     "a file) and pass a reference in args");
    }
  }
  if (in.bad()) {
    return Status::InvalidArgument("cannot read " + what + ": " + std::strerror(errno));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument(what +
                                   " is empty; it must hold the job's args, a JSON "
                                   "object such as {\"to\": \"a@b.c\"}");
  }
  return text;
}

// The args JSON from --args TEXT, --args - (standard input) or --args-file.
Result<std::string> ReadArgs(const EnqueueCommandOptions& o) {
  if (o.args_file.empty() && o.args != "-") return o.args;
  if (o.args == "-" || o.args_file == "-") return ReadAll(std::cin, "--args -: standard input");
  std::ifstream in(o.args_file, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("--args-file: cannot read " + o.args_file + ": " +
                                   std::strerror(errno) +
                                   "; give a readable file holding a JSON object");
  }
  return ReadAll(in, "--args-file " + o.args_file);
}

Result<JobRequest> BuildRequest(const EnqueueCommandOptions& o) {
  JobRequest r;
  r.task = o.task;
  auto args = ReadArgs(o);
  if (!args.ok()) return args.status();
  r.args_json = std::move(*args);
  r.options.queue = o.queue;
  r.options.priority = o.priority;
  r.options.max_attempts = o.max_attempts;
  if (o.unique_key_given && o.unique_key.empty()) {
    return Status::InvalidArgument(
        "--unique-key is empty; give a key of 1-512 characters, or "
        "leave out --unique-key for a job without one");
  }
  r.options.unique_key = o.unique_key;
  if (!o.delay.empty() && o.delay[0] == '-') {
    return Status::InvalidArgument("--delay \"" + o.delay +
                                   "\": a delay cannot be negative; leave out --delay to run "
                                   "the job now, or give --at TIME");
  }
  if (!o.delay.empty()) {
    auto d = ParseDuration(o.delay);
    if (!d.ok()) return d.status().WithContext("--delay");
    r.options.delay = *d;
  }
  if (!o.at.empty()) {
    auto t = ParseTimestamp(o.at);
    if (!t.ok()) return t.status().WithContext("--at");
    r.options.run_at = *t;
  }
  if (!o.timeout.empty()) {
    auto d = ParseDuration(o.timeout);
    if (!d.ok()) return d.status().WithContext("--timeout");
    r.options.timeout = *d;
  }
  Status valid = ValidateJobRequest(r);
  if (!valid.ok() && !o.args_file.empty()) return valid.WithContext(o.args_file);
  if (!valid.ok()) return valid;
  return r;
}

int RunEnqueue(GlobalOptions& global, const EnqueueCommandOptions& options) {
  // Check the input before connecting: a typo should not need a database.
  auto request = BuildRequest(options);
  if (!request.ok()) return Fail(request.status());
  std::optional<std::chrono::milliseconds> wait_limit;
  if (!options.wait_timeout.empty()) {
    if (!options.wait) {
      return Fail(Status::InvalidArgument("--wait-timeout goes with --wait"));
    }
    auto seconds = ParseSeconds("--wait-timeout", options.wait_timeout);
    if (!seconds.ok()) return Fail(seconds.status());
    wait_limit = std::chrono::milliseconds(static_cast<int64_t>(*seconds * 1000));
  }
  Status st = ResolveConnection(global);
  if (!st.ok()) return Fail(st);
  auto catalog = SqlCatalog::Load(global.schema);
  if (!catalog.ok()) return Fail(catalog.status());
  pg::Connection conn(global.dsn, &*catalog, "pgjobs enqueue");
  st = conn.EnsureConnected();
  if (st.ok()) st = migrate::Migrator(conn, *catalog).CheckCurrent();
  if (!st.ok()) return Fail(st);
  auto id = store::Enqueue(conn, *request);
  if (!id.ok()) return Fail(id.status());
  std::printf("%lld\n", static_cast<long long>(*id));
  std::fflush(stdout);
  WarnIfNoWorker(conn, *catalog, request->task, request->options.queue, "The job waits");
  if (!options.wait) return kExitOk;
  // The id line above comes first; then the result, as `jobs wait` prints it.
  auto session = OpenAdmin(global);
  if (!session.ok()) return Fail(session.status());
  return WaitForJob(**session, *id, wait_limit, false);
}

}  // namespace

void AddEnqueueCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<EnqueueCommandOptions>();
  CLI::App* cmd = app.add_subcommand("enqueue", "enqueue one job and print its id");
  cmd->add_option("task", o->task, "task name")->required();
  auto* args = cmd->add_option("--args", o->args,
                               "job arguments, a JSON object (default {}); - reads standard input");
  cmd->add_option("--args-file", o->args_file,
                  "read the job arguments (a JSON object) from this file; - is standard input")
      ->excludes(args);
  cmd->add_option("--queue", o->queue, "queue (default \"default\")");
  cmd->add_option("--priority", o->priority, "0-9, 9 runs first (default 5)");
  auto* delay = cmd->add_option("--delay", o->delay, "run after this long, e.g. 30s, 5m");
  cmd->add_option("--at", o->at, "run at this instant, e.g. 2026-11-25T15:00:00Z")->excludes(delay);
  auto* unique_key =
      cmd->add_option("--unique-key", o->unique_key,
                      "at most one live job per key; an existing one's id is printed instead");
  cmd->add_option("--max-attempts", o->max_attempts,
                  "attempts before failing for good (default 4)");
  cmd->add_option("--timeout", o->timeout, "time limit per attempt, e.g. 10m");
  cmd->add_flag("--wait", o->wait,
                "wait for the job to end and print its result (exit 0 succeeded, 5 failed, "
                "6 cancelled, 7 --wait-timeout passed)");
  cmd->add_option("--wait-timeout", o->wait_timeout, "with --wait: give up after this long (60s)");
  cmd->callback([&global, &exit_code, o, unique_key] {
    o->unique_key_given = unique_key->count() > 0;
    exit_code = RunEnqueue(global, *o);
  });
}

}  // namespace pgjobs::cli
