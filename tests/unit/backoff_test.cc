// Waiting between tries: RetryDelaySeconds (jobs), Backoff (reconnects) and
// Waker (how background loops sleep).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/waker.h"
#include "worker/executor_pool.h"

namespace pgjobs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr int kSamples = 2000;

// The smallest and largest of kSamples draws of f().
template <typename F>
std::pair<double, double> Range(F f) {
  double lo = f(), hi = lo;
  for (int i = 1; i < kSamples; ++i) {
    double v = f();
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {lo, hi};
}

// ---- RetryDelaySeconds ----

// Every draw for attempt lies within +-20% of nominal seconds, and the draws
// spread over most of that band (so there is jitter at all).
void ExpectJitteredAround(const RetryPolicy& policy, int attempt, double nominal) {
  auto [lo, hi] = Range([&] { return worker::RetryDelaySeconds(policy, attempt); });
  EXPECT_GE(lo, nominal * 0.8) << "attempt " << attempt;
  EXPECT_LE(hi, nominal * 1.2) << "attempt " << attempt;
  EXPECT_LT(lo, nominal * 0.9) << "attempt " << attempt << ": no jitter below";
  EXPECT_GT(hi, nominal * 1.1) << "attempt " << attempt << ": no jitter above";
}

TEST(RetryDelayTest, DoublesWithEachAttemptFromTheBase) {
  RetryPolicy policy;  // 10 s doubling to 1 h
  ExpectJitteredAround(policy, 1, 10);
  ExpectJitteredAround(policy, 2, 20);
  ExpectJitteredAround(policy, 3, 40);
  ExpectJitteredAround(policy, 6, 320);
}

TEST(RetryDelayTest, StopsGrowingAtTheMaximum) {
  RetryPolicy policy;
  policy.base = seconds(1);
  policy.max = seconds(60);
  ExpectJitteredAround(policy, 6, 32);
  ExpectJitteredAround(policy, 7, 60);  // 64 capped
  ExpectJitteredAround(policy, 30, 60);
  ExpectJitteredAround(policy, 1000, 60);
}

TEST(RetryDelayTest, TreatsAttemptZeroOrLessAsTheFirst) {
  RetryPolicy policy;
  ExpectJitteredAround(policy, 0, 10);
  ExpectJitteredAround(policy, -3, 10);
}

TEST(RetryDelayTest, KeepsMillisecondPrecision) {
  RetryPolicy policy;
  policy.base = milliseconds(250);
  policy.max = milliseconds(1500);
  ExpectJitteredAround(policy, 1, 0.25);
  ExpectJitteredAround(policy, 3, 1.0);
  ExpectJitteredAround(policy, 4, 1.5);
}

TEST(RetryDelayTest, AZeroBaseRetriesAtOnce) {
  RetryPolicy policy;
  policy.base = milliseconds(0);
  EXPECT_EQ(worker::RetryDelaySeconds(policy, 1), 0);
  EXPECT_EQ(worker::RetryDelaySeconds(policy, 50), 0);
}

// ---- Backoff ----

TEST(BackoffTest, DefaultsTo100MsDoublingTo5s) {
  Backoff backoff;
  const int64_t nominal[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
  for (int64_t d : nominal) {
    int64_t ms = backoff.Next().count();
    EXPECT_GE(ms, d / 2) << "nominal " << d;
    EXPECT_LE(ms, d) << "nominal " << d;
  }
}

TEST(BackoffTest, JitterStaysBetweenHalfAndAllOfTheDelay) {
  auto [lo, hi] = Range([] { return static_cast<double>(Backoff(seconds(10)).Next().count()); });
  EXPECT_GE(lo, 5000);
  EXPECT_LE(hi, 10000);
  EXPECT_LT(lo, 6000) << "no jitter";
  EXPECT_GT(hi, 9000) << "no jitter";
}

TEST(BackoffTest, ResetStartsAgainFromTheInitialDelay) {
  Backoff backoff(milliseconds(1000), milliseconds(8000));
  for (int i = 0; i < 5; ++i) (void)backoff.Next();
  EXPECT_GE(backoff.Next().count(), 4000) << "at the max";
  backoff.Reset();
  int64_t ms = backoff.Next().count();
  EXPECT_GE(ms, 500);
  EXPECT_LE(ms, 1000);
  ms = backoff.Next().count();
  EXPECT_GE(ms, 1000);
  EXPECT_LE(ms, 2000);
}

TEST(BackoffTest, NeverExceedsTheMaximumEvenAfterManyCalls) {
  Backoff backoff(milliseconds(1), milliseconds(300));
  for (int i = 0; i < 100; ++i) EXPECT_LE(backoff.Next().count(), 300);
  EXPECT_GE(backoff.Next().count(), 150);
}

// ---- RandomBetween ----

TEST(RandomBetweenTest, StaysWithinTheBounds) {
  auto [lo, hi] = Range([] { return RandomBetween(2, 3); });
  EXPECT_GE(lo, 2);
  EXPECT_LE(hi, 3);
  EXPECT_LT(lo, hi);
}

// ---- Waker ----

TEST(WakerTest, AWakeBeforeTheWaitReturnsAtOnce) {
  Waker waker;
  waker.Wake();
  auto start = steady_clock::now();
  EXPECT_TRUE(waker.WaitFor(seconds(10)));
  EXPECT_LT(steady_clock::now() - start, seconds(5));
}

TEST(WakerTest, WaitForTimesOutWithoutAWake) {
  Waker waker;
  auto start = steady_clock::now();
  EXPECT_FALSE(waker.WaitFor(milliseconds(20)));
  EXPECT_GE(steady_clock::now() - start, milliseconds(20));
}

TEST(WakerTest, AWaitConsumesTheWake) {
  Waker waker;
  waker.Wake();
  waker.Wake();  // wakes are not counted
  EXPECT_TRUE(waker.WaitFor(milliseconds(0)));
  EXPECT_FALSE(waker.WaitFor(milliseconds(1)));
}

TEST(WakerTest, WaitUntilAPastDeadlineReturnsAtOnce) {
  Waker waker;
  EXPECT_FALSE(waker.WaitUntil(steady_clock::now() - seconds(1)));
  waker.Wake();
  EXPECT_TRUE(waker.WaitUntil(steady_clock::now() - seconds(1)));
}

TEST(WakerTest, AWakeFromAnotherThreadEndsTheWait) {
  Waker waker;
  auto start = steady_clock::now();
  std::thread other([&] { waker.Wake(); });
  EXPECT_TRUE(waker.WaitFor(seconds(10)));
  other.join();
  EXPECT_LT(steady_clock::now() - start, seconds(5));
}

}  // namespace
}  // namespace pgjobs
