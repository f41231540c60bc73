// The ring's reader side (ring/partition_log.hpp): the slowest registered
// reader gates slot reuse, unregistering frees what only it held, records
// are read in place across wrap-around, and one producer and two readers
// running at once see every record in order.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "ring/partition_log.hpp"

namespace weir::internal {
namespace {

using CE = PartitionLog::ClaimError;

void put(PartitionLog& log, Offset o, const std::string& text) {
  std::memcpy(log.slot_buffer(o, text.size()), text.data(), text.size());
  log.publish(o);
}
std::string get(const PartitionLog& log, Offset o) { return std::string(log.record(o), log.record_bytes(o)); }
// Reads what is readable from the cursor and moves it past, as a group does.
std::size_t drain(PartitionLog& log, ReaderCursor& c) {
  const Offset from = c.next.load();
  const std::uint32_t n = log.readable(from, 1000);
  c.next.store(from + n, std::memory_order_release);
  log.reader_advanced();
  return n;
}

TEST(RingReader, SlowestReaderGatesReuse) {
  PartitionLog log(4);
  ReaderCursor fast, slow;
  log.add_reader(&fast, 0);
  log.add_reader(&slow, 0);
  Offset o;
  ASSERT_EQ(log.claim(4, false, {}, o), CE::kNone);
  for (Offset i = 0; i < 4; ++i) put(log, i, "e" + std::to_string(i));
  EXPECT_EQ(drain(log, fast), 4u);
  EXPECT_EQ(log.claim(1, false, {}, o), CE::kFull);  // `slow` still holds offset 0
  EXPECT_EQ(log.advance_head(), 0u);
  slow.next.store(2, std::memory_order_release);
  EXPECT_EQ(log.advance_head(), 2u);
  ASSERT_EQ(log.claim(2, false, {}, o), CE::kNone);
  EXPECT_EQ(o, 4u);
  EXPECT_EQ(log.claim(1, false, {}, o), CE::kFull);
  EXPECT_EQ(get(log, 2), "e2");  // not reused: slot of offset 6
}

TEST(RingReader, UnregisteringTheLaggardFreesItsSlots) {
  PartitionLog log(4);
  ReaderCursor a, b;
  log.add_reader(&a, 0);
  log.add_reader(&b, 0);
  Offset o;
  ASSERT_EQ(log.claim(4, false, {}, o), CE::kNone);
  for (Offset i = 0; i < 4; ++i) put(log, i, "x");
  drain(log, a);
  log.remove_reader(&b);
  EXPECT_EQ(log.head(), 4u);
  EXPECT_EQ(log.claim(4, false, {}, o), CE::kNone);
  // A reader added now starts inside what is held: [head, end].
  ReaderCursor late;
  log.add_reader(&late, 0);
  EXPECT_EQ(late.next.load(), 4u);
}

TEST(RingReader, ReadsInPlaceAcrossWrapAround) {
  PartitionLog log(4);
  ReaderCursor c;
  log.add_reader(&c, 0);
  const std::string big(PartitionLog::kInlineBytes * 3, 'B');
  for (Offset i = 0; i < 11; ++i) {
    Offset o;
    ASSERT_EQ(log.claim(1, false, {}, o), CE::kNone) << i;
    ASSERT_EQ(o, i);
    put(log, o, i % 3 == 0 ? big + std::to_string(i) : "small" + std::to_string(i));
    ASSERT_EQ(log.readable(c.next.load(), 10), 1u);
    EXPECT_EQ(get(log, o), i % 3 == 0 ? big + std::to_string(i) : "small" + std::to_string(i));
    ASSERT_EQ(drain(log, c), 1u);
  }
  EXPECT_EQ(log.end(), 11u);
}

TEST(RingReader, ConcurrentReadersSeeEveryRecordInOrder) {
  constexpr Offset kEvents = 50000;
  PartitionLog log(64);
  ReaderCursor cursors[2];
  for (auto& c : cursors) log.add_reader(&c, 0);
  std::atomic<bool> ok[2] = {true, true};
  auto reader = [&](int r) {
    ReaderCursor& c = cursors[r];
    for (Offset next = 0; next < kEvents;) {
      const std::uint32_t n = log.readable(next, 16);
      for (std::uint32_t i = 0; i < n; ++i)
        if (get(log, next + i) != std::to_string(next + i)) ok[r] = false;
      next += n;
      c.next.store(next, std::memory_order_release);
      if (n) log.reader_advanced();
      else std::this_thread::yield();
    }
  };
  std::thread r0(reader, 0), r1(reader, 1);
  for (Offset i = 0; i < kEvents; ++i) {
    Offset o;
    ASSERT_EQ(log.claim(1, true, std::chrono::seconds(10), o), CE::kNone);
    put(log, o, std::to_string(o));
  }
  r0.join();
  r1.join();
  EXPECT_TRUE(ok[0]);
  EXPECT_TRUE(ok[1]);
}

}  // namespace
}  // namespace weir::internal
