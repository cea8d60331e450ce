#include "web/metrics.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "store/admin_query.h"
#include "store/queue_admin.h"

namespace pgjobs::web {

using nlohmann::json;

std::string LabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

// The shortest text that reads back as v ("0.025", not "0.025000000000000001").
std::string Num(double v) { return fmt::format("{}", v); }

std::string Labels(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    out += (i ? "," : "") + labels[i].first + "=\"" + LabelValue(labels[i].second) + "\"";
  }
  return out + "}";
}

// One metric family: HELP, TYPE, then its samples.
class Family {
 public:
  Family(std::ostringstream& out, const std::string& name, const std::string& type,
         const std::string& help)
      : out_(out), name_(name) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void Sample(const std::vector<std::pair<std::string, std::string>>& labels, double v,
              const std::string& suffix = "") {
    out_ << name_ << suffix << (labels.empty() ? "" : Labels(labels)) << " " << Num(v) << "\n";
  }

 private:
  std::ostringstream& out_;
  std::string name_;
};

std::string BoundsLiteral() {
  std::string out = "{";
  for (size_t i = 0; i < kBuckets.size(); ++i) out += (i ? "," : "") + Num(kBuckets[i]);
  return out + "}";
}

std::string Str(const json& j) { return j.is_string() ? j.get<std::string>() : ""; }
double Dbl(const json& j) { return j.is_number() ? j.get<double>() : 0; }

}  // namespace

Status Metrics::Prime(pg::Connection& conn, const SqlCatalog& catalog) {
  std::lock_guard<std::mutex> lock(mu_);
  return Update(conn, catalog);
}

Status Metrics::Update(pg::Connection& conn, const SqlCatalog& catalog) {
  auto got = store::QueryJson(conn, catalog, "metrics_finished",
                              {upto_, pg::Param(BoundsLiteral()),
                               pg::Param(std::to_string(settle_seconds_))});
  if (!got.ok()) return got.status();
  const json& j = *got;
  for (const json& s : j["states"]) {
    Counts& c = counts_[{Str(s["queue"]), Str(s["task"])}];
    auto n = s["jobs"].get<uint64_t>();
    std::string state = Str(s["state"]);
    if (state == "succeeded") c.succeeded += n;
    if (state == "failed") c.failed += n;
    if (state == "cancelled") c.cancelled += n;
    c.retried += static_cast<uint64_t>(Dbl(s["retried"]));
  }
  for (auto [key, hists] : {std::pair{"run", &run_}, std::pair{"wait", &wait_}}) {
    for (const json& b : j[key]) {
      Histogram& h = (*hists)[{Str(b["queue"]), Str(b["task"])}];
      auto n = b["n"].get<uint64_t>();
      size_t bucket = std::min<size_t>(b["bucket"].get<size_t>(), kBuckets.size());
      h.by_bucket[bucket] += n;
      h.count += n;
      h.sum += Dbl(b["sum"]);
    }
  }
  upto_ = Str(j["upto"]);
  return Status::Ok();
}

std::string Metrics::RenderCounters() const {
  std::ostringstream out;
  struct Counter {
    const char* name;
    const char* help;
    uint64_t Counts::*field;
  };
  const Counter counters[] = {
      {"pgjobs_jobs_succeeded_total", "Jobs that succeeded.", &Counts::succeeded},
      {"pgjobs_jobs_failed_total", "Jobs that failed for good (all attempts used).",
       &Counts::failed},
      {"pgjobs_jobs_cancelled_total", "Jobs cancelled.", &Counts::cancelled},
      {"pgjobs_jobs_retried_total", "Attempts of finished jobs that failed and were retried.",
       &Counts::retried}};
  for (const Counter& c : counters) {
    Family f(out, c.name, "counter", c.help);
    for (const auto& [key, counts] : counts_) {
      f.Sample({{"queue", key.first}, {"task", key.second}},
               static_cast<double>(counts.*(c.field)));
    }
  }
  for (auto [name, help, hists] :
       {std::tuple{"pgjobs_job_run_seconds", "Run time of finished jobs' last attempt.", &run_},
        std::tuple{"pgjobs_job_wait_seconds",
                   "Time finished jobs waited from ready to the start of their last attempt.",
                   &wait_}}) {
    Family f(out, name, "histogram", help);
    for (const auto& [key, h] : *hists) {
      uint64_t cumulative = h.by_bucket[0];
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        // width_bucket i + 1 holds kBuckets[i] <= x < kBuckets[i + 1].
        f.Sample({{"queue", key.first}, {"task", key.second}, {"le", Num(kBuckets[i])}},
                 static_cast<double>(cumulative), "_bucket");
        cumulative += h.by_bucket[i + 1];
      }
      f.Sample({{"queue", key.first}, {"task", key.second}, {"le", "+Inf"}},
               static_cast<double>(h.count), "_bucket");
      f.Sample({{"queue", key.first}, {"task", key.second}}, h.sum, "_sum");
      f.Sample({{"queue", key.first}, {"task", key.second}}, static_cast<double>(h.count),
               "_count");
    }
  }
  return out.str();
}

