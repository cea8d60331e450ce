// Turning database errors about jobs into messages that name the fix.
#ifndef PGJOBS_STORE_DB_ERRORS_H_
#define PGJOBS_STORE_DB_ERRORS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "pgjobs/status.h"

namespace pgjobs {

// A status whose message names one of the jobs table's CHECK constraints
// gets a sentence saying what the constraint means; others pass unchanged.
Status ExplainJobsError(const Status& status);

// Why a JSON text cannot be read: "not valid JSON: parse error at line 1,
// column 7: ...", or, for valid JSON with a number beyond a double, which
// number and what to do.
std::string JsonProblem(const std::string& text);

Status ValidateQueueName(const std::string& queue);

// args are at most this many bytes of JSON text, as PostgreSQL prints them
// (octet_length(args::text)): the limit of jobs and schedules.
constexpr size_t kMaxArgsTextBytes = 1 << 20;

// The size of the text PostgreSQL prints for json_text stored as jsonb,
// octet_length(json_text::jsonb::text), computed without a database; an
// InvalidArgument status when json_text is not JSON. A key repeated in one
// object counts once, its last value winning, as jsonb keeps it; the first
// such key is put in *repeated_key when that is given ("" if none).
Result<size_t> JsonbTextBytes(std::string_view json_text, std::string* repeated_key = nullptr);

// The error for args whose object repeats key: a pgjobs tool refuses them
// (PostgreSQL would keep the last value silently).
Status RepeatedKeyError(const std::string& key);

}  // namespace pgjobs

#endif  // PGJOBS_STORE_DB_ERRORS_H_
