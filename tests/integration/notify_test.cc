// The enqueue NOTIFY: sent at commit, once per queue per transaction, and
// only when a worker is idle on the queue (pgjobs.idle_workers), so busy
// queues do not serialise their producers' commits on the notify lock.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::TestSchema;

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(listener_.Listen(schema_.name() + "_jobs").ok());
  }
  // Notifications received within `wait` (payloads).
  std::vector<std::string> Received(std::chrono::milliseconds wait) {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      auto notes = listener_.WaitForNotifications(50ms);
      EXPECT_TRUE(notes.ok());
      if (!notes.ok()) break;
      for (const pg::Notification& n : *notes) out.push_back(n.payload);
    }
    return out;
  }
  void Exec(pg::Connection& conn, const std::string& sql) {
    auto rows = conn.ExecSql(sql);
    ASSERT_TRUE(rows.ok()) << sql << ": " << rows.status().message();
  }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  void Idle(const std::string& queue, const std::string& worker) {
    Exec("INSERT INTO " + S() + ".idle_workers (queue, worker_id) VALUES ('" + queue + "', '" +
         worker + "')");
  }

  TestSchema schema_;
  pg::Connection listener_{schema_.dsn(), nullptr, "notify test listener"};
};

TEST_F(NotifyTest, AnInsertWhileNoWorkerIsIdleOnItsQueueSendsNoNotify) {
  Idle("other", "w1");  // idle on another queue only
  Exec("INSERT INTO " + S() + ".jobs (task) VALUES ('t')");
  EXPECT_TRUE(Received(300ms).empty());
}

TEST_F(NotifyTest, ATransactionSendsOneNotifyPerQueueWhenAWorkerIsIdleOnIt) {
  Idle("default", "w1");
  Idle("mail", "w1");
  Exec("BEGIN; INSERT INTO " + S() + ".jobs (task) SELECT 't' FROM generate_series(1, 50); "
       "INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', 'mail'), ('u', 'mail'); "
       "INSERT INTO " + S() + ".jobs (task) VALUES ('v'); COMMIT");
  std::vector<std::string> got = Received(300ms);
  std::sort(got.begin(), got.end());
  EXPECT_EQ((std::vector<std::string>{"default", "mail"}), got);
}

// The trigger's function runs at commit once per queue of the transaction,
// not once per row: a bulk enqueue must not pay a function call per job.
// SET CONSTRAINTS ALL IMMEDIATE runs the deferred events inside the
// transaction, where its function-call count can still be read.
TEST_F(NotifyTest, ABulkEnqueueRunsTheTriggerFunctionOncePerQueueNotOncePerRow) {
  pg::Connection producer(schema_.dsn(), nullptr, "notify test producer");
  Exec(producer, "BEGIN");
  Exec(producer, "SET LOCAL track_functions = 'pl'");
  Exec(producer, "INSERT INTO " + S() + ".jobs (task) SELECT 't' FROM generate_series(1, 1000)");
  Exec(producer, "INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', 'mail'), ('u', 'mail')");
  Exec(producer, "SET CONSTRAINTS ALL IMMEDIATE");
  auto calls = producer.ExecSql("SELECT pg_stat_get_xact_function_calls('" + S() +
                                ".jobs_notify'::regproc)");
  ASSERT_TRUE(calls.ok()) << calls.status().message();
  EXPECT_EQ(2, calls->Int(0, 0));
  Exec(producer, "COMMIT");
}

TEST_F(NotifyTest, TheCheckIsMadeAtCommitSoAWorkerThatWentIdleDuringTheTransactionIsWoken) {
  pg::Connection producer(schema_.dsn(), nullptr, "notify test producer");
  Exec(producer, "BEGIN");
  Exec(producer, "INSERT INTO " + S() + ".jobs (task) VALUES ('t')");
  Idle("default", "w1");  // the worker becomes idle while the transaction is open
  Exec(producer, "COMMIT");
  EXPECT_EQ(std::vector<std::string>{"default"}, Received(300ms));
}

TEST_F(NotifyTest, OnlyTheFirstEnqueueAfterAWorkerWentIdleNotifiesUntilItIsIdleAgain) {
  Idle("default", "w1");
  Idle("default", "w2");
  Exec("INSERT INTO " + S() + ".jobs (task) VALUES ('first')");
  EXPECT_EQ(std::vector<std::string>{"default"}, Received(300ms));
  // The enqueue took the idle rows: the woken workers are busy now.
  EXPECT_EQ("0", testing::QueryValue(schema_.dsn(), "SELECT count(*) FROM " + S() + ".idle_workers"));
  Exec("INSERT INTO " + S() + ".jobs (task) VALUES ('second')");
  EXPECT_TRUE(Received(300ms).empty());
  Idle("default", "w1");  // found the queue empty again
  Exec("INSERT INTO " + S() + ".jobs (task) VALUES ('third')");
  EXPECT_EQ(std::vector<std::string>{"default"}, Received(300ms));
}

TEST_F(NotifyTest, ARolledBackInsertSendsNothingAndLeavesTheWorkerIdle) {
  Idle("default", "w1");
  Exec("BEGIN; INSERT INTO " + S() + ".jobs (task) VALUES ('t'); ROLLBACK");
  EXPECT_TRUE(Received(300ms).empty());
  EXPECT_EQ("1", testing::QueryValue(schema_.dsn(), "SELECT count(*) FROM " + S() + ".idle_workers"));
}

TEST_F(NotifyTest, AQueueWithNotifyOffIsNeverNotified) {
  Idle("quiet", "w1");
  Exec("INSERT INTO " + S() + ".queues (name, notify) VALUES ('quiet', false)");
  Exec("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', 'quiet')");
  EXPECT_TRUE(Received(300ms).empty());
}

}  // namespace
}  // namespace pgjobs
