// The enqueue NOTIFY: sent at commit, once per queue per transaction, and
// only when a worker is idle on the queue (pgjobs.idle_workers), so busy
// queues do not serialise their producers' commits on the notify lock.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
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

// A bulk enqueue while no worker is idle anywhere never reads idle_workers:
// the function finds its queue's bit clear in idle_gate (migration 0026).
// With workers idle on its queues, it reads idle_queues once per change of
// queue, not once per row (the rest are the wake-ups' own reads). SET CONSTRAINTS ALL IMMEDIATE
// runs the deferred events inside the transaction, where its counters can be read.
TEST_F(NotifyTest, ABulkEnqueueReadsIdleWorkersOnlyPastTheGateAndOncePerQueue) {
  auto scans_of_a_bulk_enqueue = [&] {
    pg::Connection producer(schema_.dsn(), nullptr, "notify test producer");
    Exec(producer, "BEGIN");
    Exec(producer, "INSERT INTO " + S() + ".jobs (task) SELECT 't' FROM generate_series(1, 1000)");
    Exec(producer,
         "INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', 'mail'), ('u', 'mail')");
    Exec(producer, "SET CONSTRAINTS ALL IMMEDIATE");
    // Scans of the table and of its indexes (the probe uses the primary key).
    const std::string table = "'" + S() + ".idle_workers'::regclass";
    auto scans = producer.ExecSql(
        "SELECT sum(pg_stat_get_xact_numscans(c.oid)) FROM pg_class c WHERE c.oid = " + table +
        " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = " + table + ")");
    EXPECT_TRUE(scans.ok()) << scans.status().message();
    Exec(producer, "COMMIT");
    return scans.ok() ? scans->Int(0, 0) : -1;
  };
  EXPECT_EQ(0, scans_of_a_bulk_enqueue());
  EXPECT_TRUE(Received(300ms).empty());
  Idle("default", "w1");
  Idle("mail", "w1");
  // Two reads of idle_queues plus the wake-ups' own scans (6 today), where
  // one read per row would make more than 1,000.
  int64_t scans = scans_of_a_bulk_enqueue();
  EXPECT_GE(scans, 2);
  EXPECT_LE(scans, 10);
  std::vector<std::string> got = Received(300ms);
  std::sort(got.begin(), got.end());
  EXPECT_EQ((std::vector<std::string>{"default", "mail"}), got);
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

// idle_gate (migration 0026): a bit per bucket of queue names, set while a
// worker may be idle on a queue of the bucket.
class IdleGateTest : public NotifyTest {
 protected:
  // The bit of `queue`'s bucket, read as the enqueue trigger reads it.
  std::string Bit(const std::string& queue) {
    return testing::QueryValue(schema_.dsn(), "SELECT (coalesce(pg_sequence_last_value('" + S() +
                                                  ".idle_gate'), 0) >> (hashtext('" + queue +
                                                  "') & 63)) & 1");
  }
  // The bit of `queue` is set, and an enqueue into it wakes its idle worker.
  void ExpectBitSetAndAnEnqueueWakes(const std::string& queue) {
    EXPECT_EQ("1", Bit(queue));
    Exec("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', '" + queue + "')");
    EXPECT_EQ(std::vector<std::string>{queue}, Received(300ms));
  }
  // Two queue names in different buckets.
  std::pair<std::string, std::string> TwoBuckets() {
    std::string b =
        testing::QueryValue(schema_.dsn(),
                            "SELECT q FROM (VALUES ('b1'), ('b2'), ('b3'), ('b4')) v(q) "
                            "WHERE hashtext(q) & 63 <> hashtext('a') & 63 LIMIT 1");
    return {"a", b};
  }
};

TEST_F(IdleGateTest, AnIdleMarkSetsItsBucketsBitAndTheLastBusyMarkClearsIt) {
  auto [a, b] = TwoBuckets();
  EXPECT_EQ("0", Bit(a));
  EXPECT_EQ("0", Bit(b));
  Idle(a, "w1");
  Idle(a, "w2");
  EXPECT_EQ("1", Bit(a));
  EXPECT_EQ("0", Bit(b));
  Exec("DELETE FROM " + S() + ".idle_workers WHERE worker_id = 'w1'");
  EXPECT_EQ("1", Bit(a)) << "w2 is still idle on " << a;
  Exec("DELETE FROM " + S() + ".idle_workers WHERE worker_id = 'w2'");
  EXPECT_EQ("0", Bit(a));
  // The enqueue past a clear bit sends nothing and reads nothing.
  Exec("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', '" + a + "')");
  EXPECT_TRUE(Received(300ms).empty());
}

// A DELETE under REPEATABLE READ may not see rows committed after its
// snapshot: it leaves the bits alone rather than clear one of them.
TEST_F(IdleGateTest, ADeleteOutsideReadCommittedLeavesTheGateAsItIs) {
  pg::Connection other(schema_.dsn(), nullptr, "notify test other");
  Exec(other, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  Exec(other, "SELECT count(*) FROM " + S() + ".idle_workers");  // takes the snapshot
  Idle("q", "w1");                                               // committed after that snapshot
  Exec(other, "DELETE FROM " + S() + ".idle_workers WHERE worker_id = 'nobody'");
  Exec(other, "COMMIT");
  ExpectBitSetAndAnEnqueueWakes("q");
}

// A worker that marks itself idle while another one's busy mark recomputes
// the gate waits for it, then sets its bit: the recompute cannot clear it.
TEST_F(IdleGateTest, AnIdleMarkWrittenDuringARecomputeKeepsItsBit) {
  Idle("q", "w1");
  pg::Connection busy(schema_.dsn(), nullptr, "notify test busy worker");
  Exec(busy, "BEGIN");
  Exec(busy, "DELETE FROM " + S() + ".idle_workers WHERE worker_id = 'w1'");  // holds the lock
  EXPECT_EQ("0", Bit("q"));
  std::thread idle([&] { Idle("q", "w2"); });  // waits for the lock
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ("0", Bit("q"));
  Exec(busy, "COMMIT");
  idle.join();
  ExpectBitSetAndAnEnqueueWakes("q");
}

// The other order: a recompute that starts while a new idle row is not yet
// committed waits for it (the row's writer took the lock first) and keeps
// its bit.
TEST_F(IdleGateTest, ARecomputeWaitsForAnIdleMarkInFlightAndKeepsItsBit) {
  pg::Connection idle(schema_.dsn(), nullptr, "notify test idle worker");
  Exec(idle, "BEGIN");
  Exec(idle, "INSERT INTO " + S() + ".idle_workers (queue, worker_id) VALUES ('q', 'w1')");
  std::thread busy([&] {  // another worker's busy mark: waits for the lock
    Exec("DELETE FROM " + S() + ".idle_workers WHERE worker_id = 'w2'");
  });
  std::this_thread::sleep_for(200ms);
  Exec(idle, "COMMIT");
  busy.join();
  ExpectBitSetAndAnEnqueueWakes("q");
}

// A busy mark that rolls back after its recompute leaves the row and a
// clear bit (a sequence value is not undone). The worker writes its mark
// again; an idle mark that finds its row there still sets the bit.
TEST_F(IdleGateTest, AnIdleMarkThatFindsItsRowAlreadyThereSetsTheBitAgain) {
  Idle("q", "w1");
  Exec("BEGIN; DELETE FROM " + S() + ".idle_workers WHERE worker_id = 'w1'; ROLLBACK");
  EXPECT_EQ("1",
            testing::QueryValue(schema_.dsn(), "SELECT count(*) FROM " + S() + ".idle_workers"));
  EXPECT_EQ("0", Bit("q"));
  Exec("INSERT INTO " + S() +
       ".idle_workers (queue, worker_id) VALUES ('q', 'w1') "
       "ON CONFLICT (queue, worker_id) DO NOTHING");  // mark_idle
  ExpectBitSetAndAnEnqueueWakes("q");
}

// The wake-up inside an enqueue deletes the idle rows but does not
// recompute (producers never wait for the gate's lock); the woken worker's
// next mark does.
TEST_F(IdleGateTest, AWakeUpLeavesTheBitForTheWokenWorkersNextMark) {
  Idle("q", "w1");
  Exec("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', 'q')");
  EXPECT_EQ(std::vector<std::string>{"q"}, Received(300ms));
  EXPECT_EQ("0",
            testing::QueryValue(schema_.dsn(), "SELECT count(*) FROM " + S() + ".idle_workers"));
  EXPECT_EQ("1", Bit("q"));
  Exec("DELETE FROM " + S() + ".idle_workers WHERE queue = 'q' AND worker_id = 'w1'");  // mark_busy
  EXPECT_EQ("0", Bit("q"));
}

TEST_F(NotifyTest, AQueueWithNotifyOffIsNeverNotified) {
  Idle("quiet", "w1");
  Exec("INSERT INTO " + S() + ".queues (name, notify) VALUES ('quiet', false)");
  Exec("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', 'quiet')");
  EXPECT_TRUE(Received(300ms).empty());
}

}  // namespace
}  // namespace pgjobs
