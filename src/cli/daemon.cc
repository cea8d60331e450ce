#include "cli/daemon.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/cli_common.h"

namespace pgjobs::cli {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockStopSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int FailStart(const Status& status) {
  int code = Fail(status);
  // Not migrated, or no right on the schema: restarting will not help.
  return status.code() == Status::Code::kFailedPrecondition ||
                 status.code() == Status::Code::kPermissionDenied
             ? kExitNotMigrated
             : code;
}

void WatchStopSignals(const std::function<void(int)>& on_signal, const std::atomic<bool>& done,
                      const std::function<bool()>& healthy) {
  using Clock = std::chrono::steady_clock;
  sigset_t set = StopSignals();
  const std::chrono::microseconds watchdog = WatchdogInterval();
  auto next_ping = Clock::now();
  auto wait = std::chrono::microseconds(100 * 1000);
  if (watchdog.count() > 0 && watchdog < wait) wait = watchdog;
  const timespec tick{static_cast<time_t>(wait.count() / 1000000),
                      static_cast<long>(wait.count() % 1000000) * 1000};
  int received = 0;
  while (!done.load()) {
    if (watchdog.count() > 0 && Clock::now() >= next_ping) {
      if (!healthy || healthy()) NotifySystemd("WATCHDOG=1");
      next_ping = Clock::now() + watchdog;
    }
    if (sigtimedwait(&set, nullptr, &tick) > 0) on_signal(++received);
  }
}

std::chrono::microseconds WatchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::chrono::microseconds(0);
  const char* pid = std::getenv("WATCHDOG_PID");
  if (pid != nullptr && std::strtoll(pid, nullptr, 10) != static_cast<long long>(getpid())) {
    return std::chrono::microseconds(0);
  }
  long long value = std::strtoll(usec, nullptr, 10);
  return std::chrono::microseconds(value > 0 ? value / 2 : 0);
}

void NotifySystemd(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path));
  (void)sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
               len);
  close(fd);
}

}  // namespace pgjobs::cli
