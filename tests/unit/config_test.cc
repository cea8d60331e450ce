// The worker's configuration file: ParseConfig, LoadConfigFile,
// ApplyEnvironment and ParseQueueList from src/worker/config.h.
#include "worker/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include "tests/support/expect_has.h"

namespace pgjobs::worker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;


Config Parse(const std::string& text) {
  auto config = ParseConfig(text, "test.conf");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *config : Config{};
}

// The message of the error ParseConfig gives for text (which must be one).
std::string ParseError(const std::string& text) {
  auto config = ParseConfig(text, "test.conf");
  EXPECT_FALSE(config.ok()) << text << " was accepted";
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), Status::Code::kInvalidArgument);
  return config.status().message();
}

// A config with one task whose body is task_json.
std::string WithTask(const std::string& task_json) {
  return R"({"tasks": {"send": )" + task_json + "}}";
}

// ---- the whole file ----

TEST(ConfigTest, AnEmptyObjectGivesTheDefaults) {
  Config config = Parse("{}");
  EXPECT_EQ(config.dsn, "");
  EXPECT_EQ(config.schema, "pgjobs");
  EXPECT_EQ(config.log_level, "info");
  EXPECT_TRUE(config.tasks.empty());
  WorkerOptions defaults;
  EXPECT_EQ(config.worker.lease, defaults.lease);
  EXPECT_EQ(config.worker.poll_interval, defaults.poll_interval);
  EXPECT_EQ(config.worker.prefetch, defaults.prefetch);
  EXPECT_TRUE(config.worker.queues.empty());
}

TEST(ConfigTest, ReadsEveryTopLevelAndWorkerKey) {
  Config config = Parse(R"({
    "dsn": "host=/run/postgresql dbname=app",
    "schema": "jobs",
    "log_level": "debug",
    "worker": {
      "queues": {"default": 4, "emails": 2},
      "lease": "45s",
      "poll_interval": "500ms",
      "rescue_interval": 10,
      "drain_timeout": "1m",
      "prefetch": 8,
      "completion_batch": 50,
      "completion_flush": "20ms",
      "worker_id": "w1"
    }
  })");
  EXPECT_EQ(config.dsn, "host=/run/postgresql dbname=app");
  EXPECT_EQ(config.schema, "jobs");
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.worker.queues, (std::map<std::string, int>{{"default", 4}, {"emails", 2}}));
  EXPECT_EQ(config.worker.lease, seconds(45));
  EXPECT_EQ(config.worker.poll_interval, milliseconds(500));
  EXPECT_EQ(config.worker.rescue_interval, seconds(10));
  EXPECT_EQ(config.worker.drain_timeout, seconds(60));
  EXPECT_EQ(config.worker.prefetch, 8);
  EXPECT_EQ(config.worker.completion_batch, 50);
  EXPECT_EQ(config.worker.completion_flush, milliseconds(20));
  EXPECT_EQ(config.worker.worker_id, "w1");
}

TEST(ConfigTest, CopiesDsnAndSchemaIntoTheWorkerOptions) {
  Config config = Parse(R"({"dsn": "dbname=app", "schema": "jobs"})");
  EXPECT_EQ(config.worker.dsn, "dbname=app");
  EXPECT_EQ(config.worker.schema, "jobs");
}

TEST(ConfigTest, AllowsLineAndBlockComments) {
  Config config = Parse(R"(
    // The queue database.
    {
      "dsn": "dbname=app", // trailing comment
      /* a block
         comment */
      "log_level": /* inline */ "warn"
    })");
  EXPECT_EQ(config.dsn, "dbname=app");
  EXPECT_EQ(config.log_level, "warn");
}

TEST(ConfigTest, MalformedJsonGivesTheSourceLineAndColumn) {
  std::string msg = ParseError("{\n  \"dsn\": \"x\",\n  oops\n}");
  EXPECT_HAS(msg, "test.conf: not valid JSON: ");
  EXPECT_HAS(msg, "parse error at line 3, column 3");
  EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;
}

TEST(ConfigTest, EmptyTextAndAnUnclosedCommentAreNotValidJson) {
  EXPECT_HAS(ParseError(""), "not valid JSON");
  EXPECT_HAS(ParseError("{} /* never closed"), "not valid JSON");
}

