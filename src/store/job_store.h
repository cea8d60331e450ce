// The job protocol's database side: each function runs one named statement of
// sql/jobs.sql or sql/workers.sql. No SQL text lives here (STYLE.md: the
// store owns the SQL files, services call the store).
#ifndef PGJOBS_STORE_JOB_STORE_H_
#define PGJOBS_STORE_JOB_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pgjobs/client.h"
#include "pgjobs/status.h"

namespace pgjobs::store {

// One claim of one job: the job id and the token of the claim. Attempt
// numbers can repeat for a job; claim tokens do not.
struct JobKey {
  int64_t id = 0;
  int64_t token = 0;
  friend bool operator==(const JobKey& a, const JobKey& b) = default;
};

struct JobKeyHash {
  size_t operator()(const JobKey& k) const {
    return std::hash<int64_t>()(k.id) * 31 + std::hash<int64_t>()(k.token);
  }
};

struct ClaimedJob {
  int64_t id = 0;
  int64_t token = 0;  // the claim token
  JobKey key() const { return {id, token}; }
  std::string task;
  std::string queue;
  std::string args_json;
  int attempt = 0;
  int max_attempts = 0;
  int priority = 0;
  std::optional<double> timeout_seconds;  // the job's own timeout, if set
  int64_t run_at_us = 0;                  // run_at, Unix microseconds
};

// Where a worker's last claim of one task and priority ended (see `claim`
// in sql/jobs.sql): the next claim scans from there.
struct ClaimCursor {
  std::string task;
  int priority = 0;
  int64_t run_at_us = 0;
  int64_t id = 0;
};

enum class Outcome { kSucceeded, kFailed, kDiscard, kCancelled, kSnooze };

struct Completion {
  int64_t id = 0;
  int64_t token = 0;  // the claim token
  int attempt = 0;
  Outcome outcome = Outcome::kSucceeded;
  std::string result_json;  // a JSON value; empty = SQL NULL
  std::string error_json;   // a JSON object; empty = no error entry
  double retry_in_seconds = 0;
  // How long after the claim the handler started (it may wait in memory).
  double started_after_seconds = 0;
  // Progress reported since the last write ("" = none); stored with the outcome.
  std::string progress_json;
};

struct CompleteResult {
  std::vector<JobKey> finished;    // moved to history
  std::vector<JobKey> retried;     // back to pending
  std::vector<JobKey> fenced_out;  // claim lost: result dropped
};

struct Lease {
  JobKey key;
  bool cancel_requested = false;
};

struct ProgressUpdate {
  JobKey key;
  std::string progress_json;
};

struct WorkerInfo {
  std::string id;
  std::string host;
  int pid = 0;
  std::string queues_json;  // {"queue": concurrency}
  std::string tasks_json;   // ["task", ...]
  std::string version;
  double lease_seconds = 30;  // it counts as live until its heartbeat is this + 10 s old
};

// A new claim token: random, 62 bits, positive.
int64_t NewClaimToken();
// The rows of a claim statement (`claim`, `claim_ids`), claimed under token.
std::vector<ClaimedJob> ClaimedJobsFromRows(const pg::Rows& rows, int64_t token);

Result<int64_t> Enqueue(pg::Connection& conn, const JobRequest& request);
Result<std::vector<int64_t>> EnqueueMany(pg::Connection& conn,
                                         const std::vector<JobRequest>& requests);

// tasks_literal: pg::ArrayLiteral of the task names the caller handles.
// Every job claimed gets a new random claim token. start_now: how many of
// the jobs (in the order they are returned) start at once, the caller's free
// slots; the others are claimed ahead (prefetched), and a crash of the caller
// does not count them an attempt (migration 0016). Negative: all start now.
Result<std::vector<ClaimedJob>> Claim(pg::Connection& conn, const std::string& queue,
                                      const std::string& tasks_literal, int limit,
                                      const std::string& worker_id, double lease_seconds,
                                      const std::vector<ClaimCursor>& cursors = {},
                                      int start_now = -1);
// A claim of a queue with a global concurrency or rate limit (README,
// "Global limits"): in one transaction, the allowance under the queue's row
// lock, the claim of at most that many, and their record.
struct LimitedClaim {
  std::vector<ClaimedJob> jobs;
  bool limited = true;  // false: the queue has no limit (any more)
  int allowed = 0;      // what the limits allowed (jobs may be fewer)
  // When the rate limit lets the next job through, if it is what held the
  // claim back.
  std::optional<double> retry_in_seconds;
};
Result<LimitedClaim> ClaimLimited(pg::Connection& conn, const std::string& queue,
                                  const std::string& tasks_literal, int limit,
                                  const std::string& worker_id, double lease_seconds,
                                  int start_now = -1);
struct NextJob {
  std::optional<double> seconds;  // until the earliest job, if any (negative: ready)
  bool queue_limited = false;     // the queue has a global limit
};
// The earliest job of the queue with run_at later than since_seconds ago:
// pass how long ago the claim that came back short started, so that a job
// that became ready meanwhile is not missed (sql/jobs.sql, next_run_at).
Result<NextJob> SecondsUntilNextJob(pg::Connection& conn, const std::string& queue,
                                    const std::string& tasks_literal, double since_seconds);
// Returns the leases still held; claims missing from the result were lost.
// not_started (pairwise with claims; missing entries are false): the claims
// whose handler has not started, recorded as `ahead` (see Claim).
Result<std::vector<Lease>> RenewLeases(pg::Connection& conn, const std::string& worker_id,
                                       const std::vector<JobKey>& claims, double lease_seconds,
                                       const std::vector<bool>& not_started = {});
Result<CompleteResult> Complete(pg::Connection& conn, const std::string& worker_id,
                                const std::vector<Completion>& completions);
// Returns the claims given back.
Result<std::vector<JobKey>> GiveBack(pg::Connection& conn, const std::string& worker_id,
                                     const std::vector<JobKey>& claims, const std::string& reason);
// Gives back the claims of worker_id older than 5 s that are not in `held`
// (claims whose reply was lost); returns their job ids.
Result<std::vector<int64_t>> ReleaseUntracked(pg::Connection& conn, const std::string& worker_id,
                                              const std::vector<JobKey>& held);
Status SetProgress(pg::Connection& conn, const std::string& worker_id,
                   const std::vector<ProgressUpdate>& updates);

struct RescueResult {
  std::vector<int64_t> retried;
  std::vector<int64_t> failed;
  std::vector<int64_t> cancelled;  // their cancel was requested: not run again
};
Result<RescueResult> RescueExpired(pg::Connection& conn, int limit);

Status RegisterWorker(pg::Connection& conn, const WorkerInfo& info);
struct HeartbeatReply {
  bool registered = false;      // false: the row is gone (pruned); register again
  bool stop_requested = false;  // `pgjobs workers stop`: drain and exit
};
Result<HeartbeatReply> WorkerHeartbeat(pg::Connection& conn, const std::string& worker_id);
Status DeregisterWorker(pg::Connection& conn, const std::string& worker_id);
// Whether worker_id waits for jobs of queue (enqueues NOTIFY only then).
Status MarkIdle(pg::Connection& conn, const std::string& queue, const std::string& worker_id,
                bool idle);
Result<int> PruneWorkers(pg::Connection& conn, double silent_seconds);
// Creates history partitions ahead; nullopt when another process holds the lock.
Result<std::optional<int>> EnsurePartitions(pg::Connection& conn, int days_ahead);

}  // namespace pgjobs::store

#endif  // PGJOBS_STORE_JOB_STORE_H_
