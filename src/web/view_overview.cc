// The overview page: per queue counts and settings (queue_stats, as
// `pgjobs queues list`), the last hour's per queue stats (`pgjobs stats`)
// and throughput charts drawn from history.
#include <cmath>
#include <cstdio>
#include <map>

#include "store/admin_query.h"
#include "store/queue_admin.h"
#include "store/schedule_file.h"
#include "store/stats.h"
#include "web/html.h"
#include "web/views.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

// Finished jobs per bucket: an hour in minutes, a day in quarter hours.
struct Window {
  const char* key;
  double seconds;
  double bucket;
};
constexpr Window kWindows[] = {{"hour", 3600, 60}, {"day", 86400, 900}};

std::string Chart(const json& buckets, const Window& w, double now) {
  const int n = static_cast<int>(w.seconds / w.bucket);
  const double start = std::floor((now - w.seconds) / w.bucket) * w.bucket + w.bucket;
  std::vector<double> ok(n, 0), bad(n, 0);
  for (const json& b : buckets) {
    int i = static_cast<int>(std::floor((ParseIso(b["at"].get<std::string>()) - start) / w.bucket));
    if (i < 0 || i >= n) continue;
    ok[i] += b["succeeded"].get<double>();
    bad[i] += b["failed"].get<double>() + b["cancelled"].get<double>();
  }
  double max = 1;
  for (int i = 0; i < n; ++i) max = std::max(max, ok[i] + bad[i]);
  const double width = 720, height = 120, bar = width / n;
  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 720 140\" role=\"img\" aria-label=\"" +
                    Escape(std::string("jobs finished per bucket, last ") + w.key) + "\">";
  char buf[320];
  for (int i = 0; i < n; ++i) {
    double ho = ok[i] / max * height, hb = bad[i] / max * height;
    std::snprintf(buf, sizeof buf,
                  "<g><title>%.0f succeeded, %.0f failed or cancelled</title>"
                  "<rect class=\"ok\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
                  "<rect class=\"bad\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></g>",
                  ok[i], bad[i], i * bar, height - ho, std::max(bar - 1, 0.5), ho, i * bar,
                  height - ho - hb, std::max(bar - 1, 0.5), hb);
    svg += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"0\" y=\"136\">-%s</text><text x=\"680\" y=\"136\">now</text>"
                "<text x=\"0\" y=\"10\">%.0f</text>",
                w.key[0] == 'h' ? "1h" : "24h", max);
  return svg + buf + "</svg>";
}

std::string QueueActions(const json& q, const ViewContext& ctx) {
  if (!ctx.can_act) return "";
  std::string name = q["queue"].get<std::string>();
  std::string base = "/api/queues/" + UrlEncode(name);
  std::string out = q["paused"] == true
                        ? ActionButton(base + "/resume", "resume", "Resume queue " + name + "?")
                        : ActionButton(base + "/pause", "pause",
                                       "Pause queue " + name + "? Workers stop claiming its jobs.");
  out += ActionButton(base + "/purge", "purge",
                      "Delete every waiting job of queue " + name + "? This cannot be undone.");
  return out;
}

std::string Limits(const json& q) {
  std::string out;
  if (q.contains("concurrency") && q["concurrency"].is_number())
    out += "concurrency " + Text(q["concurrency"]);
  if (q.contains("rate_limit") && q["rate_limit"].is_number()) {
    out += (out.empty() ? "" : ", ") + Text(q["rate_limit"]) + " per " +
           Duration(q["rate_period_seconds"]);
  }
  return out.empty() ? "-" : out;
}

}  // namespace

