#include "store/job_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_set>

#include "store/db_errors.h"

namespace pgjobs::store {
namespace {

using nlohmann::json;

// fmt, unlike std::to_string, ignores the C locale: "0.5", never "0,5".
pg::Param Num(double v) { return fmt::format("{}", v); }
pg::Param Int(int64_t v) { return std::to_string(v); }

double Seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

double EpochSeconds(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  return static_cast<double>(us.count()) / 1e6;
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kFailed: return "failed";
    case Outcome::kDiscard: return "discard";
    case Outcome::kCancelled: return "cancelled";
    case Outcome::kSnooze: return "snooze";
  }
  return "failed";
}

// A JSON text we produced or validated; parse failures become a JSON string
// so that nothing is lost.
json ParseOrString(const std::string& text) {
  json v = json::parse(text, nullptr, false);
  return v.is_discarded() ? json(text) : v;
}

std::string WithoutNul(std::string s) {
  for (size_t at = s.find('\0'); at != std::string::npos; at = s.find('\0', at)) {
    s.replace(at, 1, "\xEF\xBF\xBD");  // U+FFFD
  }
  return s;
}

void ReplaceNul(json& v) {
  if (v.is_string()) {
    v = WithoutNul(v.get<std::string>());
  } else if (v.is_array()) {
    for (json& e : v) ReplaceNul(e);
  } else if (v.is_object()) {
    json out = json::object();
    for (auto& [key, e] : v.items()) {
      ReplaceNul(e);
      out[WithoutNul(key)] = std::move(e);
    }
    v = std::move(out);
  }
}

// A result, error or progress as JSON text jsonb takes. jsonb cannot hold
// U+0000, in a string or a key: it becomes U+FFFD, or the statement, and
// with it every other outcome of its batch, would fail on every try.
json JsonbValue(const std::string& text) {
  json v = ParseOrString(text);
  if (text.find('\0') != std::string::npos || text.find("\\u0000") != std::string::npos) {
    ReplaceNul(v);
  }
  return v;
}

std::string JsonbText(const std::string& text) {
  return JsonbValue(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

// One job of an enqueue_many batch as JSON text. The args, already checked
// to be a JSON object by ValidateJobRequest, go in as the caller wrote them
// rather than parsed and printed again.
std::string RequestJsonText(const JobRequest& r) {
  const EnqueueOptions& o = r.options;
  json j = {{"task", r.task},
            {"queue", o.queue},
            {"priority", o.priority},
            {"max_attempts", o.max_attempts}};
  if (o.run_at) j["run_at_epoch"] = EpochSeconds(*o.run_at);
  if (o.delay.count() > 0) j["delay_seconds"] = Seconds(o.delay);
  if (o.timeout) j["timeout_seconds"] = Seconds(*o.timeout);
  if (!o.unique_key.empty()) j["unique_key"] = o.unique_key;
  std::string text = j.dump();
  text.pop_back();  // the closing brace
  text += ",\"args\":";
  text += r.args_json;
  text += '}';
  return text;
}

// The pairwise array literals of the claims' ids and tokens.
std::pair<std::string, std::string> KeyArrays(const std::vector<JobKey>& keys) {
  std::vector<int64_t> ids;
  std::vector<int64_t> tokens;
  for (const JobKey& k : keys) {
    ids.push_back(k.id);
    tokens.push_back(k.token);
  }
  return {pg::ArrayLiteral(ids), pg::ArrayLiteral(tokens)};
}

int64_t NewToken() { return NewClaimToken(); }

std::vector<int64_t> Ids(const pg::Rows& rows) {
  std::vector<int64_t> out;
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) out.push_back(rows.Int(i, 0));
  return out;
}

}  // namespace

Result<int64_t> Enqueue(pg::Connection& conn, const JobRequest& r) {
  PGJOBS_RETURN_IF_ERROR(ValidateJobRequest(r));
  const EnqueueOptions& o = r.options;
  pg::Params params = {r.task,
                       r.args_json,
                       o.queue,
                       Int(o.priority),
                       o.run_at ? Num(EpochSeconds(*o.run_at)) : pg::Param(),
                       Num(Seconds(o.delay)),
                       Int(o.max_attempts),
                       o.timeout ? Num(Seconds(*o.timeout)) : pg::Param()};
  // A job without a key is one plain INSERT; with one, pgjobs.enqueue()
  // handles its conflicts (sql/jobs.sql).
  if (!o.unique_key.empty()) params.push_back(o.unique_key);
  auto rows = o.unique_key.empty() ? conn.Exec("enqueue_unkeyed", params)
                                   : conn.Exec("enqueue", params);
  if (!rows.ok()) return ExplainJobsError(rows.status()).WithContext("enqueue task=" + r.task);
  return rows->Int(0, 0);
}

Result<std::vector<int64_t>> EnqueueMany(pg::Connection& conn,
                                         const std::vector<JobRequest>& requests) {
  std::string batch = "[";
  bool keyed = false;
  for (size_t i = 0; i < requests.size(); ++i) {
    Status valid = ValidateJobRequest(requests[i]);
    if (!valid.ok()) return valid.WithContext("job " + std::to_string(i));
    if (i > 0) batch += ',';
    batch += RequestJsonText(requests[i]);
    keyed = keyed || !requests[i].options.unique_key.empty();
  }
  batch += ']';
  if (requests.empty()) return std::vector<int64_t>{};
  auto rows = keyed ? conn.Exec("enqueue_many", {batch}) : conn.Exec("enqueue_many_unkeyed", {batch});
  if (!rows.ok()) return ExplainJobsError(rows.status()).WithContext("enqueue batch");
  return Ids(*rows);
}

int64_t NewClaimToken() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return static_cast<int64_t>(rng() >> 2) + 1;
}

