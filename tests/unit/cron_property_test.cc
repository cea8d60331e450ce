// Properties of CronExpr::NextAfter over random expressions and instants, and
// a cross-check against a brute-force reference: a simulated cron daemon that
// wakes every minute (every second for six fields) and applies Vixie cron's
// rules as cron.h states them. The reference evaluates expressions from sets
// the generator builds itself, not from the parser's output.
#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

#include <bitset>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cron_test_util.h"
#include "pgjobs/cron.h"

namespace pgjobs {
namespace {

using std::chrono::sys_seconds;
constexpr int64_t kDay = 86400;

// A random expression with its meaning, computed independently of the parser.
struct RefExpr {
  std::string text;
  std::bitset<64> sets[6];  // second, minute, hour, day-of-month, month, day-of-week
  bool has_seconds = false;
  bool periodic = false;
  bool dom_star = false;
  bool dow_star = false;
};

struct FieldInfo {
  int min;
  int max;
  const char* const* names;  // names[v - min]
};

constexpr const char* kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDays[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
constexpr FieldInfo kFields[6] = {{0, 59, nullptr}, {0, 59, nullptr}, {0, 23, nullptr},
                                  {1, 31, nullptr}, {1, 12, kMonths}, {0, 7, kDays}};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int64_t Uniform64(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }

  // Has a seconds field seconds_percent % of the time. With forced_hour >= 0
  // (an hour that a transition skips or repeats), the hour field also lists
  // that hour, half the expressions are fixed-time, and the day fields are
  // more often "*".
  RefExpr Expression(int seconds_percent, int forced_hour) {
    RefExpr e;
    e.has_seconds = Chance(seconds_percent);
    e.sets[0].set(0);
    bool fixed = forced_hour >= 0 && Chance(50);
    int star_percent = forced_hour >= 0 ? 80 : 55;
    for (int k = e.has_seconds ? 0 : 1; k < 6; ++k) {
      bool wild = false;
      bool star = false;
      std::string text = Field(k, k <= 2 && fixed, star_percent, &e.sets[k], &wild, &star);
      if (k == 2 && forced_hour >= 0) {
        text += "," + std::to_string(forced_hour);
        e.sets[2].set(forced_hour);
      }
      if (k <= 2 && wild) e.periodic = true;
      if (k == 3) e.dom_star = star;
      if (k == 5) e.dow_star = star;
      e.text += (e.text.empty() ? "" : " ") + text;
    }
    if (e.sets[5].test(7)) e.sets[5].set(0);
    return e;
  }

 private:
  // Day, month and weekday fields are often "*" (star_percent), so that many
  // expressions fire within the reference's window. A plain field has no "*"
  // and no step.
  std::string Field(int k, bool plain, int star_percent, std::bitset<64>* set, bool* wild,
                    bool* star) {
    const FieldInfo& f = kFields[k];
    set->reset();
    if (!plain && Chance(k >= 3 ? star_percent : 25)) {
      *wild = *star = true;
      for (int v = f.min; v <= f.max; ++v) set->set(v);
      return "*";
    }
    std::string text;
    int items = Chance(60) ? 1 : Uniform(2, 4);
    for (int i = 0; i < items; ++i) {
      std::string item = Item(f, plain, set);
      if (item.find_first_of("*/") != std::string::npos) *wild = true;
      if (i == 0 && item[0] == '*') *star = true;
      text += (i == 0 ? "" : ",") + item;
    }
    return text;
  }

  std::string Item(const FieldInfo& f, bool plain, std::bitset<64>* set) {
    int lo = Uniform(f.min, f.max);
    int hi = lo;
    int step = 1;
    std::string text;
    switch (Uniform(0, plain ? 2 : 5)) {
      case 0:
      case 1:
        text = Value(f, lo);
        break;
      case 2:
        hi = Uniform(lo, f.max);
        text = Value(f, lo) + "-" + Value(f, hi);
        break;
      case 3:
        step = Step(f);
        lo = f.min;
        hi = f.max;
        text = "*/" + std::to_string(step);
        break;
      case 4:
        hi = Uniform(lo, f.max);
        step = Step(f);
        text = Value(f, lo) + "-" + Value(f, hi) + "/" + std::to_string(step);
        break;
      default:
        hi = f.max;
        step = Step(f);
        text = Value(f, lo) + "/" + std::to_string(step);
    }
    for (int v = lo; v <= hi; v += step) set->set(v);
    return text;
  }

  // Small steps are likelier, so that expressions fire often.
  int Step(const FieldInfo& f) { return Chance(70) ? Uniform(1, 6) : Uniform(1, f.max - f.min); }

  std::string Value(const FieldInfo& f, int v) {
    if (f.names == nullptr || v - f.min >= (f.max == 7 ? 7 : 12) || Chance(50)) {
      return std::to_string(v);
    }
    std::string name = f.names[v - f.min];
    for (char& c : name) {
      if (Chance(30)) c = static_cast<char>(c - 'A' + 'a');
    }
    return name;
  }

  std::mt19937_64 rng_;
};

// The reference's view of a zone: UTC, or date's sys_info, cached.
class RefZone {
 public:
  explicit RefZone(const std::string& name)
      : zone_(name == "UTC" ? nullptr : date::locate_zone(name)) {}

