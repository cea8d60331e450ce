// /metrics: valid exposition text (promtool check metrics) whose values
// match the database, counters that grow by exactly what finished since the
// previous scrape.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/child_process.h"
#include "tests/support/expect_has.h"
#include "tests/web/web_fixture.h"

namespace pgjobs::testing {
namespace {

// Every sample line "name{labels} value" as name{labels} -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

using WebMetricsTest = WebTest;

TEST_F(WebMetricsTest, MetricsPassPromtoolAndMatchTheDatabase) {
  SeedEveryState();
  X("INSERT INTO " + S() + ".schedules (name, kind, cron, task) VALUES ('nightly', 'cron', '0 3 * * *', 'report.build')");
  X("UPDATE " + S() + ".schedules SET skipped_count = 4, run_count = 9");
  X("INSERT INTO " + S() +
    ".queues (name, paused, concurrency, rate_limit, rate_period) VALUES "
    "('emails', true, 3, 200, interval '1 hour')");
  X("INSERT INTO " + S() + ".leader (name, holder, expires_at) VALUES ('scheduler', 'host1:77', now() + interval '1 minute')");
  StartServer();
  auto r = Get("/metrics");
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_HAS(r->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  std::string file = dir_ + "/metrics.txt";
  std::ofstream(file) << r->body;
  auto [rc, out] = RunToEnd({"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(0, rc) << out << r->body;
  auto m = Samples(r->body);
  auto q = [&](const std::string& sql) { return std::stod(Q(sql)); };
  std::string s = S();
  EXPECT_EQ(q("SELECT count(*) FROM " + s + ".jobs WHERE queue = 'emails' AND run_at <= now() AND state = 'pending'"),
            m["pgjobs_jobs_pending{queue=\"emails\",task=\"mail.send\"}"]);
  EXPECT_EQ(1, m["pgjobs_jobs_scheduled{queue=\"emails\",task=\"mail.send\"}"]);
  EXPECT_EQ(1, m["pgjobs_jobs_running{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(q("SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"),
            m["pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(1, m["pgjobs_jobs_failed_total{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(1, m["pgjobs_jobs_cancelled_total{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(q("SELECT sum(attempt - 1) FROM " + s + ".job_history"),
            m["pgjobs_jobs_retried_total{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(3, m["pgjobs_job_run_seconds_count{queue=\"default\",task=\"report.build\"}"]);
  // Each ran 60 s (started 2 minutes ago, finished 1 minute ago): above 30, not above 300.
  EXPECT_EQ(0, m["pgjobs_job_run_seconds_bucket{queue=\"default\",task=\"report.build\",le=\"30\"}"]);
  EXPECT_EQ(3, m["pgjobs_job_run_seconds_bucket{queue=\"default\",task=\"report.build\",le=\"300\"}"]);
  EXPECT_NEAR(180, m["pgjobs_job_run_seconds_sum{queue=\"default\",task=\"report.build\"}"], 0.01);
  EXPECT_EQ(1, m["pgjobs_queue_paused{queue=\"emails\"}"]);
  EXPECT_EQ(0, m["pgjobs_queue_paused{queue=\"default\"}"]);
  EXPECT_EQ(3, m["pgjobs_queue_concurrency_limit{queue=\"emails\"}"]);
  EXPECT_EQ(200, m["pgjobs_queue_rate_limit_jobs{queue=\"emails\"}"]);
  EXPECT_EQ(3600, m["pgjobs_queue_rate_limit_period_seconds{queue=\"emails\"}"]);
  EXPECT_EQ(0u, m.count("pgjobs_queue_rate_limit_jobs{queue=\"default\"}"))
      << "no limit, no sample";
  EXPECT_EQ(1, m["pgjobs_workers_alive"]);
  EXPECT_EQ(4, m["pgjobs_schedule_skipped_ticks_total{schedule=\"nightly\"}"]);
  EXPECT_EQ(9, m["pgjobs_schedule_ticks_total{schedule=\"nightly\"}"]);
  EXPECT_EQ(1, m["pgjobs_scheduler_leader{lease=\"scheduler\",holder=\"host1:77\"}"]);
  EXPECT_GT(m["pgjobs_oldest_pending_age_seconds{queue=\"emails\",task=\"mail.send\"}"], 0);

  // More history, as completions write it (finished_at = now()): a scrape
  // counts them once they are a settle time old, and adds exactly those rows.
  X("INSERT INTO " + s + ".job_history (id, queue, task, args, priority, state, attempt, "
    "max_attempts, created_at, run_at, started_at, finished_at) SELECT 100000 + g, 'default', "
    "'report.build', '{}', 5, 'succeeded', 1, 4, now() - interval '1 hour', now() - interval '1 hour', "
    "now() - interval '0.01 seconds', now() FROM generate_series(1, 25) g");
  const std::string kOk = "pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}";
  std::map<std::string, double> m2;
  ASSERT_TRUE(Eventually([&] {
    m2 = Samples(Get("/metrics")->body);
    return m2[kOk] > m[kOk];
  }, std::chrono::seconds(10)));
  EXPECT_EQ(q("SELECT count(*) FROM " + s + ".job_history WHERE state = 'succeeded'"),
            m2["pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(m["pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}"] + 25,
            m2["pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}"]);
  EXPECT_EQ(25, m2["pgjobs_job_run_seconds_bucket{queue=\"default\",task=\"report.build\",le=\"0.025\"}"])
      << Get("/metrics")->body;
  // A third scrape with nothing new changes no counter.
  auto m3 = Samples(Get("/metrics")->body);
  EXPECT_EQ(m2["pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}"],
            m3["pgjobs_jobs_succeeded_total{queue=\"default\",task=\"report.build\"}"]);
}

TEST_F(WebMetricsTest, LabelValuesAreEscapedForTheExpositionFormat) {
  Insert("odd\\task\"name");
  StartServer();
  auto r = Get("/metrics");
  EXPECT_HAS(r->body, "task=\"odd\\\\task\\\"name\"");
  std::string file = dir_ + "/metrics.txt";
  std::ofstream(file) << r->body;
  auto [rc, out] = RunToEnd({"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(0, rc) << out;
}

}  // namespace
}  // namespace pgjobs::testing
