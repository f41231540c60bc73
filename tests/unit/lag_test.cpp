// The one lag and skew rule (metrics/lag.hpp) used by Bus::metrics(),
// Prometheus, the Inspector and the CLI.
#include <gtest/gtest.h>

#include <vector>

#include "metrics/lag.hpp"

namespace weir::internal {
namespace {

TEST(Lag, CountsFromTheLaterOfCommittedAndStart) {
  EXPECT_EQ(group_lag(100, 40, 0), 60u);
  EXPECT_EQ(group_lag(100, std::nullopt, 30), 70u);  // no offset yet: stands at start
  EXPECT_EQ(group_lag(100, 10, 50), 50u);            // retention deleted 10..49: not lag
  EXPECT_EQ(group_lag(100, 100, 0), 0u);
  EXPECT_EQ(group_lag(100, 120, 0), 0u);  // never negative
  EXPECT_EQ(group_lag(0, std::nullopt, 0), 0u);
}

std::vector<bool> skew(std::vector<std::uint64_t> lags) { return skewed_partitions(lags); }

TEST(Lag, SkewIsFiveTimesTheMedianAndAtLeastTen) {
  EXPECT_TRUE(skew({}).empty());
  EXPECT_EQ(skew({0, 0, 100}), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(skew({0, 0, 9}), (std::vector<bool>{false, false, false}));  // below kSkewMinLag
  EXPECT_EQ(skew({10, 10, 50}), (std::vector<bool>{false, false, false}));  // exactly 5x: not more
  EXPECT_EQ(skew({10, 10, 51}), (std::vector<bool>{false, false, true}));
  // Even count: the median is the mean of the middle two (10 and 20 -> 15).
  EXPECT_EQ(skew({10, 20, 0, 76}), (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(skew({10, 20, 0, 75}), (std::vector<bool>{false, false, false, false}));
  EXPECT_EQ(skew({1000}), (std::vector<bool>{false}));  // one partition is its own median
  EXPECT_EQ(skew({50, 50, 50}), (std::vector<bool>{false, false, false}));
}

}  // namespace
}  // namespace weir::internal
