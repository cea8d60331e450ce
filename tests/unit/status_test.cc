// Status and Result<T> from include/pgjobs/status.h.
#include "pgjobs/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace pgjobs {
namespace {

using Code = Status::Code;

TEST(StatusTest, DefaultIsOkWithNoMessage) {
  Status st;
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(st.code(), Code::kOk);
  EXPECT_EQ(st.message(), "");
  EXPECT_EQ(st.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, EachFactoryGivesItsCodeMessageAndName) {
  struct Case {
    Status status;
    Code code;
    const char* text;
  };
  const std::vector<Case> cases = {
      {Status::InvalidArgument("m"), Code::kInvalidArgument, "invalid argument: m"},
      {Status::NotFound("m"), Code::kNotFound, "not found: m"},
      {Status::AlreadyExists("m"), Code::kAlreadyExists, "already exists: m"},
      {Status::Unavailable("m"), Code::kUnavailable, "unavailable: m"},
      {Status::FailedPrecondition("m"), Code::kFailedPrecondition, "failed precondition: m"},
      {Status::PermissionDenied("m"), Code::kPermissionDenied, "permission denied: m"},
      {Status::Internal("m"), Code::kInternal, "internal error: m"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.text;
    EXPECT_EQ(c.status.code(), c.code) << c.text;
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(c.status.ToString(), c.text);
  }
}

TEST(StatusTest, AnErrorWithAnEmptyMessageIsStillAnError) {
  EXPECT_FALSE(Status::Internal("").ok());
}

TEST(StatusTest, WithContextPrependsTheContextAndKeepsTheCode) {
  Status st = Status::Unavailable("connection lost").WithContext("claim queue=emails");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.message(), "claim queue=emails: connection lost");
  EXPECT_EQ(st.WithContext("fetcher").message(), "fetcher: claim queue=emails: connection lost");
}

TEST(StatusTest, WithContextLeavesTheOriginalUnchanged) {
  Status st = Status::NotFound("job 7");
  (void)st.WithContext("show");
  EXPECT_EQ(st.message(), "job 7");
}

TEST(StatusTest, WithContextOnOkStaysOkWithoutAMessage) {
  Status st = Status::Ok().WithContext("anything");
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(st.message(), "");
}

TEST(StatusTest, ACopyKeepsCodeAndMessage) {
  Status a = Status::InvalidArgument("x");
  Status b = a;
  EXPECT_EQ(b.code(), a.code());
  EXPECT_EQ(b.message(), a.message());
}

// ---- Result ----

TEST(ResultTest, AValueIsOkAndReachableEveryWay) {
  Result<std::string> r = std::string("hello");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), "hello");
  EXPECT_EQ(*r, "hello");
  EXPECT_EQ(r->size(), 5u);
  r->append("!");
  EXPECT_EQ(*r, "hello!");
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr.value(), "hello!");
  EXPECT_EQ(cr->size(), 6u);
}

TEST(ResultTest, AnErrorStatusIsNotOkAndKeepsTheStatus) {
  Result<int> r = Status::NotFound("job 7 does not exist");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "job 7 does not exist");
}

TEST(ResultTest, AnOkStatusWithoutAValueIsAnInternalError) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_EQ(r.status().message(), "Result built from an ok Status without a value");
}

TEST(ResultTest, TheValueCanBeMovedOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(42);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 42);
}

TEST(ResultTest, AZeroValueIsStillOk) {
  Result<int> r = 0;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
}

// ---- PGJOBS_RETURN_IF_ERROR ----

Status Steps(const std::vector<Status>& steps, int& ran) {
  for (const Status& s : steps) {
    ++ran;
    PGJOBS_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

TEST(ReturnIfErrorTest, ReturnsTheFirstErrorAndSkipsTheRest) {
  int ran = 0;
  Status st = Steps({Status::Ok(), Status::Unavailable("down"), Status::Internal("bug")}, ran);
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.message(), "down");
  EXPECT_EQ(ran, 2);
}

TEST(ReturnIfErrorTest, GoesOnWhileOk) {
  int ran = 0;
  EXPECT_TRUE(Steps({Status::Ok(), Status::Ok()}, ran).ok());
  EXPECT_EQ(ran, 2);
}

Result<int> Half(int n) {
  if (n % 2 != 0) return Status::InvalidArgument(std::to_string(n) + " is odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  auto half = Half(n);
  PGJOBS_RETURN_IF_ERROR(half.status().WithContext("quarter"));
  return Half(*half);
}

TEST(ReturnIfErrorTest, WorksInAFunctionReturningAResult) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_EQ(Quarter(5).status().message(), "quarter: 5 is odd");
}

}  // namespace
}  // namespace pgjobs
