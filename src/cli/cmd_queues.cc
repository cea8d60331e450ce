// `pgjobs queues list|pause|resume|set`.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "broker/broker.h"
#include "cli/admin_common.h"
#include "cli/commands.h"
#include "common/text.h"
#include "store/db_errors.h"
#include "store/broker_store.h"
#include "store/queue_admin.h"

namespace pgjobs::cli {
namespace {

using nlohmann::json;

// "max 3, 20/1s" or "-".
std::string LimitsCell(const json& q);

int RunList(GlobalOptions& global, bool as_json) {
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  auto queues = store::ListQueues(*(*s)->conn, (*s)->catalog);
  if (!queues.ok()) return Fail(queues.status());
  if (as_json) {
    PrintJson(*queues);
    return kExitOk;
  }
  // The first six columns keep the order they had before the others came.
  std::vector<std::vector<std::string>> rows = {{"QUEUE", "PENDING", "SCHEDULED", "RUNNING",
                                                 "FAILED 24H", "WORKERS", "SUCCEEDED 1H",
                                                 "FAILED 1H", "OLDEST PENDING", "PAUSED",
                                                 "LIMITS"}};
  for (const json& q : *queues) {
    rows.push_back({Cell(q["queue"]), Cell(q["pending"]), Cell(q["scheduled"]), Cell(q["running"]),
                    Cell(q["failed_24h"]), Cell(q["workers"]), Cell(q["succeeded_1h"]),
                    Cell(q["failed_1h"]), ShortDuration(q["oldest_pending_seconds"]),
                    q["paused"] == true ? "paused" : "-", LimitsCell(q)});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunSetPaused(GlobalOptions& global, const std::string& queue, bool paused) {
  Status valid = ValidateQueueName(queue);
  if (!valid.ok()) return Fail(valid);
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, queue);
  if (!known.ok()) return Fail(known);
  Status st = store::SetQueuePaused(*(*s)->conn, (*s)->catalog, queue, paused, WhoAmI());
  if (!st.ok()) return Fail(st);
  if (paused) {
    std::printf("queue %s paused: workers claim none of its jobs until `pgjobs queues resume %s`; "
                "running jobs finish\n",
                queue.c_str(), queue.c_str());
  } else {
    std::printf("queue %s resumed\n", queue.c_str());
  }
  return kExitOk;
}

// "--concurrency 3" or "none".
Result<std::optional<int>> ParseConcurrency(const std::string& text) {
  if (text == "none") return std::optional<int>();
  char* end = nullptr;
  long n = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || n < 1 || n > 10000) {
    return Status::InvalidArgument("--concurrency \"" + text +
                                   "\" is not a number from 1 to 10000 or none (the most jobs "
                                   "of the queue running at once, across every worker)");
  }
  return std::optional<int>(static_cast<int>(n));
}

// "--rate 20/s", "100/1m", "5000/h", "20/10s" or "none".
Status ParseRate(const std::string& text, store::QueueLimits& limits) {
  if (text == "none") return Status::Ok();
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--rate \"" + text + "\" " + why +
                                   "; use N/PERIOD with N from 1 to 10000 and a period from 1s "
                                   "to 1d, as in 20/s, 100/10s, 600/m, 5000/h, or none");
  };
  size_t slash = text.find('/');
  if (slash == std::string::npos) return bad("has no /");
  std::string count = text.substr(0, slash);
  std::string period = text.substr(slash + 1);
  char* end = nullptr;
  long n = std::strtol(count.c_str(), &end, 10);
  if (count.empty() || *end != '\0' || n < 1 || n > 10000) {
    return bad("has \"" + count + "\" jobs, not a number from 1 to 10000");
  }
  // A bare unit is one of it: "20/s" is 20 per second.
  static const std::pair<const char*, const char*> kWords[] = {
      {"sec", "s"}, {"second", "s"}, {"minute", "m"}, {"hour", "h"}, {"day", "d"}};
  for (const auto& [word, unit] : kWords) {
    if (period == word) period = unit;
  }
  if (!period.empty() && std::isalpha(static_cast<unsigned char>(period[0]))) {
    period = "1" + period;
  }
  auto ms = ParseDuration(period);
  if (!ms.ok()) return bad("has a bad period: " + ms.status().message());
  if (ms->count() < 1000 || ms->count() > 86'400'000) return bad("has a period outside 1s to 1d");
  limits.rate_limit = static_cast<int>(n);
  limits.rate_period_seconds = static_cast<double>(ms->count()) / 1000.0;
  return Status::Ok();
}

std::string RateText(int limit, double period_seconds) {
  return std::to_string(limit) + "/" + ShortDuration(nlohmann::json(period_seconds));
}

struct SetOptions {
  std::string queue;
  std::string notify;
  std::string concurrency;
  std::string rate;
  std::string broker;
  bool create = false;
};