  int64_t Offset(int64_t instant) {
    if (zone_ == nullptr) return 0;
    if (instant < begin_ || instant >= end_) {
      date::sys_info info = zone_->get_info(sys_seconds(std::chrono::seconds(instant)));
      begin_ = info.begin.time_since_epoch().count();
      end_ = info.end.time_since_epoch().count();
      offset_ = info.offset.count();
    }
    return offset_;
  }
  int64_t Local(int64_t instant) { return instant + Offset(instant); }
  const date::time_zone* zone() const { return zone_; }

  // Instants at which the offset changes, in [from, to).
  std::vector<int64_t> Transitions(int64_t from, int64_t to) {
    std::vector<int64_t> out;
    if (zone_ == nullptr) return out;
    for (int64_t t = from; t < to;) {
      Offset(t);
      if (end_ >= to) break;
      out.push_back(end_);
      t = end_;
    }
    return out;
  }

 private:
  const date::time_zone* zone_;
  int64_t begin_ = 1;
  int64_t end_ = 0;
  int64_t offset_ = 0;
};

bool Matches(const RefExpr& e, int64_t wall) {
  auto days = date::floor<date::days>(date::sys_seconds(std::chrono::seconds(wall)));
  int64_t second_of_day = wall - days.time_since_epoch().count() * kDay;
  if (!e.sets[0].test(second_of_day % 60) || !e.sets[1].test(second_of_day / 60 % 60) ||
      !e.sets[2].test(second_of_day / 3600)) {
    return false;
  }
  date::year_month_day ymd(days);
  if (!e.sets[4].test(static_cast<unsigned>(ymd.month()))) return false;
  bool dom = e.sets[3].test(static_cast<unsigned>(ymd.day()));
  bool dow = e.sets[5].test(date::weekday(days).c_encoding());
  return e.dom_star || e.dow_star ? dom && dow : dom || dow;
}

// Fire instants in (t, t + window] of a daemon waking every `tick` seconds:
// a periodic expression fires when the wall time matches; a fixed-time one
// when the wall clock moves forward past a matching wall time it had never
// shown before (catching up skipped times once).
std::vector<int64_t> Simulate(const RefExpr& e, RefZone& zone, int64_t t, int64_t window,
                              int64_t tick) {
  std::vector<int64_t> fires;
  int64_t first = (t / tick + 1) * tick;
  // Warming up finds the wall clock's high-water mark. The zones sampled
  // repeat at most an hour, so three hours of seconds are enough.
  int64_t s = e.periodic ? first : first - (tick == 1 ? 3 * 3600 : 2 * kDay);
  int64_t mark = zone.Local(s - tick);
  for (; s <= t + window; s += tick) {
    int64_t wall = zone.Local(s);
    bool fire = false;
    if (s < first) {
      // Warming up: only the high-water mark matters.
    } else if (e.periodic) {
      fire = Matches(e, wall);
    } else {
      for (int64_t w = mark + tick; w <= wall && !fire; w += tick) fire = Matches(e, w);
    }
    mark = std::max(mark, wall);
    if (fire) fires.push_back(s);
  }
  return fires;
}

std::string Describe(const RefExpr& e, const std::string& zone, int64_t t) {
  return "\"" + e.text + "\" in " + zone + " after " +
         date::format("%FT%TZ", sys_seconds(std::chrono::seconds(t)));
}

// What CheckFire saw, to show that the random cases reach daylight saving.
struct FireCounts {
  int fires = 0;
  int in_repeated_hours = 0;  // wall times that occur twice
  int at_gap_ends = 0;        // skipped fixed times fired at the end of the gap
};

// Checks one fire time: it matches, and as a fixed-time expression only at
// the wall time's first occurrence; or it is the end of a gap that skipped a
// matching wall time of a fixed-time expression.
void CheckFire(const RefExpr& e, RefZone& zone, int64_t fire, const std::string& what,
               FireCounts* counts) {
  int64_t wall = zone.Local(fire);
  int64_t tick = e.has_seconds ? 1 : 60;
  ++counts->fires;
  if (Matches(e, wall)) {
    if (zone.zone() == nullptr) return;
    date::local_info info = zone.zone()->get_info(date::local_seconds(std::chrono::seconds(wall)));
    if (info.result != date::local_info::ambiguous) return;
    ++counts->in_repeated_hours;
    if (!e.periodic) {
      EXPECT_EQ(fire, wall - info.first.offset.count()) << what << ": not the first occurrence";
    }
    return;
  }
  ASSERT_FALSE(e.periodic) << what << ": fired at a non-matching time";
  int64_t before = zone.Offset(fire - 1);
  int64_t after = zone.Offset(fire);
  ASSERT_LT(before, after) << what << ": fired off a gap at a non-matching time";
  bool skipped_match = false;
  for (int64_t w = fire + before; w < fire + after && !skipped_match; w += tick) {
    skipped_match = Matches(e, w);
  }
  EXPECT_TRUE(skipped_match) << what << ": fired at a gap that skipped no match";
  ++counts->at_gap_ends;
}

struct Sample {
  std::string zone;
  int64_t instant;
  int transition_hour = -1;  // near a transition: the local hour it skips or repeats
};

class CronPropertyTest : public ::testing::Test {
 protected:
  static constexpr int64_t kFrom = 946684800;  // 2000-01-01
  static constexpr int64_t kTo = 2114380800;   // 2037-01-01; zone data ends in 2037

