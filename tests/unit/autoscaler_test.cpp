// Autoscaler on its own: when a window counts as rising or idle, and the
// bounds of the pool.
#include "dispatch/autoscaler.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace weir::internal {
namespace {

Autoscaler make(std::uint32_t min, std::uint32_t max) {
  AutoscaleOptions o;
  o.enabled = true;
  o.grow_after = 2;
  o.shrink_after = 3;
  o.min_lag = 100;
  return Autoscaler(o, min, max);
}

TEST(Autoscaler, GrowsAfterRisingWindowsUpToMax) {
  Autoscaler a = make(1, 2);
  std::vector<std::uint64_t> lag{200, 0};
  EXPECT_FALSE(a.decide(lag, 1).has_value());  // first window: rising from 0, 1 of 2
  lag[0] = 300;
  EXPECT_EQ(a.decide(lag, 1), 2u);
  lag[0] = 400;
  EXPECT_FALSE(a.decide(lag, 2).has_value());
  lag[0] = 500;
  EXPECT_FALSE(a.decide(lag, 2).has_value());  // at max
}

TEST(Autoscaler, LagBelowMinLagNeverCountsAsRising) {
  Autoscaler a = make(1, 4);
  for (std::uint64_t l = 10; l < 90; l += 10) {
    const std::vector<std::uint64_t> lag{l};
    EXPECT_FALSE(a.decide(lag, 1).has_value());
  }
}

TEST(Autoscaler, ShrinksAfterIdleWindowsDownToMin) {
  Autoscaler a = make(2, 4);
  const std::vector<std::uint64_t> idle{0, 50};
  EXPECT_FALSE(a.decide(idle, 3).has_value());
  EXPECT_FALSE(a.decide(idle, 3).has_value());
  EXPECT_EQ(a.decide(idle, 3), 2u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(a.decide(idle, 2).has_value());  // at min
}

TEST(Autoscaler, DueOncePerWindow) {
  AutoscaleOptions o;
  o.window = std::chrono::milliseconds(1000);
  Autoscaler a(o, 1, 2);
  const auto t = Autoscaler::Clock::now();
  EXPECT_TRUE(a.due(t));
  EXPECT_FALSE(a.due(t + std::chrono::milliseconds(999)));
  EXPECT_TRUE(a.due(t + std::chrono::milliseconds(1000)));
}

}  // namespace
}  // namespace weir::internal
