// `pgjobs-bench enqueue`: no-op jobs through the public Client, either in
// bulk (EnqueueMany, --batch per call) or paced one at a time (Enqueue,
// --gap-ms apart, optionally stamped with the wall time for latency).
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "pgjobs/client.h"
#include "store/db_errors.h"

namespace pgjobs::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kTask = "noop";

JobRequest NoopJob(const std::string& queue) {
  JobRequest request;
  request.task = kTask;
  request.options.queue = queue;
  return request;
}

// All N jobs, B per EnqueueMany call; each call is its own transaction.
Status EnqueueBulk(Client& client, const std::string& queue, int64_t count, int batch) {
  const std::vector<JobRequest> full(static_cast<size_t>(batch), NoopJob(queue));
  for (int64_t done = 0; done < count;) {
    int64_t n = std::min<int64_t>(batch, count - done);
    auto ids = n == batch
                   ? client.EnqueueMany(full)
                   : client.EnqueueMany(std::vector<JobRequest>(full.begin(), full.begin() + n));
    if (!ids.ok()) return ids.status().WithContext("enqueue batch at job " + std::to_string(done));
    if (static_cast<int64_t>(ids->size()) != n) {
      return Status::Internal("EnqueueMany inserted " + std::to_string(ids->size()) + " of " +
                              std::to_string(n) + " jobs");
    }
    done += n;
  }
  return Status::Ok();
}

// One job per slot; slot i starts at start + i * gap (a steady schedule: a
// slow enqueue does not push the later ones back). Each call's own time (the
// INSERT and its commit, as the producer waits for it) goes to call_ms.
Status EnqueuePaced(Client& client, const std::string& queue, int64_t count, double gap_ms,
                    bool stamp, std::vector<double>& call_ms) {
  JobRequest request = NoopJob(queue);
  const auto gap = std::chrono::duration<double, std::milli>(gap_ms);
  const SteadyClock::time_point start = SteadyClock::now();
  for (int64_t i = 0; i < count; ++i) {
    auto slot = start + std::chrono::duration_cast<SteadyClock::duration>(gap * i);
    std::this_thread::sleep_until(slot);
    if (stamp) request.args_json = fmt::format("{{\"t\": {:.3f}}}", WallMs());
    const SteadyClock::time_point call_start = SteadyClock::now();
    auto id = client.Enqueue(request);
    if (!id.ok()) return id.status().WithContext("enqueue job " + std::to_string(i));
    call_ms.push_back(
        std::chrono::duration<double, std::milli>(SteadyClock::now() - call_start).count());
  }
  return Status::Ok();
}

}  // namespace

int RunEnqueue(const CommonFlags& flags, const EnqueueFlags& enqueue) {
  Status st = ValidateQueueName(flags.queue);
  if (!st.ok()) return Fail(st.WithContext("--queue"));
  st = CheckSchemaReady(flags);
  if (!st.ok()) return Fail(st);
  st = ApplyBroker(flags, /*needs_url=*/false);
  if (!st.ok()) return Fail(st);
  auto client = Client::Open(ClientOptions{flags.dsn, flags.schema});
  if (!client.ok()) return Fail(client.status());

  const SteadyClock::time_point start = SteadyClock::now();
  std::vector<double> call_ms;
  st = enqueue.paced() ? EnqueuePaced(**client, flags.queue, enqueue.count,
                                      enqueue.gap_ms.value_or(0), enqueue.stamp, call_ms)
                       : EnqueueBulk(**client, flags.queue, enqueue.count, enqueue.batch);
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (!st.ok()) return Fail(st);
  std::string calls;
  for (double ms : call_ms) calls += fmt::format("{}{:.3f}", calls.empty() ? "" : ", ", ms);
  std::printf("{\"enqueued\": %lld, \"seconds\": %.6f, \"call_ms\": [%s]}\n",
              static_cast<long long>(enqueue.count), seconds, calls.c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace pgjobs::bench
