// One log line per job outcome, so that an operator sees from the worker's
// log what happened to each job: failed attempts (warn, with the retry
// delay), final failures (error), retry-later and cancellation (info), and
// successes (debug, since a busy worker runs thousands a second). Each line
// says what happened, then task=, job_id=, attempt=N/MAX and the first line
// of the error; the job's args are never logged (they may hold secrets).
#ifndef PGJOBS_WORKER_OUTCOME_LOG_H_
#define PGJOBS_WORKER_OUTCOME_LOG_H_

#include <spdlog/spdlog.h>

#include "store/job_store.h"

namespace pgjobs::worker {

// Logs the outcome c of job's attempt, as decided before it is written.
void LogOutcome(spdlog::logger& log, const store::ClaimedJob& job, const store::Completion& c);

}  // namespace pgjobs::worker

#endif  // PGJOBS_WORKER_OUTCOME_LOG_H_
