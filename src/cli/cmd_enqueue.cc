// `pgjobs enqueue TASK --args JSON ...`: enqueue one job, print its id.
#include <cstdio>

#include "cli/commands.h"
#include "common/text.h"
#include "pgjobs/client.h"

namespace pgjobs::cli {
namespace {

struct EnqueueCommandOptions {
  std::string task;
  std::string args = "{}";
  std::string queue = "default";
  int priority = 5;
  std::string delay;
  std::string at;
  std::string unique_key;
  int max_attempts = 4;
  std::string timeout;
};

Result<JobRequest> BuildRequest(const EnqueueCommandOptions& o) {
  JobRequest r;
  r.task = o.task;
  r.args_json = o.args;
  r.options.queue = o.queue;
  r.options.priority = o.priority;
  r.options.max_attempts = o.max_attempts;
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
  PGJOBS_RETURN_IF_ERROR(ValidateJobRequest(r));
  return r;
}

int RunEnqueue(GlobalOptions& global, const EnqueueCommandOptions& options) {
  // Check the input before connecting: a typo should not need a database.
  auto request = BuildRequest(options);
  if (!request.ok()) return Fail(request.status());
  Status st = ResolveConnection(global);
  if (!st.ok()) return Fail(st);
  auto client = Client::Open(ClientOptions{global.dsn, global.schema});
  if (!client.ok()) return Fail(client.status());
  auto id = (*client)->Enqueue(*request);
  if (!id.ok()) return Fail(id.status());
  std::printf("%lld\n", static_cast<long long>(*id));
  return kExitOk;
}

}  // namespace

void AddEnqueueCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<EnqueueCommandOptions>();
  CLI::App* cmd = app.add_subcommand("enqueue", "enqueue one job and print its id");
  cmd->add_option("task", o->task, "task name")->required();
  cmd->add_option("--args", o->args, "job arguments, a JSON object (default {})");
  cmd->add_option("--queue", o->queue, "queue (default \"default\")");
  cmd->add_option("--priority", o->priority, "0-9, 9 runs first (default 5)");
  auto* delay = cmd->add_option("--delay", o->delay, "run after this long, e.g. 30s, 5m");
  cmd->add_option("--at", o->at, "run at this instant, e.g. 2026-11-25T15:00:00Z")->excludes(delay);
  cmd->add_option("--unique-key", o->unique_key,
                  "at most one live job per key; an existing one's id is printed instead");
  cmd->add_option("--max-attempts", o->max_attempts, "attempts before failing for good (default 4)");
  cmd->add_option("--timeout", o->timeout, "time limit per attempt, e.g. 10m");
  cmd->callback([&global, &exit_code, o] { exit_code = RunEnqueue(global, *o); });
}

}  // namespace pgjobs::cli
