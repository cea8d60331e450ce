// The "redis" section of the configuration (README, "Redis broker") and the
// Redis URL it names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "broker/redis_url.h"
#include "tests/support/expect_has.h"
#include "worker/config.h"

namespace pgjobs {
namespace {

std::string ParseError(const std::string& text) {
  auto config = worker::ParseConfig(text, "test.conf");
  EXPECT_FALSE(config.ok()) << text;
  return config.ok() ? "" : config.status().message();
}

TEST(RedisUrlTest, ReadsHostPortDatabaseAndPassword) {
  auto a = broker::ParseRedisUrl("redis://:s3cret@cache.internal:6380/2");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ("cache.internal", a->host);
  EXPECT_EQ(6380, a->port);
  EXPECT_EQ(2, a->db);
  EXPECT_EQ("s3cret", a->password);
  auto plain = broker::ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(6379, plain->port);
  EXPECT_EQ(0, plain->db);
}

TEST(RedisUrlTest, ReadsAUnixSocketWithADatabase) {
  auto a = broker::ParseRedisUrl("unix:///run/redis/redis.sock?db=3");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ("/run/redis/redis.sock", a->socket_path);
  EXPECT_EQ(3, a->db);
}

TEST(RedisUrlTest, RejectsBadUrlsNamingTheProblemAndTheForm) {
  auto scheme = broker::ParseRedisUrl("http://localhost");
  ASSERT_FALSE(scheme.ok());
  EXPECT_HAS(scheme.status().message(), "unknown scheme");
  EXPECT_HAS(scheme.status().message(), "use redis://[:password@]host[:port][/db]");
  EXPECT_HAS(broker::ParseRedisUrl("redis://localhost:99999").status().message(),
             "port is not a number from 1 to 65535");
  EXPECT_HAS(broker::ParseRedisUrl("unix://relative.sock").status().message(),
             "socket path must be absolute");
  EXPECT_HAS(broker::ParseRedisUrl("rediss://localhost").status().message(), "no TLS support");
}

TEST(RedisConfigTest, TheSectionFillsTheWorkersRedisOptions) {
  auto config = worker::ParseConfig(
      R"({"redis": {"url": "redis://127.0.0.1:6379", "key_prefix": "app1",
                    "redispatch_after": "10s", "window": 500}})",
      "test.conf");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ("redis://127.0.0.1:6379", config->worker.redis.url);
  EXPECT_EQ("app1", config->worker.redis.key_prefix);
  EXPECT_EQ(std::chrono::seconds(10), config->worker.redis.redispatch_after);
  EXPECT_EQ(500, config->worker.redis.window);
}

TEST(RedisConfigTest, ThePasswordComesFromItsFileWithoutTheTrailingNewline) {
  std::string path = "/tmp/pgjobs-redis-password-" + std::to_string(getpid());
  std::ofstream(path) << "hunter2\n";
  auto config = worker::ParseConfig(
      R"({"redis": {"url": "redis://localhost", "password_file": ")" + path + "\"}}",
      "test.conf");
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ("hunter2", config->worker.redis.password);
}

TEST(RedisConfigTest, BadValuesNameTheField) {
  EXPECT_HAS(ParseError(R"({"redis": {"key_prefix": "x"}})"), "redis.url is missing");
  EXPECT_HAS(ParseError(R"({"redis": {"url": "redis://h", "password_file": "/nonexistent/pw"}})"),
             "redis.password_file /nonexistent/pw cannot be read");
  EXPECT_HAS(ParseError(R"({"redis": {"url": "redis://h", "window": 0}})"), "redis.window");
  EXPECT_HAS(ParseError(R"({"redis": {"url": "redis://h", "redispatch_after": "100ms"}})"),
             "redis.redispatch_after must be at least 1s");
  EXPECT_HAS(ParseError(R"({"redis": {"url": "redis://h", "key_prefx": "x"}})"),
             "did you mean \"key_prefix\"?");
}

}  // namespace
}  // namespace pgjobs
