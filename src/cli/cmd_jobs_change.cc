// `pgjobs jobs retry|cancel|purge`: the commands that change jobs. Every one
// checks its input before connecting and says what it changed.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/admin_common.h"
#include "cli/commands.h"
#include "common/text.h"
#include "store/db_errors.h"
#include "store/job_admin.h"
#include "store/queue_admin.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

struct ChangeOptions {
  std::string id;
  std::string queue, task, since;
  bool failed = false;
  bool cancelled = false;
  bool yes = false;
  bool as_json = false;
};

std::optional<std::string> Given(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

std::string OfQueue(const ChangeOptions& o) {
  return "queue \"" + o.queue + "\"" + (o.task.empty() ? "" : " with task \"" + o.task + "\"");
}

int RetryOne(AdminSession& s, int64_t id, bool as_json) {
  auto new_id = store::JobAdmin(*s.conn, s.catalog).Retry(id, WhoAmI());
  if (!new_id.ok()) return Fail(new_id.status());
  if (as_json) {
    PrintJson({{"id", *new_id}, {"retry_of", id}});
  } else {
    std::printf("job %lld retried as job %lld\n", static_cast<long long>(id),
                static_cast<long long>(*new_id));
  }
  return kExitOk;
}

int RunRetry(GlobalOptions& global, const ChangeOptions& o) {
  if (!o.id.empty() + o.failed + o.cancelled != 1) {
    return Fail(Status::InvalidArgument(
        "give one of a job id (`pgjobs jobs retry 42`), --failed (`pgjobs jobs retry --failed "
        "--queue Q`) or --cancelled (`pgjobs jobs retry --cancelled --queue Q --since 1h`)"));
  }
  std::optional<int64_t> id;
  if (!o.id.empty()) {
    if (!o.queue.empty() || !o.task.empty() || !o.since.empty()) {
      return Fail(Status::InvalidArgument(
          "--queue, --task and --since go with --failed or --cancelled, not with a job id"));
    }
    auto parsed = ParseJobId(o.id);
    if (!parsed.ok()) return Fail(parsed.status());
    id = *parsed;
  }
  std::optional<double> since;
  if (!o.since.empty()) {
    auto parsed = ParseSeconds("--since", o.since);
    if (!parsed.ok()) return Fail(parsed.status());
    since = *parsed;
  }
  if (!o.queue.empty()) {
    Status valid = ValidateQueueName(o.queue);
    if (!valid.ok()) return Fail(valid.WithContext("--queue"));
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  if (id) return RetryOne(**s, *id, o.as_json);
  if (!o.queue.empty()) {
    // A queue that never had a job is a typo (a redrive of "emials" must not
    // look like "no failures"): refused before anything is written, the
    // audit log included.
    auto seen = store::QueueEverUsed(*(*s)->conn, (*s)->catalog, o.queue);
    if (!seen.ok()) return Fail(seen.status());
    if (!*seen) {
      Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, o.queue);
      if (!known.ok()) return Fail(known.WithContext("--queue"));
    }
  }
  using Redrive = store::JobAdmin::Redrive;
  auto done = store::JobAdmin(*(*s)->conn, (*s)->catalog)
                  .RetryAll(o.failed ? Redrive::kFailed : Redrive::kCancelled, Given(o.queue),
                            Given(o.task), since, WhoAmI());
  if (!done.ok()) return Fail(done.status());
  if (o.as_json) {
    PrintJson(*done);
    return kExitOk;
  }
  const int64_t retried = (*done)["retried"].get<int64_t>();
  std::printf("retried %s as %s\n",
              CountOf(retried, o.failed ? "failed job" : "cancelled job").c_str(),
              retried == 1 ? "a new pending job" : "new pending jobs");
  if ((*done)["skipped_unique_key"].get<int64_t>() > 0) {
    std::printf("skipped %s whose unique_key a live job holds\n",
                Cell((*done)["skipped_unique_key"]).c_str());
  }
  return kExitOk;
}

int CancelOne(AdminSession& s, int64_t id, bool as_json) {
  auto outcome = store::JobAdmin(*s.conn, s.catalog).Cancel(id, WhoAmI());
  if (!outcome.ok()) return Fail(outcome.status());
  if (as_json) {
    PrintJson({{"id", id}, {"outcome", *outcome}});
  } else if (*outcome == "cancelled") {
    std::printf("job %lld cancelled (it had not started)\n", static_cast<long long>(id));
  } else {
    std::printf("job %lld is running: its worker stops it within 2 s and records it cancelled\n",
                static_cast<long long>(id));
  }
  return kExitOk;
}

int RunCancel(GlobalOptions& global, const ChangeOptions& o) {
  if (o.id.empty() == o.queue.empty()) {
    return Fail(Status::InvalidArgument(
        "give a job id (`pgjobs jobs cancel 42`) or --queue Q [--task T], not both and not "
        "neither"));
  }
  if (!o.task.empty() && o.queue.empty()) {
    return Fail(Status::InvalidArgument("--task goes with --queue"));
  }
  std::optional<int64_t> id;
  if (!o.id.empty()) {
    auto parsed = ParseJobId(o.id);
    if (!parsed.ok()) return Fail(parsed.status());
    id = *parsed;
  } else if (Status valid = ValidateQueueName(o.queue); !valid.ok()) {
    return Fail(valid.WithContext("--queue"));
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  if (id) return CancelOne(**s, *id, o.as_json);
  Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, o.queue);
  if (!known.ok()) return Fail(known);
  auto counts = store::JobAdmin(*(*s)->conn, (*s)->catalog).CancelMany(o.queue, Given(o.task), WhoAmI());
  if (!counts.ok()) return Fail(counts.status());
  json c = {{"cancelled", counts->value("cancelled", 0)}, {"stopping", counts->value("stopping", 0)}};
  if (o.as_json) {
    PrintJson(c);
  } else {
    const int64_t stopping = c["stopping"].get<int64_t>();
    std::printf("%s: cancelled %s; asked the workers of %s to stop %s\n", OfQueue(o).c_str(),
                CountOf(c["cancelled"].get<int64_t>(), "pending job").c_str(),
                CountOf(stopping, "running job").c_str(), stopping == 1 ? "it" : "them");
  }
  return kExitOk;
}

// Asks on the terminal; true for y or yes.
bool Confirm(const std::string& question) {
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int RunPurge(GlobalOptions& global, const ChangeOptions& o) {
  if (Status valid = ValidateQueueName(o.queue); !valid.ok()) return Fail(valid.WithContext("--queue"));
  bool terminal = isatty(STDIN_FILENO) == 1;
  if (!o.yes && !terminal) {
    return Fail(Status::InvalidArgument(
        "refusing to purge without --yes: standard input is not a terminal to confirm on. "
        "Nothing was deleted; add --yes to delete the pending jobs of " + OfQueue(o)));
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, o.queue);
  if (!known.ok()) return Fail(known);
  store::JobAdmin admin(*(*s)->conn, (*s)->catalog);
  if (!o.yes) {
    auto n = admin.PendingCount(o.queue, Given(o.task));
    if (!n.ok()) return Fail(n.status());
    if (*n == 0) {
      std::printf("%s has no pending jobs; nothing to delete\n", OfQueue(o).c_str());
      return kExitOk;
    }
    if (!Confirm("Delete the " + std::to_string(*n) + " pending jobs of " + OfQueue(o) +
                 "? They are not kept in history.")) {
      std::fprintf(stderr, "pgjobs: nothing deleted\n");
      return kExitError;
    }
  }
  auto deleted = admin.Purge(o.queue, Given(o.task), WhoAmI());
  if (!deleted.ok()) return Fail(deleted.status());
  if (o.as_json) {
    PrintJson({{"deleted", *deleted}});
  } else {
    std::printf("deleted %s of %s\n", CountOf(*deleted, "pending job").c_str(), OfQueue(o).c_str());
  }
  return kExitOk;
}

}  // namespace

void AddJobsChangeCommands(CLI::App& jobs, GlobalOptions& global, int& exit_code) {
  auto r = std::make_shared<ChangeOptions>();
  CLI::App* retry = jobs.add_subcommand(
      "retry",
      "run a failed or cancelled job again as a new job (or every failed one: --failed; "
      "every cancelled one: --cancelled)");
  retry->add_option("id", r->id, "job id");
  retry->add_flag("--failed", r->failed, "retry every failed job not retried yet (a redrive)");
  retry->add_flag("--cancelled", r->cancelled,
                  "retry every cancelled job not retried yet (undoes `jobs cancel --queue`)");
  retry->add_option("--queue", r->queue, "with --failed or --cancelled: only this queue");
  retry->add_option("--task", r->task, "with --failed or --cancelled: only this task");
  retry->add_option("--since", r->since,
                    "with --failed or --cancelled: only jobs that ended in the last DURATION");
  retry->add_flag("--json", r->as_json, "print JSON");
  retry->callback([&global, &exit_code, r] { exit_code = RunRetry(global, *r); });

  auto c = std::make_shared<ChangeOptions>();
  CLI::App* cancel = jobs.add_subcommand(
      "cancel", "cancel a job, or every job of a queue: pending ones at once, running ones are "
                "stopped by their worker");
  cancel->add_option("id", c->id, "job id");
  cancel->add_option("--queue", c->queue, "cancel every job of this queue");
  cancel->add_option("--task", c->task, "with --queue: only this task");
  cancel->add_flag("--json", c->as_json, "print JSON");
  cancel->callback([&global, &exit_code, c] { exit_code = RunCancel(global, *c); });

  auto p = std::make_shared<ChangeOptions>();
  CLI::App* purge = jobs.add_subcommand(
      "purge", "delete the pending jobs of a queue (asks on a terminal; --yes for scripts)");
  purge->add_option("--queue", p->queue, "queue to purge")->required();
  purge->add_option("--task", p->task, "only this task");
  purge->add_flag("--yes", p->yes, "do not ask");
  purge->add_flag("--json", p->as_json, "print JSON");
  purge->callback([&global, &exit_code, p] { exit_code = RunPurge(global, *p); });
}

}  // namespace pgjobs::cli