TEST(ConfigTest, TheTopLevelMustBeAnObject) {
  EXPECT_EQ(ParseError("[]"), "test.conf: configuration must be a JSON object");
  EXPECT_HAS(ParseError("\"dsn\""), "configuration must be a JSON object");
}

// ---- unknown keys ----

TEST(ConfigTest, UnknownTopLevelKeySuggestsTheNearestKnownKey) {
  std::string msg = ParseError(R"({"shema": "jobs"})");
  EXPECT_HAS(msg, "test.conf: configuration: unknown key \"shema\"; did you mean \"schema\"?");
  EXPECT_HAS(msg, "(known keys: dsn, schema, log_level, worker, tasks, scheduler, web, redis)");
}

TEST(ConfigTest, SchedulerSectionIsParsedAndChecked) {
  auto config = ParseConfig(R"({"dsn": "dbname=x", "scheduler": {"batch_size": 50, "leader_lease": "20s",
                                "history_retention": "30d", "max_sleep": "2s"}})",
                            "test.conf");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(50, config->scheduler.batch_size);
  EXPECT_EQ(std::chrono::seconds(20), config->scheduler.leader_lease);
  EXPECT_EQ(std::chrono::hours(24 * 30), config->scheduler.history_retention);
  EXPECT_EQ("dbname=x", config->scheduler.dsn);
  EXPECT_HAS(ParseError(R"({"scheduler": {"history_retention": "2h"}})"), "at least 1d");
  EXPECT_HAS(ParseError(R"({"scheduler": {"leader_leese": "2s"}})"), "did you mean \"leader_lease\"");
}

TEST(ConfigTest, SchedulerFireAheadDefaultsTo30sMayBeOffAndIsAtMostAnHour) {
  auto config = ParseConfig(R"({"scheduler": {}})", "test.conf");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(std::chrono::seconds(30), config->scheduler.fire_ahead);
  config = ParseConfig(R"({"scheduler": {"fire_ahead": "0s"}})", "test.conf");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(std::chrono::milliseconds(0), config->scheduler.fire_ahead);
  config = ParseConfig(R"({"scheduler": {"fire_ahead": "5m"}})", "test.conf");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(std::chrono::minutes(5), config->scheduler.fire_ahead);
  EXPECT_HAS(ParseError(R"({"scheduler": {"fire_ahead": "2h"}})"),
             "scheduler.fire_ahead must be at most 1h (default 30s; 0s turns it off)");
  EXPECT_HAS(ParseError(R"({"scheduler": {"fire_ahead": "-1s"}})"), "cannot be negative");
  EXPECT_HAS(ParseError(R"({"scheduler": {"fire_ahead": "soon"}})"), "scheduler.fire_ahead");
}

TEST(ConfigTest, UnknownWorkerKeySuggestsTheNearestKnownKey) {
  std::string msg = ParseError(R"({"worker": {"leese": "30s"}})");
  EXPECT_HAS(msg, "test.conf: worker: unknown key \"leese\"; did you mean \"lease\"?");
  EXPECT_HAS(msg, "completion_batch");
}

TEST(ConfigTest, UnknownTaskKeyNamesTheTaskAndSuggestsTheNearestKnownKey) {
  std::string msg = ParseError(WithTask(R"({"kind": "command", "comand": ["/bin/true"]})"));
  EXPECT_HAS(msg, "test.conf: tasks.send: unknown key \"comand\"; did you mean \"command\"?");
}

TEST(ConfigTest, UnknownKeyWithNothingCloseHasNoSuggestion) {
  std::string msg = ParseError(R"({"zzzzzzzzzzzz": 1})");
  EXPECT_HAS(msg, "unknown key \"zzzzzzzzzzzz\" (known keys:");
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;
}

// ---- types ----

TEST(ConfigTest, StringKeysMustBeStrings) {
  EXPECT_HAS(ParseError(R"({"dsn": 5})"), "test.conf: configuration.dsn must be a string");
  EXPECT_HAS(ParseError(R"({"schema": null})"), "configuration.schema must be a string");
  EXPECT_HAS(ParseError(R"({"worker": {"worker_id": 1}})"), "worker.worker_id must be a string");
}

TEST(ConfigTest, WorkerAndTasksMustBeObjects) {
  EXPECT_HAS(ParseError(R"({"worker": []})"), "worker must be a JSON object");
  EXPECT_HAS(ParseError(R"({"tasks": []})"), "tasks must be an object");
  EXPECT_HAS(ParseError(R"({"tasks": {"send": "/bin/true"}})"), "tasks.send must be a JSON object");
}

