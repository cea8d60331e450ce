// What the long-running subcommands (worker, scheduler) share: stop signals
// and systemd's readiness protocol.
#ifndef PGJOBS_CLI_DAEMON_H_
#define PGJOBS_CLI_DAEMON_H_

#include <atomic>
#include <functional>

namespace pgjobs::cli {

// Blocks SIGTERM and SIGINT in the calling thread; call before starting any
// thread so that all inherit the mask and only WatchStopSignals sees them.
void BlockStopSignals();

// Waits for SIGTERM/SIGINT until done is true, calling on_signal(n) for the
// n-th one received (1 = graceful stop, 2 = hard stop).
void WatchStopSignals(const std::function<void(int)>& on_signal, const std::atomic<bool>& done);

// systemd's sd_notify protocol written by hand: one datagram to
// $NOTIFY_SOCKET ("READY=1", "STOPPING=1"). A no-op outside systemd.
void NotifySystemd(const char* state);

}  // namespace pgjobs::cli

#endif  // PGJOBS_CLI_DAEMON_H_
