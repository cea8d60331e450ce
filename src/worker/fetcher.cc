#include "worker/fetcher.h"

#include "store/job_store.h"

namespace pgjobs::worker {
namespace {

// See Fetcher::UpdateIdleMark.
constexpr auto kRecheckAfterIdle = std::chrono::milliseconds(50);
// How soon a worker held back by a queue's concurrency limit looks again: a
// place freed by another worker's job is found by this poll (its own jobs
// wake it when they end).
constexpr auto kLimitedRecheck = std::chrono::milliseconds(200);
// How long claims start from where the previous ones ended before one starts
// from the head of the queue again (jobs given back, or enqueued with an
// earlier run_at, wait at most this long for their turn).
constexpr auto kCursorLifetime = std::chrono::seconds(1);
// How soon a worker whose completer is behind looks again (in memory only).
constexpr auto kOutcomesRecheck = std::chrono::milliseconds(10);

}  // namespace

Fetcher::Fetcher(WorkerCore& core, ExecutorPool& pool)
    : core_(core), pool_(pool), conn_(core.options.dsn, &core.catalog, "pgjobs worker fetcher") {
  // Claims commit without waiting for the WAL flush: a claim lost in a
  // database crash leaves its jobs pending (to be claimed again), and this
  // worker's late results for them are fenced out, so nothing runs less than
  // once. It saves an fsync per claim. The generic plan of the claim (index
  // scans) is as good as a custom one and saves planning on every call. The
  // statement timeout bounds how late a claim that began before a queue got
  // a concurrency limit can land (migration 0021 counts such claims for a
  // minute after the limit is set); a claim that times out is retried.
  conn_.SetSessionSql(
      "SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan; "
      "SET statement_timeout = '20s'");
  for (const auto& [queue, concurrency] : core_.options.queues) queues_[queue] = QueueState{};
}

Fetcher::~Fetcher() { Stop(); }

void Fetcher::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Fetcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  waker_.Wake();
  if (thread_.joinable()) thread_.join();
}

void Fetcher::Wake(const std::string& queue) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(queue);
    if (it == queues_.end()) return;
    it->second.due = true;
    it->second.wakes++;
  }
  waker_.Wake();
}

void Fetcher::Notified(const std::string& queue) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(queue);
    if (it == queues_.end()) return;
    // The wake-up took this worker's idle row, if it had one.
    QueueState& state = it->second;
    if (state.idle_marked) state.idle_unknown = true;
    state.idle_marked = false;
    state.mark_changes++;
  }
  Wake(queue);
}

void Fetcher::WakeAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [queue, state] : queues_) {
      state.due = true;
      state.wakes++;
      state.idle_marked = false;
      state.idle_unknown = true;  // written again by the next claim
      state.mark_changes++;
    }
  }
  waker_.Wake();
}

void Fetcher::WakeIn(const std::string& queue, double seconds) {
  auto at = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(queue);
    if (it == queues_.end()) return;
    if (at < it->second.next_check) it->second.next_check = at;
    it->second.retry_ready_at = std::min(it->second.retry_ready_at, at);
    it->second.wakes++;
  }
  waker_.Wake();
}

Fetcher::Clock::time_point Fetcher::NextDeadline() {
  std::lock_guard<std::mutex> lock(mu_);
  Clock::time_point next = Clock::now() + core_.options.poll_interval;
  for (const auto& [queue, state] : queues_) next = std::min(next, state.next_check);
  return next;
}

void Fetcher::Run() {
  Backoff backoff;
  while (true) {
    std::vector<std::string> due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      Clock::time_point now = Clock::now();
      for (auto& [queue, state] : queues_) {
        if (state.due || state.next_check <= now) due.push_back(queue);
      }
    }
    bool failed = false;
    for (const std::string& queue : due) {
      if (!ClaimFor(queue)) {
        failed = true;
        break;
      }
    }
    if (failed) {
      waker_.WaitFor(backoff.Next());
      continue;
    }
    backoff.Reset();
    waker_.WaitUntil(NextDeadline());
  }
}

uint64_t Fetcher::Wakes(const std::string& queue) {
  std::lock_guard<std::mutex> lock(mu_);
  return queues_[queue].wakes;
}

