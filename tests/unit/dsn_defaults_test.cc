// The connection settings pgjobs adds to a DSN (no database needed).
#include <gtest/gtest.h>

#include "pg/connection.h"

namespace pgjobs::pg {
namespace {

TEST(DsnDefaultsTest, AKeywordDsnGetsTimeoutAndKeepalives) {
  EXPECT_EQ("dbname=app connect_timeout=10 keepalives_idle=20 keepalives_interval=10 "
            "keepalives_count=3 tcp_user_timeout=60000",
            WithDefaultConnectTimeout("dbname=app"));
}

TEST(DsnDefaultsTest, AUriDsnGetsThemAsQueryParameters) {
  EXPECT_EQ("postgresql://h/app?sslmode=require&connect_timeout=10&keepalives_idle=20&"
            "keepalives_interval=10&keepalives_count=3&tcp_user_timeout=60000",
            WithDefaultConnectTimeout("postgresql://h/app?sslmode=require"));
}

TEST(DsnDefaultsTest, SettingsTheDsnAlreadyHasAreLeftAlone) {
  std::string dsn = WithDefaultConnectTimeout("host=h connect_timeout=3 keepalives_idle=5");
  EXPECT_NE(std::string::npos, dsn.find("connect_timeout=3"));
  EXPECT_EQ(std::string::npos, dsn.find("connect_timeout=10"));
  EXPECT_EQ(std::string::npos, dsn.find("keepalives_idle=20"));
  EXPECT_NE(std::string::npos, dsn.find("keepalives_count=3"));
}

TEST(DsnDefaultsTest, AnEmptyDsnKeepsLibpqDefaultsForTheRest) {
  EXPECT_EQ(0u, WithDefaultConnectTimeout("").find("connect_timeout=10 "));
}

}  // namespace
}  // namespace pgjobs::pg