TEST(ConfigTest, WholeNumbersMustBeIntegersInRange) {
  EXPECT_HAS(ParseError(R"({"worker": {"prefetch": -1}})"),
             "worker.prefetch must be \"auto\" (the default) or a whole number from 0 to 100000");
  EXPECT_HAS(ParseError(R"({"worker": {"prefetch": "automatic"}})"), "worker.prefetch must be");
  EXPECT_HAS(ParseError(R"({"worker": {"prefetch": 100001}})"), "worker.prefetch must be");
  EXPECT_HAS(ParseError(R"({"worker": {"prefetch": 1.5}})"), "worker.prefetch must be");
  EXPECT_HAS(ParseError(R"({"worker": {"prefetch": "4"}})"), "worker.prefetch must be");
  EXPECT_HAS(ParseError(R"({"worker": {"prefetch": 18446744073709551615}})"),
             "worker.prefetch must be");
  EXPECT_HAS(ParseError(R"({"worker": {"completion_batch": 0}})"),
             "worker.completion_batch must be a whole number from 1 to 100000");
  EXPECT_EQ(Parse(R"({"worker": {"prefetch": 0}})").worker.prefetch, 0);
  EXPECT_EQ(Parse(R"({"worker": {"prefetch": 100000}})").worker.prefetch, 100000);
  EXPECT_EQ(Parse(R"({"worker": {"prefetch": "auto"}})").worker.prefetch,
            WorkerOptions::kPrefetchAuto);
  EXPECT_EQ(Parse("{}").worker.prefetch, WorkerOptions::kPrefetchAuto);
}

// ---- durations ----

TEST(ConfigTest, DurationsAreStringsWithUnits) {
  Config config = Parse(R"({"worker": {"lease": "1h30m", "poll_interval": "250ms"}})");
  EXPECT_EQ(config.worker.lease, milliseconds(5'400'000));
  EXPECT_EQ(config.worker.poll_interval, milliseconds(250));
}

TEST(ConfigTest, DurationsAreNumbersOfSeconds) {
  Config config = Parse(R"({"worker": {"lease": 30, "poll_interval": 0.5, "drain_timeout": 0}})");
  EXPECT_EQ(config.worker.lease, seconds(30));
  EXPECT_EQ(config.worker.poll_interval, milliseconds(500));
  EXPECT_EQ(config.worker.drain_timeout, milliseconds(0));
}

TEST(ConfigTest, ANegativeNumberDurationIsAnError) {
  EXPECT_HAS(ParseError(R"({"worker": {"lease": -5}})"), "test.conf: worker.lease is negative");
}

TEST(ConfigTest, AHugeNumberDurationIsAnError) {
  EXPECT_HAS(ParseError(R"({"worker": {"lease": 1e300}})"), "worker.lease is too long");
}

TEST(ConfigTest, ABadDurationStringNamesTheKey) {
  std::string msg = ParseError(R"({"worker": {"lease": "30 seconds"}})");
  EXPECT_HAS(msg, "test.conf: worker.lease: duration \"30 seconds\"");
  EXPECT_HAS(ParseError(R"({"worker": {"poll_interval": "5x"}})"),
             "worker.poll_interval: duration \"5x\" has an unknown unit \"x\"");
}

TEST(ConfigTest, ADurationOfAnotherTypeIsAnError) {
  EXPECT_HAS(ParseError(R"({"worker": {"lease": true}})"),
             "worker.lease must be a duration such as \"30s\"");
  EXPECT_HAS(ParseError(R"({"worker": {"completion_flush": [5]}})"),
             "worker.completion_flush must be a duration");
}

// ---- queues ----

TEST(ConfigTest, QueuesMustBeAnObject) {
  EXPECT_HAS(ParseError(R"({"worker": {"queues": ["default"]}})"),
             "worker.queues must be an object such as {\"default\": 4, \"emails\": 2}");
}

TEST(ConfigTest, ABadQueueNameIsAnError) {
  std::string msg = ParseError(R"({"worker": {"queues": {"bad queue": 1}}})");
  EXPECT_HAS(msg, "test.conf: worker.queues: queue name \"bad queue\" is not allowed");
  EXPECT_HAS(ParseError(R"({"worker": {"queues": {"": 1}}})"), "queue name \"\" is not allowed");
  EXPECT_HAS(ParseError(R"({"worker": {"queues": {"-x": 1}}})"), "queue name \"-x\"");
}

