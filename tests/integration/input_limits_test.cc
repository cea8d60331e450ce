// The limits on what enters through plain SQL (migrations/0004_input_limits.sql):
// args measured as JSON text wherever they come in (jobs, pgjobs.enqueue,
// schedules, the client), and a schedule's job template checked with the
// rules of jobs, each refusal naming its constraint.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/client.h"
#include "store/db_errors.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using testing::QueryValue;
using testing::TestSchema;

constexpr int kMiB = 1 << 20;

class InputLimitsTest : public ::testing::Test {
 protected:
  std::string S() { return schema_.name(); }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  // Runs sql expecting an error; returns its message.
  std::string SqlError(const std::string& sql) {
    pg::Connection conn(schema_.dsn(), nullptr, "test");
    auto rows = conn.ExecSql(sql);
    EXPECT_FALSE(rows.ok()) << sql.substr(0, 200);
    return rows.ok() ? "" : rows.status().message();
  }
  // A table holding one args value per name, stored as PostgreSQL stores it
  // (compressed when it compresses): the way args come from another table.
  void Store(const std::string& name, const std::string& value_sql) {
    Exec("CREATE TABLE IF NOT EXISTS " + S() + ".src (name text PRIMARY KEY, a jsonb)");
    Exec("INSERT INTO " + S() + ".src VALUES ('" + name + "', " + value_sql + ")");
  }
  std::string From(const std::string& name) {
    return "FROM " + S() + ".src WHERE name = '" + name + "'";
  }
  std::string InsertJob(const std::string& name) {
    return "INSERT INTO " + S() + ".jobs (task, args) SELECT 't', a " + From(name);
  }
  std::string Enqueue(const std::string& name) {
    return "SELECT " + S() + ".enqueue('t', a) " + From(name);
  }
  std::string InsertSchedule(const std::string& name) {
    return "INSERT INTO " + S() + ".schedules (name, kind, every, task, args) SELECT name, "
           "'interval', '1 hour', 't', a " + From(name);
  }
  int64_t Jobs() { return std::stoll(Q("SELECT count(*) FROM " + S() + ".jobs")); }

  TestSchema schema_;
};

TEST_F(InputLimitsTest, CompressibleArgsOver1MibOfTextAreRefusedWhereverTheyComeIn) {
  // 1.1 MB of repeated text: a few kB once compressed, which the old
  // pg_column_size check measured when the value came from a table.
  Store("big", "jsonb_build_object('a', repeat('a', 1100 * 1024))");
  ASSERT_LT(std::stoll(Q("SELECT pg_column_size(a) " + From("big"))), 100000);
  EXPECT_HAS(SqlError(InsertJob("big")), "jobs_args_at_most_1mib");
  EXPECT_HAS(SqlError(InsertJob("big")), "args are 1126409 bytes of JSON text");
  EXPECT_HAS(SqlError(Enqueue("big")), "jobs_args_at_most_1mib");
  EXPECT_HAS(SqlError(InsertSchedule("big")), "schedules_args_at_most_1mib");
  // An UPDATE that writes args is measured too.
  Exec("INSERT INTO " + S() + ".jobs (task) VALUES ('t')");
  EXPECT_HAS(SqlError("UPDATE " + S() + ".jobs SET args = (SELECT a " + From("big") + ")"),
             "jobs_args_at_most_1mib");
  EXPECT_EQ(1, Jobs());
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".schedules"));
}

TEST_F(InputLimitsTest, Args600kBThatCompressBadlyAreAcceptedEverywhere) {
  // Random hex, and an array of 100,000 numbers whose jsonb form (about
  // 1.4 MB) the old check refused although its text is about 690 kB.
  const std::string numbers =
      "jsonb_build_object('a', (SELECT jsonb_agg(g) FROM generate_series(1, 100000) g))";
  Store("hex", "jsonb_build_object('a', (SELECT string_agg(md5(random()::text), '') "
               "FROM generate_series(1, 19200)))");
  Store("numbers", numbers);
  for (const std::string name : {"hex", "numbers"}) {
    int64_t text = std::stoll(Q("SELECT octet_length(a::text) " + From(name)));
    EXPECT_GT(text, 600000) << name;
    EXPECT_LT(text, kMiB) << name;
    Exec(InsertJob(name));
    Exec(Enqueue(name));
    Exec(InsertSchedule(name));
  }
  // Written directly, uncompressed: the old check measured 1.4 MB here.
  EXPECT_GT(std::stoll(Q("SELECT pg_column_size(" + numbers + ")")), kMiB);
  Exec("INSERT INTO " + S() + ".jobs (task, args) VALUES ('t', " + numbers + ")");
  EXPECT_EQ(5, Jobs());
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".schedules"));
}

