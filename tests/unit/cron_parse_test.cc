// Parsing, canonical text and parse errors of CronExpr.
#include <gtest/gtest.h>

#include <string>

#include "cron_test_util.h"
#include "pgjobs/cron.h"

namespace pgjobs {
namespace {

using crontest::Cron;

std::string Canonical(std::string_view text) {
  Result<CronExpr> expr = CronExpr::Parse(text);
  if (!expr.ok()) return "error: " + expr.status().message();
  return expr->ToString();
}

std::string ErrorOf(std::string_view text) {
  Result<CronExpr> expr = CronExpr::Parse(text);
  if (expr.ok()) return "parsed as " + expr->ToString();
  EXPECT_EQ(expr.status().code(), Status::Code::kInvalidArgument);
  return expr.status().message();
}

TEST(CronParseTest, ReadsFiveFieldsIntoCanonicalText) {
  struct Case {
    const char* text;
    const char* canonical;
  };
  const Case cases[] = {
      {"* * * * *", "* * * * *"},
      {"0 0 * * *", "0 0 * * *"},
      {"  5\t4  * *   *  ", "5 4 * * *"},
      {"*/15 * * * *", "*/15 * * * *"},
      {"0-59/15 * * * *", "*/15 * * * *"},
      {"5/15 * * * *", "5-50/15 * * * *"},
      {"1-30/5 * * * *", "1-26/5 * * * *"},
      {"1-59/2 * * * *", "1-59/2 * * * *"},
      {"0,30 9-17 * * 1-5", "0,30 9-17 * * 1-5"},
      {"30,0,15 1,2,3,4 * * *", "0,15,30 1-4 * * *"},
      {"0 0 1,15 * *", "0 0 1,15 * *"},
      {"0 0 * JAN,mar,Jul-sep *", "0 0 * 1,3,7-9 *"},
      {"0 0 * 1-12 *", "0 0 * * *"},
      {"0 0 * * MON-FRI", "0 0 * * 1-5"},
      {"0 0 * * sun", "0 0 * * 0"},
      {"0 0 * * 7", "0 0 * * 0"},
      {"0 0 * * 5-7", "0 0 * * 0,5,6"},
      {"0 0 * * 0-7", "0 0 * * 0-6"},
      {"0 0 * * */2", "0 0 * * */2"},
      {"0 0 */2 * *", "0 0 */2 * *"},
      {"0 0 */10,15 * *", "0 0 */10,15 * *"},
      {"0 0 1-31 * *", "0 0 1-31 * *"},
      {"0-59 0-23 * * *", "0-59 0-23 * * *"},
      {"0-30/1 * * * *", "0-30/1 * * * *"},
      {"0 1-3/1 * * *", "0 1-3/1 * * *"},
      {"0 23/2 * * *", "0 23-23/1 * * *"},
      {"0 */12 * * *", "0 */12 * * *"},
      {"0,5 1-2/5 * * *", "0,5 1-1/1 * * *"},
      {"0 0-10/5,20-22 * * *", "0 0-10/5,20-22 * * *"},
      {"*/20,5 * * * *", "0-5/5,20,40 * * * *"},
  };
  for (const Case& c : cases) EXPECT_EQ(Canonical(c.text), c.canonical) << c.text;
}

TEST(CronParseTest, ReadsALeadingSecondsField) {
  CronExpr expr = Cron("*/10 0 12 * * *");
  EXPECT_TRUE(expr.has_seconds());
  EXPECT_EQ(expr.ToString(), "*/10 0 12 * * *");
  EXPECT_FALSE(Cron("0 12 * * *").has_seconds());
  EXPECT_EQ(Canonical("0 0 12 * * *"), "0 0 12 * * *");
  EXPECT_EQ(Canonical("59 59 23 31 12 SAT"), "59 59 23 31 12 6");
}

TEST(CronParseTest, ExpandsMacrosCaseInsensitively) {
  EXPECT_EQ(Canonical("@yearly"), "0 0 1 1 *");
  EXPECT_EQ(Canonical("@annually"), "0 0 1 1 *");
  EXPECT_EQ(Canonical("@monthly"), "0 0 1 * *");
  EXPECT_EQ(Canonical("@weekly"), "0 0 * * 0");
  EXPECT_EQ(Canonical("@daily"), "0 0 * * *");
  EXPECT_EQ(Canonical("@midnight"), "0 0 * * *");
  EXPECT_EQ(Canonical(" @HOURLY "), "0 * * * *");
  EXPECT_TRUE(Cron("@hourly") == Cron("0 * * * *"));
}

TEST(CronParseTest, EqualExpressionsCompareEqualAndHaveOneText) {
  EXPECT_TRUE(Cron("0 0 * * 7") == Cron("0 0 * * SUN"));
  EXPECT_TRUE(Cron("0 0 * * 0") == Cron("0 0 * * 7"));
  EXPECT_TRUE(Cron("1,2,3 * * * *") == Cron("1-3 * * * *"));
  EXPECT_TRUE(Cron("*/30 * * * *") == Cron("0,30/30 * * * *"));
  // "*" and "0-59" select the same minutes but differ under daylight saving.
  EXPECT_FALSE(Cron("* 1 * * *") == Cron("0-59 1 * * *"));
  // A day field starting with "*" changes how the two day fields combine.
  EXPECT_FALSE(Cron("0 0 1-31 * 1") == Cron("0 0 * * 1"));
  EXPECT_FALSE(Cron("0 0 0 * * *") == Cron("0 0 * * *"));
}

TEST(CronParseTest, CanonicalTextParsesBackToAnEqualExpression) {
  const char* texts[] = {
      "*/7 * * * *",      "1,2,3,5,8,13 */5 * * *",   "0 0-23/3,1 1-7 * MON",  "0 0 */3,2 * */2,1",
      "59 23 31 DEC SAT", "*/13 */7 */5 */4 */3 */2", "3 4/5 6-20/7 */11 1-7", "0 7 * * 6-7",
      "17-19/2 0 * * *"};
  for (const char* text : texts) {
    CronExpr expr = Cron(text);
    Result<CronExpr> again = CronExpr::Parse(expr.ToString());
    ASSERT_TRUE(again.ok()) << text << " -> " << expr.ToString() << ": "
                            << again.status().ToString();
    EXPECT_TRUE(*again == expr) << text << " -> " << expr.ToString();
    EXPECT_EQ(again->ToString(), expr.ToString());
  }
}

TEST(CronParseTest, ClassifiesPeriodicAndFixedTimeExpressions) {
  EXPECT_TRUE(Cron("* * * * *").is_periodic());
  EXPECT_TRUE(Cron("*/15 * * * *").is_periodic());
  EXPECT_TRUE(Cron("0 * * * *").is_periodic());
  EXPECT_TRUE(Cron("30 */2 * * *").is_periodic());
  EXPECT_TRUE(Cron("30 1-23/2 * * *").is_periodic());
  EXPECT_TRUE(Cron("0-30/10 1 * * *").is_periodic());
  EXPECT_TRUE(Cron("5/15 1 * * *").is_periodic());
  EXPECT_TRUE(Cron("*/10 30 1 * * *").is_periodic());
  EXPECT_TRUE(Cron("@hourly").is_periodic());
  EXPECT_FALSE(Cron("30 1 * * *").is_periodic());
  EXPECT_FALSE(Cron("0,30 9-17 * * *").is_periodic());
  EXPECT_FALSE(Cron("0-59 1 * * *").is_periodic());
  EXPECT_FALSE(Cron("0 30 1 * * *").is_periodic());
  EXPECT_FALSE(Cron("30 1 */2 * *").is_periodic());
  EXPECT_FALSE(Cron("@daily").is_periodic());
}

TEST(CronParseTest, RejectsHourOutOfRangeNamingFieldAndPosition) {
  EXPECT_EQ(ErrorOf("0 25 * * *"),
            "cron \"0 25 * * *\": hour field \"25\" at position 3 is out "
            "of range 0-23");
}

TEST(CronParseTest, PointsAtTheOffendingListElement) {
  EXPECT_EQ(ErrorOf("0 1,25 * * *"),
            "cron \"0 1,25 * * *\": hour field \"1,25\": \"25\" at position 5 is out of range "
            "0-23");
  EXPECT_EQ(ErrorOf("0 0 0 * *"),
            "cron \"0 0 0 * *\": day-of-month field \"0\" at position 5 is out of range 1-31");
  EXPECT_EQ(ErrorOf("0 0 * 13 *"),
            "cron \"0 0 * 13 *\": month field \"13\" at position 7 is out of range 1-12");
  EXPECT_EQ(ErrorOf("0 0 * * 8"),
            "cron \"0 0 * * 8\": day-of-week field \"8\" at position 9 is out of range 0-7");
  EXPECT_EQ(ErrorOf("60 0 0 * * *"),
            "cron \"60 0 0 * * *\": second field \"60\" at position 1 is out of range 0-59");
  EXPECT_EQ(ErrorOf("99999999999999999999 * * * *"),
            "cron \"99999999999999999999 * * * *\": minute field \"99999999999999999999\" at "
            "position 1 is out of range 0-59");
}

TEST(CronParseTest, RejectsWrongFieldCountsSayingWhatIsExpected) {
  EXPECT_EQ(ErrorOf("0 0 * *"),
            "cron \"0 0 * *\": found 4 fields, expected 5 fields (minute hour day-of-month month "
            "day-of-week) or 6 with a leading seconds field");
  EXPECT_EQ(ErrorOf("0 0 * * * * extra"),
            "cron \"0 0 * * * * extra\": found 7 fields, expected 5 fields (minute hour "
            "day-of-month month day-of-week) or 6 with a leading seconds field; the first extra "
            "field is \"extra\" at position 13");
  EXPECT_EQ(ErrorOf(""),
            "cron \"\": empty expression; expected 5 fields (minute hour day-of-month month "
            "day-of-week) or 6 with a leading seconds field, or a macro such as @daily");
  EXPECT_EQ(ErrorOf(" \t "),
            "cron \" \\x09 \": empty expression; expected 5 fields (minute hour day-of-month "
            "month day-of-week) or 6 with a leading seconds field, or a macro such as @daily");
}

TEST(CronParseTest, RejectsReversedRangesWithAHint) {
  EXPECT_EQ(ErrorOf("30-10 * * * *"),
            "cron \"30-10 * * * *\": minute field \"30-10\" at position 1 is a reversed range "
            "(30 > 10); ranges go from low to high");
  EXPECT_EQ(ErrorOf("0 0 * * FRI-SUN"),
            "cron \"0 0 * * FRI-SUN\": day-of-week field \"FRI-SUN\" at position 9 is a reversed "
            "range (5 > 0); write 5-7 (7 is Sunday)");
}

TEST(CronParseTest, RejectsBadSteps) {
  EXPECT_EQ(ErrorOf("*/0 * * * *"),
            "cron \"*/0 * * * *\": minute field \"*/0\": \"0\" at position 3 is a zero step; "
            "steps start at 1");
  EXPECT_EQ(ErrorOf("0 */24 * * *"),
            "cron \"0 */24 * * *\": hour field \"*/24\": \"24\" at position 5 is a step larger "
            "than range 0-23 allows (at most 23)");
  EXPECT_EQ(ErrorOf("*/ * * * *"),
            "cron \"*/ * * * *\": minute field \"*/\": missing step after '/' at position 3");
  EXPECT_EQ(ErrorOf("/5 * * * *"),
            "cron \"/5 * * * *\": minute field \"/5\": missing value before '/' at position 1");
  EXPECT_EQ(ErrorOf("*/5/2 * * * *"),
            "cron \"*/5/2 * * * *\": minute field \"*/5/2\" at position 1 has more than one '/'");
  EXPECT_EQ(ErrorOf("*/x * * * *"),
            "cron \"*/x * * * *\": minute field \"*/x\": \"x\" at position 3 is not a step; a "
            "step is a number, as in */15 or 0-30/5");
}

TEST(CronParseTest, RejectsTrailingGarbageAndEmptyElements) {
  EXPECT_EQ(ErrorOf("5x * * * *"),
            "cron \"5x * * * *\": minute field \"5x\" at position 1 is not a number 0-59");
  EXPECT_EQ(ErrorOf("1,,2 * * * *"),
            "cron \"1,,2 * * * *\": minute field \"1,,2\": empty list element at position 3");
  EXPECT_EQ(ErrorOf("1, * * * *"),
            "cron \"1, * * * *\": minute field \"1,\": empty list element at position 3");
  EXPECT_EQ(ErrorOf("-5 * * * *"),
            "cron \"-5 * * * *\": minute field \"-5\" at position 1 is missing the start of its "
            "range");
  EXPECT_EQ(ErrorOf("1- * * * *"),
            "cron \"1- * * * *\": minute field \"1-\" at position 1 is missing the end of its "
            "range");
  EXPECT_EQ(ErrorOf("1-2-3 * * * *"),
            "cron \"1-2-3 * * * *\": minute field \"1-2-3\" at position 1 has more than one '-'");
  EXPECT_EQ(ErrorOf("*-5 * * * *"),
            "cron \"*-5 * * * *\": minute field \"*-5\": \"*\" at position 1 cannot be part of a "
            "range; write * alone, or */step");
}

TEST(CronParseTest, RejectsUnknownNamesSuggestingTheKnownOne) {
  EXPECT_EQ(ErrorOf("0 0 * * MONDAY"),
            "cron \"0 0 * * MONDAY\": day-of-week field \"MONDAY\" at position 9 is not a name "
            "pgjobs knows; write MON");
  EXPECT_EQ(ErrorOf("0 0 * JANUARY *"),
            "cron \"0 0 * JANUARY *\": month field \"JANUARY\" at position 7 is not a name pgjobs "
            "knows; write JAN");
  EXPECT_EQ(ErrorOf("0 0 * FOO *"),
            "cron \"0 0 * FOO *\": month field \"FOO\" at position 7 is not a month (1-12 or "
            "JAN-DEC)");
  EXPECT_EQ(ErrorOf("0 MON * * *"),
            "cron \"0 MON * * *\": hour field \"MON\" at position 3 is not a number 0-23");
  EXPECT_EQ(ErrorOf("0 0 * * JAN"),
            "cron \"0 0 * * JAN\": day-of-week field \"JAN\" at position 9 is not a weekday (0-7 "
            "or SUN-SAT, 0 and 7 both Sunday)");
}

TEST(CronParseTest, RejectsQuartzSyntaxWithAHint) {
  EXPECT_EQ(ErrorOf("0 0 ? * MON"),
            "cron \"0 0 ? * MON\": day-of-month field \"?\" at position 5 is Quartz syntax, which "
            "pgjobs does not use; write * instead of ?");
  EXPECT_EQ(ErrorOf("0 0 L * *"),
            "cron \"0 0 L * *\": day-of-month field \"L\" at position 5 is Quartz syntax (L, W, "
            "#), which pgjobs does not support");
  EXPECT_EQ(ErrorOf("0 0 * * 5#3"),
            "cron \"0 0 * * 5#3\": day-of-week field \"5#3\" at position 9 is Quartz syntax (L, "
            "W, #), which pgjobs does not support");
}

TEST(CronParseTest, RejectsEveryAndUnknownMacrosWithAHint) {
  EXPECT_EQ(ErrorOf("@every 5m"),
            "cron \"@every 5m\": @every is not cron syntax: an interval is its own schedule kind; "
            "create an interval schedule instead");
  EXPECT_EQ(ErrorOf("@reboot"),
            "cron \"@reboot\": @reboot is not supported: schedules fire at times, not when pgjobs "
            "starts");
  EXPECT_EQ(ErrorOf("@daily 5"),
            "cron \"@daily 5\": @daily takes no fields, found \"5\" at position 8");
  EXPECT_EQ(ErrorOf("@fortnightly"),
            "cron \"@fortnightly\": unknown macro \"@fortnightly\"; use @yearly, @annually, "
            "@monthly, @weekly, @daily, @midnight or @hourly");
}

TEST(CronParseTest, QuotesUnprintableBytesInErrors) {
  EXPECT_EQ(ErrorOf(std::string_view("0 \x01\"\xff * * *", 11)),
            "cron \"0 \\x01\\\"\\xff * * *\": hour field \"\\x01\\\"\\xff\" at position 3 is not "
            "a number 0-23");
}

TEST(CronParseTest, CutsLongInputsShortInErrors) {
  std::string message = ErrorOf(std::string(500, '7') + " * * * *");
  EXPECT_EQ(message.substr(0, 6 + 64 + 3), "cron \"" + std::string(64, '7') + "...");
  EXPECT_LT(message.size(), 300u) << message;
  EXPECT_LT(ErrorOf(std::string(500, '\0')).size(), 400u);
}

}  // namespace
}  // namespace pgjobs