  // An instant in 2000-2036, often at most max_before before a transition or
  // up to an hour after it.
  Sample RandomSample(Generator& gen, int64_t max_before) {
    static const std::vector<std::string> kZones = {"UTC",
                                                    "America/New_York",
                                                    "Europe/Paris",
                                                    "Australia/Lord_Howe",
                                                    "America/Santiago",
                                                    "Australia/Sydney"};
    Sample sample{kZones[gen.Uniform(0, static_cast<int>(kZones.size()) - 1)], 0};
    RefZone zone(sample.zone);
    std::vector<int64_t> transitions = zone.Transitions(kFrom, kTo);
    if (transitions.empty() || gen.Chance(30)) {
      sample.instant = gen.Uniform64(kFrom, kTo);
    } else {
      int64_t at = transitions[gen.Uniform(0, static_cast<int>(transitions.size()) - 1)];
      sample.instant = at + gen.Uniform64(-max_before, 3600);
      int64_t wall = at + std::min(zone.Offset(at - 1), zone.Offset(at));
      sample.transition_hour = static_cast<int>((wall % kDay + kDay) % kDay / 3600);
    }
    return sample;
  }
};

TEST_F(CronPropertyTest, FireTimesIncreaseAndMatchExceptAtGapEnds) {
  Generator gen(20260308);
  FireCounts counts;
  for (int i = 0; i < 2000; ++i) {
    Sample sample = RandomSample(gen, 6 * 3600);
    RefExpr e = gen.Expression(25, gen.Chance(50) ? sample.transition_hour : -1);
    Result<CronExpr> expr = CronExpr::Parse(e.text);
    ASSERT_TRUE(expr.ok()) << expr.status().ToString();
    ASSERT_EQ(expr->is_periodic(), e.periodic) << e.text;
    RefZone ref(sample.zone);
    TimeZone zone = crontest::Zone(sample.zone);
    std::string what = Describe(e, sample.zone, sample.instant);
    int64_t previous = sample.instant;
    for (sys_seconds fire : expr->NextN(sys_seconds(std::chrono::seconds(previous)), zone, 24)) {
      int64_t f = fire.time_since_epoch().count();
      ASSERT_GT(f, previous) << what;
      CheckFire(e, ref, f, what + " at " + crontest::Local(fire, zone), &counts);
      ASSERT_EQ(expr->NextAfter(fire - std::chrono::seconds(1), zone), fire) << what;
      previous = f;
    }
  }
  std::printf("fires %d, in repeated hours %d, at gap ends %d\n", counts.fires,
              counts.in_repeated_hours, counts.at_gap_ends);
  EXPECT_GT(counts.fires, 10000);
  EXPECT_GT(counts.in_repeated_hours, 100);
  EXPECT_GT(counts.at_gap_ends, 20);
}

TEST_F(CronPropertyTest, AgreesWithABruteForceDaemon) {
  Generator gen(1883);
  FireCounts counts;
  for (int i = 0; i < 1000; ++i) {
    // A day by minutes for five fields; two hours by seconds for six.
    bool seconds = i % 4 == 3;
    int64_t tick = seconds ? 1 : 60;
    int64_t window = seconds ? 2 * 3600 : kDay + 3 * 3600;
    Sample sample = RandomSample(gen, seconds ? 5400 : kDay);
    RefExpr e = gen.Expression(seconds ? 100 : 0, gen.Chance(50) ? sample.transition_hour : -1);
    RefZone ref(sample.zone);
    std::vector<int64_t> expected = Simulate(e, ref, sample.instant, window, tick);

    CronExpr expr = crontest::Cron(e.text);
    TimeZone zone = crontest::Zone(sample.zone);
    std::vector<int64_t> got;
    sys_seconds t(std::chrono::seconds(sample.instant));
    while (std::optional<sys_seconds> next = expr.NextAfter(t, zone)) {
      ASSERT_GT(*next, t) << Describe(e, sample.zone, sample.instant);
      if (next->time_since_epoch().count() > sample.instant + window) break;
      got.push_back(next->time_since_epoch().count());
      t = *next;
    }
    std::string what = Describe(e, sample.zone, sample.instant);
    ASSERT_EQ(got, expected) << what;
    for (int64_t fire : got) CheckFire(e, ref, fire, what, &counts);
  }
  std::printf("fires %d, in repeated hours %d, at gap ends %d\n", counts.fires,
              counts.in_repeated_hours, counts.at_gap_ends);
  EXPECT_GT(counts.fires, 10000);
  EXPECT_GT(counts.in_repeated_hours, 100);
  EXPECT_GT(counts.at_gap_ends, 20);
}

}  // namespace
}  // namespace pgjobs
