// Operations: the metrics snapshot, hot keys, pause/resume, resizing a
// group's pool (cooperative rebalances) and lag-driven autoscaling.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "metrics/lag.hpp"
#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

const GroupMetrics& group_of(const MetricsSnapshot& m, const std::string& name) {
  for (const auto& g : m.groups)
    if (g.group == name) return g;
  throw std::runtime_error("no group " + name);
}

TEST(Metrics, LagInFlightAgeAndLatencies) {
  testing::ScratchDir dir("metrics");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}));
  std::atomic<bool> hold{true};
  struct Release {
    std::atomic<bool>& h;
    ~Release() { h = false; }  // a failed assertion must not leave the handler waiting
  } release{hold};
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .workers = 2}, [&](const Message& m) {
    while (m.partition() == 0 && hold.load()) std::this_thread::sleep_for(1ms);
    ++handled;
    return Outcome::done();
  }));
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(bus->publish("t", {.key = "k" + std::to_string(i), .payload = "x"},
                             {.partition = i % 2, .ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return handled.load() == 20; }));  // partition 1 done, 0 held
  std::this_thread::sleep_for(50ms);
  auto m = bus->metrics().value();
  ASSERT_EQ(m.topics.size(), 2u);  // t and the group's dead-letter topic g.dlq
  EXPECT_EQ(m.topics[0].topic, "g.dlq");
  const TopicMetrics& t = m.topics[1];
  EXPECT_EQ(t.topic, "t");
  EXPECT_TRUE(t.journaled);
  EXPECT_EQ(t.partitions[0].end, 20u);
  EXPECT_GT(t.partitions[0].bytes, 0u);
  const auto& g = group_of(m, "g");
  EXPECT_EQ(g.workers, 2u);
  EXPECT_EQ(g.partitions[0].lag, 20u);
  EXPECT_GE(g.partitions[0].in_flight, 1u);  // the held event, at least
  EXPECT_GE(g.partitions[0].lag_seconds, 0.04);
  EXPECT_EQ(g.partitions[1].lag, 0u);
  EXPECT_EQ(g.partitions[1].lag_seconds, 0.0);
  EXPECT_EQ(g.partitions[1].processed, 20u);
  EXPECT_GE(g.partitions[0].worker, 0);
  hold = false;
  ASSERT_TRUE(eventually([&] { return group_of(bus->metrics().value(), "g").processed == 40; }));
  auto g2 = group_of(bus->metrics().value(), "g");
  EXPECT_EQ(g2.partitions[0].lag, 0u);
  EXPECT_EQ(g2.partitions[0].in_flight, 0u);
  // Sampled: each worker's first batch (end to end) and first call (handler)
  // are among the samples; the held partition's first batch waited >= 50 ms.
  EXPECT_GT(g2.end_to_end_latency.count, 0u);
  EXPECT_GE(g2.end_to_end_latency.max_us, 40000.0);
  EXPECT_LE(g2.end_to_end_latency.p50_us, g2.end_to_end_latency.max_us);
  EXPECT_GT(g2.handler_latency.count, 0u);
  EXPECT_GE(g2.handler_latency.max_us, 40000.0);  // the held call
}

TEST(Metrics, MemoryLagSecondsAndSkewWhilePaused) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 4, .capacity = 4096}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .max_batch = 16}, [&](const Message&) {
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g", 0));
  for (int p = 0; p < 4; ++p)
    for (int i = 0; i < (p == 0 ? 500 : 10); ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}, {.partition = p}));
  ASSERT_TRUE(eventually([&] { return handled.load() == 30; }));
  std::this_thread::sleep_for(120ms);  // the paused partition's oldest event ages
  auto g = group_of(bus->metrics().value(), "g");
  EXPECT_TRUE(g.partitions[0].paused);
  EXPECT_FALSE(g.paused);
  EXPECT_EQ(g.partitions[0].lag, 500u);
  EXPECT_TRUE(g.partitions[0].skewed);
  EXPECT_FALSE(g.partitions[1].skewed);
  EXPECT_GE(g.partitions[0].lag_seconds, 0.05);
  ASSERT_TRUE(bus->resume("g", 0));
  ASSERT_TRUE(eventually([&] { return handled.load() == 530; }));
  g = group_of(bus->metrics().value(), "g");
  EXPECT_FALSE(g.partitions[0].skewed);
  EXPECT_EQ(g.partitions[0].lag_seconds, 0.0);
}

