// Enqueueing: plain SQL with defaults, the SQL function, the C++ client (single,
// batch, inside a caller's transaction), idempotency, and every bad input
// rejected with a clear error and nothing inserted.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "pg/connection.h"
#include "pgjobs/client.h"
#include "pgjobs/pqxx.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::QueryValue;
using testing::TestSchema;

class EnqueueTest : public ::testing::Test {
 protected:
  std::string Count() { return QueryValue(schema_.dsn(), "SELECT count(*) FROM " + Jobs()); }
  std::string Jobs() { return schema_.name() + ".jobs"; }
  std::unique_ptr<Client> OpenClient() {
    auto client = Client::Open(ClientOptions{schema_.dsn(), schema_.name()});
    EXPECT_TRUE(client.ok()) << client.status().message();
    return client.ok() ? std::move(*client) : nullptr;
  }
  // Runs sql expecting an error; returns its message.
  std::string SqlError(const std::string& sql) {
    pg::Connection conn(schema_.dsn(), nullptr, "test");
    auto rows = conn.ExecSql(sql);
    EXPECT_FALSE(rows.ok()) << sql;
    return rows.ok() ? "" : rows.status().message();
  }
  TestSchema schema_;
};

TEST_F(EnqueueTest, RawInsertWithOnlyTaskAndArgsGetsTheDocumentedDefaults) {
  testing::Execute(schema_.dsn(), "INSERT INTO " + Jobs() +
                                      " (task, args) VALUES ('send_email', '{\"to\":\"a@b.c\"}')");
  EXPECT_EQ("default|5|0|4|pending|t",
            QueryValue(schema_.dsn(), "SELECT concat_ws('|', queue, priority, attempt, "
                                      "max_attempts, state, run_at <= now()) FROM " + Jobs()));
}

TEST_F(EnqueueTest, SqlFunctionTakesNamedOptionalArgumentsAndReturnsTheId) {
  std::string id = QueryValue(schema_.dsn(), "SELECT " + schema_.name() +
                                                 ".enqueue('report', '{\"day\":1}', queue => "
                                                 "'reports', priority => 9, delay => '1 hour')");
  EXPECT_EQ("reports|9|t", QueryValue(schema_.dsn(), "SELECT concat_ws('|', queue, priority, "
                                                     "run_at > now() + interval '59 minutes') "
                                                     "FROM " + Jobs() + " WHERE id = " + id));
}

// The client inserts a job without a unique_key with one plain INSERT, not
// through pgjobs.enqueue(): the row must be the one the function writes.
TEST_F(EnqueueTest, TheClientsSingleEnqueueWritesTheRowTheSqlFunctionWrites) {
  auto client = OpenClient();
  ASSERT_NE(nullptr, client);
  const std::string columns =
      "concat_ws('|', task, args::text, queue, priority, state, attempt, max_attempts, "
      "coalesce(timeout::text, '-'), coalesce(unique_key, '-'), "
      "round(extract(epoch FROM run_at - created_at)))";
  auto row = [&](const std::string& id) {
    return QueryValue(schema_.dsn(), "SELECT " + columns + " FROM " + Jobs() + " WHERE id = " + id);
  };
  JobRequest delayed{"report", "{\"day\": 1}", {}};
  delayed.options.queue = "reports";
  delayed.options.priority = 9;
  delayed.options.delay = std::chrono::hours(1);
  delayed.options.max_attempts = 7;
  delayed.options.timeout = std::chrono::seconds(90);
  auto id = client->Enqueue(delayed);
  ASSERT_TRUE(id.ok()) << id.status().message();
  std::string by_sql = QueryValue(
      schema_.dsn(), "SELECT " + schema_.name() + ".enqueue('report', '{\"day\": 1}', queue => "
                     "'reports', priority => 9, delay => '1 hour', max_attempts => 7, "
                     "timeout => '90 seconds')");
  EXPECT_EQ("report|{\"day\": 1}|reports|9|pending|0|7|00:01:30|-|3600", row(std::to_string(*id)));
  EXPECT_EQ(row(by_sql), row(std::to_string(*id)));

  JobRequest plain{"ping", "{}", {}};
  auto at = std::chrono::system_clock::now() + std::chrono::hours(2);
  plain.options.run_at = at;
  auto plain_id = client->Enqueue(plain);
  ASSERT_TRUE(plain_id.ok()) << plain_id.status().message();
  EXPECT_EQ("ping|{}|default|5|pending|0|4|-|-|7200", row(std::to_string(*plain_id)));
  // A keyed job still goes through the function (its conflict handling).
  JobRequest keyed{"sync", "{}", {}};
  keyed.options.unique_key = "sync:1";
  auto k1 = client->Enqueue(keyed);
  auto k2 = client->Enqueue(keyed);
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_EQ(*k1, *k2);
}

