#include "common/waker.h"

#include <algorithm>
#include <random>

namespace pgjobs {

double RandomBetween(double lo, double hi) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

std::chrono::milliseconds Backoff::Next() {
  auto current = next_;
  next_ = std::min(max_, next_ * 2);
  // Full jitter between half and all of the delay: reconnecting workers spread out.
  double ms = RandomBetween(static_cast<double>(current.count()) / 2,
                            static_cast<double>(current.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace pgjobs