TEST(ConfigTest, QueueConcurrencyMustBeFrom1To1000) {
  EXPECT_HAS(ParseError(R"({"worker": {"queues": {"emails": 0}}})"),
             "worker.queues.emails must be a whole number from 1 to 1000");
  EXPECT_HAS(ParseError(R"({"worker": {"queues": {"emails": 1001}}})"),
             "worker.queues.emails must be");
  EXPECT_HAS(ParseError(R"({"worker": {"queues": {"emails": "4"}}})"),
             "worker.queues.emails must be");
  EXPECT_HAS(ParseError(R"({"worker": {"queues": {"emails": 2.5}}})"),
             "worker.queues.emails must be");
  Config config = Parse(R"({"worker": {"queues": {"a": 1, "b": 1000}}})");
  EXPECT_EQ(config.worker.queues, (std::map<std::string, int>{{"a", 1}, {"b", 1000}}));
}

// ---- tasks ----

TEST(ConfigTest, ReadsACommandTaskWithEveryOption) {
  Config config = Parse(WithTask(R"({
    "kind": "command",
    "command": ["/usr/bin/python3", "-m", "app.tasks.send"],
    "env": {"APP_ENV": "prod"},
    "working_dir": "/srv/app",
    "kill_grace": "10s",
    "max_result_bytes": 4096,
    "timeout": "5m",
    "retry_base": "1s",
    "retry_max": "10m"
  })"));
  ASSERT_EQ(config.tasks.size(), 1u);
  const TaskConfig& task = config.tasks[0];
  EXPECT_EQ(task.name, "send");
  EXPECT_EQ(task.kind, TaskConfig::Kind::kCommand);
  EXPECT_EQ(task.command, (std::vector<std::string>{"/usr/bin/python3", "-m", "app.tasks.send"}));
  EXPECT_EQ(task.env, (std::map<std::string, std::string>{{"APP_ENV", "prod"}}));
  EXPECT_EQ(task.working_dir, "/srv/app");
  EXPECT_EQ(task.kill_grace, seconds(10));
  EXPECT_EQ(task.max_result_bytes, 4096u);
  EXPECT_EQ(task.options.timeout, std::chrono::minutes(5));
  EXPECT_EQ(task.options.retry.base, seconds(1));
  EXPECT_EQ(task.options.retry.max, std::chrono::minutes(10));
}

TEST(ConfigTest, ACommandTaskKeepsTheDefaultsItDoesNotSet) {
  Config config = Parse(WithTask(R"({"kind": "command", "command": ["/bin/true"]})"));
  ASSERT_EQ(config.tasks.size(), 1u);
  TaskConfig defaults;
  EXPECT_EQ(config.tasks[0].kill_grace, defaults.kill_grace);
  EXPECT_EQ(config.tasks[0].max_result_bytes, defaults.max_result_bytes);
  EXPECT_EQ(config.tasks[0].options.timeout, milliseconds(0));
  EXPECT_EQ(config.tasks[0].options.retry.base, RetryPolicy{}.base);
}

TEST(ConfigTest, AKillGraceLongerThanHalfTheLeaseIsRefused) {
  // A job whose lease cannot be renewed is told to stop before the lease
  // ends; SIGKILL comes kill_grace later, which must be before another
  // worker can rescue it, and the stop can come at most lease/2 early.
  std::string msg = ParseError(R"({"worker": {"lease": "3s"}, "tasks": {"a": {"kind": "command",
      "command": ["/bin/true"], "kill_grace": "60s"}}})");
  EXPECT_NE(msg.find("tasks.a.kill_grace (60s) is too long for worker.lease 3s"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("lower kill_grace to at most 1000ms or raise worker.lease to at least 121s"),
            std::string::npos)
      << msg;
  // The default lease (30 s) allows 14.5 s.
  Config fits = Parse(WithTask(R"({"kind": "runner", "command": ["/bin/true"], "serves": ["x"],
      "kill_grace": "14500ms"})"));
  ASSERT_EQ(fits.tasks.size(), 1u);
  EXPECT_EQ(fits.tasks[0].kill_grace, milliseconds(14500));
  EXPECT_NE(ParseError(WithTask(R"({"kind": "runner", "command": ["/bin/true"], "serves": ["x"],
      "kill_grace": "15s"})"))
                .find("is too long for worker.lease 30s"),
            std::string::npos);
}

