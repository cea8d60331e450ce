// Checking job requests before they reach the database (ValidateJobRequest,
// ValidateQueueName) and explaining the database's own refusals
// (ExplainJobsError, DescribeJsonError).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/sql_catalog.h"
#include "pgjobs/client.h"
#include "store/db_errors.h"
#include "tests/support/expect_has.h"

namespace pgjobs {
namespace {

using std::chrono::milliseconds;


JobRequest Valid() {
  JobRequest r;
  r.task = "send_email";
  r.args_json = R"({"to": "a@b.c"})";
  return r;
}

// The message of the error for r (which must be one).
std::string Error(const JobRequest& r) {
  Status st = ValidateJobRequest(r);
  EXPECT_FALSE(st.ok()) << "the request was accepted";
  if (!st.ok()) {
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  }
  return st.message();
}

// n copies of s ("é" is two bytes of UTF-8 but one character).
std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ValidateJobRequestTest, AcceptsAPlainRequestWithTheDefaults) {
  EXPECT_TRUE(ValidateJobRequest(Valid()).ok());
  JobRequest r;
  r.task = "t";
  EXPECT_TRUE(ValidateJobRequest(r).ok()) << "args default to {}";
}

// ---- task ----

TEST(ValidateJobRequestTest, AnEmptyOrBlankTaskIsAnError) {
  for (const char* task : {"", " ", "  \t\r\n"}) {
    JobRequest r = Valid();
    r.task = task;
    EXPECT_EQ(Error(r), "task name is empty; give the name of a task your workers run");
  }
}

TEST(ValidateJobRequestTest, ATaskOfMoreThan200CharactersIsAnError) {
  JobRequest r = Valid();
  r.task = std::string(200, 't');
  EXPECT_TRUE(ValidateJobRequest(r).ok());
  r.task = std::string(201, 't');
  EXPECT_EQ(Error(r), "task name is longer than 200 characters");
}

TEST(ValidateJobRequestTest, TaskLengthCountsCharactersNotBytesLikeTheDatabase) {
  JobRequest r = Valid();
  r.task = Repeat("é", 200);  // 400 bytes; length(task) = 200
  EXPECT_TRUE(ValidateJobRequest(r).ok()) << ValidateJobRequest(r).message();
  r.task = Repeat("é", 201);
  EXPECT_EQ(Error(r), "task name is longer than 200 characters");
}

// ---- args ----

TEST(ValidateJobRequestTest, ArgsThatAreNotJsonGiveTheParsePosition) {
  JobRequest r = Valid();
  r.args_json = R"({"to": })";
  std::string msg = Error(r);
  EXPECT_HAS(msg, "args are not valid JSON: parse error at line 1, column 8");
  EXPECT_HAS(msg, "pass a JSON object such as {\"to\": \"a@b.c\"}");
  EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;
}

TEST(ValidateJobRequestTest, EmptyArgsAreNotJson) {
  JobRequest r = Valid();
  r.args_json = "";
  EXPECT_HAS(Error(r), "args are not valid JSON: parse error at line 1, column 1");
  r.args_json = "{} {}";
  EXPECT_HAS(Error(r), "args are not valid JSON");
}

TEST(ValidateJobRequestTest, ArgsMustBeAJsonObjectAndTheMessageNamesTheType) {
  struct Case {
    const char* args;
    const char* type;
  };
  for (const Case& c : {Case{"[1, 2]", "array"}, Case{"\"hello\"", "string"}, Case{"42", "number"},
                        Case{"true", "boolean"}, Case{"null", "null"}}) {
    JobRequest r = Valid();
    r.args_json = c.args;
    std::string msg = Error(r);
    EXPECT_HAS(msg, std::string("args must be a JSON object, got a JSON ") + c.type);
    EXPECT_HAS(msg, "wrap the value in an object");
    // Job args can hold secrets: messages never repeat them.
    EXPECT_EQ(std::string::npos, msg.find(std::string(": ") + c.args)) << msg;
  }
}

TEST(ValidateJobRequestTest, ArgsThatRepeatAKeyInOneObjectAreRefusedNamingTheKey) {
  // PostgreSQL and most JSON readers keep the last value without a word: a
  // job would run with {"days": 7} although the command line also said 30.
  for (const auto& [args, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"days": 30, "days": 7})", "days"},
           {R"({"opts": {"dry": true, "x": 1, "dry": false}})", "dry"},
           {R"({"list": [{"k": 1, "k": 2}]})", "k"}}) {
    JobRequest r = Valid();
    r.args_json = args;
    EXPECT_HAS(Error(r), "args hold the key \"" + key +
                             "\" twice in one object; JSON keeps only the last value, so give "
                             "each key once");
  }
  JobRequest r = Valid();
  r.args_json = R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]})";
  EXPECT_TRUE(ValidateJobRequest(r).ok()) << "one key in several objects is no repeat";
}

