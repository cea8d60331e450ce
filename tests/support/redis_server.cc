#include "tests/support/redis_server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

namespace pgjobs::testing {
namespace {

constexpr const char* kServer = "/usr/bin/redis-server";
constexpr const char* kCli = "/usr/bin/redis-cli";

}  // namespace

bool RedisServer::Available() {
#ifdef PGJOBS_WITH_REDIS
  return access(kServer, X_OK) == 0 && access(kCli, X_OK) == 0;
#else
  return false;
#endif
}

RedisServer::RedisServer() {
  char tmpl[] = "/tmp/pgjobs-redis.XXXXXX";
  char* made = mkdtemp(tmpl);
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = made;
  socket_ = dir_ + "/redis.sock";
  Start();
}

RedisServer::~RedisServer() {
  process_.reset();  // SIGKILL and reap
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void RedisServer::Start() {
  std::filesystem::remove(socket_);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kServer, "--port", "0", "--unixsocket", socket_,
                               "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                               "--dir", dir_, "--daemonize", "no"},
      dir_ + "/redis.log");
  for (int i = 0; i < 200; ++i) {
    if (Cli({"PING"}) == "PONG") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "redis-server did not answer on " << socket_ << " within 10 s";
}

void RedisServer::KillNine() {
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

void RedisServer::Pause() { process_->Signal(SIGSTOP); }
void RedisServer::Resume() { process_->Signal(SIGCONT); }

std::string RedisServer::Cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kCli, "-s", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  auto [status, out] = RunToEnd(argv, std::chrono::seconds(5));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  return status == 0 ? out : "";
}

}  // namespace pgjobs::testing
