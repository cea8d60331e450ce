// A test schema and in-process schedulers on it, with the short waits the
// scheduler tests need, and one-value SQL helpers.
#ifndef PGJOBS_TESTS_SUPPORT_SCHEDULER_FIXTURE_H_
#define PGJOBS_TESTS_SUPPORT_SCHEDULER_FIXTURE_H_

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "pgjobs/scheduler.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::testing {

class SchedulerFixture : public ::testing::Test {
 protected:
  // Options for a scheduler on this schema: max_sleep 1 s, leader lease 2 s,
  // rescue every 200 ms, no log output.
  SchedulerOptions Options(const std::string& id = "") {
    using namespace std::chrono_literals;
    SchedulerOptions o;
    o.dsn = schema_.dsn();
    o.schema = S();
    o.id = id;
    o.max_sleep = 1s;
    o.leader_lease = 2s;
    o.rescue_interval = 200ms;
    o.logger =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return o;
  }
  std::unique_ptr<Scheduler> Start(const SchedulerOptions& o) {
    auto s = std::make_unique<Scheduler>(o);
    Status st = s->Start();
    EXPECT_TRUE(st.ok()) << st.message();
    return s;
  }

  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  // The value as an integer; -1 for NULL.
  int64_t Num(const std::string& sql) {
    std::string v = Q(sql);
    return v.empty() ? -1 : std::stoll(v);
  }
  // An expression over schedule id's row.
  std::string Col(int64_t id, const std::string& expr) {
    return Q("SELECT " + expr + " FROM " + S() + ".schedules WHERE id = " + std::to_string(id));
  }
  // How many jobs of schedule id are in the jobs table.
  int64_t JobCount(int64_t id) {
    return Num("SELECT count(*) FROM " + S() + ".jobs WHERE schedule_id = " + std::to_string(id));
  }
  // The database's clock, whole seconds (rounded down).
  int64_t DbNow() {
    return static_cast<int64_t>(std::floor(std::stod(Q("SELECT extract(epoch FROM now())"))));
  }

  TestSchema schema_;
};

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_SCHEDULER_FIXTURE_H_