TEST(ValidateJobRequestTest, ArgsOver1MibOfJsonTextAsPostgresqlPrintsThemAreAnError) {
  const size_t kMiB = 1 << 20;
  JobRequest r = Valid();
  // PostgreSQL prints {"a":"xxx..."} as {"a": "xxx..."}: one byte more.
  r.args_json = "{\"a\":\"" + std::string(kMiB - 9, 'x') + "\"}";
  ASSERT_EQ(r.args_json.size(), kMiB - 1);
  EXPECT_TRUE(ValidateJobRequest(r).ok());
  r.args_json = "{\"a\":\"" + std::string(kMiB - 8, 'x') + "\"}";
  ASSERT_EQ(r.args_json.size(), kMiB);
  std::string msg = Error(r);
  EXPECT_HAS(msg, "args are 1048577 bytes of JSON text (as PostgreSQL prints them), over the "
                  "1 MiB limit");
  EXPECT_HAS(msg, "pass a reference in args");
  // Whitespace the database does not keep does not count.
  r.args_json = "{\"a\":  \"" + std::string(kMiB - 9, 'x') + "\"" + std::string(100, ' ') + "}";
  EXPECT_TRUE(ValidateJobRequest(r).ok());
}

TEST(JsonbTextBytesTest, CountsWhatPostgresqlPrints) {
  struct Case {
    std::string json;
    size_t bytes;  // octet_length(json::jsonb::text), as PostgreSQL 15 gives it
  } cases[] = {
      {"{}", 2},
      {R"({"a":1})", 8},                      // {"a": 1}
      {R"({"a":[1,2,[]],"b":{}})", 26},        // {"a": [1, 2, []], "b": {}}
      {R"({"a":1,"a":22})", 9},                // the last value of a repeated key
      {R"({"n":1.50,"m":1e3,"k":1.0E-1})", 33},  // {"k": 0.10, "m": 1000, "n": 1.50}
      {R"({"z":-0.0,"y":-0,"x":-12e-1})", 29},   // {"x": -1.2, "y": 0, "z": 0.0}
      {R"({"s":"tab\there \"q\" \\ \u0001 é \u00e9 /"})", 42},  // \u0001 stays 6 bytes
  };
  for (const Case& c : cases) {
    auto bytes = JsonbTextBytes(c.json);
    ASSERT_TRUE(bytes.ok()) << c.json;
    EXPECT_EQ(c.bytes, *bytes) << c.json;
  }
  EXPECT_HAS(JsonbTextBytes("{nope").status().message(), "not valid JSON");
}

// ---- queue ----

TEST(ValidateJobRequestTest, AcceptsGoodQueueNames) {
  for (const std::string& queue :
       {std::string("default"), std::string("emails"), std::string("a"), std::string("0"),
        std::string("tenant:42.reports-high_prio"), std::string("Q"), std::string(128, 'q')}) {
    JobRequest r = Valid();
    r.options.queue = queue;
    EXPECT_TRUE(ValidateJobRequest(r).ok()) << queue;
    EXPECT_TRUE(ValidateQueueName(queue).ok()) << queue;
  }
}

