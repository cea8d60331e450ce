// Tick planning without a database: NextTick, FirstTick, start/end bounds,
// and PlanDue's misfire and overlap rules.
#include "scheduler/schedule_plan.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cron_test_util.h"

namespace pgjobs::scheduler {
namespace {

using crontest::At;
using std::chrono::hours;
using std::chrono::seconds;

double Epoch(Instant t) { return static_cast<double>(t.time_since_epoch().count()); }

ScheduleSpec Spec(const ScheduleRow& row) {
  auto spec = MakeSpec(row);
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return spec.ok() ? *spec : ScheduleSpec{};
}

ScheduleRow CronRow(const std::string& cron, const std::string& zone = "UTC") {
  ScheduleRow row;
  row.kind = "cron";
  row.cron = cron;
  row.time_zone = zone;
  row.created_at = Epoch(At("2026-01-01T00:00Z"));
  return row;
}

ScheduleRow IntervalRow(double every_seconds, double created_at) {
  ScheduleRow row;
  row.kind = "interval";
  row.every_seconds = every_seconds;
  row.time_zone = "UTC";
  row.created_at = created_at;
  return row;
}

ScheduleRow OnceRow(Instant at) {
  ScheduleRow row;
  row.kind = "once";
  row.at = Epoch(at);
  row.time_zone = "UTC";
  row.created_at = Epoch(At("2026-01-01T00:00Z"));
  return row;
}

std::vector<Instant> Seconds(Instant first, int n) {
  std::vector<Instant> out;
  for (int i = 0; i < n; ++i) out.push_back(first + seconds(i));
  return out;
}

// Instants as UTC text, so that a failure reads as times.
std::string T(std::optional<Instant> t) {
  return t ? crontest::Local(*t, TimeZone::Utc()) : "none";
}
std::vector<std::string> T(const std::vector<Instant>& times) {
  return crontest::Locals(times, TimeZone::Utc());
}

// fire holds exactly the n seconds ending at last, oldest first.
void ExpectConsecutiveSecondsEndingAt(Instant last, size_t n, const std::vector<Instant>& fire) {
  ASSERT_EQ(n, fire.size());
  EXPECT_EQ(T(last - seconds(n - 1)), T(fire.front()));
  EXPECT_EQ(T(last), T(fire.back()));
  for (size_t i = 1; i < fire.size(); ++i) {
    ASSERT_EQ(seconds(1), fire[i] - fire[i - 1]) << "gap after " << T(fire[i - 1]);
  }
}

constexpr Misfire kAllPolicies[] = {Misfire::kSkip, Misfire::kRunOnce, Misfire::kCatchUp};

// NextTick and FirstTick.

TEST(ScheduleTickTest, CronTicksAreReadInTheSchedulesZone) {
  ScheduleSpec paris = Spec(CronRow("0 9 * * *", "Europe/Paris"));
  EXPECT_EQ(T(At("2026-01-11T08:00Z")),
            T(NextTick(paris, At("2026-01-10T12:00Z"))));  // CET, +01:00
  EXPECT_EQ(T(At("2026-07-11T07:00Z")),
            T(NextTick(paris, At("2026-07-10T12:00Z"))));  // CEST, +02:00
  ScheduleSpec utc = Spec(CronRow("0 9 * * *"));
  EXPECT_EQ(T(At("2026-07-11T09:00Z")), T(NextTick(utc, At("2026-07-10T12:00Z"))));
}

TEST(ScheduleTickTest, NextTickIsStrictlyAfterTheInstantAndFirstTickIsTheNextOneAfterNow) {
  ScheduleSpec spec = Spec(CronRow("*/5 * * * * *"));
  EXPECT_EQ(T(At("2026-03-01T10:00:10Z")), T(NextTick(spec, At("2026-03-01T10:00:05Z"))));
  EXPECT_EQ(T(At("2026-03-01T10:00:10Z")), T(NextTick(spec, At("2026-03-01T10:00:06Z"))));
  EXPECT_EQ(T(At("2026-03-01T10:00:10Z")), T(FirstTick(spec, At("2026-03-01T10:00:05Z"))));
}

TEST(ScheduleTickTest, IntervalTicksFallAtTheCreationTimePlusWholeMultiplesOfEvery) {
  Instant created = At("2026-03-01T10:00:00Z");
  // A fractional creation time is rounded up: no tick before the schedule existed.
  ScheduleSpec spec = Spec(IntervalRow(60, Epoch(created) + 0.4));
  Instant anchor = created + seconds(1);
  // The first tick is one interval after the creation, not the creation:
  // the same whether a scheduler plans it in that second or later.
  EXPECT_EQ(T(anchor + seconds(60)), T(NextTick(spec, created)));
  EXPECT_EQ(T(anchor + seconds(60)), T(FirstTick(spec, created)));
  EXPECT_EQ(T(anchor + seconds(60)), T(FirstTick(spec, created + seconds(30))));
  EXPECT_EQ(T(anchor + seconds(60)), T(NextTick(spec, anchor)));
  EXPECT_EQ(T(anchor + seconds(120)), T(NextTick(spec, anchor + seconds(61))));
  EXPECT_EQ(T(anchor + seconds(600)), T(NextTick(spec, anchor + seconds(599))));
  EXPECT_EQ(T(anchor + seconds(660)), T(FirstTick(spec, anchor + seconds(600))));
}

TEST(ScheduleTickTest, IntervalTicksFallAtStartAtPlusWholeMultiplesOfEveryWhenStartAtIsSet) {
  ScheduleRow row = IntervalRow(100, Epoch(At("2026-03-01T10:00:00Z")));
  Instant start = At("2026-03-01T12:00:00Z");
  row.start_at = Epoch(start);
  ScheduleSpec spec = Spec(row);
  EXPECT_EQ(T(start), T(FirstTick(spec, At("2026-03-01T10:00:00Z"))));
  EXPECT_EQ(T(start + seconds(100)), T(NextTick(spec, start)));
  EXPECT_EQ(T(start + seconds(200)), T(NextTick(spec, start + seconds(150))));
  // start_at in the past: still its grid, the first point after now.
  EXPECT_EQ(T(start + seconds(1000)), T(FirstTick(spec, start + seconds(950))));
}

TEST(ScheduleTickTest, AOnceScheduleFirstTicksAtItsInstantEvenIfPastAndNeverAgain) {
  Instant at = At("2026-03-01T10:00:00Z");
  ScheduleSpec spec = Spec(OnceRow(at));
  EXPECT_EQ(T(at), T(FirstTick(spec, at - hours(1))));
  EXPECT_EQ(T(at), T(FirstTick(spec, at + hours(5))));  // past: the misfire policy decides
  EXPECT_EQ(T(at), T(NextTick(spec, at - seconds(1))));
  EXPECT_EQ(T(std::nullopt), T(NextTick(spec, at)));
  EXPECT_EQ(T(std::nullopt), T(NextTick(spec, at + hours(1))));
}

TEST(ScheduleTickTest, AOnceScheduleOutsideItsStartAndEndHasNoTick) {
  Instant at = At("2026-03-01T10:00:00Z");
  ScheduleRow before_start = OnceRow(at);
  before_start.start_at = Epoch(at + seconds(1));
  EXPECT_EQ(T(std::nullopt), T(FirstTick(Spec(before_start), at - hours(1))));
  EXPECT_EQ(T(std::nullopt), T(NextTick(Spec(before_start), at - hours(1))));
  ScheduleRow after_end = OnceRow(at);
  after_end.end_at = Epoch(at - seconds(1));
  EXPECT_EQ(T(std::nullopt), T(FirstTick(Spec(after_end), at - hours(1))));
  ScheduleRow inside = OnceRow(at);
  inside.start_at = Epoch(at);
  inside.end_at = Epoch(at);
  EXPECT_EQ(T(at), T(FirstTick(Spec(inside), at - hours(1))));
}

TEST(ScheduleTickTest, StartAtDelaysACronScheduleAndEndAtEndsIt) {
  ScheduleRow row = CronRow("* * * * *");
  row.start_at = Epoch(At("2026-03-01T10:00:30Z"));
  row.end_at = Epoch(At("2026-03-01T10:03:00Z"));
  ScheduleSpec spec = Spec(row);
  EXPECT_EQ(T(At("2026-03-01T10:01:00Z")), T(FirstTick(spec, At("2026-03-01T09:00:00Z"))));
  EXPECT_EQ(T(At("2026-03-01T10:03:00Z")),
            T(NextTick(spec, At("2026-03-01T10:02:00Z"))));  // end is inclusive
  EXPECT_EQ(T(std::nullopt), T(NextTick(spec, At("2026-03-01T10:03:00Z"))));
  EXPECT_EQ(T(std::nullopt), T(FirstTick(spec, At("2026-03-01T11:00:00Z"))));
}

TEST(ScheduleTickTest, EndAtEndsAnIntervalSchedule) {
  Instant created = At("2026-03-01T10:00:00Z");
  ScheduleRow row = IntervalRow(10, Epoch(created));
  row.end_at = Epoch(created + seconds(25));
  ScheduleSpec spec = Spec(row);
  EXPECT_EQ(T(created + seconds(20)), T(NextTick(spec, created + seconds(10))));
  EXPECT_EQ(T(std::nullopt), T(NextTick(spec, created + seconds(20))));
}

// PlanDue.

TEST(PlanDueTest, AnOnTimeTickFiresAndNextIsTheFollowingTickUnderEveryPolicy) {
  ScheduleSpec spec = Spec(CronRow("* * * * *"));
  Instant tick = At("2026-03-01T10:00:00Z");
  for (Misfire m : kAllPolicies) {
    DuePlan plan = PlanDue(spec, tick, tick + seconds(2), m, 100, false);
    EXPECT_EQ(T(std::vector<Instant>{tick}), T(plan.fire));
    EXPECT_EQ(0, plan.skipped);
    EXPECT_EQ(T(tick + seconds(60)), T(plan.next));
  }
}

TEST(PlanDueTest, ASchedulerAFewSecondsBehindFiresEveryDueTickUnderEveryPolicy) {
  // A scheduler stalled for 4 s is not downtime: no tick of an every-second
  // schedule may be lost to the misfire policy.
  ScheduleSpec spec = Spec(CronRow("* * * * * *"));
  Instant first = At("2026-03-01T10:00:00Z");
  for (Misfire m : kAllPolicies) {
    DuePlan plan = PlanDue(spec, first, first + seconds(4), m, 2, false);
    EXPECT_EQ(T(Seconds(first, 5)), T(plan.fire)) << static_cast<int>(m);
    EXPECT_EQ(0, plan.skipped);
    EXPECT_EQ(T(first + seconds(5)), T(plan.next));
  }
  // Up to kMisfireGrace behind: still every tick.
  DuePlan plan = PlanDue(spec, first, first + kMisfireGrace, Misfire::kRunOnce, 100, false);
  EXPECT_EQ(T(Seconds(first, 31)), T(plan.fire));
}

TEST(PlanDueTest, RunOnceAfterDowntimeFiresOnlyTheLatestDueTickAndCountsTheRestSkipped) {
  ScheduleSpec spec = Spec(CronRow("* * * * *"));
  Instant next_run = At("2026-03-01T10:00:00Z");
  DuePlan plan = PlanDue(spec, next_run, At("2026-03-01T10:10:30Z"), Misfire::kRunOnce, 100, false);
  EXPECT_EQ(T(std::vector<Instant>{At("2026-03-01T10:10:00Z")}), T(plan.fire));
  EXPECT_EQ(10, plan.skipped);
  EXPECT_EQ(T(At("2026-03-01T10:11:00Z")), T(plan.next));
}

TEST(PlanDueTest, SkipAfterDowntimeFiresNothingWhenTheLatestDueTickIsLate) {
  ScheduleSpec spec = Spec(CronRow("0 * * * *"));
  DuePlan plan =
      PlanDue(spec, At("2026-03-01T10:00Z"), At("2026-03-01T11:05Z"), Misfire::kSkip, 100, false);
  EXPECT_TRUE(plan.fire.empty());
  EXPECT_EQ(2, plan.skipped);
  EXPECT_EQ(T(At("2026-03-01T12:00Z")), T(plan.next));
}

TEST(PlanDueTest, SkipAfterDowntimeFiresTheLatestTickWhenItIsOnTime) {
  ScheduleSpec spec = Spec(CronRow("0 * * * *"));
  Instant latest = At("2026-03-01T11:00Z");
  DuePlan on_time =
      PlanDue(spec, At("2026-03-01T09:00Z"), latest + kMisfireGrace, Misfire::kSkip, 100, false);
  EXPECT_EQ(T(std::vector<Instant>{latest}), T(on_time.fire));
  EXPECT_EQ(2, on_time.skipped);
  DuePlan late = PlanDue(spec, At("2026-03-01T09:00Z"), latest + kMisfireGrace + seconds(1),
                         Misfire::kSkip, 100, false);
  EXPECT_TRUE(late.fire.empty());
  EXPECT_EQ(3, late.skipped);
}

TEST(PlanDueTest, CatchUpAfterDowntimeFiresTheLatestDueTicksUpToTheLimit) {
  ScheduleSpec spec = Spec(CronRow("* * * * *"));
  Instant next_run = At("2026-03-01T10:00:00Z");
  Instant now = At("2026-03-01T10:10:30Z");
  DuePlan limited = PlanDue(spec, next_run, now, Misfire::kCatchUp, 3, false);
  EXPECT_EQ(T((std::vector<Instant>{At("2026-03-01T10:08Z"), At("2026-03-01T10:09Z"),
                                    At("2026-03-01T10:10Z")})),
            T(limited.fire));
  EXPECT_EQ(8, limited.skipped);
  EXPECT_EQ(T(At("2026-03-01T10:11Z")), T(limited.next));
  DuePlan all = PlanDue(spec, next_run, now, Misfire::kCatchUp, 100, false);
  EXPECT_EQ(11u, all.fire.size());
  EXPECT_EQ(T(next_run), T(all.fire.front()));
  EXPECT_EQ(0, all.skipped);
}

TEST(PlanDueTest, OverlapBlockedSkipsEveryDueTickAndStillAdvances) {
  ScheduleSpec spec = Spec(CronRow("* * * * * *"));
  Instant first = At("2026-03-01T10:00:00Z");
  for (Misfire m : kAllPolicies) {
    DuePlan plan = PlanDue(spec, first, first + seconds(2), m, 100, true);
    EXPECT_TRUE(plan.fire.empty());
    EXPECT_EQ(3, plan.skipped);
    EXPECT_EQ(T(first + seconds(3)), T(plan.next));
  }
}

TEST(PlanDueTest, NextIsStrictlyAfterNowWhateverThePolicyAndTheOutage) {
  ScheduleSpec spec = Spec(CronRow("*/7 * * * * *"));
  Instant next_run = At("2026-03-01T10:00:00Z");
  for (Misfire m : kAllPolicies) {
    for (int outage : {0, 1, 6, 7, 8, 29, 31, 3600, 86400}) {
      Instant now = next_run + seconds(outage);
      DuePlan plan = PlanDue(spec, next_run, now, m, 5, false);
      ASSERT_TRUE(plan.next.has_value());
      EXPECT_GT(*plan.next, now);
      EXPECT_EQ(T(NextTick(spec, now)), T(plan.next));
      for (Instant t : plan.fire) EXPECT_LE(t, now);
    }
  }
}

TEST(PlanDueTest, AOnceScheduleIsDoneAfterFiring) {
  Instant at = At("2026-03-01T10:00:00Z");
  ScheduleSpec spec = Spec(OnceRow(at));
  DuePlan plan = PlanDue(spec, at, at + seconds(1), Misfire::kRunOnce, 100, false);
  EXPECT_EQ(T(std::vector<Instant>{at}), T(plan.fire));
  EXPECT_EQ(T(std::nullopt), T(plan.next));
  // Long past with misfire skip: done without a job.
  DuePlan skipped = PlanDue(spec, at, at + hours(2), Misfire::kSkip, 100, false);
  EXPECT_TRUE(skipped.fire.empty());
  EXPECT_EQ(1, skipped.skipped);
  EXPECT_EQ(T(std::nullopt), T(skipped.next));
}

TEST(PlanDueTest, AScheduleIsDoneAfterItsLastTickBeforeEndAt) {
  ScheduleRow row = CronRow("* * * * *");
  row.end_at = Epoch(At("2026-03-01T10:02:30Z"));
  ScheduleSpec spec = Spec(row);
  DuePlan plan = PlanDue(spec, At("2026-03-01T10:02Z"), At("2026-03-01T10:02:01Z"),
                         Misfire::kRunOnce, 100, false);
  EXPECT_EQ(T(std::vector<Instant>{At("2026-03-01T10:02Z")}), T(plan.fire));
  EXPECT_EQ(T(std::nullopt), T(plan.next));
}

TEST(PlanDueTest, AnEverySecondCronAfterAThreeDayOutageStaysBoundedAndFast) {
  for (const char* zone : {"UTC", "Europe/Paris"}) {
    ScheduleSpec spec = Spec(CronRow("* * * * * *", zone));
    Instant next_run = At("2026-03-01T00:00:00Z");
    Instant now = next_run + hours(72);
    auto t0 = std::chrono::steady_clock::now();
    DuePlan once = PlanDue(spec, next_run, now, Misfire::kRunOnce, 100, false);
    DuePlan catch_up = PlanDue(spec, next_run, now, Misfire::kCatchUp, 10000, false);
    DuePlan skip = PlanDue(spec, next_run, now, Misfire::kSkip, 100, false);
    auto elapsed = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(elapsed, std::chrono::seconds(3)) << zone;

    EXPECT_EQ(T(std::vector<Instant>{now}), T(once.fire)) << zone;
    EXPECT_EQ(T(now + seconds(1)), T(once.next));
    EXPECT_EQ(T(std::vector<Instant>{now}), T(skip.fire)) << zone;
    // Beyond the enumeration bound the count is a lower bound.
    EXPECT_GE(once.skipped, 200000);
    EXPECT_LE(once.skipped, 72 * 3600);
    // Catch-up: exactly the latest 10000 seconds, consecutive.
    ExpectConsecutiveSecondsEndingAt(now, 10000, catch_up.fire);
    EXPECT_EQ(T(now + seconds(1)), T(catch_up.next));
  }
}

TEST(PlanDueTest, JustPastTheEnumerationBoundTheLatestTicksAndTheCountStayExact) {
  ScheduleSpec spec = Spec(CronRow("* * * * * *"));
  Instant next_run = At("2026-03-01T00:00:00Z");
  Instant now = next_run + seconds(205000);  // 205,001 due ticks
  DuePlan plan = PlanDue(spec, next_run, now, Misfire::kCatchUp, 10000, false);
  ExpectConsecutiveSecondsEndingAt(now, 10000, plan.fire);
  EXPECT_EQ(205001 - 10000, plan.skipped);
  EXPECT_EQ(T(now + seconds(1)), T(plan.next));
}

TEST(PlanDueTest, AnEverySecondIntervalAfterAThreeDayOutageKeepsTheLatestTicks) {
  Instant created = At("2026-03-01T00:00:00Z");
  ScheduleSpec spec = Spec(IntervalRow(1, Epoch(created)));
  Instant now = created + hours(72);
  DuePlan plan = PlanDue(spec, created, now, Misfire::kCatchUp, 5000, false);
  ExpectConsecutiveSecondsEndingAt(now, 5000, plan.fire);
  EXPECT_EQ(T(now + seconds(1)), T(plan.next));
}

// MakeSpec and ParseMisfire.

TEST(MakeSpecTest, ABadCronExpressionIsAnErrorNamingTheField) {
  auto spec = MakeSpec(CronRow("61 * * * *"));
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(std::string::npos, spec.status().message().find("minute")) << spec.status().message();
}

TEST(MakeSpecTest, AnUnknownTimeZoneIsAnError) {
  auto spec = MakeSpec(CronRow("* * * * *", "Mars/Olympus_Mons"));
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(std::string::npos, spec.status().message().find("Mars/Olympus_Mons"))
      << spec.status().message();
}

TEST(MakeSpecTest, AKindWithoutItsFieldIsAnError) {
  ScheduleRow row = IntervalRow(1, 0);
  row.every_seconds.reset();
  EXPECT_FALSE(MakeSpec(row).ok());
  ScheduleRow once;
  once.kind = "once";
  once.time_zone = "UTC";
  EXPECT_FALSE(MakeSpec(once).ok());
}

TEST(MakeSpecTest, ParseMisfireKnowsTheThreePolicies) {
  EXPECT_EQ(Misfire::kSkip, *ParseMisfire("skip"));
  EXPECT_EQ(Misfire::kRunOnce, *ParseMisfire("run_once"));
  EXPECT_EQ(Misfire::kCatchUp, *ParseMisfire("catch_up"));
  EXPECT_FALSE(ParseMisfire("sometimes").ok());
}

}  // namespace
}  // namespace pgjobs::scheduler
