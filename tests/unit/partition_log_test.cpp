#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "ring/partition_log.hpp"

namespace weir::internal {
namespace {

using Clock = std::chrono::steady_clock;
using CE = PartitionLog::ClaimError;

void put(PartitionLog& log, Offset o, const char* text) {
  char* b = log.slot_buffer(o, std::strlen(text));
  std::memcpy(b, text, std::strlen(text));
  log.publish(o);
}

TEST(PartitionLog, ClaimsConsecutiveOffsets) {
  PartitionLog log(16);
  Offset a, b;
  ASSERT_EQ(log.claim(3, false, {}, a), CE::kNone);
  ASSERT_EQ(log.claim(2, false, {}, b), CE::kNone);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 3u);
  EXPECT_EQ(log.end(), 5u);
}

TEST(PartitionLog, ReadableStopsAtFirstUnpublished) {
  PartitionLog log(16);
  Offset first;
  ASSERT_EQ(log.claim(3, false, {}, first), CE::kNone);
  put(log, 0, "a");
  put(log, 2, "c");
  EXPECT_EQ(log.readable(0, 10), 1u);
  put(log, 1, "b");
  EXPECT_EQ(log.readable(0, 10), 3u);
  EXPECT_EQ(log.readable(0, 2), 2u);
  EXPECT_EQ(std::memcmp(log.record(1), "b", 1), 0);
}

TEST(PartitionLog, FullWithoutReadersRejectsAndTimesOut) {
  PartitionLog log(16);
  Offset o;
  ASSERT_EQ(log.claim(16, false, {}, o), CE::kNone);
  EXPECT_EQ(log.claim(1, false, {}, o), CE::kFull);
  const auto t0 = Clock::now();
  EXPECT_EQ(log.claim(1, true, std::chrono::milliseconds(30), o), CE::kTimedOut);
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(30));
}

TEST(PartitionLog, ReaderFreesSpaceAndWakesBlockedProducer) {
  PartitionLog log(16);
  ReaderCursor cur;
  log.add_reader(&cur, 0);
  Offset o;
  ASSERT_EQ(log.claim(16, false, {}, o), CE::kNone);
  for (Offset i = 0; i < 16; ++i) put(log, i, "x");
  std::thread consumer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    cur.next.store(4, std::memory_order_release);
    log.reader_advanced();
  });
  Offset got;
  EXPECT_EQ(log.claim(4, true, std::chrono::seconds(5), got), CE::kNone);
  EXPECT_EQ(got, 16u);
  EXPECT_EQ(log.head(), 4u);
  consumer.join();
  log.remove_reader(&cur);
}

TEST(PartitionLog, CloseFailsLaterClaimsAndWakesWaiters) {
  PartitionLog log(16);
  Offset o;
  ASSERT_EQ(log.claim(16, false, {}, o), CE::kNone);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(log.close(), 16u);
  });
  EXPECT_EQ(log.claim(1, true, std::chrono::seconds(5), o), CE::kClosed);
  closer.join();
  EXPECT_TRUE(log.closed());
  EXPECT_EQ(log.end(), 16u);
  EXPECT_EQ(log.close(), 16u);  // idempotent
}

TEST(PartitionLog, AddReaderClampsIntoHeldRange) {
  PartitionLog log(16);
  ReaderCursor a, b, c;
  log.add_reader(&a, 0);
  Offset o;
  ASSERT_EQ(log.claim(10, false, {}, o), CE::kNone);
  for (Offset i = 0; i < 10; ++i) put(log, i, "x");
  a.next.store(6, std::memory_order_release);
  log.advance_head();
  log.add_reader(&b, 0);            // earliest held
  log.add_reader(&c, ~Offset{0});   // latest
  EXPECT_EQ(b.next.load(), 6u);
  EXPECT_EQ(c.next.load(), 10u);
  log.remove_reader(&a);
  log.remove_reader(&b);
  log.remove_reader(&c);
}

TEST(PartitionLog, LargeRecordsUseSlotHeapAndShrinkBack) {
  PartitionLog log(16);
  ReaderCursor r;
  log.add_reader(&r, 0);
  const std::string big(1000, 'z');
  Offset o;
  for (int lap = 0; lap < 3; ++lap) {
    ASSERT_EQ(log.claim(16, false, {}, o), CE::kNone);
    for (Offset i = o; i < o + 16; ++i) {
      const std::string& text = (i % 2) ? big : std::string("small");
      std::memcpy(log.slot_buffer(i, text.size()), text.data(), text.size());
      log.publish(i);
    }
    for (Offset i = o; i < o + 16; ++i) {
      const std::string& text = (i % 2) ? big : std::string("small");
      ASSERT_EQ(std::memcmp(log.record(i), text.data(), text.size()), 0);
    }
    r.next.store(o + 16, std::memory_order_release);
    log.advance_head();
  }
  log.remove_reader(&r);
}

}  // namespace
}  // namespace weir::internal