std::vector<ClaimedJob> ClaimedJobsFromRows(const pg::Rows& rows, int64_t token) {
  std::vector<ClaimedJob> jobs(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ClaimedJob& j = jobs[i];
    j.id = rows.Int(i, 0);
    j.token = token;
    j.task = rows.Text(i, 1);
    j.args_json = rows.Text(i, 2);
    j.attempt = static_cast<int>(rows.Int(i, 3));
    j.max_attempts = static_cast<int>(rows.Int(i, 4));
    j.priority = static_cast<int>(rows.Int(i, 5));
    if (!rows.IsNull(i, 6)) j.timeout_seconds = rows.Double(i, 6);
    j.queue = rows.Text(i, 7);
    j.run_at_us = rows.Int(i, 8);
  }
  return jobs;
}

namespace {

std::vector<ClaimedJob> ClaimedJobs(const pg::Rows& rows, int64_t token) {
  return ClaimedJobsFromRows(rows, token);
}

// The claim's $9: how many of the claimed jobs start at once (the others
// are marked ahead). Negative means all of them.
std::string StartNow(int start_now, int limit) {
  return std::to_string(start_now < 0 ? limit : std::min(start_now, limit));
}

}  // namespace

Result<std::vector<ClaimedJob>> Claim(pg::Connection& conn, const std::string& queue,
                                      const std::string& tasks_literal, int limit,
                                      const std::string& worker_id, double lease_seconds,
                                      const std::vector<ClaimCursor>& cursors, int start_now) {
  const int64_t token = NewToken();
  json at = json::array();
  for (const ClaimCursor& c : cursors) {
    at.push_back({{"t", c.task}, {"p", c.priority}, {"r", c.run_at_us}, {"i", c.id}});
  }
  auto rows = conn.Exec("claim", {queue, tasks_literal, Int(limit), worker_id, Num(lease_seconds),
                                  Int(token), "false", at.dump(), StartNow(start_now, limit)});
  if (!rows.ok()) return rows.status().WithContext("claim queue=" + queue);
  return ClaimedJobs(*rows, token);
}

Result<LimitedClaim> ClaimLimited(pg::Connection& conn, const std::string& queue,
                                  const std::string& tasks_literal, int limit,
                                  const std::string& worker_id, double lease_seconds,
                                  int start_now) {
  LimitedClaim out;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    out = LimitedClaim{};
    auto allowance = tx.Exec("claim_allowance", {queue, Int(limit)});
    if (!allowance.ok()) return allowance.status();
    out.allowed = static_cast<int>(allowance->Int(0, 0));
    if (!allowance->IsNull(0, 1)) out.retry_in_seconds = allowance->Double(0, 1);
    out.limited = allowance->Bool(0, 2);
    if (!out.limited || out.allowed == 0) return Status::Ok();
    const int64_t token = NewToken();
    auto rows = tx.Exec("claim", {queue, tasks_literal, Int(out.allowed), worker_id,
                                  Num(lease_seconds), Int(token), "true", "[]",
                                  StartNow(start_now, out.allowed)});
    if (!rows.ok()) return rows.status();
    out.jobs = ClaimedJobs(*rows, token);
    if (out.jobs.empty()) return Status::Ok();
    std::vector<JobKey> keys;
    for (const ClaimedJob& j : out.jobs) keys.push_back(j.key());
    auto recorded = tx.Exec("record_claims", {queue, KeyArrays(keys).first, Int(token)});
    return recorded.status();
  });
  if (!st.ok()) return st.WithContext("claim limited queue=" + queue);
  return out;
}

