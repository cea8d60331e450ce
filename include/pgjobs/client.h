// Enqueueing jobs from C++.
//
// Any language can enqueue with plain SQL (see README); this is the C++ way.
// A Client owns one database connection and is used by one thread at a time.
// To enqueue inside your own libpqxx transaction, see pgjobs/pqxx.h.
#ifndef PGJOBS_CLIENT_H_
#define PGJOBS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgjobs/status.h"

namespace pgjobs {

struct ClientOptions {
  // libpq connection string or URI. Empty: libpq's defaults (PGHOST, ...).
  std::string dsn;
  // The schema pgjobs was migrated into. Default "pgjobs".
  std::string schema = "pgjobs";
};

struct EnqueueOptions {
  // Queue name: letters, digits, '_', '.', ':', '-'; at most 128. Default "default".
  std::string queue = "default";
  // 0-9; 9 runs first. Default 5.
  int priority = 5;
  // Run no earlier than this instant. Default: now. Exclusive with delay.
  std::optional<std::chrono::system_clock::time_point> run_at;
  // Run no earlier than now + delay (the database's now). Default 0.
  std::chrono::milliseconds delay{0};
  // Attempts before the job is failed for good, 1-1000. Default 4.
  int max_attempts = 4;
  // Per-attempt time limit. Default: none (the task's configured timeout).
  std::optional<std::chrono::milliseconds> timeout;
  // At most one live (pending or running) job per key. Default: none.
  std::string unique_key;
};

struct JobRequest {
  std::string task;              // required, 1-200 characters
  std::string args_json = "{}";  // a JSON object, at most 1 MiB
  EnqueueOptions options;
};

// Checks a request the way the database will, with messages that say what to
// change. Client calls it before sending anything.
Status ValidateJobRequest(const JobRequest& request);

class Client {
 public:
  // Connects and checks that the schema is migrated.
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Enqueues one job and returns its id. With a unique_key that already has a
  // live job, returns that job's id and inserts nothing.
  Result<int64_t> Enqueue(const JobRequest& request);
  // Enqueues many jobs in one statement and one transaction: all or none.
  // Returns the ids of the inserted jobs in order; requests whose unique_key
  // already had a live job are skipped and have no id in the result.
  Result<std::vector<int64_t>> EnqueueMany(const std::vector<JobRequest>& requests);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgjobs

#endif  // PGJOBS_CLIENT_H_
