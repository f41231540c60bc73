// RetryMode::kNonBlocking: a failing key waits, the other keys of its
// partition flow on, and the committed offset stays at the oldest unfinished
// event.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

// What a handler saw, in call order.
struct Calls {
  std::mutex mu;
  std::vector<std::string> seen;  // "payload#attempt"
  void add(const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back(std::string(m.payload()) + "#" + std::to_string(m.attempt()));
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> l(mu);
    return seen;
  }
  std::size_t size() { return get().size(); }
};

SubscribeOptions nonblocking(std::string group) {
  SubscribeOptions so{.group = std::move(group)};
  so.retry_mode = RetryMode::kNonBlocking;
  so.jitter = false;
  so.max_attempts = 1000;  // tests that want dead letters lower it
  return so;
}

// The failing key's later events wait; another key's events pass it.
void other_keys_flow(Bus& bus, bool journaled) {
  ASSERT_TRUE(bus.create_topic(
      "orders", {.partitions = 1, .durability = journaled ? Durability::kJournaled : Durability::kMemory}));
  Calls calls;
  std::atomic<bool> release{false};
  ASSERT_TRUE(bus.subscribe("orders", nonblocking("pay"), [&](const Message& m) {
    calls.add(m);
    if (m.payload() == "a1" && !release.load()) return Outcome::retry(20ms);
    return Outcome::done();
  }));
  for (const char* kv : {"a:a1", "b:b1", "a:a2", "b:b2", "c:c1", "a:a3", "b:b3"}) {
    const std::string s(kv);
    ASSERT_TRUE(bus.publish("orders", {.key = s.substr(0, 1), .payload = s.substr(2)}));
  }
  // b and c are done while a1 keeps failing; a2 and a3 are parked.
  ASSERT_TRUE(eventually([&] {
    auto v = calls.get();
    return std::count(v.begin(), v.end(), "b3#1") == 1 && std::count(v.begin(), v.end(), "c1#1") == 1 &&
           v.size() >= 7;
  }));
  auto st = bus.describe_group("pay").value();
  EXPECT_EQ(st.partitions[0].committed, 0u);  // a1 (offset 0) is unfinished
  EXPECT_EQ(st.partitions[0].parked, 3u);     // a1, a2, a3
  for (const auto& c : calls.get()) {
    EXPECT_NE(c.substr(0, 2), "a2") << "a2 must wait for a1";
    EXPECT_NE(c.substr(0, 2), "a3");
  }
  release = true;
  ASSERT_TRUE(eventually([&] { return bus.describe_group("pay").value().partitions[0].committed == 7; }));
  auto v = calls.get();
  std::vector<std::string> a;
  for (const auto& c : v)
    if (c[0] == 'a') a.push_back(c.substr(0, 2));
  // a1 retried (attempts 1..k), then a2, a3 in order, each once.
  ASSERT_GE(a.size(), 4u);
  EXPECT_EQ(a[a.size() - 2], "a2");
  EXPECT_EQ(a[a.size() - 1], "a3");
  for (std::size_t i = 0; i + 2 < a.size(); ++i) EXPECT_EQ(a[i], "a1");
  EXPECT_EQ(bus.describe_group("pay").value().partitions[0].parked, 0u);
}

TEST(NonBlocking, OtherKeysFlowPastAFailingKeyMemory) {
  auto bus = open_bus();
  other_keys_flow(*bus, false);
}

TEST(NonBlocking, OtherKeysFlowPastAFailingKeyJournaled) {
  testing::ScratchDir dir("nonblocking");
  auto bus = open_bus(dir.options());
  other_keys_flow(*bus, true);
}

TEST(NonBlocking, BlockingModeStillHoldsThePartition) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Calls calls;
  std::atomic<bool> release{false};
  SubscribeOptions so{.group = "g", .max_attempts = 1000};
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    calls.add(m);
    return m.payload() == "a1" && !release.load() ? Outcome::retry(5ms) : Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.key = "a", .payload = "a1"}));
  ASSERT_TRUE(bus->publish("t", {.key = "b", .payload = "b1"}));
  ASSERT_TRUE(eventually([&] { return calls.size() >= 3; }));
  for (const auto& c : calls.get()) EXPECT_EQ(c.substr(0, 2), "a1");
  EXPECT_EQ(bus->describe_group("g").value().partitions[0].parked, 0u);
  release = true;
  ASSERT_TRUE(eventually([&] { return bus->describe_group("g").value().partitions[0].lag == 0; }));
}

