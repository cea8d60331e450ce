// A condition variable with its flag: how every background loop sleeps so
// that Stop (or new work) wakes it at once.
#ifndef PGJOBS_COMMON_WAKER_H_
#define PGJOBS_COMMON_WAKER_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace pgjobs {

class Waker {
 public:
  void Wake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  // Sleeps until Wake() or the deadline; returns true if woken. Clears the flag.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    bool woken = cv_.wait_until(lock, deadline, [&] { return woken_; });
    woken_ = false;
    return woken;
  }
  bool WaitFor(std::chrono::milliseconds d) {
    return WaitUntil(std::chrono::steady_clock::now() + d);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
};

// Jittered exponential backoff for reconnecting: 100 ms doubling to 5 s.
class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::milliseconds(100),
                   std::chrono::milliseconds max = std::chrono::seconds(5))
      : initial_(initial), max_(max), next_(initial) {}
  // The delay to wait now; each call doubles the next one up to max.
  std::chrono::milliseconds Next();
  void Reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
};

// Uniform in [lo, hi], from a thread-local generator.
double RandomBetween(double lo, double hi);

}  // namespace pgjobs

#endif  // PGJOBS_COMMON_WAKER_H_