TEST(ConfigTest, TheWorkerStopsAJobWhoseLeaseIsLostEarlyEnoughForItsKillGrace) {
  // kill_grace 10 s (the README's example) with the default lease: told to
  // stop 10.5 s before the lease ends, not lease/4 (7.5 s).
  Config config = Parse(R"({"tasks": {"a": {"kind": "command", "command": ["/bin/true"],
      "kill_grace": "10s"}, "b": {"kind": "command", "command": ["/bin/true"]},
      "c": {"kind": "sql", "sql": "SELECT 1"}}})");
  EXPECT_EQ(config.worker.stop_margin, milliseconds(10500));
  Config defaults = Parse(WithTask(R"({"kind": "command", "command": ["/bin/true"]})"));
  EXPECT_EQ(defaults.worker.stop_margin, milliseconds(5500));  // under lease/4: lease/4 is used
}

TEST(ConfigTest, TheDefaultKillGraceShrinksToFitAShortLease) {
  Config config = Parse(R"({"worker": {"lease": "6s"}, "tasks": {"a": {"kind": "command",
      "command": ["/bin/true"]}}})");
  ASSERT_EQ(config.tasks.size(), 1u);
  EXPECT_EQ(config.tasks[0].kill_grace, milliseconds(2500));  // 6 s / 2 - 500 ms
  EXPECT_EQ(config.worker.stop_margin, milliseconds(3000));
  Config long_lease = Parse(WithTask(R"({"kind": "command", "command": ["/bin/true"]})"));
  EXPECT_EQ(long_lease.tasks[0].kill_grace, seconds(5));
}

TEST(ConfigTest, ReadsAnSqlTask) {
  Config config = Parse(WithTask(R"({"kind": "sql", "sql": "SELECT 1", "timeout": 30})"));
  ASSERT_EQ(config.tasks.size(), 1u);
  EXPECT_EQ(config.tasks[0].kind, TaskConfig::Kind::kSql);
  EXPECT_EQ(config.tasks[0].sql, "SELECT 1");
  EXPECT_EQ(config.tasks[0].options.timeout, seconds(30));
}

TEST(ConfigTest, ReadsSeveralTasks) {
  Config config = Parse(R"({"tasks": {
    "a": {"kind": "sql", "sql": "SELECT 1"},
    "b": {"kind": "command", "command": ["/bin/true"]}}})");
  ASSERT_EQ(config.tasks.size(), 2u);
  EXPECT_EQ(config.tasks[0].name, "a");
  EXPECT_EQ(config.tasks[1].name, "b");
}

TEST(ConfigTest, ATaskWithoutKindSaysKindIsMissing) {
  EXPECT_HAS(ParseError(WithTask(R"({"command": ["/bin/true"]})")),
             "test.conf: tasks.send.kind must be \"command\", \"sql\" or \"runner\" (it is missing)");
}

TEST(ConfigTest, AnUnknownKindIsNamed) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "shell"})")),
             "tasks.send.kind must be \"command\", \"sql\" or \"runner\", not \"shell\"");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": 1})")), "tasks.send.kind must be a string");
}

TEST(ConfigTest, ACommandTaskNeedsANonEmptyArrayOfStrings) {
  const std::string need = "tasks.send.command must be a non-empty array of strings";
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command"})")), need);
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": []})")), need);
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": "/bin/true"})")), need);
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["/bin/sleep", 5]})")),
             "tasks.send.command: every item must be a string");
}

TEST(ConfigTest, ACommandTaskChecksEnvAndItsValues) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["x"], "env": ["A=b"]})")),
             "tasks.send.env must be an object");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["x"], "env": {"N": 1}})")),
             "tasks.send.env.N must be a string");
}

TEST(ConfigTest, ACommandTaskChecksItsOtherFields) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["x"], "working_dir": 1})")),
             "tasks.send.working_dir must be a string");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["x"], "kill_grace": "x"})")),
             "tasks.send.kill_grace: duration \"x\"");
  EXPECT_HAS(
      ParseError(WithTask(R"({"kind": "command", "command": ["x"], "max_result_bytes": -1})")),
      "tasks.send.max_result_bytes must be a whole number from 0 to 67108864");
  EXPECT_HAS(ParseError(WithTask(
                 R"({"kind": "command", "command": ["x"], "max_result_bytes": 67108865})")),
             "tasks.send.max_result_bytes must be");
}

