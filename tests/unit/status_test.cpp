#include <gtest/gtest.h>

#include "weir/status.hpp"

namespace weir {
namespace {

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::not_found("topic 'x' not found");
  EXPECT_FALSE(s);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.to_string(), "not_found: topic 'x' not found");
}

TEST(Status, EveryCodeHasAName) {
  for (int c = 0; c <= 10; ++c) EXPECT_NE(code_name(static_cast<Code>(c)), "unknown") << c;
  EXPECT_EQ(code_name(static_cast<Code>(99)), "unknown");
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().is_ok());
  Result<int> bad(Status::closed("bus closed"));
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.status().code(), Code::kClosed);
}

// value() of an error Result ends the same way in every build type: weir's
// message on stderr, then abort (never std::bad_variant_access).
TEST(ResultDeathTest, ValueOnErrorPrintsTheStatusAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<int> bad(Status::not_found("topic 'x' not found"));
  EXPECT_DEATH((void)bad.value(), "weir: Result::value\\(\\) on error: not_found: topic 'x' not found");
  EXPECT_DEATH((void)*bad, "weir: Result::value\\(\\) on error: not_found");
  EXPECT_DEATH((void)std::move(bad).value(), "weir: Result::value\\(\\) on error");
}

TEST(Result, ValueOrGivesTheFallbackOnError) {
  Result<std::string> bad(Status::closed("bus closed"));
  EXPECT_EQ(bad.value_or("none"), "none");
  Result<std::string> good(std::string("v"));
  EXPECT_EQ(good.value_or("none"), "v");
  EXPECT_EQ(std::move(good).value_or("none"), "v");
}

}  // namespace
}  // namespace weir