// Lags [0, 0, 100]: Bus::metrics() flags the third partition, as the
// Inspector (weir groups, weir top) does for the same lags.
TEST(Metrics, SkewOfLags0_0_100IsTheInspectorsVerdict) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 3, .capacity = 1024}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) {
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g", 2));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}, {.partition = 2}));
  for (int p = 0; p < 2; ++p) ASSERT_TRUE(bus->publish("t", {.payload = "x"}, {.partition = p}));
  ASSERT_TRUE(eventually([&] {
    auto g = group_of(bus->metrics().value(), "g");
    return g.partitions[0].lag == 0 && g.partitions[1].lag == 0;
  }));
  auto g = group_of(bus->metrics().value(), "g");
  ASSERT_EQ(g.partitions[2].lag, 100u);
  EXPECT_FALSE(g.partitions[0].skewed);
  EXPECT_FALSE(g.partitions[1].skewed);
  EXPECT_TRUE(g.partitions[2].skewed);
}

// The rule itself (metrics/lag.hpp), shared by metrics and the Inspector.
TEST(Metrics, SkewRule) {
  using internal::skewed_partitions;
  const std::uint64_t a[] = {0, 0, 100};
  EXPECT_EQ(skewed_partitions(a), (std::vector<bool>{false, false, true}));
  const std::uint64_t b[] = {0, 0, 9};  // under 10 events is never skew
  EXPECT_EQ(skewed_partitions(b), (std::vector<bool>{false, false, false}));
  const std::uint64_t c[] = {1, 1, 2, 100};  // median 1.5: 100 > 7.5
  EXPECT_EQ(skewed_partitions(c), (std::vector<bool>{false, false, false, true}));
  const std::uint64_t d[] = {10, 10, 50, 51};  // median 30: 51 < 150
  EXPECT_EQ(skewed_partitions(d), (std::vector<bool>{false, false, false, false}));
  const std::uint64_t e[] = {20, 4, 4, 4};  // median 4: 20 is not above 20
  EXPECT_EQ(skewed_partitions(e), (std::vector<bool>{false, false, false, false}));
  EXPECT_TRUE(skewed_partitions({}).empty());
  EXPECT_EQ(internal::group_lag(100, std::nullopt, 40), 60u);
  EXPECT_EQ(internal::group_lag(100, 30, 40), 60u);  // retention passed the committed offset
  EXPECT_EQ(internal::group_lag(100, 100, 0), 0u);
}

TEST(Metrics, PauseWholeGroupAndBadInputs) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) {
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus->publish("t", {.key = std::to_string(i), .payload = "x"}));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(handled.load(), 0);
  EXPECT_TRUE(group_of(bus->metrics().value(), "g").paused);
  ASSERT_TRUE(bus->resume("g"));
  ASSERT_TRUE(eventually([&] { return handled.load() == 10; }));

  EXPECT_EQ(bus->pause("nope").code(), Code::kNotFound);
  Status s = bus->pause("g", 2);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("partitions 0..1"), std::string::npos) << s.message();
  EXPECT_EQ(bus->resume("g", 9).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->set_workers("g", 0).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->set_workers("nope", 1).code(), Code::kNotFound);
  EXPECT_EQ(bus->hot_keys("g", 5).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->hot_keys("nope", 0).status().code(), Code::kNotFound);
  SubscribeOptions so{.group = "h"};
  so.autoscale.enabled = true;
  so.autoscale.min_workers = 3;
  so.autoscale.max_workers = 2;
  s = bus->subscribe("t", so, [](const Message&) { return Outcome::done(); });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("max_workers"), std::string::npos) << s.message();
  so.autoscale.max_workers = 0;
  so.autoscale.window = 1ms;
  EXPECT_EQ(bus->subscribe("t", so, [](const Message&) { return Outcome::done(); }).code(), Code::kInvalidArgument);
}

TEST(Metrics, LagExcludesEventsRetentionRemoved) {
  testing::ScratchDir dir("metrics-retention");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled,
                                      .retention_events = 100}));
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [](const Message&) { return Outcome::done(); }));
  ASSERT_TRUE(bus->pause("g"));
  std::vector<Event> batch(50, Event{.payload = "x"});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(bus->publish_batch("t", batch).status);  // 20 commits of 50
  MetricsSnapshot m;
  ASSERT_TRUE(eventually([&] {
    m = bus->metrics().value();
    for (const auto& t : m.topics)
      if (t.topic == "t") return t.partitions[0].start > 0;
    return false;
  }));
  Offset start = 0;
  for (const auto& t : m.topics)
    if (t.topic == "t") start = t.partitions[0].start;
  const auto& p = group_of(m, "g").partitions[0];
  EXPECT_EQ(p.committed, 0u);      // the group never got to the removed events
  EXPECT_EQ(p.lag, 1000u - start);  // end - max(committed, start): no phantom lag
}

