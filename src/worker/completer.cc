#include "worker/completer.h"

#include <algorithm>
#include <unordered_map>

namespace pgjobs::worker {

using Clock = std::chrono::steady_clock;

Completer::Writer::Writer(const WorkerCore& core, bool full_batches_only)
    : conn(core.options.dsn, &core.catalog, "pgjobs worker completer"),
      full_batches_only(full_batches_only) {}

Completer::Completer(WorkerCore& core, std::function<void(const std::string&, double)> on_retry)
    : core_(core),
      on_retry_(std::move(on_retry)),
      first_(core, /*full_batches_only=*/false),
      helper_(core, /*full_batches_only=*/true) {}

Completer::~Completer() { Stop(std::chrono::milliseconds(0)); }

void Completer::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
  }
  first_.thread = std::thread([this] { Run(first_); });
  helper_.thread = std::thread([this] { Run(helper_); });
}

void Completer::Stop(std::chrono::milliseconds give_up) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    give_up_at_ = Clock::now() + give_up;
  }
  for (Writer* writer : {&first_, &helper_}) {
    writer->waker.Wake();
    writer->thread.join();
  }
}

void Completer::Add(store::Completion completion, std::string queue) {
  size_t n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(Item{std::move(completion), std::move(queue)});
    n = pending_.size();
  }
  // A full batch is written at once; a smaller one waits completion_flush.
  if (n >= static_cast<size_t>(core_.options.completion_batch)) {
    first_.waker.Wake();
    helper_.waker.Wake();
  }
}

size_t Completer::backlog() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void Completer::Run(Writer& writer) {
  const auto batch_size = static_cast<size_t>(core_.options.completion_batch);
  Backoff backoff;
  std::vector<Item> batch;
  while (true) {
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
      size_t take = std::min(pending_.size(), batch_size - batch.size());
      // The helper starts only on a full batch, and leaves the rest to the
      // first writer, which gathers them for completion_flush.
      if (writer.full_batches_only && batch.empty() && pending_.size() < batch_size) take = 0;
      std::move(pending_.begin(), pending_.begin() + static_cast<long>(take),
                std::back_inserter(batch));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(take));
    }
    if (batch.empty()) {
      if (stopping) return;
      writer.waker.WaitFor(std::chrono::milliseconds(50));
      continue;
    }
    if (Flush(writer.conn, batch)) {
      batch.clear();
      backoff.Reset();
      // Let more outcomes gather unless there is a full batch already.
      if (!writer.full_batches_only && backlog() < batch_size && !stopping) {
        writer.waker.WaitFor(core_.options.completion_flush);
      }
      continue;
    }
    if (stopping && Clock::now() >= give_up_at_) {
      // Each writer tells of its own batch; the first also of what waits.
      core_.log->warn(
          "could not write {} job outcomes before stopping; their leases will "
          "expire and the jobs will run again",
          batch.size() + (writer.full_batches_only ? 0 : backlog()));
      return;
    }
    writer.waker.WaitFor(backoff.Next());
  }
}

bool Completer::Flush(pg::Connection& conn, std::vector<Item>& batch) {
  std::vector<store::Completion> completions;
  completions.reserve(batch.size());
  for (const Item& item : batch) completions.push_back(item.completion);
  // Re-running a batch whose commit outcome is unknown is safe: every row is
  // fenced on (id, attempt, owner, running), so rows already written match
  // nothing the second time.
  auto result = store::Complete(conn, core_.options.worker_id, completions);
  if (!result.ok()) {
    core_.log->warn("writing job outcomes failed, will retry: {} count={}",
                    result.status().message(), batch.size());
    return false;
  }
  Account(batch, *result);
  return true;
}

void Completer::Account(const std::vector<Item>& batch, const store::CompleteResult& result) {
  std::unordered_map<store::JobKey, const Item*, store::JobKeyHash> by_key;
  for (const Item& item : batch) by_key[{item.completion.id, item.completion.token}] = &item;
  int64_t succeeded = 0;
  for (const store::JobKey& key : result.finished) {
    succeeded += by_key[key]->completion.outcome == store::Outcome::kSucceeded;
  }
  core_.counters.succeeded += succeeded;
  core_.counters.failed += static_cast<int64_t>(result.finished.size()) - succeeded;
  core_.tracker.RemoveAll(result.finished);
  for (const store::JobKey& key : result.retried) {
    const Item* item = by_key[key];
    core_.counters.retried++;
    core_.tracker.Remove(key);
    on_retry_(item->queue, item->completion.retry_in_seconds);
  }
  for (const store::JobKey& key : result.fenced_out) {
    core_.counters.lost++;
    core_.tracker.Remove(key);
    core_.log->warn("dropped a late result: the job's claim was lost (it was rescued or given "
                    "back) job_id={} attempt={}",
                    key.id, by_key[key]->completion.attempt);
  }
  // Only now, with the outcomes committed, are their broker deliveries acknowledged.
  if (core_.broker != nullptr) {
    std::vector<store::JobKey> settled = result.finished;
    settled.insert(settled.end(), result.retried.begin(), result.retried.end());
    settled.insert(settled.end(), result.fenced_out.begin(), result.fenced_out.end());
    core_.broker->Settled(settled);
  }
}

}  // namespace pgjobs::worker