TEST(NonBlocking, ExhaustedKeyIsDeadLetteredAndItsNextEventsFollow) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Calls calls;
  SubscribeOptions so = nonblocking("g");
  so.max_attempts = 3;
  // Long enough that "other", published right after "poison", is handled
  // before poison's first retry comes due (1 ms was not, once, under TSan).
  so.retry_backoff = 50ms;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    calls.add(m);
    return m.payload() == "poison" ? Outcome::retry() : Outcome::done();
  }));
  std::atomic<int> dead{0};
  std::string reason;
  ASSERT_TRUE(bus->subscribe("g.dlq", {.group = "triage"}, [&](const Message& m) {
    reason = std::string(m.header("weir.dlq.reason").value_or(""));
    ++dead;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "poison"}));
  ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "after"}));
  ASSERT_TRUE(bus->publish("t", {.key = "z", .payload = "other"}));
  ASSERT_TRUE(eventually([&] { return dead.load() == 1 && bus->describe_group("g").value().partitions[0].lag == 0; }));
  EXPECT_EQ(reason, "gave up after 3 attempts");
  auto v = calls.get();
  EXPECT_EQ(std::vector<std::string>(v.begin(), v.end()),
            (std::vector<std::string>{"poison#1", "other#1", "poison#2", "poison#3", "after#1"}));
}

// A memory topic's ring does not bound the other keys: parked events leave
// the ring for the parking lot (bounded by max_parked), so while one key
// waits on a long backoff, 1,000 events of other keys pass a 64-slot ring.
TEST(NonBlocking, MemoryRingCapacityDoesNotBoundOtherKeys) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .capacity = 64, .block_timeout = 500ms}));
  Calls calls;
  std::atomic<bool> release{false};
  std::atomic<int> others{0};
  SubscribeOptions so = nonblocking("g");
  so.max_parked = 100;  // the bound that holds, not the ring's 64
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    if (m.key() != "slow") {
      ++others;
      return Outcome::done();
    }
    calls.add(m);
    return release.load() ? Outcome::done() : Outcome::retry(200ms);
  }));
  ASSERT_TRUE(bus->publish("t", {.key = "slow", .payload = "s1"}));
  ASSERT_TRUE(eventually([&] { return bus->describe_group("g").value().partitions[0].parked == 1; }));
  int accepted = 0;
  Status first_refusal;
  for (int i = 0; i < 1000; ++i) {
    auto r = bus->publish("t", {.key = "k" + std::to_string(i % 50), .payload = "x"});
    if (!r) {
      first_refusal = r.status();
      break;
    }
    ++accepted;
  }
  EXPECT_EQ(accepted, 1000) << "first refusal: " << first_refusal.to_string();
  ASSERT_TRUE(bus->publish("t", {.key = "slow", .payload = "s2"}));  // parked behind s1
  ASSERT_TRUE(eventually([&] {
    return others.load() == accepted && bus->describe_group("g").value().partitions[0].parked == 2;  // s1, s2
  }));
  EXPECT_EQ(bus->describe_group("g").value().partitions[0].committed, 0u);  // s1 (offset 0) is unfinished
  release = true;
  // The parked events come back from the parking lot, in key order.
  ASSERT_TRUE(eventually([&] { return bus->describe_group("g").value().partitions[0].lag == 0; }));
  auto v = calls.get();
  ASSERT_GE(v.size(), 3u);
  EXPECT_EQ(v[v.size() - 2].substr(0, 3), "s1#");
  EXPECT_EQ(v.back(), "s2#1");
}

TEST(NonBlocking, FullParkingStopsReadingUntilTheKeyFinishes) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Calls calls;
  std::atomic<bool> release{false};
  SubscribeOptions so = nonblocking("g");
  so.max_parked = 3;
  so.max_batch = 1;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    calls.add(m);
    return m.payload() == "a1" && !release.load() ? Outcome::retry(5ms) : Outcome::done();
  }));
  for (const char* p : {"a1", "a2", "a3", "a4", "b1"})
    ASSERT_TRUE(bus->publish("t", {.key = std::string(1, p[0]), .payload = p}));
  ASSERT_TRUE(eventually([&] { return calls.size() >= 4; }));  // a1 retried a few times
  std::this_thread::sleep_for(30ms);
  auto st = bus->describe_group("g").value();
  EXPECT_EQ(st.partitions[0].parked, 3u);  // a1..a3; a4 is not read, so b1 waits too
  for (const auto& c : calls.get()) EXPECT_EQ(c.substr(0, 2), "a1") << ::testing::PrintToString(calls.get());
  release = true;
  ASSERT_TRUE(eventually([&] { return bus->describe_group("g").value().partitions[0].lag == 0; }));
  auto v = calls.get();
  std::vector<std::string> tail(v.end() - 4, v.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"a2#1", "a3#1", "a4#1", "b1#1"}));
}