TEST(ValidateJobRequestTest, RejectsBadQueueNames) {
  for (const std::string& queue :
       {std::string(""), std::string("-x"), std::string("_x"), std::string(".x"), std::string(":x"),
        std::string("a b"), std::string("a/b"), std::string("é"), std::string("emails\n"),
        std::string(129, 'q')}) {
    JobRequest r = Valid();
    r.options.queue = queue;
    std::string msg = Error(r);
    EXPECT_HAS(msg, "queue name \"" + queue + "\" is not allowed");
    EXPECT_HAS(msg, "use 1-128 letters, digits, '_', '.', ':' or '-', starting with a letter");
  }
}

// ---- numbers and times ----

TEST(ValidateJobRequestTest, PriorityMustBeFrom0To9) {
  JobRequest r = Valid();
  for (int p : {0, 5, 9}) {
    r.options.priority = p;
    EXPECT_TRUE(ValidateJobRequest(r).ok()) << p;
  }
  r.options.priority = -1;
  EXPECT_EQ(Error(r), "priority -1 is out of range; use 0-9 (9 runs first, default 5)");
  r.options.priority = 10;
  EXPECT_HAS(Error(r), "priority 10 is out of range");
}

TEST(ValidateJobRequestTest, MaxAttemptsMustBeFrom1To1000) {
  JobRequest r = Valid();
  for (int n : {1, 4, 1000}) {
    r.options.max_attempts = n;
    EXPECT_TRUE(ValidateJobRequest(r).ok()) << n;
  }
  r.options.max_attempts = 0;
  EXPECT_EQ(Error(r), "max_attempts 0 is out of range; use 1-1000");
  r.options.max_attempts = 1001;
  EXPECT_EQ(Error(r), "max_attempts 1001 is out of range; use 1-1000");
}

TEST(ValidateJobRequestTest, TimeoutMustBePositive) {
  JobRequest r = Valid();
  r.options.timeout = milliseconds(1);
  EXPECT_TRUE(ValidateJobRequest(r).ok());
  r.options.timeout = milliseconds(0);
  EXPECT_EQ(Error(r), "timeout must be positive");
  r.options.timeout = milliseconds(-5);
  EXPECT_EQ(Error(r), "timeout must be positive");
}

TEST(ValidateJobRequestTest, DelayMustNotBeNegative) {
  JobRequest r = Valid();
  r.options.delay = milliseconds(1500);
  EXPECT_TRUE(ValidateJobRequest(r).ok());
  r.options.delay = milliseconds(-1);
  EXPECT_EQ(Error(r), "delay must not be negative");
}

TEST(ValidateJobRequestTest, RunAtAndADelayAreExclusive) {
  JobRequest r = Valid();
  r.options.run_at = std::chrono::system_clock::now();
  EXPECT_TRUE(ValidateJobRequest(r).ok()) << "run_at alone";
  r.options.delay = milliseconds(10);
  EXPECT_EQ(Error(r), "give a run time or a delay, not both");
}

TEST(ValidateJobRequestTest, UniqueKeyIsAtMost512Characters) {
  JobRequest r = Valid();
  r.options.unique_key = std::string(512, 'k');
  EXPECT_TRUE(ValidateJobRequest(r).ok());
  r.options.unique_key = Repeat("é", 512);  // 1024 bytes, 512 characters
  EXPECT_TRUE(ValidateJobRequest(r).ok()) << ValidateJobRequest(r).message();
  r.options.unique_key = std::string(513, 'k');
  EXPECT_EQ(Error(r), "unique_key is longer than 512 characters");
  r.options.unique_key = Repeat("é", 513);
  EXPECT_EQ(Error(r), "unique_key is longer than 512 characters");
}

TEST(ValidateJobRequestTest, ReportsTheFirstProblemInFieldOrder) {
  JobRequest r;
  r.task = "";
  r.args_json = "[";
  r.options.priority = 99;
  EXPECT_HAS(Error(r), "task name is empty");
  r.task = "t";
  EXPECT_HAS(Error(r), "args are not valid JSON");
}

// ---- JsonProblem ----

TEST(JsonProblemTest, GivesLineAndColumnWithoutTheExceptionTag) {
  std::string msg = JsonProblem("{\n  \"a\": 1,\n}");
  EXPECT_EQ(msg.rfind("not valid JSON: parse error at line 3, column 1", 0), 0u) << msg;
}