TEST_F(InputLimitsTest, TheLimitIsExactly1MibOfJsonText) {
  // {"a": "xxx..."}: 9 bytes around the string.
  Store("at_limit", "jsonb_build_object('a', repeat('x', " + std::to_string(kMiB - 9) + "))");
  Store("over_limit", "jsonb_build_object('a', repeat('x', " + std::to_string(kMiB - 8) + "))");
  ASSERT_EQ(std::to_string(kMiB), Q("SELECT octet_length(a::text) " + From("at_limit")));
  Exec(InsertJob("at_limit"));
  Exec(InsertSchedule("at_limit"));
  EXPECT_HAS(SqlError(InsertJob("over_limit")), "args are 1048577 bytes of JSON text");
  EXPECT_HAS(SqlError(InsertSchedule("over_limit")), "schedules_args_at_most_1mib");
}

TEST_F(InputLimitsTest, AScheduleTemplateIsRefusedAtInsertByTheRulesOfJobs) {
  std::string insert = "INSERT INTO " + S() + ".schedules (name, kind, every, task";
  auto refused = [&](const std::string& column, const std::string& value) {
    return SqlError(insert + ", " + column + ") VALUES ('s', 'interval', '1 hour', 't', " +
                    value + ")");
  };
  EXPECT_HAS(SqlError(insert + ") VALUES ('s', 'interval', '1 hour', repeat('t', 201))"),
             "schedules_task_at_most_200_chars");
  EXPECT_HAS(refused("queue", "'no spaces'"), "schedules_queue_name_format");
  EXPECT_HAS(refused("args", "'[1]'"), "schedules_args_must_be_json_object");
  EXPECT_HAS(refused("priority", "10"), "schedules_priority_0_to_9");
  EXPECT_HAS(refused("timeout", "'-1 second'"), "schedules_timeout_positive");
  EXPECT_HAS(refused("max_attempts", "0"), "schedules_max_attempts_1_to_1000");
  Exec(insert + ") VALUES ('s', 'interval', '1 hour', repeat('t', 200))");
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".schedules"));
}

