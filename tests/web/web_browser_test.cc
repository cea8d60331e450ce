// The dashboard in a real browser (Debian's headless Chromium through
// chromedriver), against the pgjobs binary (`pgjobs web`, `pgjobs worker`)
// and a real database with jobs in every state: every page loads and shows
// what the database holds, user data renders as text, and the actions
// (cancel a running command job, retry a failed job, pause a queue) change
// the database after their confirmation. Screenshots of every page are kept
// in PGJOBS_SCREENSHOT_DIR.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/e2e/cli_run.h"
#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/web/web_fixture.h"
#include "tests/web/webdriver.h"

namespace pgjobs::testing {
namespace {

using namespace std::chrono_literals;

class WebBrowserTest : public WebTest {
 protected:
  void StartProcesses() {
    std::string hang = dir_ + "/hang.sh";
    std::ofstream(hang) << "#!/bin/sh\necho $$ > " << dir_ << "/hang.pid\nexec sleep 60\n";
    chmod(hang.c_str(), 0755);
    std::string conf = dir_ + "/pgjobs.conf";
    std::ofstream(conf) << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
                        << "\", \"worker\": {\"queues\": {\"default\": 2}, \"lease\": \"30s\"}, "
                           "\"tasks\": {\"hang\": {\"kind\": \"command\", \"command\": [\""
                        << hang << "\"]}}}";
    worker_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BinaryPath(), "worker", "--config", conf}, dir_ + "/worker.log");
    ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".workers WHERE id <> 'w-test'") == "1"; }))
        << worker_->Log();
    web_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BinaryPath(), "web", "--dsn", schema_.dsn(), "--schema", S(),
                                 "--listen", "127.0.0.1:0", "--refresh", "1"},
        dir_ + "/web.log");
    std::smatch m;
    const std::regex kUrl("url=(http://127\\.0\\.0\\.1:[0-9]+)/");
    ASSERT_TRUE(Eventually([&] {
      std::string log = web_->Log();
      if (!std::regex_search(log, m, kUrl)) return false;
      base_ = m[1];
      return true;
    })) << web_->Log();
    browser_ = std::make_unique<Browser>(dir_);
    ASSERT_TRUE(browser_->ok()) << browser_->error();
    std::filesystem::create_directories(PGJOBS_SCREENSHOT_DIR);
  }

  // Opens path and waits for its content part; keeps a screenshot as name.
  void Visit(const std::string& path, const std::string& name) {
    browser_->Open(base_ + path);
    ASSERT_TRUE(Eventually([&] { return browser_->Eval("return !!document.getElementById('content')") == true; }))
        << path << web_->Log();
    EXPECT_TRUE(browser_->Screenshot(std::string(PGJOBS_SCREENSHOT_DIR) + "/" + name + ".png"));
  }
  std::string ContentText() {
    auto t = browser_->Eval("return document.getElementById('content').innerText");
    return t.is_string() ? t.get<std::string>() : "";
  }
  // True once the page's content, refreshed in place, contains text.
  bool ContentShows(const std::string& text) {
    return Eventually([&] { return ContentText().find(text) != std::string::npos; }, 10s);
  }

  std::unique_ptr<ChildProcess> worker_, web_;
  std::unique_ptr<Browser> browser_;
  std::string base_;
};

