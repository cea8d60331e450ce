// ParseDuration, ParseTimestamp and NearestWord from src/common/text.h.
#include "common/text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>
#include "tests/support/expect_has.h"

namespace pgjobs {
namespace {

using std::chrono::milliseconds;

milliseconds Ms(std::string_view text) {
  auto d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().message();
  return d.ok() ? *d : milliseconds(-1);
}

std::string DurationError(std::string_view text) {
  auto d = ParseDuration(text);
  EXPECT_FALSE(d.ok()) << text << " parsed as " << (d.ok() ? d->count() : 0) << " ms";
  if (d.ok()) return "";
  EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
  return d.status().message();
}

// Seconds since the Unix epoch, with the fraction.
double Epoch(std::string_view text) {
  auto t = ParseTimestamp(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().message();
  if (!t.ok()) return -1;
  return std::chrono::duration<double>(t->time_since_epoch()).count();
}

std::string TimestampError(std::string_view text) {
  auto t = ParseTimestamp(text);
  EXPECT_FALSE(t.ok()) << text << " was accepted";
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), Status::Code::kInvalidArgument);
  return t.status().message();
}

// 2026-11-25T15:00:00Z as Unix seconds.
constexpr double kNov25At15 = 1795618800;

// ---- ParseDuration ----

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_EQ(Ms("500ms"), milliseconds(500));
  EXPECT_EQ(Ms("30s"), milliseconds(30'000));
  EXPECT_EQ(Ms("5m"), milliseconds(300'000));
  EXPECT_EQ(Ms("5min"), milliseconds(300'000));
  EXPECT_EQ(Ms("2h"), milliseconds(7'200'000));
  EXPECT_EQ(Ms("1d"), milliseconds(86'400'000));
}

TEST(ParseDurationTest, AddsUpCombinedUnits) {
  EXPECT_EQ(Ms("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(Ms("1m30s"), milliseconds(90'000));
  EXPECT_EQ(Ms("1d2h3m4s5ms"), milliseconds(86'400'000 + 7'200'000 + 180'000 + 4'000 + 5));
  EXPECT_EQ(Ms("1s1ms"), milliseconds(1'001));
}

TEST(ParseDurationTest, ReadsABareNumberAsSeconds) {
  EXPECT_EQ(Ms("0"), milliseconds(0));
  EXPECT_EQ(Ms("2"), milliseconds(2'000));
  EXPECT_EQ(Ms("2.5"), milliseconds(2'500));
}

TEST(ParseDurationTest, AcceptsFractionsAndRoundsToTheNearestMillisecond) {
  EXPECT_EQ(Ms("1.5h"), milliseconds(5'400'000));
  EXPECT_EQ(Ms("0.25s"), milliseconds(250));
  EXPECT_EQ(Ms(".5s"), milliseconds(500));
  EXPECT_EQ(Ms("0.0006s"), milliseconds(1));
  EXPECT_EQ(Ms("0.0004s"), milliseconds(0));
}

TEST(ParseDurationTest, RejectsEmptyTextSayingItIsEmpty) {
  EXPECT_HAS(DurationError(""), "duration \"\" is empty");
}

TEST(ParseDurationTest, ErrorsShowTheAcceptedForms) {
  EXPECT_HAS(DurationError("soon"), "use forms like 500ms, 30s, 5m, 2h, 1d or 1h30m");
}

TEST(ParseDurationTest, RejectsAnUnknownUnitAndNamesIt) {
  EXPECT_HAS(DurationError("5x"), "has an unknown unit \"x\"");
  EXPECT_HAS(DurationError("3w"), "unknown unit \"w\"");
  EXPECT_HAS(DurationError("10sec"), "unknown unit \"sec\"");
  EXPECT_HAS(DurationError("1S"), "unknown unit \"S\"");
  EXPECT_HAS(DurationError("1e3s"), "unknown unit \"e\"");
}

TEST(ParseDurationTest, RejectsTextWithoutANumberAndGivesThePosition) {
  EXPECT_HAS(DurationError("soon"), "has no number at position 1");
  EXPECT_HAS(DurationError("5s 3m"), "has no number at position 3");
  EXPECT_HAS(DurationError(" 5s"), "position 1");
  EXPECT_HAS(DurationError("5s "), "position 3");
}

TEST(ParseDurationTest, RejectsANegativeDurationSayingSo) {
  EXPECT_HAS(DurationError("-5s"), "duration \"-5s\" cannot be negative");
}

TEST(ParseDurationTest, NamesAnUnknownUnitWrittenAfterASpaceAndListsTheUnits) {
  EXPECT_HAS(DurationError("5 parsecs"), "unknown unit \"parsecs\" (use ms, s, m, h, d");
  EXPECT_HAS(DurationError("5 s"), "has a space before its unit \"s\"");
}

TEST(ParseDurationTest, RejectsAMalformedNumber) {
  EXPECT_HAS(DurationError("1..5s"), "malformed number \"1..5\"");
  EXPECT_HAS(DurationError("1.2.3"), "malformed number");
  EXPECT_HAS(DurationError(".s"), "malformed number \".\"");
}

TEST(ParseDurationTest, RejectsABareNumberMixedWithUnits) {
  EXPECT_HAS(DurationError("1h30"), "mixes a bare number");
  EXPECT_HAS(DurationError("30s5"), "mixes a bare number");
}

TEST(ParseDurationTest, RejectsADurationTooLongToRepresent) {
  EXPECT_HAS(DurationError("999999999d"), "is too long");
  EXPECT_HAS(DurationError(std::string(400, '9') + "s"), "is too long");
}

TEST(ParseDurationTest, ErrorQuotesTheWholeText) {
  EXPECT_HAS(DurationError("1h30x"), "duration \"1h30x\"");
}

// ---- ParseTimestamp ----

TEST(ParseTimestampTest, RefusesAYearItCannotHoldRatherThanWrapIntoThePast) {
  // Nanoseconds since 1970 end at 2262-04-11: a later time used to come out
  // in 1677-1816 (a job "at 2300" ran at once, an end in 9999 had passed).
  for (const char* text : {"2300-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z",
                           "1600-01-01T00:00:00+01:00", "12026-01-01T00:00:00Z"}) {
    std::string msg = TimestampError(text);
    EXPECT_NE(msg.find("is outside the years 1678-2261 that pgjobs handles"), std::string::npos)
        << text << ": " << msg;
    EXPECT_NE(msg.find("leave its end out"), std::string::npos) << msg;
  }
  EXPECT_DOUBLE_EQ(Epoch("2261-12-31T23:59:59Z"), 9214646399.0);
  EXPECT_DOUBLE_EQ(Epoch("1678-01-01T00:00:00Z"), -9214560000.0);
}

TEST(ParseTimestampTest, ReadsAUtcInstantWithZ) {
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T15:00:00Z"), kNov25At15);
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T15:00:00z"), kNov25At15);
  EXPECT_DOUBLE_EQ(Epoch("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseTimestampTest, AppliesANumericOffset) {
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T16:00:00+01:00"), kNov25At15);
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T10:00:00-05:00"), kNov25At15);
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T20:30:00+05:30"), kNov25At15);
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T15:00:00+00:00"), kNov25At15);
}

TEST(ParseTimestampTest, AcceptsASpaceInsteadOfT) {
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25 15:00:00Z"), kNov25At15);
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25 15:00:00+01:00"), kNov25At15 - 3600);
}

TEST(ParseTimestampTest, KeepsFractionsOfASecond) {
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T15:00:00.5Z"), kNov25At15 + 0.5);
  EXPECT_DOUBLE_EQ(Epoch("2026-11-25T15:00:00.250+01:00"), kNov25At15 - 3600 + 0.25);
  auto t = ParseTimestamp("1970-01-01T00:00:00.123456Z");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count(),
            123456);
}

TEST(ParseTimestampTest, KeepsNanosecondsAsDateRfc3339NsPrintsThem) {
  auto t = ParseTimestamp("1970-01-01 01:00:00.123456789+01:00");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count(),
            123456789);
  TimestampError("1970-01-01T00:00:00.1234567890Z");
}

TEST(ParseTimestampTest, RejectsATimeWithoutAZoneAndSaysWhy) {
  std::string msg = TimestampError("2026-11-25T15:00:00");
  EXPECT_HAS(msg, "time \"2026-11-25T15:00:00\"");
  EXPECT_HAS(msg, "is not an ISO 8601 instant with a zone");
  EXPECT_HAS(msg, "2026-11-25T15:00:00Z");
  TimestampError("2026-11-25 15:00:00");
}

TEST(ParseTimestampTest, RejectsGarbageEmptyTextAndADateAlone) {
  TimestampError("");
  TimestampError("Z");
  TimestampError("tomorrow");
  TimestampError("2026-11-25");
  TimestampError("2026-11-25Z");
}

TEST(ParseTimestampTest, RejectsTrailingText) {
  TimestampError("2026-11-25T15:00:00Z now");
  TimestampError("2026-11-25T15:00:00+01:00x");
}

TEST(ParseTimestampTest, RejectsImpossibleDatesAndTimes) {
  TimestampError("2026-02-30T00:00:00Z");
  TimestampError("2026-13-01T00:00:00Z");
  TimestampError("2026-11-25T25:00:00Z");
  TimestampError("2026-11-25T15:61:00Z");
}

// ---- NearestWord ----

const std::vector<std::string> kKeys = {"queues",          "lease",         "poll_interval",
                                        "rescue_interval", "drain_timeout", "prefetch",
                                        "worker_id"};

TEST(NearestWordTest, SuggestsTheKeyWithTheSmallestEditDistance) {
  EXPECT_EQ(NearestWord("leese", kKeys), "lease");
  EXPECT_EQ(NearestWord("queue", kKeys), "queues");
  EXPECT_EQ(NearestWord("pol_interval", kKeys), "poll_interval");
  EXPECT_EQ(NearestWord("prefecth", kKeys), "prefetch");
  EXPECT_EQ(NearestWord("resuce_interval", kKeys), "rescue_interval");
}

TEST(NearestWordTest, IgnoresCase) { EXPECT_EQ(NearestWord("LEASE", kKeys), "lease"); }

TEST(NearestWordTest, ReturnsNothingWhenNoCandidateIsClose) {
  EXPECT_EQ(NearestWord("banana", kKeys), "");
  EXPECT_EQ(NearestWord("x", {"dsn"}), "");
  EXPECT_EQ(NearestWord("anything", {}), "");
}

TEST(NearestWordTest, AllowsMoreEditsForLongerWords) {
  // Two edits are always allowed; a 12-letter word allows four.
  EXPECT_EQ(NearestWord("lxxse", {"lease"}), "lease");
  EXPECT_EQ(NearestWord("lxxxe", {"lease"}), "");
  EXPECT_EQ(NearestWord("drxxn_txxeout", {"drain_timeout"}), "drain_timeout");
}

TEST(NearestWordTest, PrefersTheFirstCandidateOnATie) {
  EXPECT_EQ(NearestWord("ab", {"ax", "xb"}), "ax");
}

}  // namespace
}  // namespace pgjobs