bool Fetcher::ClaimFor(const std::string& queue) {
  uint64_t wakes = Wakes(queue);
  int want = pool_.ClaimSize(queue);
  if (want == 0) {
    // No room: claimed from again when a slot frees (which wakes the queue).
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    if (state.wakes == wakes) {
      state.due = false;
      state.next_check = Clock::now() + core_.options.poll_interval;
    }
    return true;
  }
  const auto batch = static_cast<size_t>(core_.options.completion_batch);
  if (core_.outcomes_waiting && core_.outcomes_waiting() > 2 * batch) {
    // Jobs run faster than their outcomes are written: claiming on would
    // pile up jobs that ran but still count as running (each renewed by
    // every heartbeat, each rescued and run again if this worker dies) and
    // the memory their outcomes take. Claim again once the completer is
    // down to two batches.
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    if (state.wakes == wakes) {
      state.due = false;
      state.next_check = Clock::now() + kOutcomesRecheck;
    }
    return true;
  }
  ClaimOutcome outcome;
  // The lease starts when the database runs the claim, never before this.
  const Clock::time_point claim_started = Clock::now();
  Clock::time_point lease_until = claim_started + core_.options.lease;
  auto jobs = ClaimJobs(queue, want, outcome);
  if (!jobs.ok()) {
    core_.claim_unsure_at = Clock::now().time_since_epoch().count();
    core_.log->warn("claiming jobs failed, will retry: {}", jobs.status().message());
    return false;
  }
  core_.counters.claimed += static_cast<int64_t>(jobs->size());
  outcome.got_all = static_cast<int>(jobs->size()) == want;
  pool_.PushAll(core_.tracker.AddAll(std::move(*jobs), lease_until));
  // Held back by a limit is not idle: no NOTIFY would let it claim sooner.
  UpdateIdleMark(queue, outcome.got_all || outcome.held_back_for.has_value());
  AfterClaim(queue, wakes, claim_started, outcome);
  return true;
}

Result<std::vector<store::ClaimedJob>> Fetcher::ClaimJobs(const std::string& queue, int want,
                                                          ClaimOutcome& outcome) {
  if (core_.broker != nullptr && core_.broker->Carries(queue)) {
    return core_.broker->Claim(conn_, queue, want);
  }
  bool limited;
  std::vector<store::ClaimCursor> cursors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    limited = state.limited;
    if (Clock::now() - state.cursors_since > kCursorLifetime) {
      state.cursors.clear();
      state.cursors_since = Clock::now();
    }
    for (const auto& [key, at] : state.cursors) {
      cursors.push_back({key.first, key.second, at.first, at.second});
    }
  }
  // The jobs beyond the free slots wait in memory: claimed ahead, so that a
  // crash of this worker does not count them an attempt (sql/jobs.sql, claim).
  const int start_now = pool_.FreeSlots(queue);
  if (!limited) {
    auto jobs = store::Claim(conn_, queue, core_.tasks_literal, want, core_.options.worker_id,
                             core_.lease_seconds(), cursors, start_now);
    if (jobs.ok() && !jobs->empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto& kept = queues_[queue].cursors;
      for (const store::ClaimedJob& j : *jobs) {
        auto& at = kept[{j.task, j.priority}];
        at = std::max(at, std::make_pair(j.run_at_us, j.id));
      }
    }
    return jobs;
  }
  auto claim = store::ClaimLimited(conn_, queue, core_.tasks_literal, want,
                                   core_.options.worker_id, core_.lease_seconds(), start_now);
  if (!claim.ok()) return claim.status();
  if (!claim->limited) {
    core_.log->info("queue {} has no global limit any more: plain claims", queue);
    std::lock_guard<std::mutex> lock(mu_);
    queues_[queue].limited = false;
    queues_[queue].due = true;
    queues_[queue].wakes++;  // AfterClaim leaves a woken queue due: claim again at once
  } else if (claim->allowed < want && static_cast<int>(claim->jobs.size()) >= claim->allowed) {
    // The limit, not a lack of jobs, cut the claim (fewer jobs than allowed
    // means the queue ran dry: then the worker waits as idle, woken by NOTIFY).
    outcome.held_back_for = kLimitedRecheck;
    if (claim->retry_in_seconds) {
      outcome.held_back_for = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(*claim->retry_in_seconds));
    }
  }
  return std::move(claim->jobs);
}

void Fetcher::UpdateIdleMark(const std::string& queue, bool got_all) {
  uint64_t changes = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const QueueState& state = queues_[queue];
    if (!state.idle_unknown && state.idle_marked != got_all) return;  // no change
    changes = state.mark_changes;
  }
  // Enqueues NOTIFY only while some worker is idle on their queue (migration
  // 0007). A full claim means busy: this worker claims again without a NOTIFY.
  Status st = store::MarkIdle(conn_, queue, core_.options.worker_id, !got_all);
  if (!st.ok()) {
    // Written again at the next claim (a busy mark that failed may have
    // cleared the queue's bit in idle_gate while the row stayed); meanwhile
    // the poll finds new jobs.
    core_.log->warn("{}", st.message());
    std::lock_guard<std::mutex> lock(mu_);
    queues_[queue].idle_unknown = true;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueueState& state = queues_[queue];
    // A wake-up since the mark was read may or may not have taken the row
    // just written: then the next claim writes the mark again.
    state.idle_marked = !got_all && state.mark_changes == changes;
    state.idle_unknown = state.mark_changes != changes;
  }
  if (got_all) return;
  // A job committed just before the mark sent no NOTIFY: claim once more now,
  // and once after commits in flight meanwhile have landed.
  {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[queue].recheck_at = Clock::now() + kRecheckAfterIdle;
  }
  Wake(queue);
}

