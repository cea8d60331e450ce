#include "worker/runner_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/expect_has.h"
#include "worker/config.h"

namespace pgjobs::worker {
namespace {

using Type = RunnerMessage::Type;

TEST(RunnerProtocolTest, AJobLineCarriesEverythingTheRunnerNeeds) {
  Job job;
  job.id = 42;
  job.task = "app.tasks.sync";
  job.queue = "sync";
  job.args_json = R"({"days": 3})";
  job.attempt = 2;
  job.max_attempts = 4;
  std::string line = EncodeRunnerJob(job, 1764930000.5);
  ASSERT_EQ('\n', line.back());
  auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed, nlohmann::json::parse(
                        R"({"type":"job","id":42,"task":"app.tasks.sync","args":{"days":3},
                            "attempt":2,"max_attempts":4,"queue":"sync","deadline":1764930000.5})"));
  EXPECT_TRUE(nlohmann::json::parse(EncodeRunnerJob(job, std::nullopt))["deadline"].is_null());
  EXPECT_EQ(R"({"id":42,"reason":"timeout","type":"stop"})"
            "\n",
            EncodeRunnerStop(42, "timeout"));
}

TEST(RunnerProtocolTest, ReadsEveryMessageType) {
  auto ready = ParseRunnerLine(R"({"type":"ready","protocol":1,"tasks":["a","b"]})");
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_EQ(Type::kReady, ready->type);
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), ready->tasks);
  auto progress = ParseRunnerLine(R"({"type":"progress","id":7,"progress":{"done":1}})");
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(R"({"done":1})", progress->json);
  EXPECT_FALSE(progress->is_outcome());
  auto success = ParseRunnerLine(R"({"type":"success","id":7,"result":[1,2]})");
  ASSERT_TRUE(success.ok());
  EXPECT_EQ("[1,2]", RunnerOutcome(*success, std::chrono::seconds(10)).result_json());
  auto failure = ParseRunnerLine(R"({"type":"failure","id":7,"error":"E: x","traceback":"tb"})");
  ASSERT_TRUE(failure.ok());
  HandlerResult failed = RunnerOutcome(*failure, std::chrono::seconds(10));
  EXPECT_EQ(HandlerResult::Kind::kFailure, failed.kind());
  EXPECT_EQ("E: x", failed.message());
  EXPECT_EQ("tb", failed.traceback());
  auto retry = ParseRunnerLine(R"({"type":"retry","id":7,"after":2.5})");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(std::chrono::milliseconds(2500),
            RunnerOutcome(*retry, std::chrono::seconds(10)).delay());
  auto retry_default = ParseRunnerLine(R"({"type":"retry","id":7})");
  EXPECT_EQ(std::chrono::seconds(10),
            RunnerOutcome(*retry_default, std::chrono::seconds(10)).delay());
  auto discard = ParseRunnerLine(R"({"type":"discard","id":7,"error":"gone"})");
  EXPECT_EQ(HandlerResult::Kind::kDiscard, RunnerOutcome(*discard, std::chrono::seconds(1)).kind());
}

TEST(RunnerProtocolTest, ALineThatIsNotProtocolIsAnErrorQuotingIt) {
  auto text = ParseRunnerLine("Hello from a print()");
  ASSERT_FALSE(text.ok());
  EXPECT_HAS(text.status().message(),
             "the runner printed a line that is not a pgjobs protocol message (not JSON): "
             "\"Hello from a print()\"; a runner must print only protocol lines on stdout");
  EXPECT_HAS(ParseRunnerLine("[1]").status().message(), "(not a JSON object)");
  EXPECT_HAS(ParseRunnerLine(R"({"type":"shout","id":1})").status().message(),
             "unknown type \"shout\"; known: ready, progress, success, failure, retry, discard");
  EXPECT_HAS(ParseRunnerLine(R"({"type":"success"})").status().message(), "it has no \"id\"");
  EXPECT_HAS(ParseRunnerLine(R"({"type":"ready","protocol":2,"tasks":[]})").status().message(),
             "it speaks protocol 2, this worker speaks 1");
  EXPECT_HAS(ParseRunnerLine(R"({"type":"retry","id":1,"after":-1})").status().message(),
             "\"after\" must be a number of seconds, 0 or more");
  std::string long_line(1000, 'x');
  EXPECT_HAS(ParseRunnerLine(long_line).status().message(), "(1000 bytes)");
}

TEST(RunnerConfigTest, ARunnerTaskReadsItsSettings) {
  auto config = ParseConfig(R"({"tasks": {"django": {"kind": "runner",
      "command": ["/usr/bin/python3", "-m", "pgjobs.runner", "app.tasks"],
      "serves": ["app.tasks.*", "billing.charge"], "pool_size": 3, "max_jobs_per_runner": 100,
      "max_memory_per_runner": "512MB", "startup_timeout": "2m"}}})",
                            "test.conf");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const TaskConfig& t = config->tasks.at(0);
  EXPECT_EQ(TaskConfig::Kind::kRunner, t.kind);
  EXPECT_EQ((std::vector<std::string>{"app.tasks.*", "billing.charge"}), t.serves);
  EXPECT_EQ(3, t.pool_size);
  EXPECT_EQ(100, t.max_jobs_per_runner);
  EXPECT_EQ(512000000u, t.max_memory_per_runner);
  EXPECT_EQ(std::chrono::minutes(2), t.startup_timeout);
}

TEST(RunnerConfigTest, BadRunnerSettingsAreNamed) {
  auto error = [](const std::string& task) {
    auto config = ParseConfig(R"({"tasks": {"django": )" + task + "}}", "test.conf");
    return config.ok() ? std::string("(no error)") : config.status().message();
  };
  const std::string cmd = R"("kind": "runner", "command": ["/bin/cat"])";
  EXPECT_HAS(error("{" + cmd + "}"), "tasks.django.serves must be a non-empty array of task names");
  EXPECT_HAS(error("{" + cmd + R"(, "serves": ["*"]})"), "tasks.django.serves must be");
  EXPECT_HAS(error("{" + cmd + R"(, "serves": ["a"], "max_memory_per_runner": "lots"})"),
             "tasks.django.max_memory_per_runner must be a size such as \"512MB\" or \"2GB\", "
             "not \"lots\"");
  EXPECT_HAS(error("{" + cmd + R"(, "serves": ["a"], "pool_size": 0})"),
             "tasks.django.pool_size must be a whole number from 1 to 1000");
  EXPECT_HAS(error(R"({"kind": "command", "command": ["/bin/true"], "serves": ["a"]})"),
             "tasks.django: \"serves\" is for kind \"runner\"");
}

}  // namespace
}  // namespace pgjobs::worker
