// Names of the Redis broker's keys. Each queue has one stream per priority
// (0-9), "<prefix>:<queue>:<priority>", read from 9 down to 0, so that a
// job of priority 9 is read before any job of a lower priority already in
// the streams. One consumer group, "pgjobs", per stream; each worker is a
// consumer named by its worker id. An entry holds one field, "id": the job.
#ifndef PGJOBS_BROKER_REDIS_KEYS_H_
#define PGJOBS_BROKER_REDIS_KEYS_H_

#include <string>
#include <vector>

namespace pgjobs::broker {

inline constexpr const char* kGroup = "pgjobs";
inline constexpr int kPriorities = 10;

inline std::string StreamKey(const std::string& prefix, const std::string& queue, int priority) {
  return prefix + ":" + queue + ":" + std::to_string(priority);
}

// The queue's streams, priority 9 first.
inline std::vector<std::string> StreamKeys(const std::string& prefix, const std::string& queue) {
  std::vector<std::string> keys;
  for (int p = kPriorities - 1; p >= 0; --p) keys.push_back(StreamKey(prefix, queue, p));
  return keys;
}

}  // namespace pgjobs::broker

#endif  // PGJOBS_BROKER_REDIS_KEYS_H_