int RunSet(GlobalOptions& global, const SetOptions& o) {
  Status valid = ValidateQueueName(o.queue);
  if (!valid.ok()) return Fail(valid);
  if (o.notify.empty() && o.concurrency.empty() && o.rate.empty() && o.broker.empty()) {
    return Fail(Status::InvalidArgument(
        "nothing to set; give --concurrency N|none, --rate N/PERIOD|none, --notify on|off or "
        "--broker postgres|redis"));
  }
  if (!o.broker.empty() && o.broker != "postgres" && o.broker != "redis") {
    return Fail(Status::InvalidArgument("--broker \"" + o.broker + "\" is not postgres or redis"));
  }
  if (o.broker == "redis" && !broker::RedisSupported()) {
    return Fail(Status::FailedPrecondition(std::string("--broker redis: ") +
                                           broker::kNoRedisSupport));
  }
  if (!o.notify.empty() && o.notify != "on" && o.notify != "off") {
    return Fail(Status::InvalidArgument("--notify \"" + o.notify + "\" is not on or off"));
  }
  store::QueueLimits limits;
  if (!o.concurrency.empty()) {
    auto c = ParseConcurrency(o.concurrency);
    if (!c.ok()) return Fail(c.status());
    limits.set_concurrency = true;
    limits.concurrency = *c;
  }
  if (!o.rate.empty()) {
    Status st = ParseRate(o.rate, limits);
    if (!st.ok()) return Fail(st);
    limits.set_rate = true;
  }
  auto s = OpenAdmin(global);
  if (!s.ok()) return Fail(s.status());
  if (!o.create) {
    Status known = store::CheckQueueKnown(*(*s)->conn, (*s)->catalog, o.queue);
    if (!known.ok()) {
      return Fail(Status::NotFound(known.message() +
                                   "; to set up a queue before its first job, add --create"));
    }
  }
  // Every option given lands, or none does.
  store::QueueChange change;
  change.limits = limits;
  if (!o.notify.empty()) change.notify = o.notify == "on";
  if (!o.broker.empty()) change.broker = o.broker;
  Status changed = store::ChangeQueue(*(*s)->conn, (*s)->catalog, o.queue, change, WhoAmI());
  if (!changed.ok()) return Fail(changed);
  if (!o.notify.empty()) {
    std::printf("queue %s: notify %s%s\n", o.queue.c_str(), o.notify.c_str(),
                o.notify == "off" ? " (workers find its jobs by polling, every poll_interval)"
                                  : "");
  }
  if (limits.set_concurrency) {
    if (limits.concurrency) {
      std::printf("queue %s: at most %s running at once, across every worker\n", o.queue.c_str(),
                  CountOf(*limits.concurrency, "job").c_str());
    } else {
      std::printf("queue %s: no concurrency limit\n", o.queue.c_str());
    }
  }
  if (limits.set_rate) {
    if (limits.rate_limit) {
      std::printf("queue %s: at most %s started in any %s, across every worker\n", o.queue.c_str(),
                  CountOf(*limits.rate_limit, "job").c_str(),
                  ShortDuration(nlohmann::json(limits.rate_period_seconds)).c_str());
    } else {
      std::printf("queue %s: no rate limit\n", o.queue.c_str());
    }
  }
  if (!o.broker.empty()) {
    std::printf("queue %s: broker %s%s\n", o.queue.c_str(), o.broker.c_str(),
                o.broker == "redis" ? " (workers with a redis.url read its jobs from Redis within "
                                      "a second; the others claim them from PostgreSQL)"
                                    : "");
  }
  return kExitOk;
}

std::string LimitsCell(const json& q) {
  std::string out;
  if (q.contains("concurrency") && !q["concurrency"].is_null()) {
    out = "max " + std::to_string(q["concurrency"].get<int>());
  }
  if (q.contains("rate_limit") && !q["rate_limit"].is_null()) {
    if (!out.empty()) out += ", ";
    out += RateText(q["rate_limit"].get<int>(), q["rate_period_seconds"].get<double>());
  }
  return out.empty() ? "-" : out;
}

}  // namespace

void AddQueuesCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  CLI::App* queues = app.add_subcommand("queues", "list, pause and resume queues");
  queues->require_subcommand(1);
  auto as_json = std::make_shared<bool>(false);
  CLI::App* list = queues->add_subcommand(
      "list", "per queue: pending, scheduled and running jobs, failures, live workers, "
              "throughput of the last hour, oldest pending job, paused");
  list->add_flag("--json", *as_json, "print JSON");
  list->callback([&global, &exit_code, as_json] { exit_code = RunList(global, *as_json); });
  auto set_options = std::make_shared<SetOptions>();
  CLI::App* set = queues->add_subcommand("set", "change a queue's settings");
  set->add_option("queue", set_options->queue, "queue name")->required();
  set->add_option("--concurrency", set_options->concurrency,
                  "N: at most N jobs of the queue run at once, across every worker and host; "
                  "none: no limit");
  set->add_option("--rate", set_options->rate,
                  "N/PERIOD (20/s, 600/m, 100/10s): at most N jobs of the queue start in any "
                  "PERIOD, across every worker and host; none: no limit");
  set->add_option("--notify", set_options->notify,
                  "on: inserts wake idle workers with a NOTIFY (default); off: workers poll");
  set->add_option("--broker", set_options->broker,
                  "postgres (default) or redis: what carries its jobs to workers "
                  "(README, \"Redis broker\")");
  set->add_flag("--create", set_options->create,
                "set up a queue that has no jobs yet (otherwise an unknown name is refused, "
                "to catch typos)");
  set->callback([&global, &exit_code, set_options] {
    exit_code = RunSet(global, *set_options);
  });
  for (bool paused : {true, false}) {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = queues->add_subcommand(
        paused ? "pause" : "resume",
        paused ? "stop claiming jobs of a queue (within a second; running jobs finish)"
               : "claim jobs of a paused queue again");
    cmd->add_option("queue", *name, "queue name")->required();
    cmd->callback([&global, &exit_code, name, paused] {
      exit_code = RunSetPaused(global, *name, paused);
    });
  }
}

}  // namespace pgjobs::cli