Result<std::string> Metrics::Render(pg::Connection& conn, const SqlCatalog& catalog) {
  auto queues = store::ListQueues(conn, catalog);
  if (!queues.ok()) return queues.status();
  auto hot = store::QueryJson(conn, catalog, "metrics_hot", {});
  if (!hot.ok()) return hot.status();
  auto sched = store::QueryJson(conn, catalog, "metrics_schedules", {});
  if (!sched.ok()) return sched.status();
  std::ostringstream out;
  {
    Family paused(out, "pgjobs_queue_paused", "gauge", "1 when the queue is paused.");
    for (const json& q : *queues) paused.Sample({{"queue", Str(q["queue"])}}, q["paused"] == true);
  }
  {
    Family workers(out, "pgjobs_queue_workers", "gauge", "Live workers serving the queue.");
    for (const json& q : *queues) workers.Sample({{"queue", Str(q["queue"])}}, Dbl(q["workers"]));
  }
  {
    Family limit(out, "pgjobs_queue_concurrency_limit", "gauge",
                 "The queue's global concurrency limit, when it has one.");
    for (const json& q : *queues) {
      if (q.contains("concurrency") && q["concurrency"].is_number())
        limit.Sample({{"queue", Str(q["queue"])}}, Dbl(q["concurrency"]));
    }
  }
  {
    Family rate(out, "pgjobs_queue_rate_limit_jobs", "gauge",
                "The most jobs of the queue started in any window of "
                "pgjobs_queue_rate_limit_period_seconds, when it has a rate limit.");
    for (const json& q : *queues) {
      if (q.contains("rate_limit") && q["rate_limit"].is_number())
        rate.Sample({{"queue", Str(q["queue"])}}, Dbl(q["rate_limit"]));
    }
  }
  {
    Family period(out, "pgjobs_queue_rate_limit_period_seconds", "gauge",
                  "The window of the queue's rate limit, when it has one.");
    for (const json& q : *queues) {
      if (q.contains("rate_period_seconds") && q["rate_period_seconds"].is_number())
        period.Sample({{"queue", Str(q["queue"])}}, Dbl(q["rate_period_seconds"]));
    }
  }
  std::string counters;
  std::set<std::pair<std::string, std::string>> pairs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PGJOBS_RETURN_IF_ERROR(Update(conn, catalog));
    counters = RenderCounters();
    for (const auto& [key, c] : counts_) pairs.insert(key);
  }
  std::map<std::pair<std::string, std::string>, json> by_pair;
  for (const json& h : *hot) by_pair[{Str(h["queue"]), Str(h["task"])}] = h;
  for (const auto& p : pairs) by_pair.emplace(p, json::object());
  for (auto [name, field, help] :
       {std::tuple{"pgjobs_jobs_pending", "pending", "Jobs ready to run, waiting for a worker."},
        std::tuple{"pgjobs_jobs_scheduled", "scheduled", "Jobs waiting for a future run_at."},
        std::tuple{"pgjobs_jobs_running", "running", "Jobs running now."},
        std::tuple{"pgjobs_oldest_pending_age_seconds", "oldest_pending_seconds",
                   "How long the oldest ready job has waited (0 when none waits)."}}) {
    Family f(out, name, "gauge", help);
    for (const auto& [key, h] : by_pair) {
      f.Sample({{"queue", key.first}, {"task", key.second}}, h.contains(field) ? Dbl(h[field]) : 0);
    }
  }
  out << counters;
  const json& s = *sched;
  {
    Family late(out, "pgjobs_schedule_last_tick_lateness_seconds", "gauge",
                "How late the schedule's last tick's job was created after its due time.");
    for (const json& r : s["schedules"]) {
      if (r["last_tick_lateness_seconds"].is_number())
        late.Sample({{"schedule", Str(r["name"])}}, Dbl(r["last_tick_lateness_seconds"]));
    }
  }
  {
    Family ticks(out, "pgjobs_schedule_ticks_total", "counter", "Ticks that made a job.");
    for (const json& r : s["schedules"]) ticks.Sample({{"schedule", Str(r["name"])}}, Dbl(r["run_count"]));
  }
  {
    Family skipped(out, "pgjobs_schedule_skipped_ticks_total", "counter",
                   "Ticks skipped by the misfire or overlap policy.");
    for (const json& r : s["schedules"])
      skipped.Sample({{"schedule", Str(r["name"])}}, Dbl(r["skipped_count"]));
  }
  {
    Family enabled(out, "pgjobs_schedule_enabled", "gauge", "1 when the schedule is enabled.");
    for (const json& r : s["schedules"])
      enabled.Sample({{"schedule", Str(r["name"])}}, r["enabled"] == true);
  }
  Family(out, "pgjobs_workers_alive", "gauge",
         "Workers with a heartbeat younger than their lease + 10 s.")
      .Sample({}, Dbl(s["workers_alive"]));
  {
    Family leader(out, "pgjobs_scheduler_leader", "gauge",
                  "1 for the process holding each unexpired leader lease.");
    for (const json& l : s["leaders"])
      leader.Sample({{"lease", Str(l["name"])}, {"holder", Str(l["holder"])}}, 1);
  }
  return out.str();
}

}  // namespace pgjobs::web