TEST(Metrics, DrainLeavesAPausedPartitionUndelivered) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .workers = 2}, [&](const Message&) {
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g", 0));
  for (int p = 0; p < 2; ++p)
    for (int i = 0; i < 7; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}, {.partition = p}));
  auto rep = bus->unsubscribe("g", {.mode = CloseMode::kDrain, .timeout = std::chrono::seconds(10)});
  ASSERT_TRUE(rep);
  EXPECT_FALSE(rep->timed_out);     // the drain does not wait for the paused partition
  EXPECT_EQ(rep->undelivered, 7u);  // ...and reports its events
  EXPECT_EQ(handled.load(), 7);

  // Closing the bus drains the same way: it does not wait out its timeout.
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .workers = 2}, [&](const Message&) {
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g", 0));
  const auto t0 = std::chrono::steady_clock::now();
  auto closed = bus->close({.mode = CloseMode::kDrain, .timeout = std::chrono::seconds(20)});
  ASSERT_TRUE(closed);
  EXPECT_FALSE(closed->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(Metrics, HotKeysOfABacklog) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .capacity = 1 << 14}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .max_batch = 64}, [&](const Message&) {
    std::this_thread::sleep_for(20us);
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g"));
  std::mt19937 rng(7);
  for (int i = 0; i < 8000; ++i) {
    const std::string key = rng() % 10 < 6 ? "hot-order" : "order-" + std::to_string(rng() % 500);
    ASSERT_TRUE(bus->publish("t", {.key = key, .payload = "x"}));
  }
  ASSERT_TRUE(bus->resume("g"));
  std::vector<HotKey> hot;
  ASSERT_TRUE(eventually([&] {
    hot = bus->hot_keys("g", 0, 3).value();
    return !hot.empty() && hot[0].count >= 50;
  }));
  EXPECT_EQ(hot[0].key, "hot-order");
  if (hot.size() > 1) {
    EXPECT_GT(hot[0].count, 3 * hot[1].count);
  }
  ASSERT_TRUE(eventually([&] { return handled.load() == 8000; }, 60s));
}

// Options::metrics_sampling = false: a backlog feeds no hot-key sketch and
// no latency histogram, while counters still count.
TEST(Metrics, SamplingOffRecordsNoSketchOrLatencies) {
  Options o;
  o.metrics_sampling = false;
  auto bus = open_bus(o);
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .capacity = 1 << 14}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .max_batch = 64}, [&](const Message&) {
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->pause("g"));
  for (int i = 0; i < 4000; ++i) ASSERT_TRUE(bus->publish("t", {.key = "hot-order", .payload = "x"}));
  ASSERT_TRUE(bus->resume("g"));
  ASSERT_TRUE(eventually([&] { return handled.load() == 4000; }, 60s));
  EXPECT_TRUE(bus->hot_keys("g", 0, 3).value().empty());
  const auto g = group_of(bus->metrics().value(), "g");
  EXPECT_EQ(g.processed, 4000u);
  EXPECT_EQ(g.handler_latency.count, 0u);
  EXPECT_EQ(g.end_to_end_latency.count, 0u);
}