TEST_F(EnqueueTest, UniqueKeyMakesEnqueueIdempotentWhileTheJobIsLive) {
  std::string f = schema_.name() + ".enqueue('sync', unique_key => 'sync:42')";
  std::string first = QueryValue(schema_.dsn(), "SELECT " + f);
  std::string second = QueryValue(schema_.dsn(), "SELECT " + f);
  EXPECT_EQ(first, second);
  EXPECT_EQ("1", Count());
  auto client = OpenClient();
  JobRequest r{"sync", "{}", {}};
  r.options.unique_key = "sync:42";
  auto third = client->Enqueue(r);
  ASSERT_TRUE(third.ok()) << third.status().message();
  EXPECT_EQ(first, std::to_string(*third));
}

TEST_F(EnqueueTest, RawSqlRejectsEachBadColumnWithANamedConstraint) {
  std::string insert = "INSERT INTO " + Jobs() + " ";
  EXPECT_NE(std::string::npos, SqlError(insert + "(task, args) VALUES ('t', '[1,2]')")
                                   .find("jobs_args_must_be_json_object"));
  EXPECT_NE(std::string::npos,
            SqlError(insert + "(task) VALUES ('  ')").find("jobs_task_not_blank"));
  EXPECT_NE(std::string::npos, SqlError(insert + "(task, queue) VALUES ('t', 'bad queue')")
                                   .find("jobs_queue_name_format"));
  EXPECT_NE(std::string::npos,
            SqlError(insert + "(task, priority) VALUES ('t', 10)").find("jobs_priority_0_to_9"));
  EXPECT_NE(std::string::npos, SqlError(insert + "(task, args) VALUES ('t', jsonb_build_object("
                                                 "'blob', repeat('x', 1100000)))")
                                   .find("jobs_args_at_most_1mib"));
  EXPECT_NE(std::string::npos,
            SqlError(insert + "(task, args) VALUES ('t', '{bad')").find("invalid input syntax"));
  EXPECT_EQ("0", Count());
}

TEST_F(EnqueueTest, ClientRejectsBadInputWithAMessageNamingTheFixAndInsertsNothing) {
  auto client = OpenClient();
  struct Case {
    JobRequest request;
    std::string expected;
  } cases[] = {
      {{"t", "{bad", {}}, "not valid JSON"},
      {{"t", "[1]", {}}, "must be a JSON object"},
      {{"t", "\"x\"", {}}, "must be a JSON object"},
      {{"", "{}", {}}, "task name is empty"},
      {{"t", "{\"x\":\"" + std::string(1100000, 'x') + "\"}", {}}, "over the 1 MiB limit"},
  };
  for (const Case& c : cases) {
    auto id = client->Enqueue(c.request);
    ASSERT_FALSE(id.ok()) << c.expected;
    EXPECT_EQ(Status::Code::kInvalidArgument, id.status().code());
    EXPECT_NE(std::string::npos, id.status().message().find(c.expected)) << id.status().message();
  }
  JobRequest bad_queue{"t", "{}", {}};
  bad_queue.options.queue = "no spaces allowed";
  EXPECT_FALSE(client->Enqueue(bad_queue).ok());
  EXPECT_EQ("0", Count());
}

