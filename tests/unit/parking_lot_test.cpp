// ParkingLot on its own: parking heads and followers, the due order, head
// hand-over, and the bounds the committed offset is taken from.
#include "dispatch/parking_lot.hpp"

#include <gtest/gtest.h>

namespace weir::internal {
namespace {

using namespace std::chrono_literals;
using Clock = ParkingLot::Clock;

Attempts due_at(Clock::time_point t, std::uint32_t attempt = 2) {
  Attempts a;
  a.attempt = attempt;
  a.retry_at = t;
  return a;
}

TEST(ParkingLot, HeadAndFollowersOfAKeyAreParkedInOrder) {
  ParkingLot lot(16);
  EXPECT_TRUE(lot.empty());
  EXPECT_FALSE(lot.is_parked("a"));
  const auto now = Clock::now();
  lot.park_head("a", 10, due_at(now, 3));
  lot.park_behind("a", 12);
  lot.park_behind("a", 15);
  EXPECT_TRUE(lot.is_parked("a"));
  EXPECT_FALSE(lot.is_parked("b"));
  EXPECT_EQ(lot.size(), 3u);
  EXPECT_EQ(lot.oldest(), 10u);
  EXPECT_EQ(lot.head_offset("a"), 10u);
  EXPECT_EQ(lot.head("a").attempt, 3u);
  EXPECT_TRUE(lot.contains(12));
  EXPECT_FALSE(lot.contains(11));
}

TEST(ParkingLot, PopDueGivesHeadsOldestDueFirstAndOnlyWhenDue) {
  ParkingLot lot(16);
  const auto now = Clock::now();
  lot.park_head("late", 1, due_at(now + 2s));
  lot.park_head("early", 2, due_at(now + 1s));
  EXPECT_EQ(lot.next_due(), now + 1s);
  EXPECT_FALSE(lot.pop_due(now).has_value());  // nothing due yet
  EXPECT_EQ(lot.pop_due(now + 1s), "early");
  EXPECT_FALSE(lot.pop_due(now + 1s).has_value());
  EXPECT_EQ(lot.pop_due(now + 5s), "late");
  EXPECT_FALSE(lot.next_due().has_value());
  // A popped head is not lost: it can be scheduled again.
  lot.schedule("late", now + 3s);
  EXPECT_EQ(lot.next_due(), now + 3s);
  EXPECT_TRUE(lot.is_parked("late"));
}

TEST(ParkingLot, FinishedHeadHandsTheKeyToItsNextEventAsAFirstAttemptDueNow) {
  ParkingLot lot(16);
  const auto now = Clock::now();
  lot.park_head("a", 4, due_at(now, 5));
  lot.park_behind("a", 7);
  ASSERT_EQ(lot.pop_due(now), "a");
  const auto f = lot.finish_head("a");
  EXPECT_EQ(f.done, 4u);
  ASSERT_TRUE(f.next.has_value());
  EXPECT_EQ(*f.next, 7u);
  EXPECT_EQ(lot.head("a").attempt, 1u);
  EXPECT_EQ(lot.head_offset("a"), 7u);
  EXPECT_FALSE(lot.contains(4));
  EXPECT_EQ(lot.oldest(), 7u);
  EXPECT_EQ(lot.pop_due(Clock::now()), "a");  // due at once

  const auto last = lot.finish_head("a");
  EXPECT_EQ(last.done, 7u);
  EXPECT_FALSE(last.next.has_value());
  EXPECT_FALSE(lot.is_parked("a"));  // an emptied key is unparked
  EXPECT_TRUE(lot.empty());
}

TEST(ParkingLot, OldestIsTheLowestParkedOffsetAcrossKeys) {
  ParkingLot lot(16);
  const auto now = Clock::now();
  lot.park_head("b", 20, due_at(now));
  lot.park_head("a", 8, due_at(now));
  lot.park_behind("b", 25);
  EXPECT_EQ(lot.oldest(), 8u);
  lot.finish_head("a");
  EXPECT_EQ(lot.oldest(), 20u);  // the committed bound only grows
  lot.finish_head("b");
  EXPECT_EQ(lot.oldest(), 25u);
}

TEST(ParkingLot, FullAtCapacity) {
  ParkingLot lot(2);
  const auto now = Clock::now();
  lot.park_head("a", 1, due_at(now));
  EXPECT_FALSE(lot.full());
  lot.park_behind("a", 2);
  EXPECT_TRUE(lot.full());
  lot.finish_head("a");
  EXPECT_FALSE(lot.full());
}

// Delayed delivery: a scheduled head counts until it finishes or turns into
// a failing one; only_scheduled() tells a drain it need not wait.
TEST(ParkingLot, ScheduledHeadsAreCountedUntilTheyFinish) {
  ParkingLot lot(16);
  const auto now = Clock::now();
  lot.park_head("a", 1, due_at(now));
  lot.mark_scheduled("a", true);
  lot.park_behind("a", 3);
  EXPECT_TRUE(lot.only_scheduled());
  lot.park_head("b", 2, due_at(now));  // a failing head
  EXPECT_FALSE(lot.only_scheduled());
  lot.finish_head("b");
  EXPECT_TRUE(lot.only_scheduled());
  lot.mark_scheduled("a", true);  // idempotent
  lot.finish_head("a");            // its next event is a plain first attempt
  EXPECT_FALSE(lot.only_scheduled());
  lot.mark_scheduled("a", true);
  lot.mark_scheduled("a", false);
  EXPECT_FALSE(lot.only_scheduled());
  lot.finish_head("a");
  EXPECT_TRUE(lot.empty());
  EXPECT_TRUE(lot.only_scheduled());  // vacuously: nothing parked
}

}  // namespace
}  // namespace weir::internal