TEST(JsonProblemTest, SaysValidForValidJson) {
  EXPECT_EQ(JsonProblem("{}"), "valid JSON");
  EXPECT_EQ(JsonProblem("[1]"), "valid JSON");
}

TEST(JsonProblemTest, ANumberBeyondADoubleIsValidJsonThatCannotBeReadNotACrash) {
  std::string msg = JsonProblem("{\"a\": 1e400}");
  EXPECT_HAS(msg, "valid JSON that pgjobs cannot read: the number '1e400' is beyond");
  EXPECT_HAS(msg, "pass it as a string, e.g. \"1e400\"");
}

TEST(JsonProblemTest, ArgsWithANumberBeyondADoubleAreRefusedWithTheNumberNamed) {
  JobRequest r;
  r.task = "t";
  r.args_json = "{\"a\": -2e999}";
  std::string msg = Error(r);
  EXPECT_HAS(msg, "args are valid JSON that pgjobs cannot read: the number '-2e999'");
  EXPECT_EQ(msg.find("pass a JSON object"), std::string::npos) << msg;
}

// ---- ExplainJobsError ----

struct ConstraintCase {
  const char* constraint;
  const char* sentence;
};

const ConstraintCase kConstraints[] = {
    {"jobs_task_not_blank", "task name is empty"},
    {"jobs_task_at_most_200_chars", "task name is longer than 200 characters"},
    {"jobs_args_must_be_json_object", "args must be a JSON object"},
    {"jobs_args_at_most_1mib", "args are over the 1 MiB limit"},
    {"jobs_queue_name_format", "queue name must be 1-128 letters, digits, '_', '.', ':' or '-'"},
    {"jobs_priority_0_to_9", "priority must be 0-9"},
    {"jobs_max_attempts_1_to_1000", "max_attempts must be 1-1000"},
    {"jobs_timeout_positive", "timeout must be positive"},
    {"jobs_unique_key_1_to_512_chars", "unique_key must be 1-512 characters"},
};

// A libpq-like message for a CHECK violation.
std::string CheckViolation(const std::string& constraint) {
  return "ERROR:  new row for relation \"jobs\" violates check constraint \"" + constraint + "\"";
}

TEST(ExplainJobsErrorTest, TurnsEachCheckConstraintIntoItsSentence) {
  for (const ConstraintCase& c : kConstraints) {
    Status db = Status::Unavailable(CheckViolation(c.constraint));
    Status explained = ExplainJobsError(db);
    EXPECT_EQ(explained.code(), Status::Code::kInvalidArgument) << c.constraint;
    EXPECT_EQ(explained.message(), std::string(c.sentence) + " (" + db.message() + ")");
  }
}

TEST(ExplainJobsErrorTest, KnowsEveryUserFacingConstraintOfTheMigration) {
  auto catalog = SqlCatalog::Load("pgjobs");
  ASSERT_TRUE(catalog.ok()) << catalog.status().message();
  std::string sql;
  for (const Migration& m : catalog->migrations()) sql += m.sql;
  for (const ConstraintCase& c : kConstraints) {
    EXPECT_NE(sql.find(std::string("CONSTRAINT ") + c.constraint + " CHECK"), std::string::npos)
        << c.constraint << " is not in the migrations";
  }
}

TEST(ExplainJobsErrorTest, LeavesInternalConstraintsAndOtherErrorsUntouched) {
  for (const std::string& message :
       {CheckViolation("jobs_attempt_not_negative"), CheckViolation("jobs_running_has_lease"),
        CheckViolation("jobs_state_pending_or_running"),
        CheckViolation("jobs_errors_must_be_json_array"), CheckViolation("queue_name_format"),
        std::string("connection lost"), std::string("")}) {
    Status db = Status::Unavailable(message);
    Status explained = ExplainJobsError(db);
    EXPECT_EQ(explained.code(), Status::Code::kUnavailable) << message;
    EXPECT_EQ(explained.message(), message);
  }
}

TEST(ExplainJobsErrorTest, LeavesOkAlone) { EXPECT_TRUE(ExplainJobsError(Status::Ok()).ok()); }

}  // namespace
}  // namespace pgjobs
