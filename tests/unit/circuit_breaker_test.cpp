// CircuitBreaker on its own (dispatch/breaker.hpp): when it opens, what an
// open breaker allows, the half-open probe, and the callbacks.
#include "dispatch/breaker.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace weir::internal {
namespace {

using namespace std::chrono_literals;

struct Transition {
  BreakerState from, to;
};

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreaker make(std::chrono::milliseconds cool_down = 20ms) {
    BreakerOptions o;
    o.enabled = true;
    o.failure_ratio = 0.5;
    o.min_calls = 4;
    o.window = 10s;
    o.cool_down = cool_down;
    return CircuitBreaker("g", o, [this](std::string_view group, BreakerState from, BreakerState to) {
      EXPECT_EQ(group, "g");
      seen_.push_back({from, to});
    });
  }
  // Opens `b` with four failures and waits out its cool-down.
  static void trip_and_cool_down(CircuitBreaker& b) {
    b.record(0, 4, false);
    ASSERT_EQ(b.state(), BreakerState::kOpen);
    std::this_thread::sleep_until(b.reopen_at() + 1ms);
  }
  std::vector<Transition> seen_;
};

TEST_F(CircuitBreakerTest, StaysClosedBelowMinCallsOrBelowTheRatio) {
  CircuitBreaker b = make();
  b.record(0, 3, false);  // 3 failures, but fewer than min_calls outcomes
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  b.record(3, 0, false);  // 3 of 6 failed: exactly the ratio...
  EXPECT_EQ(b.state(), BreakerState::kOpen);  // ...which opens it (>=)
  EXPECT_EQ(b.trips(), 1u);

  CircuitBreaker c = make();
  c.record(7, 3, false);  // 30 %
  EXPECT_EQ(c.state(), BreakerState::kClosed);
  bool probe = true;
  EXPECT_TRUE(c.allow(probe));
  EXPECT_FALSE(probe);  // closed: hand out freely, no probe
}

TEST_F(CircuitBreakerTest, OpenRefusesUntilTheCoolDownThenLetsOneProbeThrough) {
  CircuitBreaker b = make(30ms);
  b.record(0, 4, false);
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_NE(b.reopen_at(), CircuitBreaker::Clock::time_point{});
  bool probe = false;
  EXPECT_FALSE(b.allow(probe));
  std::this_thread::sleep_until(b.reopen_at() + 1ms);
  EXPECT_TRUE(b.allow(probe));
  EXPECT_TRUE(probe);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  EXPECT_EQ(b.reopen_at(), CircuitBreaker::Clock::time_point{});
  bool second = false;
  EXPECT_FALSE(b.allow(second));  // one probe at a time
  b.record(1, 0, true);           // the probe succeeded
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  ASSERT_EQ(seen_.size(), 3u);
  EXPECT_EQ(seen_[0].to, BreakerState::kOpen);
  EXPECT_EQ(seen_[1].from, BreakerState::kOpen);
  EXPECT_EQ(seen_[1].to, BreakerState::kHalfOpen);
  EXPECT_EQ(seen_[2].to, BreakerState::kClosed);
}

TEST_F(CircuitBreakerTest, AFailedProbeOpensItAgain) {
  CircuitBreaker b = make(10ms);
  trip_and_cool_down(b);
  bool probe = false;
  ASSERT_TRUE(b.allow(probe));
  ASSERT_TRUE(probe);
  b.record(0, 1, true);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.trips(), 2u);
}

TEST_F(CircuitBreakerTest, AReleasedProbeCanBeTakenAgain) {
  CircuitBreaker b = make(10ms);
  trip_and_cool_down(b);
  bool probe = false;
  ASSERT_TRUE(b.allow(probe));
  b.release_probe();  // nothing was there to try
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  bool again = false;
  EXPECT_TRUE(b.allow(again));
  EXPECT_TRUE(again);
}

TEST_F(CircuitBreakerTest, AThrowingObserverDoesNotBreakIt) {
  BreakerOptions o;
  o.enabled = true;
  o.min_calls = 1;
  o.failure_ratio = 0.5;
  CircuitBreaker b("g", o, [](std::string_view, BreakerState, BreakerState) { throw std::runtime_error("x"); });
  b.record(0, 1, false);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

}  // namespace
}  // namespace weir::internal
