// Records when each handler started, cheaply enough to call at the top of a
// no-op handler on every executor thread: slots are allocated up front and
// claimed with one atomic increment, no lock.
#ifndef PGJOBS_TOOLS_BENCH_BENCH_RECORDER_H_
#define PGJOBS_TOOLS_BENCH_BENCH_RECORDER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace pgjobs::bench {

class StartRecorder {
 public:
  // Room for `capacity` starts; later ones are counted but not kept.
  explicit StartRecorder(size_t capacity);
  StartRecorder(const StartRecorder&) = delete;
  StartRecorder& operator=(const StartRecorder&) = delete;

  // Thread-safe. start_ms: wall ms at the top of the handler; args_json: the
  // job's args, whose "t" (the enqueue stamp) is kept when present. Returns
  // how many starts have been recorded, this one included.
  int64_t Record(double start_ms, const std::string& args_json);

  // Only once every Record call has returned (the worker has stopped).
  // {"count": count, "first_start_ms": F, "last_end_ms": last_end_ms, "max_rss_kb": peak RSS,
  //  "latencies_ms": [start - t for each stamped job]}
  std::string ResultJson(int64_t count, double last_end_ms) const;
  int64_t recorded() const { return next_.load(std::memory_order_relaxed); }

 private:
  struct Sample {
    double start_ms;
    double stamp_ms;  // NaN when the job had no "t"
  };
  std::vector<Sample> samples_;
  std::atomic<int64_t> next_{0};
};

// The number after "t": in a JSON object text, NaN when there is none. Not a
// JSON parser: enough for the flat {"t": 1.5} the bench enqueues.
double ParseStamp(const std::string& args_json);

}  // namespace pgjobs::bench

#endif  // PGJOBS_TOOLS_BENCH_BENCH_RECORDER_H_