TEST_F(WebBrowserTest, EveryPageLoadsAndShowsTheDatabaseWithUserDataAsText) {
  SeedEveryState();
  const std::string xss_args = R"({"html": "<script>window.__xss = 1</script>"})";
  std::string xss_job = Insert("<img src=x onerror=\"window.__xss=2\">", xss_args, "emails");
  X("INSERT INTO " + S() + ".schedules (name, kind, cron, task, description) VALUES "
    "('nightly', 'cron', '0 3 * * *', 'report.build', $$<script>window.__xss = 3</script>$$)");
  std::string failed = Q("SELECT id FROM " + S() + ".job_history WHERE state = 'failed'");
  StartProcesses();

  Visit("/", "overview");
  std::string text = ContentText();
  EXPECT_HAS(text, "emails");
  EXPECT_HAS(text, "default");
  EXPECT_HAS(text, "Throughput, last hour");
  EXPECT_EQ(1, browser_->Eval("return document.querySelectorAll('svg.chart rect.bad[height]:not([height=\"0.0\"])').length > 0 ? 1 : 0"));

  Visit("/jobs", "jobs");
  text = ContentText();
  for (const char* state : {"pending", "scheduled", "running", "succeeded", "failed", "cancelled"})
    EXPECT_HAS(text, state);
  EXPECT_HAS(text, "<img src=x onerror=\"window.__xss=2\">");

  Visit("/jobs?state=failed", "jobs-failed");
  EXPECT_HAS(ContentText(), failed);

  Visit("/jobs/" + failed, "job");
  text = ContentText();
  EXPECT_HAS(text, "boom");
  EXPECT_HAS(text, "report.build");

  Visit("/jobs/" + xss_job, "job-xss");
  EXPECT_HAS(ContentText(), "<script>window.__xss = 1</script>");

  Visit("/schedules", "schedules");
  EXPECT_HAS(ContentText(), "nightly");
  Visit("/schedules/nightly", "schedule");
  text = ContentText();
  EXPECT_HAS(text, "<script>window.__xss = 3</script>");
  EXPECT_HAS(text, "03:00:00");

  Visit("/workers", "workers");
  EXPECT_HAS(ContentText(), "w-test");
  Visit("/tasks", "tasks");
  text = ContentText();
  EXPECT_HAS(text, "mail.send");
  EXPECT_HAS(text, "no live worker handles it on emails");

  // None of the payloads ran, on any page: the only script is the dashboard's.
  for (const std::string& path : {std::string("/jobs"), "/jobs/" + xss_job, std::string("/schedules/nightly"), std::string("/tasks")}) {
    browser_->Open(base_ + path);
    EXPECT_EQ(true, browser_->Eval("return window.__xss === undefined")) << path;
    EXPECT_EQ(1, browser_->Eval("return document.querySelectorAll('script').length")) << path;
    EXPECT_EQ("", browser_->AcceptDialog()) << path;
  }
  // Pages refresh their content in place, without reloading.
  browser_->Open(base_ + "/jobs");
  browser_->Eval("window.__marker = 7; return 0");
  ASSERT_TRUE(Eventually([&] { return browser_->Eval("return Number(document.body.dataset.refreshed || 0)") >= 2; }, 10s));
  EXPECT_EQ(7, browser_->Eval("return window.__marker"));
}

TEST_F(WebBrowserTest, CancelStopsARunningCommandRetryRequeuesAndPausePausesTheQueue) {
  SeedEveryState();
  std::string failed = Q("SELECT id FROM " + S() + ".job_history WHERE state = 'failed'");
  StartProcesses();
  std::string id = Insert("hang");
  std::string pid_file = dir_ + "/hang.pid";
  ASSERT_TRUE(Eventually([&] { return ReadFile(pid_file).size() > 1; }, 20s)) << worker_->Log();
  pid_t pid = std::stoi(ReadFile(pid_file));

  // Cancel the running command job from its page.
  Visit("/jobs/" + id, "job-running");
  EXPECT_HAS(ContentText(), "running");
  ASSERT_TRUE(browser_->Click("button[data-action='/api/jobs/" + id + "/cancel']"));
  EXPECT_HAS(browser_->AcceptDialog(), "Cancel job " + id);
  ASSERT_TRUE(Eventually([&] { return kill(pid, 0) != 0; }, 10s)) << worker_->Log();
  ASSERT_TRUE(Eventually([&] {
    return Q("SELECT state || '|' || cancelled_by FROM " + S() + ".job_history WHERE id = " + id) == "cancelled|local@web";
  }, 10s)) << worker_->Log();
  EXPECT_TRUE(ContentShows("cancelled")) << ContentText();
  EXPECT_TRUE(browser_->Screenshot(std::string(PGJOBS_SCREENSHOT_DIR) + "/job-cancelled.png"));

  // Retry the failed job: a new job points at it.
  Visit("/jobs/" + failed, "job-failed");
  ASSERT_TRUE(browser_->Click("button[data-action='/api/jobs/" + failed + "/retry']"));
  EXPECT_HAS(browser_->AcceptDialog(), "Retry job " + failed);
  ASSERT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".jobs WHERE retry_of = " + failed) == "1"; }));
  ASSERT_TRUE(Eventually([&] {
    auto t = browser_->Eval("return document.getElementById('message').innerText");
    return t.is_string() && t.get<std::string>().find("new_id") != std::string::npos;
  }));

  // Pause the emails queue from the overview; dismissing the dialog does nothing.
  Visit("/", "overview-before-pause");
  ASSERT_TRUE(browser_->Click("button[data-action='/api/queues/emails/pause']"));
  EXPECT_HAS(browser_->AcceptDialog(), "Pause queue emails?");
  ASSERT_TRUE(Eventually([&] { return Q("SELECT paused FROM " + S() + ".queues WHERE name = 'emails'") == "t"; }));
  // The refreshed row says so and offers resume instead of pause.
  EXPECT_TRUE(Eventually([&] {
    return browser_->Eval("return !!document.querySelector(\"tr.paused button[data-action='/api/queues/emails/resume']\")") == true;
  }, 10s)) << ContentText();
  EXPECT_TRUE(browser_->Screenshot(std::string(PGJOBS_SCREENSHOT_DIR) + "/overview-paused.png"));
}

}  // namespace
}  // namespace pgjobs::testing
