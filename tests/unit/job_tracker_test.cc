// The lease bookkeeping the worker's guard thread relies on.
#include "worker/job_tracker.h"

#include <gtest/gtest.h>

namespace pgjobs::worker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

store::ClaimedJob Job(int64_t id, int64_t token) {
  store::ClaimedJob job;
  job.id = id;
  job.token = token;
  job.queue = "default";
  job.task = "t";
  return job;
}

TEST(JobTrackerLease, AClaimIsStoppedOnlyOnceItsLeaseRunsOutWithinTheMargin) {
  JobTracker tracker;
  Clock::time_point t0 = Clock::now();
  auto job = tracker.Add(Job(1, 11), t0 + 30s);
  EXPECT_EQ(0, tracker.StopUnrenewed(t0 + 22s, 7500ms));
  EXPECT_FALSE(job->stop.load());
  EXPECT_EQ(1, tracker.StopUnrenewed(t0 + 23s, 7500ms));
  EXPECT_TRUE(job->stop.load());
  EXPECT_EQ(StopReason::kLeaseLost, job->stop_reason());
  // Asked once: the next check does not count it again.
  EXPECT_EQ(0, tracker.StopUnrenewed(t0 + 24s, 7500ms));
}

TEST(JobTrackerLease, ARenewalMovesTheBoundAndALateAnswerNeverMovesItBack) {
  JobTracker tracker;
  Clock::time_point t0 = Clock::now();
  auto a = tracker.Add(Job(1, 11), t0 + 30s);
  auto b = tracker.Add(Job(2, 22), t0 + 30s);
  tracker.Renewed({{1, 11}}, t0 + 40s);
  tracker.Renewed({{1, 11}}, t0 + 35s);  // an older renewal answering late
  EXPECT_EQ(1, tracker.StopUnrenewed(t0 + 25s, 7500ms));
  EXPECT_FALSE(a->stop.load());
  EXPECT_TRUE(b->stop.load());
  EXPECT_EQ(1, tracker.StopUnrenewed(t0 + 33s, 7500ms));
  EXPECT_TRUE(a->stop.load());
}

TEST(JobTrackerLease, FinishedOrAlreadyStoppedClaimsAreLeftAlone) {
  JobTracker tracker;
  Clock::time_point t0 = Clock::now();
  auto done = tracker.Add(Job(1, 11), t0 + 1s);
  auto cancelled = tracker.Add(Job(2, 22), t0 + 1s);
  done->finished = true;
  cancelled->RequestStop(StopReason::kCancelled);
  EXPECT_EQ(0, tracker.StopUnrenewed(t0 + 10s, 0ms));
  EXPECT_EQ(StopReason::kCancelled, cancelled->stop_reason());
  EXPECT_EQ(StopReason::kNone, done->stop_reason());
  // A renewal for a claim no longer held is ignored.
  tracker.Remove({1, 11});
  tracker.Renewed({{1, 11}}, t0 + 60s);
  EXPECT_EQ(1u, tracker.size());
}

}  // namespace
}  // namespace pgjobs::worker
