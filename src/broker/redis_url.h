// The address of the Redis broker's server, from the configuration's
// redis.url. Always built (the configuration is checked even without Redis
// support).
#ifndef PGJOBS_BROKER_REDIS_URL_H_
#define PGJOBS_BROKER_REDIS_URL_H_

#include <string>

#include "pgjobs/status.h"

namespace pgjobs::broker {

// Where Redis is: "redis://[:password@]host[:port][/db]" or
// "unix:///path/to/redis.sock[?db=N]".
struct RedisAddress {
  std::string host;  // empty for a socket
  int port = 6379;
  std::string socket_path;
  int db = 0;
  std::string password;  // from the URL, if any
};
Result<RedisAddress> ParseRedisUrl(const std::string& url);

}  // namespace pgjobs::broker

#endif  // PGJOBS_BROKER_REDIS_URL_H_
