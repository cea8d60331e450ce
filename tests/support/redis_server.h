// A throwaway redis-server for the Redis broker's tests: started by the test
// on a unix socket in a private directory (no TCP port), with persistence
// off, so that a restart after kill -9 starts empty, as a Redis that lost its
// data. Never a mock.
#ifndef PGJOBS_TESTS_SUPPORT_REDIS_SERVER_H_
#define PGJOBS_TESTS_SUPPORT_REDIS_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace pgjobs::testing {

class RedisServer {
 public:
  // Whether the tests can run: pgjobs built with Redis support and
  // /usr/bin/redis-server installed (tools/install-deps installs it).
  static bool Available();

  RedisServer();  // starts it; fails the test if it does not answer in 10 s
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string url() const { return "unix://" + socket_; }
  // SIGKILL; its data goes with it.
  void KillNine();
  // Starts it again (empty) after KillNine.
  void Start();
  // SIGSTOP / SIGCONT: the server is unreachable (connections hang) meanwhile.
  void Pause();
  void Resume();
  // redis-cli against it; its output, trimmed.
  std::string Cli(const std::vector<std::string>& args) const;

 private:
  std::string dir_;
  std::string socket_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_REDIS_SERVER_H_