Result<json> OverviewData(ViewContext& ctx) {
  auto queues = store::ListQueues(ctx.conn, ctx.catalog);
  if (!queues.ok()) return queues.status();
  auto stats = store::GetStats(ctx.conn, ctx.catalog, 3600, std::nullopt);
  if (!stats.ok()) return stats.status();
  json per_queue = json::array();
  for (const json& s : *stats) {
    if (s["task"].is_null()) per_queue.push_back(s);
  }
  json out = {{"queues", *queues}, {"stats_1h", per_queue}};
  // One read of the day's history in minutes, folded here into both charts'
  // buckets (a second statement for the hour would scan today's partition
  // again: job_history has no index on finished_at).
  const Window& hour = kWindows[0];
  const Window& day = kWindows[1];
  auto minutes = store::QueryJson(ctx.conn, ctx.catalog, "web_throughput",
                                  {std::to_string(day.seconds), std::to_string(hour.bucket)});
  if (!minutes.ok()) return minutes.status();
  out["throughput"]["hour"] = json::array();
  std::map<int64_t, json> folded;
  for (const json& b : *minutes) {
    double at = ParseIso(b["at"].get<std::string>());
    if (at > ctx.now - hour.seconds - hour.bucket) out["throughput"]["hour"].push_back(b);
    int64_t start = static_cast<int64_t>(std::floor(at / day.bucket) * day.bucket);
    json& f = folded[start];
    if (f.is_null()) {
      f = {{"at", store::FormatInstant(start * 1000000)}, {"succeeded", 0}, {"failed", 0},
           {"cancelled", 0}};
    }
    for (const char* k : {"succeeded", "failed", "cancelled"}) {
      f[k] = f[k].get<int64_t>() + b[k].get<int64_t>();
    }
  }
  out["throughput"]["day"] = json::array();
  for (auto& [start, f] : folded) out["throughput"]["day"].push_back(std::move(f));
  return out;
}

Page OverviewPage(const json& data, const ViewContext& ctx) {
  Table queues({"queue", "pending", "scheduled", "running", "succeeded 1h", "failed 1h",
                "failed 24h", "oldest pending", "workers", "paused", "limits", ""},
               "queues");
  for (const json& q : data["queues"]) {
    std::string name = q["queue"].get<std::string>();
    queues.Row({Link("/jobs?queue=" + UrlEncode(name), name),
                Link("/jobs?queue=" + UrlEncode(name) + "&state=pending", Text(q["pending"])),
                Text(q["scheduled"]),
                Link("/jobs?queue=" + UrlEncode(name) + "&state=running", Text(q["running"])),
                Text(q["succeeded_1h"]),
                Link("/jobs?queue=" + UrlEncode(name) + "&state=failed", Text(q["failed_1h"])),
                Text(q["failed_24h"]), Duration(q["oldest_pending_seconds"]),
                Text(q["workers"]), q["paused"] == true ? "<b class=\"paused\">paused</b>" : "no",
                Limits(q), QueueActions(q, ctx)},
               q["paused"] == true ? "paused" : "");
  }
  Table stats({"queue", "finished", "per minute", "failure rate", "run p50", "run p95",
               "wait p50", "wait p95"});
  for (const json& s : data["stats_1h"]) {
    stats.Row({Text(s["queue"]), Text(s["finished"]), Text(s["per_minute"]),
               Percent(s["failure_rate"]), Duration(s["run_p50"]), Duration(s["run_p95"]),
               Duration(s["wait_p50"]), Duration(s["wait_p95"])});
  }
  std::string content = "<h2>Queues</h2>" +
                        queues.Render("No queues yet: enqueue a job with `pgjobs enqueue TASK`.");
  content += "<h2>Finished in the last hour</h2>" + stats.Render("Nothing finished in the last hour.");
  for (const Window& w : kWindows) {
    content += "<h2>Throughput, last " + std::string(w.key) +
               " <small><span class=\"swatch ok\"></span> succeeded <span class=\"swatch bad\">"
               "</span> failed or cancelled</small></h2>" +
               Chart(data["throughput"][w.key], w, ctx.now);
  }
  return {"Overview", "", content};
}

}  // namespace pgjobs::web

namespace pgjobs::web {

std::string Param(const ViewContext& ctx, const std::string& name) {
  auto it = ctx.query.find(name);
  return it == ctx.query.end() ? "" : it->second;
}

}  // namespace pgjobs::web