TEST(ConfigTest, TimeoutAndRetryAreCheckedForEitherKind) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql", "sql": "SELECT 1", "timeout": -1})")),
             "tasks.send.timeout is negative");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["x"], "retry_base": "1y"})")),
             "tasks.send.retry_base: duration \"1y\"");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql", "sql": "SELECT 1", "retry_max": {}})")),
             "tasks.send.retry_max must be a duration");
}

TEST(ConfigTest, AnSqlTaskNeedsAStatement) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql"})")),
             "tasks.send.sql must be a statement, e.g. ");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql", "sql": ""})")), "tasks.send.sql must be");
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql", "sql": ["SELECT 1"]})")),
             "tasks.send.sql must be a string");
}

TEST(ConfigTest, ACommandTaskMustNotHaveSql) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "command", "command": ["x"], "sql": "SELECT 1"})")),
             "tasks.send: \"sql\" is for kind \"sql\"");
}

TEST(ConfigTest, AnSqlTaskMustNotHaveCommandOnlyKeys) {
  EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql", "sql": "SELECT 1", "command": ["x"]})")),
             "tasks.send: \"command\" is for kind \"command\"");
  for (const char* key : {"env", "working_dir", "kill_grace", "max_result_bytes"}) {
    std::string value = std::string(key) == "env" ? "{}" : "\"1\"";
    if (std::string(key) == "max_result_bytes") value = "1";
    EXPECT_HAS(ParseError(WithTask(R"({"kind": "sql", "sql": "SELECT 1", ")" + std::string(key) +
                                   "\": " + value + "}")),
               "tasks.send: \"" + std::string(key) + "\" is for kind \"command\"");
  }
}

// ---- log_level ----

TEST(ConfigTest, AcceptsEveryLogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_EQ(Parse(std::string(R"({"log_level": ")") + level + "\"}").log_level, level);
  }
}

TEST(ConfigTest, RejectsAnUnknownLogLevelListingTheValidOnes) {
  EXPECT_EQ(ParseError(R"({"log_level": "verbose"})"),
            "test.conf: log_level must be one of trace, debug, info, warn, error");
  EXPECT_HAS(ParseError(R"({"log_level": "INFO"})"), "log_level must be one of");
  EXPECT_HAS(ParseError(R"({"log_level": "warning"})"), "log_level must be one of");
}

// ---- ApplyEnvironment ----

// Sets (or with nullopt unsets) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ApplyEnvironmentTest, PgjobsDsnAndSchemaOverrideTheFile) {
  ScopedEnv dsn("PGJOBS_DSN", "dbname=from_env");
  ScopedEnv schema("PGJOBS_SCHEMA", "env_schema");
  Config config = Parse(R"({"dsn": "dbname=from_file", "schema": "file_schema"})");
  ApplyEnvironment(config);
  EXPECT_EQ(config.dsn, "dbname=from_env");
  EXPECT_EQ(config.schema, "env_schema");
  EXPECT_EQ(config.worker.dsn, "dbname=from_env");
  EXPECT_EQ(config.worker.schema, "env_schema");
}

TEST(ApplyEnvironmentTest, UnsetOrEmptyVariablesLeaveTheFileValues) {
  ScopedEnv dsn("PGJOBS_DSN", std::nullopt);
  ScopedEnv schema("PGJOBS_SCHEMA", "");
  Config config = Parse(R"({"dsn": "dbname=from_file", "schema": "file_schema"})");
  ApplyEnvironment(config);
  EXPECT_EQ(config.dsn, "dbname=from_file");
  EXPECT_EQ(config.schema, "file_schema");
  EXPECT_EQ(config.worker.dsn, "dbname=from_file");
  EXPECT_EQ(config.worker.schema, "file_schema");
}

TEST(ApplyEnvironmentTest, OneVariableOverridesOnlyItsField) {
  ScopedEnv dsn("PGJOBS_DSN", std::nullopt);
  ScopedEnv schema("PGJOBS_SCHEMA", "env_schema");
  Config config = Parse(R"({"dsn": "dbname=from_file"})");
  ApplyEnvironment(config);
  EXPECT_EQ(config.dsn, "dbname=from_file");
  EXPECT_EQ(config.worker.schema, "env_schema");
}

