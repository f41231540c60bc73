// When a group's offsets become committable: a handled event's offset moves
// when its handler returns (not at the end of the batch), and
// SubscribeOptions::offset_commit_events = N bounds what a batch handler is
// handed, so at most N events per worker are unsynced.
// (The persisted side, SIGKILL and restart, is tests/crash/offset_commit_crash_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "test_util.hpp"
#include "weir/weir.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;
using testing::ScratchDir;

// A slow handler (3 ms per event) over a backlog larger than one check's
// worth: the committed offset keeps up with the handler, within one event.
void expect_offset_follows_slow_handler(Bus& bus, Durability durability) {
  ASSERT_TRUE(bus.create_topic("slow", {.partitions = 1, .capacity = 1024, .durability = durability}));
  auto t = bus.topic("slow").value();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(t.publish({.key = "k", .payload = std::to_string(i)}));
  std::atomic<std::uint64_t> handled{0};
  ASSERT_TRUE(bus.subscribe("slow", {.group = "g"}, [&](const Message&) {
    std::this_thread::sleep_for(3ms);
    handled.fetch_add(1, std::memory_order_release);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return handled.load(std::memory_order_acquire) >= 30; }));
  // Read `handled` first: every event counted there had returned, so its
  // offset is committable; the handler may finish one more meanwhile.
  const std::uint64_t returned = handled.load(std::memory_order_acquire);
  auto st = bus.describe_group("g");
  ASSERT_TRUE(st);
  EXPECT_GE(st->partitions[0].committed, returned)
      << "the committed offset waits for the end of the batch (max_batch 256), not for the handler";
  EXPECT_LT(st->partitions[0].committed, 100u);
  auto rep = bus.close({.mode = CloseMode::kStopAtBatch});
  ASSERT_TRUE(rep);
}

TEST(OffsetCommit, SlowHandlerOffsetMovesPerEventMemory) {
  auto bus = open_bus();
  expect_offset_follows_slow_handler(*bus, Durability::kMemory);
}

TEST(OffsetCommit, SlowHandlerOffsetMovesPerEventJournaled) {
  ScratchDir dir("offset-slow");
  auto bus = open_bus(dir.options());
  expect_offset_follows_slow_handler(*bus, Durability::kJournaled);
}

// offset_commit_events = N: a batch handler is handed at most N events at
// once (the batch is the unit it acknowledges), so the bound holds for it.
TEST(OffsetCommit, BatchHandlerHandedAtMostOffsetCommitEvents) {
  ScratchDir dir("offset-batch");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("b", {.partitions = 1, .capacity = 1024, .durability = Durability::kJournaled}));
  auto t = bus->topic("b").value();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(t.publish({.key = "k", .payload = "x"}, {.ack = Ack::kJournal}));
  std::atomic<std::size_t> largest{0}, total{0};
  SubscribeOptions so{.group = "g"};
  so.offset_commit_events = 7;
  ASSERT_TRUE(bus->subscribe("b", so, [&](std::span<const Message> ms) {
    std::size_t cur = largest.load(std::memory_order_relaxed);
    while (ms.size() > cur && !largest.compare_exchange_weak(cur, ms.size(), std::memory_order_relaxed)) {
    }
    total.fetch_add(ms.size(), std::memory_order_relaxed);
    return BatchOutcome::all(ms.size());
  }));
  ASSERT_TRUE(eventually([&] { return total.load(std::memory_order_relaxed) >= 100; }));
  EXPECT_LE(largest.load(std::memory_order_relaxed), 7u);
  ASSERT_TRUE(bus->close());
}

}  // namespace
}  // namespace weir
