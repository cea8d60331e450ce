#include "broker/redis_client.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>


namespace pgjobs::broker {
namespace {

// hiredis writes with write(): to a Redis that died, that raises SIGPIPE,
// which would end the process. As process_launch.cc does for pipes, the
// calling thread blocks SIGPIPE around the I/O and consumes a SIGPIPE the
// I/O raised before restoring its mask; the process' disposition (a
// library's caller owns it) is left alone.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

RedisClient::RedisClient(RedisAddress address, std::string password,
                         std::chrono::milliseconds timeout)
    : address_(std::move(address)), password_(std::move(password)), timeout_(timeout) {
  if (password_.empty()) password_ = address_.password;
}

RedisClient::~RedisClient() { Disconnect(); }

void RedisClient::Disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisClient::Fail(const std::string& what) {
  std::string why = ctx_ != nullptr && ctx_->errstr[0] != '\0' ? ctx_->errstr : "no reply";
  Disconnect();
  return Status::Unavailable("redis " + what + ": " + why);
}

void RedisClient::SetTimeout(std::chrono::milliseconds t) {
  if (ctx_ != nullptr) redisSetTimeout(ctx_, ToTimeval(t));
}

Status RedisClient::EnsureConnected() {
  if (ctx_ != nullptr) return Status::Ok();
  std::string where;
  if (!address_.socket_path.empty()) {
    ctx_ = redisConnectUnixWithTimeout(address_.socket_path.c_str(), ToTimeval(timeout_));
    where = address_.socket_path;
  } else {
    ctx_ = redisConnectWithTimeout(address_.host.c_str(), address_.port, ToTimeval(timeout_));
    where = address_.host + ":" + std::to_string(address_.port);
  }
  if (ctx_ == nullptr) return Status::Unavailable("redis connect " + where + ": out of memory");
  if (ctx_->err != 0) return Fail("connect " + where);
  SetTimeout(timeout_);
  if (!password_.empty()) {
    auto r = Command({"AUTH", password_});
    if (!r.ok()) return r.status();
    if (r->is_error()) {
      Disconnect();
      return Status::Unavailable("redis at " + where + " refused the password: " + r->str);
    }
  }
  if (address_.db != 0) {
    auto r = Command({"SELECT", std::to_string(address_.db)});
    if (!r.ok()) return r.status();
    if (r->is_error()) {
      Disconnect();
      return Status::InvalidArgument("redis SELECT " + std::to_string(address_.db) + ": " + r->str);
    }
  }
  connect_count_++;
  return Status::Ok();
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) {
  auto replies = Pipeline({argv});
  if (!replies.ok()) return replies.status();
  return std::move((*replies)[0]);
}

Result<RedisReply> RedisClient::BlockingCommand(const std::vector<std::string>& argv,
                                                std::chrono::milliseconds wait) {
  PGJOBS_RETURN_IF_ERROR(EnsureConnected());
  SetTimeout(timeout_ + wait);
  auto reply = Command(argv);
  SetTimeout(timeout_);
  return reply;
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  PGJOBS_RETURN_IF_ERROR(EnsureConnected());
  SigpipeGuard no_sigpipe;
  for (const auto& argv : commands) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const std::string& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()) !=
        REDIS_OK) {
      return Fail("send " + argv[0]);
    }
  }
  std::vector<RedisReply> out;
  out.reserve(commands.size());
  for (const auto& argv : commands) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return Fail(argv[0]);
    auto* reply = static_cast<redisReply*>(raw);
    out.push_back(Convert(reply));
    freeReplyObject(reply);
  }
  return out;
}

}  // namespace pgjobs::broker