Result<NextJob> SecondsUntilNextJob(pg::Connection& conn, const std::string& queue,
                                    const std::string& tasks_literal, double since_seconds) {
  auto rows = conn.Exec("next_run_at", {queue, tasks_literal, Num(std::max(0.0, since_seconds))});
  if (!rows.ok()) return rows.status().WithContext("next run queue=" + queue);
  NextJob next;
  if (rows->empty()) return next;
  if (!rows->IsNull(0, 0)) next.seconds = rows->Double(0, 0);
  next.queue_limited = rows->Bool(0, 1);
  return next;
}

Result<std::vector<Lease>> RenewLeases(pg::Connection& conn, const std::string& worker_id,
                                       const std::vector<JobKey>& claims, double lease_seconds,
                                       const std::vector<bool>& not_started) {
  if (claims.empty()) return std::vector<Lease>{};
  auto [ids, tokens] = KeyArrays(claims);
  std::string ahead = "{";
  for (size_t i = 0; i < claims.size(); ++i) {
    if (i > 0) ahead += ',';
    ahead += i < not_started.size() && not_started[i] ? 't' : 'f';
  }
  ahead += '}';
  auto rows = conn.Exec("renew_leases", {worker_id, ids, tokens, Num(lease_seconds), ahead});
  if (!rows.ok()) return rows.status().WithContext("renew leases");
  std::vector<Lease> out(rows->size());
  for (size_t i = 0; i < rows->size(); ++i) {
    out[i] = {{rows->Int(i, 0), rows->Int(i, 1)}, rows->Bool(i, 2)};
  }
  return out;
}

Result<CompleteResult> Complete(pg::Connection& conn, const std::string& worker_id,
                                const std::vector<Completion>& completions) {
  // Written as text directly: a JSON object per outcome cost the worker more
  // than the rest of the completion. Only result, error and progress, which
  // most outcomes lack, go through the JSON library.
  // make_interval takes at most about 9.2e12 seconds: a longer retry_in
  // would fail the batch on every try (31 years is later than any retry).
  auto number = [](double v) { return std::isfinite(v) ? std::min(v, 1e9) : 0.0; };
  std::string batch = "[";
  batch.reserve(completions.size() * 112);
  for (const Completion& c : completions) {
    if (batch.size() > 1) batch += ',';
    fmt::format_to(std::back_inserter(batch),
                   R"({{"id":{},"token":{},"attempt":{},"outcome":"{}","retry_in":{},)"
                   R"("started_after":{})",
                   c.id, c.token, c.attempt, OutcomeName(c.outcome), number(c.retry_in_seconds),
                   number(c.started_after_seconds));
    for (const auto& [key, text] :
         {std::pair{"result", &c.result_json}, std::pair{"error", &c.error_json},
          std::pair{"progress", &c.progress_json}}) {
      if (text->empty()) continue;
      fmt::format_to(std::back_inserter(batch), R"(,"{}":{})", key, JsonbText(*text));
    }
    batch += '}';
  }
  batch += ']';
  auto rows = conn.Exec("complete", {worker_id, batch});
  if (!rows.ok()) return rows.status().WithContext("complete");
  CompleteResult out;
  std::unordered_set<JobKey, JobKeyHash> written;
  for (size_t i = 0; i < rows->size(); ++i) {
    JobKey key{rows->Int(i, 0), rows->Int(i, 1)};
    (rows->Text(i, 2) == "finished" ? out.finished : out.retried).push_back(key);
    written.insert(key);
  }
  for (const Completion& c : completions) {
    if (written.count({c.id, c.token}) == 0) out.fenced_out.push_back({c.id, c.token});
  }
  return out;
}

