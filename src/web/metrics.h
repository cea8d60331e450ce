// /metrics: the Prometheus text exposition format, from the database.
// Gauges (jobs waiting and running, oldest wait, paused queues, workers,
// schedules, the leader) are read at every scrape with a few cheap
// statements; counters and histograms of finished jobs are kept here and
// brought up to date at every scrape with the jobs that finished since the
// previous one (metrics_finished in sql/web.sql), so history is read in full
// once, by Prime at start, and never again. Names are documented in the
// README ("Metrics").
#ifndef PGJOBS_WEB_METRICS_H_
#define PGJOBS_WEB_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"
#include "pgjobs/status.h"

namespace pgjobs::web {

// Upper bounds of the run-time and wait-time histograms, in seconds.
inline constexpr std::array<double, 15> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25,  0.5, 1,
                                                    2.5,   5,    10,    30,   60,   300,   3600};

class Metrics {
 public:
  // settle_seconds: how long after its finish a job is counted (a completion
  // commits a moment after its finished_at).
  explicit Metrics(double settle_seconds = 10) : settle_seconds_(settle_seconds) {}
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Reads history up to now (the one full read); call before serving.
  Status Prime(pg::Connection& conn, const SqlCatalog& catalog);
  // The exposition text. Thread-safe.
  Result<std::string> Render(pg::Connection& conn, const SqlCatalog& catalog);

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size() + 1> by_bucket{};  // width_bucket 0..n
    double sum = 0;
    uint64_t count = 0;
  };
  using QueueTask = std::pair<std::string, std::string>;
  struct Counts {
    uint64_t succeeded = 0, failed = 0, cancelled = 0, retried = 0;
  };
  // Adds what finished since upto_. Caller holds mu_.
  Status Update(pg::Connection& conn, const SqlCatalog& catalog);
  std::string RenderCounters() const;

  const double settle_seconds_;
  std::mutex mu_;
  std::optional<std::string> upto_;  // guarded by mu_
  std::map<QueueTask, Counts> counts_;     // guarded by mu_
  std::map<QueueTask, Histogram> run_;     // guarded by mu_
  std::map<QueueTask, Histogram> wait_;    // guarded by mu_
};

// A label value escaped for the exposition format (\\, \", \n).
std::string LabelValue(const std::string& value);

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_METRICS_H_