void Fetcher::AfterClaim(const std::string& queue, uint64_t wakes,
                         Clock::time_point claim_started, const ClaimOutcome& outcome) {
  // A full claim leaves the queue due: more jobs may be waiting.
  if ((outcome.got_all && !outcome.held_back_for) || Wakes(queue) != wakes) return;
  Clock::time_point next = Clock::now() + core_.options.poll_interval;
  if (outcome.held_back_for) {
    next = std::min(next, Clock::now() + *outcome.held_back_for);
  } else {
    // Jobs that became ready since the claim started count too (they came
    // too late for it): under load a retry due 10 ms later was missed by
    // both and waited for the poll interval.
    auto upcoming = store::SecondsUntilNextJob(
        conn_, queue, core_.tasks_literal,
        std::chrono::duration<double>(Clock::now() - claim_started).count());
    if (upcoming.ok() && upcoming->seconds.has_value()) {
      auto in =
          std::chrono::microseconds(static_cast<int64_t>(std::max(0.0, *upcoming->seconds) * 1e6));
      next = std::min(next, Clock::now() + in);
    }
    if (upcoming.ok() && upcoming->queue_limited) {
      std::lock_guard<std::mutex> lock(mu_);
      QueueState& state = queues_[queue];
      if (!state.limited) {
        // A plain claim finds nothing in a limited queue: claim again, limited.
        core_.log->info("queue {} has a global limit: claims take turns through its row", queue);
        state.limited = true;
        return;  // stays due
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  QueueState& state = queues_[queue];
  if (state.wakes != wakes) return;  // woken meanwhile: stay due
  if (state.recheck_at > Clock::now()) next = std::min(next, state.recheck_at);
  if (state.retry_ready_at > claim_started) {
    // A retried job was not ready when this claim began (under load the
    // next_run_at look can also come too late for it): claim at its time.
    next = std::min(next, state.retry_ready_at);
  } else {
    state.retry_ready_at = Clock::time_point::max();
  }
  state.due = false;
  state.next_check = next;
}

Listener::Listener(WorkerCore& core, Fetcher& fetcher, std::function<void()> on_control)
    : core_(core),
      fetcher_(fetcher),
      on_control_(std::move(on_control)),
      conn_(core.options.dsn, nullptr, "pgjobs worker listener") {}

Listener::~Listener() { Stop(); }

void Listener::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Listener::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Listener::Run() {
  Backoff backoff;
  const std::string channel = core_.catalog.JobsChannel();
  const std::string control = core_.catalog.ControlChannel();
  bool listening = false;
  while (!stopping_) {
    if (!listening) {
      // Both LISTENs on one session: a reconnect between them would lose the
      // first, so start over unless both went to the same session.
      Status st = conn_.Listen(control);
      int session = conn_.connect_count();
      if (st.ok()) st = conn_.Listen(channel);
      if (st.ok() && conn_.connect_count() != session) {
        st = Status::Unavailable("reconnected between the two LISTENs");
      }
      if (!st.ok()) {
        conn_.Disconnect();
        core_.log->warn("LISTEN failed, will retry; polling meanwhile: {}", st.message());
        auto wait_until = std::chrono::steady_clock::now() + backoff.Next();
        while (!stopping_ && std::chrono::steady_clock::now() < wait_until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        continue;
      }
      listening = true;
      backoff.Reset();
      fetcher_.WakeAll();  // NOTIFYs sent while we were away are lost: poll now
      on_control_();
    }
    // Short waits so that Stop is prompt.
    auto notes = conn_.WaitForNotifications(std::chrono::milliseconds(200));
    if (!notes.ok()) {
      core_.log->warn("lost the LISTEN connection, reconnecting: {}", notes.status().message());
      conn_.Disconnect();
      listening = false;
      continue;
    }
    bool control_message = false;
    for (const pg::Notification& n : *notes) {
      if (n.channel == control) {
        control_message = true;
      } else {
        fetcher_.Notified(n.payload);
        if (core_.broker != nullptr) core_.broker->Notified(n.payload);
      }
    }
    if (control_message) on_control_();
  }
}

}  // namespace pgjobs::worker
