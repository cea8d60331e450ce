// A small synchronous Redis client over hiredis: the only code that touches
// hiredis (DESIGN.md, "broker/redis"). A RedisClient belongs to one thread at
// a time, connects lazily, and reports a broken connection as Unavailable;
// the next call reconnects (callers back off).
#ifndef PGJOBS_BROKER_REDIS_CLIENT_H_
#define PGJOBS_BROKER_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/redis_url.h"
#include "pgjobs/status.h"

struct redisContext;

namespace pgjobs::broker {

// One reply, as a tree. Errors from the server are kError with their text.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;
  int64_t integer = 0;
  std::vector<RedisReply> elements;
  bool is_error() const { return type == Type::kError; }
};

class RedisClient {
 public:
  // password (if not empty) overrides the URL's; timeout bounds connecting
  // and every reply (a blocking read passes a longer one).
  RedisClient(RedisAddress address, std::string password, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  Status EnsureConnected();
  void Disconnect();
  bool connected() const { return ctx_ != nullptr; }
  // Number of successful connects so far.
  int connect_count() const { return connect_count_; }

  // One command. A server error is a reply of type kError, not a failed
  // Result; a failed Result means the connection broke (it is dropped).
  Result<RedisReply> Command(const std::vector<std::string>& argv);
  // A command whose reply may take up to `wait` (XREADGROUP BLOCK).
  Result<RedisReply> BlockingCommand(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds wait);
  // Several commands in one round trip; the replies in order.
  Result<std::vector<RedisReply>> Pipeline(const std::vector<std::vector<std::string>>& commands);

 private:
  Status Fail(const std::string& what);
  void SetTimeout(std::chrono::milliseconds t);

  RedisAddress address_;
  std::string password_;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
  int connect_count_ = 0;
};

}  // namespace pgjobs::broker

#endif  // PGJOBS_BROKER_REDIS_CLIENT_H_