TEST(NonBlocking, BatchHandlerParksTheFailingKeyAndHandsTheRestOn) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  std::mutex mu;
  std::vector<std::string> done;
  std::atomic<int> a1_failures{0};
  SubscribeOptions so = nonblocking("g");
  so.retry_backoff = 10ms;
  ASSERT_TRUE(bus->subscribe("t", so, [&](std::span<const Message> ms) {
    std::lock_guard<std::mutex> l(mu);
    for (std::size_t i = 0; i < ms.size(); ++i) {
      if (ms[i].payload() == "a1" && a1_failures.load() < 2) {
        ++a1_failures;
        return BatchOutcome{i, Outcome::retry()};
      }
      done.emplace_back(ms[i].payload());
    }
    return BatchOutcome{ms.size(), Outcome::done()};
  }));
  for (const char* p : {"b1", "a1", "b2", "a2", "c1"})
    ASSERT_TRUE(bus->publish("t", {.key = std::string(1, p[0]), .payload = p}));
  ASSERT_TRUE(eventually([&] { return bus->describe_group("g").value().partitions[0].lag == 0; }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(done, (std::vector<std::string>{"b1", "b2", "c1", "a1", "a2"}));
}

TEST(NonBlocking, RestartResumesAtTheOldestUnfinishedEventWithItsAttempts) {
  testing::ScratchDir dir("nonblocking-restart");
  Calls calls;
  auto handler = [&](const Message& m) {
    calls.add(m);
    if (m.payload() == "a1") return m.attempt() < 3 ? Outcome::retry(m.attempt() == 1 ? 1ms : 60s) : Outcome::done();
    return Outcome::done();
  };
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->subscribe("t", nonblocking("g"), handler));
    for (const char* p : {"a1", "b1", "a2", "b2"})
      ASSERT_TRUE(bus->publish("t", {.key = std::string(1, p[0]), .payload = p}, {.ack = Ack::kJournal}));
    ASSERT_TRUE(eventually([&] { return calls.size() == 4; }));  // a1#1 a1#2 b1 b2 in some order
    ASSERT_TRUE(bus->close({.mode = CloseMode::kStopAtBatch}));
  }
  auto before = calls.get();
  EXPECT_EQ(std::count(before.begin(), before.end(), "a2#1"), 0);
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->subscribe("t", nonblocking("g"), handler));
    ASSERT_TRUE(eventually([&] { return bus->describe_group("g").value().partitions[0].lag == 0; }));
    ASSERT_TRUE(bus->close());
  }
  auto v = calls.get();
  std::vector<std::string> after(v.begin() + static_cast<std::ptrdiff_t>(before.size()), v.end());
  // Committed stayed at a1 (offset 0): b1 and b2 are redelivered (at least
  // once); a1 goes on counting (2 failed, the restart is one more: 4).
  EXPECT_EQ(after, (std::vector<std::string>{"a1#4", "b1#1", "a2#1", "b2#1"}));
}

TEST(NonBlocking, StateHandlerWithDedupeCountsEachEventOnce) {
  testing::ScratchDir dir("nonblocking-state");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}));
  std::atomic<int> failures{0};
  SubscribeOptions so = nonblocking("g");
  so.retry_backoff = 1ms;
  so.max_attempts = 100;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m, State& st) {
    if ((m.offset() % 3 == 0) && m.attempt() < 3) {
      ++failures;
      return Outcome::retry();
    }
    auto cur = st.get("seq", m.key()).value();
    const int want = std::stoi(std::string(m.payload()));
    const int have = cur ? std::stoi(*cur) : -1;
    if (have + 1 != want) return Outcome::fail("out of order: " + std::to_string(have) + " then " + std::to_string(want));
    EXPECT_TRUE(st.put("seq", m.key(), std::to_string(want)));
    return Outcome::done();
  }));
  for (int i = 0; i < 60; ++i)
    for (const char* k : {"x", "y", "z"})
      ASSERT_TRUE(bus->publish("t", {.key = k, .payload = std::to_string(i)}));
  ASSERT_TRUE(eventually([&] {
    auto st = bus->describe_group("g").value();
    return st.partitions[0].lag == 0 && st.partitions[1].lag == 0;
  }));
  EXPECT_GT(failures.load(), 0);
  auto dlq = bus->dlq_list("g", {});
  ASSERT_TRUE(dlq) << dlq.status().to_string();
  EXPECT_TRUE(dlq->empty()) << "an event was handled out of order: " << (*dlq)[0].reason;
  for (const char* k : {"x", "y", "z"}) {
    ASSERT_TRUE(eventually([&] {
      auto v = bus->read_state("g", "seq", k);
      return v && v->has_value() && **v == "59";
    })) << k;
  }
  ASSERT_TRUE(bus->close());
}

TEST(NonBlocking, BadOptions) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  SubscribeOptions so = nonblocking("g");
  so.max_parked = 0;
  auto s = bus->subscribe("t", so, [](const Message&) { return Outcome::done(); });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("max_parked"), std::string::npos) << s.message();
  so.max_parked = 10;
  so.retry_mode = static_cast<RetryMode>(7);
  s = bus->subscribe("t", so, [](const Message&) { return Outcome::done(); });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("retry_mode"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace weir
