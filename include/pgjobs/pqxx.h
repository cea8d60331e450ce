// Enqueue inside your own libpqxx transaction: the job exists if and only if
// your transaction commits. This header includes libpqxx; include it only in
// code that already uses libpqxx.
//
//   pqxx::work tx(conn);
//   tx.exec_params("UPDATE orders SET state = 'paid' WHERE id = $1", order_id);
//   int64_t job = pgjobs::EnqueueIn(tx, {"send_receipt", R"({"order": 42})"});
//   tx.commit();
#ifndef PGJOBS_PQXX_H_
#define PGJOBS_PQXX_H_

#include <pqxx/pqxx>
#include <string>

#include "pgjobs/client.h"

namespace pgjobs {

// Runs the schema's enqueue() SQL function in tx. Throws what libpqxx throws
// on a database error; a request that fails ValidateJobRequest throws
// std::invalid_argument before anything is sent.
inline int64_t EnqueueIn(pqxx::transaction_base& tx, const JobRequest& request,
                         const std::string& schema = "pgjobs") {
  Status valid = ValidateJobRequest(request);
  if (!valid.ok()) throw std::invalid_argument(valid.message());
  const EnqueueOptions& o = request.options;
  const char* run_at = nullptr;
  std::string run_at_text;
  if (o.run_at) {
    run_at_text = std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                     o.run_at->time_since_epoch())
                                     .count());
    run_at = run_at_text.c_str();
  }
  const char* timeout = nullptr;
  std::string timeout_text;
  if (o.timeout) {
    timeout_text = std::to_string(o.timeout->count() / 1000.0);
    timeout = timeout_text.c_str();
  }
  const char* unique_key = o.unique_key.empty() ? nullptr : o.unique_key.c_str();
  pqxx::row r = tx.exec_params1(
      "SELECT " + tx.quote_name(schema) +
          ".enqueue(task => $1, args => $2::jsonb, queue => $3, priority => $4::integer,"
          " run_at => to_timestamp($5::float8 / 1e6),"
          " delay => make_interval(secs => $6::float8), max_attempts => $7::integer,"
          " timeout => make_interval(secs => $8::float8), unique_key => $9)",
      request.task, request.args_json, o.queue, o.priority, run_at, o.delay.count() / 1000.0,
      o.max_attempts, timeout, unique_key);
  return r[0].as<int64_t>();
}

}  // namespace pgjobs

#endif  // PGJOBS_PQXX_H_