TEST_F(EnqueueTest, BatchEnqueueIsAllOrNothing) {
  auto client = OpenClient();
  std::vector<JobRequest> batch(100, JobRequest{"noop", "{}", {}});
  auto ids = client->EnqueueMany(batch);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(100u, ids->size());
  EXPECT_EQ("100", Count());
  batch[50].args_json = "[]";
  EXPECT_FALSE(client->EnqueueMany(batch).ok());
  EXPECT_EQ("100", Count());
}

TEST_F(EnqueueTest, EnqueueInsideACallersTransactionExistsOnlyIfItCommits) {
  pqxx::connection conn(schema_.dsn());
  {
    pqxx::work tx(conn);
    EnqueueIn(tx, {"receipt", R"({"order": 1})", {}}, schema_.name());
    // Rolled back when tx goes out of scope without commit.
  }
  EXPECT_EQ("0", Count());
  pqxx::work tx(conn);
  int64_t id = EnqueueIn(tx, {"receipt", R"({"order": 2})", {}}, schema_.name());
  tx.commit();
  EXPECT_EQ("receipt", QueryValue(schema_.dsn(), "SELECT task FROM " + Jobs() +
                                                     " WHERE id = " + std::to_string(id)));
}

TEST_F(EnqueueTest, InsertSendsOneNotifyPerQueueWithTheQueueNameWhenAWorkerIsIdleOnIt) {
  // Workers say when they wait for jobs of a queue (see NotifyTest).
  testing::Execute(schema_.dsn(), "INSERT INTO " + schema_.name() +
                                      ".idle_workers (queue, worker_id) VALUES ('a', 'w'), ('b', 'w')");
  pg::Connection listener(schema_.dsn(), nullptr, "test");
  ASSERT_TRUE(listener.Listen(schema_.name() + "_jobs").ok());
  testing::Execute(schema_.dsn(), "INSERT INTO " + Jobs() + " (task, queue) SELECT 't', "
                                  "CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END "
                                  "FROM generate_series(1, 100) g");
  std::vector<std::string> payloads;
  testing::Eventually([&] {
    auto notes = listener.WaitForNotifications(std::chrono::milliseconds(50));
    for (const auto& n : *notes) payloads.push_back(n.payload);
    return payloads.size() >= 2;
  });
  auto more = listener.WaitForNotifications(std::chrono::milliseconds(200));
  for (const auto& n : *more) payloads.push_back(n.payload);
  std::sort(payloads.begin(), payloads.end());
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), payloads);
}

TEST_F(EnqueueTest, QueueWithNotifyOffSendsNoNotify) {
  testing::Execute(schema_.dsn(),
                   "INSERT INTO " + schema_.name() + ".queues (name, notify) VALUES ('quiet', false)");
  pg::Connection listener(schema_.dsn(), nullptr, "test");
  ASSERT_TRUE(listener.Listen(schema_.name() + "_jobs").ok());
  testing::Execute(schema_.dsn(), "INSERT INTO " + Jobs() + " (task, queue) VALUES ('t', 'quiet')");
  auto notes = listener.WaitForNotifications(std::chrono::milliseconds(300));
  ASSERT_TRUE(notes.ok());
  EXPECT_TRUE(notes->empty());
}

TEST_F(EnqueueTest, OpeningAClientOnAnUnmigratedSchemaSaysToMigrate) {
  auto client = Client::Open(ClientOptions{schema_.dsn(), "not_migrated_here"});
  ASSERT_FALSE(client.ok());
  EXPECT_NE(std::string::npos, client.status().message().find("pgjobs migrate"));
}

TEST_F(EnqueueTest, OpeningAClientOnADeadServerIsUnavailableWithTheReason) {
  auto client = Client::Open(ClientOptions{"host=/nonexistent port=1", "pgjobs"});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(Status::Code::kUnavailable, client.status().code());
  EXPECT_NE(std::string::npos, client.status().message().find("cannot connect"));
}

}  // namespace
}  // namespace pgjobs