// Per-key order, no loss and no concurrent handling of a partition while
// the pool is resized again and again under load.
void resize_under_load(Bus& bus, bool journaled) {
  constexpr std::uint32_t kPartitions = 8;
  constexpr int kKeys = 64;
  ASSERT_TRUE(bus.create_topic("t", {.partitions = kPartitions, .capacity = 256,
                                     .durability = journaled ? Durability::kJournaled : Durability::kMemory}));
  std::vector<std::int64_t> last(kKeys, -1);  // per key: written by the partition's current owner
  std::vector<std::atomic<int>> busy(kPartitions);
  std::atomic<int> violations{0}, handled{0};
  auto check = [&](const Message& m) {
    if (busy[m.partition()].fetch_add(1) != 0) ++violations;  // two workers on one partition
    int key, seq;
    std::sscanf(std::string(m.payload()).c_str(), "%d:%d", &key, &seq);
    if (last[key] + 1 != seq) ++violations;
    last[key] = seq;
    ++handled;
    busy[m.partition()].fetch_sub(1);
  };
  SubscribeOptions so{.group = "g", .workers = 1, .max_batch = 8};
  Status s;
  if (journaled) {
    s = bus.subscribe("t", so, [&](const Message& m, State& st) {
      check(m);
      EXPECT_TRUE(st.put("seen", m.key(), std::string(m.payload())));
      return Outcome::done();
    });
  } else {
    s = bus.subscribe("t", so, [&](const Message& m) {
      check(m);
      return Outcome::done();
    });
  }
  ASSERT_TRUE(s) << s.to_string();
  constexpr int kEvents = 6000;
  std::thread producer([&] {
    std::vector<int> next(kKeys, 0);
    std::mt19937 rng(11);
    for (int i = 0; i < kEvents; ++i) {
      const int k = static_cast<int>(rng() % kKeys);
      const std::string payload = std::to_string(k) + ":" + std::to_string(next[k]++);
      EXPECT_TRUE(bus.publish("t", {.key = "key-" + std::to_string(k), .payload = payload}));
      if (i % 500 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  std::mt19937 rng(5);
  int changes = 0;
  std::uint32_t workers = 1;
  while (handled.load() < kEvents && changes < 200) {
    std::uint32_t n;
    do {
      n = 1 + rng() % kPartitions;
    } while (n == workers);
    ASSERT_TRUE(bus.set_workers("g", n));
    workers = n;
    ++changes;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 8));
  }
  producer.join();
  ASSERT_TRUE(eventually([&] { return handled.load() == kEvents; }, 60s)) << handled.load();
  // `processed` counts cursor moves, which follow the handler's return.
  ASSERT_TRUE(eventually([&] { return group_of(bus.metrics().value(), "g").processed == kEvents; }, 10s));
  auto g = group_of(bus.metrics().value(), "g");
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(g.processed, static_cast<std::uint64_t>(kEvents));
  EXPECT_GE(g.rebalances, 1u);
  EXPECT_LE(g.rebalances, static_cast<std::uint64_t>(changes));
  EXPECT_EQ(g.rebalance_duration.count, g.rebalances);
  EXPECT_GE(changes, 2);
  ASSERT_TRUE(bus.close());
}

TEST(Rebalance, ResizingUnderLoadKeepsOrderMemory) {
  auto bus = open_bus();
  resize_under_load(*bus, false);
}

TEST(Rebalance, ResizingUnderLoadKeepsOrderTransactional) {
  testing::ScratchDir dir("rebalance");
  auto bus = open_bus(dir.options());
  resize_under_load(*bus, true);
}

TEST(Rebalance, AutoscaleGrowsOnRisingLagAndShrinksWhenIdle) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 4, .capacity = 1 << 14}));
  SubscribeOptions so{.group = "g", .workers = 1};
  so.autoscale.enabled = true;
  so.autoscale.min_workers = 1;
  so.autoscale.max_workers = 3;
  so.autoscale.window = 20ms;
  so.autoscale.grow_after = 2;
  so.autoscale.shrink_after = 3;
  so.autoscale.min_lag = 20;
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message&) {
    std::this_thread::sleep_for(200us);
    ++handled;
    return Outcome::done();
  }));
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    int i = 0;
    while (!stop.load()) {
      for (int j = 0; j < 40; ++j, ++i) (void)bus->publish("t", {.key = std::to_string(i), .payload = "x"});
      std::this_thread::sleep_for(5ms);
    }
  });
  std::uint32_t peak = 1;
  const bool grew = eventually([&] {
    peak = std::max(peak, group_of(bus->metrics().value(), "g").workers);
    return peak == 3;
  }, 20s);
  stop = true;
  producer.join();
  EXPECT_TRUE(grew) << "peak workers " << peak;
  ASSERT_TRUE(eventually([&] { return group_of(bus->metrics().value(), "g").workers == 1; }, 20s))
      << "did not shrink back when idle";
  auto g = group_of(bus->metrics().value(), "g");
  EXPECT_EQ(g.min_workers, 1u);
  EXPECT_EQ(g.max_workers, 3u);
  EXPECT_GE(g.rebalances, 2u);
}

}  // namespace
}  // namespace weir
