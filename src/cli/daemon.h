// What the long-running subcommands (worker, scheduler) share: stop signals
// and systemd's readiness protocol.
#ifndef PGJOBS_CLI_DAEMON_H_
#define PGJOBS_CLI_DAEMON_H_

#include <atomic>
#include <chrono>
#include <functional>

#include "pgjobs/status.h"

namespace pgjobs::cli {

// Blocks SIGTERM and SIGINT in the calling thread; call before starting any
// thread so that all inherit the mask and only WatchStopSignals sees them.
void BlockStopSignals();

// Exit status of a daemon whose database is reachable but not set up (the
// schema is not migrated): systemd's units do not restart on it
// (RestartPreventExitStatus=), since only `pgjobs migrate` can fix it.
inline constexpr int kExitNotMigrated = 5;

// Reports a failed start on stderr and returns the exit status: 5 for a
// schema that is not migrated, as Fail() otherwise.
int FailStart(const Status& status);

// Waits for SIGTERM/SIGINT until done is true, calling on_signal(n) for the
// n-th one received (1 = graceful stop, 2 = hard stop). Under systemd's
// watchdog (WATCHDOG_USEC) it also sends WATCHDOG=1 every half period;
// healthy, when given, is asked first, and no ping is sent while it says
// false, so that systemd restarts a process that stays unhealthy for
// WatchdogSec.
void WatchStopSignals(const std::function<void(int)>& on_signal, const std::atomic<bool>& done,
                      const std::function<bool()>& healthy = nullptr);

// systemd's sd_notify protocol written by hand: one datagram to
// $NOTIFY_SOCKET ("READY=1", "STOPPING=1", "WATCHDOG=1"). A no-op outside
// systemd.
void NotifySystemd(const char* state);

// How often systemd wants WATCHDOG=1: half of $WATCHDOG_USEC when it is set
// for this process ($WATCHDOG_PID, when set, is our pid), zero otherwise.
std::chrono::microseconds WatchdogInterval();

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_DAEMON_H_