TEST_F(InputLimitsTest, TheClientMeasuresArgsAsTheDatabaseDoes) {
  // A compact document under 1 MiB that PostgreSQL prints over it (", " and
  // ": " between members), and a padded one over 1 MiB that it prints under.
  std::string compact = "{";
  for (int i = 0; i < 85000; ++i) compact += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  compact += "}";
  std::string padded =
      "{\"a\": \"" + std::string(kMiB - 9, 'x') + "\"" + std::string(5000, ' ') + "}";
  ASSERT_LT(compact.size(), static_cast<size_t>(kMiB));
  ASSERT_GT(padded.size(), static_cast<size_t>(kMiB));
  for (const std::string* args : {&compact, &padded}) {
    auto ours = JsonbTextBytes(*args);
    ASSERT_TRUE(ours.ok());
    EXPECT_EQ(Q("SELECT octet_length($pgjobs$" + *args + "$pgjobs$::jsonb::text)"),
              std::to_string(*ours));
  }
  auto client = Client::Open(ClientOptions{schema_.dsn(), S()});
  ASSERT_TRUE(client.ok()) << client.status().message();
  auto refused = (*client)->Enqueue(JobRequest{"t", compact, {}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(Status::Code::kInvalidArgument, refused.status().code());
  EXPECT_HAS(refused.status().message(), "bytes of JSON text (as PostgreSQL prints them), over");
  EXPECT_HAS(SqlError("INSERT INTO " + S() + ".jobs (task, args) VALUES ('t', $pgjobs$" + compact +
                      "$pgjobs$)"),
             "jobs_args_at_most_1mib");
  auto accepted = (*client)->Enqueue(JobRequest{"t", padded, {}});
  EXPECT_TRUE(accepted.ok()) << accepted.status().message();
}

TEST_F(InputLimitsTest, JsonbTextBytesAgreesWithPostgresql) {
  const std::vector<std::string> docs = {
      R"({})",
      R"({"a":{"b":[[],{},[{}]],"c":[true,false,null]}})",
      R"({"a":1,"b":2,"a":333})",
      R"({"n":[0,-0,1.50,-0.0,1e3,1E+2,1.0e-1,-12e-1,123.456e1,0.000,5e-5,18446744073709551616]})",
      R"({"big":123456789012345678901234567890,"neg":-9223372036854775809})",
      R"({"s":"\"quoted\" back\\slash \/ \b\f\n\r\t \u0001\u001f \u00e9 é 日本 😀"})",
      R"({"key with \"quotes\"":"v","\t":1,"é":[]})",
      R"( { "spaced" : [ 1 , 2 ] , "x" : "  " } )",
  };
  for (const std::string& doc : docs) {
    auto ours = JsonbTextBytes(doc);
    ASSERT_TRUE(ours.ok()) << doc;
    EXPECT_EQ(Q("SELECT octet_length($pgjobs$" + doc + "$pgjobs$::jsonb::text)"),
              std::to_string(*ours))
        << doc << " prints as " << Q("SELECT $pgjobs$" + doc + "$pgjobs$::jsonb::text");
  }
}

}  // namespace
// Migration 0017 rewrote the name checks of jobs, queues and schedules for
// speed: each must accept exactly the names the old regular expression did,
// and the client's own queue check the same.
TEST_F(InputLimitsTest, NameChecksAcceptWhatTheOldPatternDidAndTheClientAgrees) {
  std::vector<std::string> names = {"default", "a", "0", "Z", "tenant:42.reports-high_prio",
                                    "a-b_c.d:e", "-x", "_x", ".x", ":x", "a b", "a/b", "é",
                                    "aé", "emails\n", "\nemails", "a'b", "", "x\ty"};
  for (int n : {127, 128, 129, 199, 200, 201}) names.push_back(std::string(n, 'q'));
  names.push_back("9" + std::string(127, '-'));
  names.push_back("9" + std::string(128, '-'));
  auto literal = [](const std::string& v) {
    std::string out = "'";
    for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  };
  auto refused = [&](const std::string& sql) {
    pg::Connection conn(schema_.dsn(), nullptr, "test");
    auto rows = conn.ExecSql(sql);
    if (rows.ok()) return std::string();
    EXPECT_HAS(rows.status().message(), "violates check constraint") << sql;
    return rows.status().message();
  };
  int i = 0;
  for (const std::string& name : names) {
    const std::string v = literal(name);
    const bool old_queue = Q("SELECT " + v + " ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'") == "t";
    const bool old_schedule =
        Q("SELECT " + v + " ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$'") == "t";
    EXPECT_EQ(old_queue, ValidateQueueName(name).ok()) << name;

    std::string job = refused("INSERT INTO " + S() + ".jobs (task, queue) VALUES ('t', " + v + ")");
    EXPECT_EQ(old_queue, job.empty()) << name << ": " << job;
    if (!old_queue) {
      EXPECT_HAS(job, "jobs_queue_name_format");
    }

    std::string queue = refused("INSERT INTO " + S() + ".queues (name) VALUES (" + v + ")");
    EXPECT_EQ(old_queue, queue.empty()) << name << ": " << queue;
    if (!old_queue) {
      EXPECT_HAS(queue, "queue_name_format");
    }

    std::string in_schedule =
        refused("INSERT INTO " + S() + ".schedules (name, kind, every, task, queue) VALUES ('q" +
                std::to_string(i++) + "', 'interval', '1 hour', 't', " + v + ")");
    EXPECT_EQ(old_queue, in_schedule.empty()) << name << ": " << in_schedule;
    if (!old_queue) {
      EXPECT_HAS(in_schedule, "schedules_queue_name_format");
    }

    std::string schedule = refused("INSERT INTO " + S() +
                                   ".schedules (name, kind, every, task) VALUES (" + v +
                                   ", 'interval', '1 hour', 't')");
    EXPECT_EQ(old_schedule, schedule.empty()) << name << ": " << schedule;
    if (!old_schedule) {
      EXPECT_HAS(schedule, "schedules_name_format");
    }
  }
  // What was accepted is there, once per table.
  EXPECT_EQ(Q("SELECT count(*) FROM " + S() + ".jobs"), Q("SELECT count(*) FROM " + S() + ".queues"));
  EXPECT_EQ("9", Q("SELECT count(*) FROM " + S() + ".queues"));
}

}  // namespace pgjobs
