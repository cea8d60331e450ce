// The JSON API against a real database: the same field names as the CLI's
// --json, filters and pages, errors that name the problem, and escaping of
// user data in the pages.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/expect_has.h"
#include "tests/web/web_fixture.h"

namespace pgjobs::testing {
namespace {

using nlohmann::json;

std::set<std::string> Keys(const json& o) {
  std::set<std::string> out;
  for (const auto& [k, v] : o.items()) out.insert(k);
  return out;
}

json GetJson(WebTest& t, const std::string& path, httplib::Result res) {
  (void)t;
  EXPECT_TRUE(res && res->status == 200) << path << ": " << (res ? res->body : "no answer");
  return res ? json::parse(res->body) : json();
}

using WebApiTest = WebTest;

TEST_F(WebApiTest, ApiAnswersWithTheFieldNamesOfTheCliJson) {
  SeedEveryState();
  X("INSERT INTO " + S() + ".schedules (name, kind, cron, task) VALUES ('nightly', 'cron', '0 3 * * *', 'report.build')");
  StartServer();
  struct Pair {
    std::string api;
    std::vector<std::string> cli;
  };
  std::string id = Q("SELECT max(id) FROM " + S() + ".job_history");
  const Pair pairs[] = {{"/api/queues", {"queues", "list", "--json"}},
                        {"/api/jobs", {"jobs", "list", "--json"}},
                        {"/api/tasks", {"tasks", "list", "--json"}},
                        {"/api/schedules", {"schedules", "list", "--json"}},
                        {"/api/jobs/" + id, {"jobs", "show", id, "--json"}},
                        {"/api/schedules/nightly", {"schedules", "show", "nightly", "--json"}}};
  for (const Pair& p : pairs) {
    json api = GetJson(*this, p.api, Get(p.api));
    json cli = json::parse(Cli(p.cli));
    ASSERT_EQ(api.type(), cli.type()) << p.api;
    if (api.is_array()) {
      ASSERT_EQ(api.size(), cli.size()) << p.api;
      ASSERT_FALSE(api.empty()) << p.api;
      for (size_t i = 0; i < api.size(); ++i) EXPECT_EQ(Keys(cli[i]), Keys(api[i])) << p.api;
      for (size_t i = 0; i < api.size(); ++i) {
        for (const char* k : {"id", "queue", "task", "name", "state"}) {
          if (cli[i].contains(k)) {
            EXPECT_EQ(cli[i][k], api[i][k]) << p.api << " " << k;
          }
        }
      }
    } else {
      std::set<std::string> cli_keys = Keys(cli), api_keys = Keys(api);
      for (const std::string& k : cli_keys) EXPECT_EQ(1u, api_keys.count(k)) << p.api << " lacks " << k;
      EXPECT_EQ(cli["id"], api["id"]) << p.api;
    }
  }
  // Workers: the CLI's fields plus what each runs now.
  json workers = GetJson(*this, "/api/workers", Get("/api/workers"));
  json cli_workers = json::parse(Cli({"workers", "list", "--json"}));
  ASSERT_EQ(1u, workers.size());
  for (const auto& [k, v] : cli_workers[0].items()) EXPECT_TRUE(workers[0].contains(k)) << k;
  ASSERT_EQ(1u, workers[0]["jobs"].size());
  EXPECT_EQ("report.build", workers[0]["jobs"][0]["task"]);
  // Stats as `pgjobs stats --json`, with its window and queue.
  for (const std::vector<std::string>& q : {std::vector<std::string>{"", ""},
                                            {"?since=24h", "24h"},
                                            {"?queue=emails&since=2h", "2h"}}) {
    json api = GetJson(*this, "/api/stats" + q[0], Get("/api/stats" + q[0]));
    std::vector<std::string> args = {"stats", "--json"};
    if (!q[1].empty()) args.insert(args.end(), {"--since", q[1]});
    if (q[0].find("queue") != std::string::npos) args.insert(args.end(), {"--queue", "emails"});
    json cli = json::parse(Cli(args));
    EXPECT_EQ(cli["since_seconds"], api["since_seconds"]) << q[0];
    EXPECT_EQ(cli["rows"].size(), api["rows"].size()) << q[0];
  }
  auto bad = Get("/api/stats?sinse=1h");
  EXPECT_EQ(400, bad->status);
  EXPECT_EQ("unknown parameter \"sinse\"; /api/stats takes since (e.g. 24h) and queue",
            json::parse(bad->body)["error"]);
  EXPECT_EQ(400, Get("/api/stats?since=bogus")->status);
  // The overview: queues as `queues list`, the hour's stats and the charts.
  json overview = GetJson(*this, "/api/", Get("/api/"));
  EXPECT_EQ(json::parse(Cli({"queues", "list", "--json"})).size(), overview["queues"].size());
  EXPECT_EQ(3, overview["stats_1h"][0]["finished"]);
  ASSERT_EQ(1u, overview["throughput"]["hour"].size());
  EXPECT_EQ(1, overview["throughput"]["hour"][0]["failed"]);
}

TEST_F(WebApiTest, TheOverviewShowsTheFailureRateAsAPercentageAsTheCliDoes) {
  SeedEveryState();  // the hour: one succeeded, one failed, one cancelled
  StartServer();
  auto page = Get("/");
  ASSERT_EQ(200, page->status);
  EXPECT_HAS(page->body, "<td>33.3%</td>");
  EXPECT_HAS(Cli({"stats"}), "33.3%");
}

TEST_F(WebApiTest, JobsFilterByStateQueueTaskAndPageOlderWithBefore) {
  SeedEveryState();
  for (int i = 0; i < 60; ++i) Insert("bulk.task", "{}", "bulk");
  StartServer();
  json failed = GetJson(*this, "", Get("/api/jobs?state=failed"));
  ASSERT_EQ(1u, failed.size());
  EXPECT_EQ("failed", failed[0]["state"]);
  json scheduled = GetJson(*this, "", Get("/api/jobs?state=scheduled&queue=emails"));
  ASSERT_EQ(1u, scheduled.size());
  json page1 = GetJson(*this, "", Get("/api/jobs?task=bulk.task&limit=50"));
  ASSERT_EQ(50u, page1.size());
  std::string last = std::to_string(page1.back()["id"].get<int64_t>());
  json page2 = GetJson(*this, "", Get("/api/jobs?task=bulk.task&before=" + last));
  ASSERT_EQ(10u, page2.size());
  EXPECT_LT(page2[0]["id"].get<int64_t>(), page1.back()["id"].get<int64_t>());
  // The HTML page links to the older page.
  auto html = Get("/jobs?task=bulk.task");
  EXPECT_HAS(html->body, "before=" + last);
}

TEST_F(WebApiTest, BadInputGetsAClearErrorNamingTheProblem) {
  StartServer();
  auto r = Get("/api/jobs?state=bogus");
  EXPECT_EQ(400, r->status);
  EXPECT_HAS(r->body, "state \\\"bogus\\\" is not one of pending");
  r = Get("/jobs?since=forever");
  EXPECT_EQ(400, r->status);
  EXPECT_HAS(r->body, "since:");
  r = Get("/api/jobs?before=abc");
  EXPECT_EQ(400, r->status);
  EXPECT_HAS(r->body, "before must be a job id");
  r = Get("/api/jobs/987654");
  EXPECT_EQ(404, r->status);
  EXPECT_HAS(r->body, "987654");
  r = Get("/api/schedules/nope");
  EXPECT_EQ(404, r->status);
  r = Get("/no/such/page");
  EXPECT_EQ(404, r->status);
  EXPECT_HAS(r->body, "no page at /no/such/page");
}

TEST_F(WebApiTest, UserDataRendersAsTextInEveryPage) {
  const std::string xss = "<script>alert(1)</script>";
  std::string id = Insert("<img src=x onerror=alert(2)>", R"({"note": ")" + xss + R"("})");
  X("INSERT INTO " + S() + ".schedules (name, kind, cron, task, description) VALUES "
    "('xss', 'cron', '0 3 * * *', '<svg onload=alert(3)>', $$" + xss + "$$)");
  StartServer();
  for (const std::string& path : {std::string("/"), std::string("/jobs"), "/jobs/" + id,
                                  std::string("/tasks"), std::string("/schedules"),
                                  std::string("/schedules/xss")}) {
    auto r = Get(path);
    ASSERT_EQ(200, r->status) << path << r->body;
    EXPECT_EQ(std::string::npos, r->body.find("<script>alert")) << path;
    EXPECT_EQ(std::string::npos, r->body.find("<img src=x")) << path;
    EXPECT_EQ(std::string::npos, r->body.find("<svg onload")) << path;
  }
  EXPECT_HAS(Get("/jobs/" + id)->body, "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_HAS(Get("/schedules/xss")->body, "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_HAS(Get("/jobs")->body, "&lt;img src=x onerror=alert(2)&gt;");
  // The pages allow no inline script at all.
  EXPECT_HAS(Get("/")->headers.find("Content-Security-Policy")->second, "script-src 'self'");
}

TEST_F(WebApiTest, PagesAndAssetsAreServedByTheBinaryAndRefreshInPlace) {
  SeedEveryState();
  StartServer();
  auto page = Get("/jobs");
  EXPECT_HAS(page->body, "<div id=\"content\">");
  EXPECT_HAS(page->body, "data-refresh=\"5\"");
  EXPECT_HAS(page->body, "src=\"/assets/dashboard.js\"");
  auto partial = Get("/jobs?partial=1");
  EXPECT_EQ(std::string::npos, partial->body.find("<html")) << partial->body;
  EXPECT_HAS(partial->body, "report.build");
  auto js = Get("/assets/dashboard.js");
  EXPECT_EQ(200, js->status);
  EXPECT_HAS(js->get_header_value("Content-Type"), "text/javascript");
  EXPECT_HAS(js->body, "X-CSRF-Token");
  EXPECT_EQ(200, Get("/assets/dashboard.css")->status);
  EXPECT_EQ(404, Get("/assets/layout.html")->status);
  EXPECT_EQ(std::string::npos, page->body.find("http://")) << "no third-party address";
  EXPECT_EQ(std::string::npos, page->body.find("https://"));
}

}  // namespace
}  // namespace pgjobs::testing
