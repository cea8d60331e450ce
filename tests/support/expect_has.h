// EXPECT_HAS(text, part): text contains part; prints both when it does not.
#ifndef PGJOBS_TESTS_SUPPORT_EXPECT_HAS_H_
#define PGJOBS_TESTS_SUPPORT_EXPECT_HAS_H_

#include <gtest/gtest.h>

#include <string>

namespace pgjobs::testing {

inline ::testing::AssertionResult HasText(const char* text_expr, const char* /*part_expr*/,
                                          const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << text_expr << " is \"" << text << "\", which does not contain \"" << part << "\"";
}

}  // namespace pgjobs::testing

#define EXPECT_HAS(text, part) EXPECT_PRED_FORMAT2(::pgjobs::testing::HasText, text, part)

#endif  // PGJOBS_TESTS_SUPPORT_EXPECT_HAS_H_
