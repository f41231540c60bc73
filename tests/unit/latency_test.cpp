// End-to-end latency (GroupMetrics::end_to_end_latency): what it measures.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_util.hpp"
#include "weir/weir.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

// End-to-end latency of a lagging group is measured from the oldest event of
// the batch: an event that waited 300 ms behind a paused group, handed in one
// batch with a fresh one, counts as 300 ms (it read ~0 when the freshest
// event of the batch was sampled).
TEST(EndToEndLatency, MeasuredFromTheOldestEventOfTheBatch) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("e2e", {.partitions = 1, .capacity = 64}));
  auto t = bus->topic("e2e").value();
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("e2e", {.group = "g"}, [&](const Message&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g"));
  ASSERT_TRUE(t.publish({.key = "k", .payload = "old"}));
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(t.publish({.key = "k", .payload = "new"}));
  ASSERT_TRUE(bus->resume("g"));
  ASSERT_TRUE(eventually([&] { return handled.load(std::memory_order_relaxed) == 2; }));
  auto m = bus->metrics();
  ASSERT_TRUE(m);
  ASSERT_EQ(m->groups.size(), 1u);
  const LatencySummary& e2e = m->groups[0].end_to_end_latency;
  ASSERT_GE(e2e.count, 1u);
  // Coarse clock: up to a few ms of error either way.
  EXPECT_GE(e2e.max_us, 280'000.0) << "the freshest event of the batch was sampled, not the oldest";
  ASSERT_TRUE(bus->close());
}

}  // namespace
}  // namespace weir
