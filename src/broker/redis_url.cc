#include "broker/redis_url.h"

#include <cstdlib>

namespace pgjobs::broker {
namespace {

bool ParseInt(const std::string& s, int lo, int hi, int& out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  out = std::atoi(s.c_str());
  return out >= lo && out <= hi;
}

const char* kUrlHelp =
    "; use redis://[:password@]host[:port][/db] or unix:///path/to/redis.sock[?db=N]";

}  // namespace

Result<RedisAddress> ParseRedisUrl(const std::string& url) {
  RedisAddress a;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("redis.url \"" + url + "\": " + why + kUrlHelp);
  };
  if (url.rfind("unix://", 0) == 0) {
    std::string rest = url.substr(7);
    size_t q = rest.find('?');
    a.socket_path = rest.substr(0, q);
    if (a.socket_path.empty() || a.socket_path[0] != '/') {
      return bad("the socket path must be absolute");
    }
    if (q != std::string::npos) {
      std::string query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0 || !ParseInt(query.substr(3), 0, 1000, a.db)) {
        return bad("the only query parameter is db=N");
      }
    }
    return a;
  }
  if (url.rfind("rediss://", 0) == 0) {
    return bad("TLS (rediss://) is not available: Debian's hiredis 0.14 has no TLS support");
  }
  if (url.rfind("redis://", 0) != 0) return bad("unknown scheme");
  std::string rest = url.substr(8);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos && slash + 1 < rest.size()) {
    if (!ParseInt(rest.substr(slash + 1), 0, 1000, a.db)) return bad("the database is not a number");
  }
  size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    std::string user_info = authority.substr(0, at);
    size_t colon = user_info.find(':');
    a.password = colon == std::string::npos ? user_info : user_info.substr(colon + 1);
    authority = authority.substr(at + 1);
  }
  size_t colon = authority.rfind(':');
  a.host = authority.substr(0, colon);
  if (colon != std::string::npos && !ParseInt(authority.substr(colon + 1), 1, 65535, a.port)) {
    return bad("the port is not a number from 1 to 65535");
  }
  if (a.host.empty()) return bad("no host");
  return a;
}

}  // namespace pgjobs::broker
