// Turning database errors about jobs into messages that name the fix.
#ifndef PGJOBS_STORE_DB_ERRORS_H_
#define PGJOBS_STORE_DB_ERRORS_H_

#include <string>

#include "pgjobs/status.h"

namespace pgjobs {

// A status whose message names one of the jobs table's CHECK constraints
// gets a sentence saying what the constraint means; others pass unchanged.
Status ExplainJobsError(const Status& status);

// Where and why a JSON text fails to parse ("at byte 7: unexpected '}'").
std::string DescribeJsonError(const std::string& text);

Status ValidateQueueName(const std::string& queue);

}  // namespace pgjobs

#endif  // PGJOBS_STORE_DB_ERRORS_H_