Result<std::vector<JobKey>> GiveBack(pg::Connection& conn, const std::string& worker_id,
                                     const std::vector<JobKey>& claims, const std::string& reason) {
  if (claims.empty()) return std::vector<JobKey>{};
  json error = {{"kind", "given_back"}, {"worker", worker_id}, {"error", reason}};
  auto [ids, tokens] = KeyArrays(claims);
  auto rows = conn.Exec("give_back", {worker_id, ids, tokens, error.dump()});
  if (!rows.ok()) return rows.status().WithContext("give back");
  std::vector<JobKey> out;
  for (size_t i = 0; i < rows->size(); ++i) out.push_back({rows->Int(i, 0), rows->Int(i, 1)});
  return out;
}

Result<std::vector<int64_t>> ReleaseUntracked(pg::Connection& conn, const std::string& worker_id,
                                              const std::vector<JobKey>& held) {
  auto [ids, tokens] = KeyArrays(held);
  std::vector<int64_t> released;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    // Statistics taken while most jobs ran make a sequential scan of the
    // whole table look cheaper than the running-jobs index: planned without
    // it, for this statement only (sql/jobs.sql, release_untracked).
    PGJOBS_RETURN_IF_ERROR(tx.ExecSql("SET LOCAL enable_seqscan = off").status());
    auto rows = tx.Exec("release_untracked", {worker_id, ids, tokens});
    if (!rows.ok()) return rows.status();
    released = Ids(*rows);
    return Status::Ok();
  });
  if (!st.ok()) return st.WithContext("release untracked claims");
  return released;
}

Status SetProgress(pg::Connection& conn, const std::string& worker_id,
                   const std::vector<ProgressUpdate>& updates) {
  if (updates.empty()) return Status::Ok();
  json batch = json::array();
  for (const ProgressUpdate& u : updates) {
    batch.push_back(
        {{"id", u.key.id}, {"token", u.key.token}, {"progress", JsonbValue(u.progress_json)}});
  }
  return conn
      .Exec("set_progress", {worker_id, batch.dump(-1, ' ', false, json::error_handler_t::replace)})
      .status()
      .WithContext("set progress");
}

Result<RescueResult> RescueExpired(pg::Connection& conn, int limit) {
  auto rows = conn.Exec("rescue_expired", {Int(limit)});
  if (!rows.ok()) return rows.status().WithContext("rescue expired leases");
  RescueResult out;
  for (size_t i = 0; i < rows->size(); ++i) {
    std::string what = rows->Text(i, 1);
    (what == "failed" ? out.failed : what == "cancelled" ? out.cancelled : out.retried)
        .push_back(rows->Int(i, 0));
  }
  return out;
}

Status RegisterWorker(pg::Connection& conn, const WorkerInfo& w) {
  return conn
      .Exec("register_worker", {w.id, w.host, Int(w.pid), w.queues_json, w.tasks_json, w.version,
                                std::to_string(w.lease_seconds)})
      .status()
      .WithContext("register worker");
}

Result<HeartbeatReply> WorkerHeartbeat(pg::Connection& conn, const std::string& worker_id) {
  auto rows = conn.Exec("worker_heartbeat", {worker_id});
  if (!rows.ok()) return rows.status().WithContext("worker heartbeat");
  HeartbeatReply reply;
  reply.registered = !rows->empty();
  reply.stop_requested = reply.registered && rows->Bool(0, 1);
  return reply;
}

Status DeregisterWorker(pg::Connection& conn, const std::string& worker_id) {
  return conn.Exec("deregister_worker", {worker_id}).status().WithContext("deregister worker");
}

Status MarkIdle(pg::Connection& conn, const std::string& queue, const std::string& worker_id,
                bool idle) {
  return conn.Exec(idle ? "mark_idle" : "mark_busy", {queue, worker_id})
      .status()
      .WithContext(std::string(idle ? "mark idle" : "mark busy") + " queue=" + queue);
}

Result<int> PruneWorkers(pg::Connection& conn, double silent_seconds) {
  auto rows = conn.Exec("prune_workers", {Num(silent_seconds)});
  if (!rows.ok()) return rows.status().WithContext("prune workers");
  return static_cast<int>(rows->size());
}

Result<std::optional<int>> EnsurePartitions(pg::Connection& conn, int days_ahead) {
  auto rows = conn.Exec("ensure_partitions", {Int(days_ahead)});
  if (!rows.ok()) return rows.status().WithContext("create history partitions");
  if (rows->IsNull(0, 0)) return std::optional<int>();
  return std::optional<int>(static_cast<int>(rows->Int(0, 0)));
}

}  // namespace pgjobs::store