// ---- ParseQueueList ----

std::map<std::string, int> Queues(const std::string& text) {
  auto queues = ParseQueueList(text);
  EXPECT_TRUE(queues.ok()) << text << ": " << queues.status().message();
  return queues.ok() ? *queues : std::map<std::string, int>{};
}

std::string QueueListError(const std::string& text) {
  auto queues = ParseQueueList(text);
  EXPECT_FALSE(queues.ok()) << text << " was accepted";
  if (queues.ok()) return "";
  EXPECT_EQ(queues.status().code(), Status::Code::kInvalidArgument);
  return queues.status().message();
}

TEST(ParseQueueListTest, ReadsNamesWithConcurrency) {
  EXPECT_EQ(Queues("emails=4,reports=1"),
            (std::map<std::string, int>{{"emails", 4}, {"reports", 1}}));
  EXPECT_EQ(Queues("a=1000"), (std::map<std::string, int>{{"a", 1000}}));
}

TEST(ParseQueueListTest, ANameWithoutConcurrencyGetsOne) {
  EXPECT_EQ(Queues("default"), (std::map<std::string, int>{{"default", 1}}));
  EXPECT_EQ(Queues("default,emails=3"),
            (std::map<std::string, int>{{"default", 1}, {"emails", 3}}));
}

TEST(ParseQueueListTest, SkipsEmptyItems) {
  EXPECT_EQ(Queues(",emails=2,,"), (std::map<std::string, int>{{"emails", 2}}));
}

TEST(ParseQueueListTest, AnEmptyListIsAnErrorWithAnExample) {
  EXPECT_EQ(QueueListError(""), "queue list \"\" is empty; e.g. default=4,emails=2");
  EXPECT_HAS(QueueListError(",,"), "queue list \",,\" is empty");
}

TEST(ParseQueueListTest, ConcurrencyMustBeAWholeNumberFrom1To1000) {
  for (const char* item : {"emails=", "emails=0", "emails=1001", "emails=-1", "emails=4x",
                           "emails=2.5", "emails=4=5", "emails=99999999999999999999"}) {
    EXPECT_EQ(QueueListError(item), "queue list item \"" + std::string(item) +
                                        "\": concurrency must be 1-1000, e.g. emails=4");
  }
}

TEST(ParseQueueListTest, ABadQueueNameIsAnError) {
  EXPECT_HAS(QueueListError("=4"), "queue name \"\" is not allowed");
  EXPECT_HAS(QueueListError("bad name=2"), "queue name \"bad name\" is not allowed");
  EXPECT_HAS(QueueListError("emails=1, reports=1"), "queue name \" reports\" is not allowed");
}

// ---- LoadConfigFile ----

// A file in a fresh temporary directory, removed with it.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "pgjobs_config_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (const std::string& f : files_) std::remove(f.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(ConfigFileTest, AMissingFileIsNotFoundAndNamesThePath) {
  std::string path = dir_ + "/missing.conf";
  auto config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Status::Code::kNotFound);
  EXPECT_HAS(config.status().message(), "cannot read configuration file " + path);
  EXPECT_HAS(config.status().message(), "No such file or directory");
  EXPECT_HAS(config.status().message(), "pass --config FILE");
}

TEST_F(ConfigFileTest, ADirectoryIsNotReadAsAnEmptyFile) {
  auto config = LoadConfigFile(dir_);
  ASSERT_FALSE(config.ok());
  EXPECT_HAS(config.status().message(), "cannot read configuration file " + dir_);
  EXPECT_EQ(config.status().message().find("JSON"), std::string::npos) << config.status().message();
}

TEST_F(ConfigFileTest, ReadsAFile) {
  std::string path = Write("pgjobs.conf", "// comment\n{\"dsn\": \"dbname=app\"}\n");
  auto config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->dsn, "dbname=app");
}

TEST_F(ConfigFileTest, ErrorsInAFileNameThePath) {
  std::string path = Write("bad.conf", "{\"worker\": {\"leese\": 1}}");
  auto config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_HAS(config.status().message(), path + ": worker: unknown key \"leese\"");
  std::string broken = Write("broken.conf", "{\n");
  EXPECT_HAS(LoadConfigFile(broken).status().message(), broken + ": not valid JSON");
}

}  // namespace
}  // namespace pgjobs::worker
