// `pgjobs queues set Q --broker postgres|redis` (README, "Redis broker").
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "broker/broker.h"
#include "tests/e2e/cli_run.h"
#include "tests/support/expect_has.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

class RedisBrokerCliTest : public ::testing::Test {
 protected:
  testing::CliRun Run(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", schema_.name()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(dir_, all);
  }
  std::string Broker(const std::string& queue) {
    return testing::QueryValue(schema_.dsn(), "SELECT broker FROM " + schema_.name() +
                                                  ".queues WHERE name = '" + queue + "'");
  }
  testing::TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-broker-cli"};
  const std::string dir_ = tmp_.path();
};

TEST_F(RedisBrokerCliTest, SetsTheBrokerOfAQueueAndBack) {
  if (!broker::RedisSupported()) GTEST_SKIP() << "built without Redis support";
  auto set = Run({"queues", "set", "hooks", "--broker", "redis", "--create"});
  ASSERT_EQ(0, set.rc) << set.err;
  EXPECT_HAS(set.out, "queue hooks: broker redis");
  EXPECT_EQ("redis", Broker("hooks"));
  auto back = Run({"queues", "set", "hooks", "--broker", "postgres"});
  ASSERT_EQ(0, back.rc) << back.err;
  EXPECT_EQ("postgres", Broker("hooks"));
}

TEST_F(RedisBrokerCliTest, AnUnknownBrokerIsRefusedNamingTheChoices) {
  auto bad = Run({"queues", "set", "hooks", "--broker", "rabbitmq", "--create"});
  EXPECT_NE(0, bad.rc);
  EXPECT_HAS(bad.err, "--broker \"rabbitmq\" is not postgres or redis");
  EXPECT_EQ("", Broker("hooks"));
}

TEST_F(RedisBrokerCliTest, WithoutRedisSupportTheErrorNamesTheMissingBuildFeature) {
  if (broker::RedisSupported()) GTEST_SKIP() << "this build has Redis support";
  auto bad = Run({"queues", "set", "hooks", "--broker", "redis", "--create"});
  EXPECT_NE(0, bad.rc);
  EXPECT_HAS(bad.err, "built without Redis support (hiredis was not found at build time)");
}

}  // namespace
}  // namespace pgjobs
