// Delayed delivery (Event::deliver_at_us): no handler sees an event before
// its time, on memory and journaled topics, across a restart; a delayed
// event holds back its key (non-blocking) or its partition (blocking), so
// per-key order holds; bad times are refused; Bus::locate says "scheduled".
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a handler saw, in call order, with the wall time of each call.
struct Seen {
  std::mutex mu;
  std::vector<std::string> payloads;
  std::vector<std::int64_t> at_us;
  void add(const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    payloads.push_back(std::string(m.payload()));
    at_us.push_back(now_us());
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> l(mu);
    return payloads;
  }
  std::int64_t when(const std::string& p) {
    std::lock_guard<std::mutex> l(mu);
    for (std::size_t i = 0; i < payloads.size(); ++i)
      if (payloads[i] == p) return at_us[i];
    return 0;
  }
  std::size_t size() { return get().size(); }
};

SubscribeOptions group(std::string name, RetryMode mode) {
  SubscribeOptions so{.group = std::move(name)};
  so.retry_mode = mode;
  return so;
}

std::string mode_name(const ::testing::TestParamInfo<RetryMode>& i) {
  return i.param == RetryMode::kBlocking ? "Blocking" : "NonBlocking";
}

class DelayedDelivery : public ::testing::TestWithParam<RetryMode> {};

// Memory topic: the delayed event arrives at its time, not before.
TEST_P(DelayedDelivery, MemoryTopicNotBeforeItsTime) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", GetParam()), [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  const std::int64_t due = now_us() + 300'000;
  Event e{.key = "k", .payload = "late"};
  e.deliver_at_us = due;
  ASSERT_TRUE(bus->publish("t", e));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(seen.size(), 0u) << "delivered 200 ms early";
  ASSERT_TRUE(eventually([&] { return seen.size() == 1; }, 5s));
  EXPECT_GE(seen.when("late"), due);
}

// Journaled topic: published, the bus closed before its time and opened
// again; the group receives it after its time, and not before.
TEST_P(DelayedDelivery, JournaledSurvivesRestart) {
  testing::ScratchDir dir(std::string("delayed-restart-") + (GetParam() == RetryMode::kBlocking ? "b" : "nb"));
  const std::int64_t due = now_us() + 1'500'000;  // room for a slow (sanitized) close
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    Seen seen;
    ASSERT_TRUE(bus->subscribe("t", group("g", GetParam()), [&](const Message& m) {
      seen.add(m);
      return Outcome::done();
    }));
    Event e{.key = "k", .payload = "later"};
    e.deliver_at_us = due;
    ASSERT_TRUE(bus->publish("t", e, {.ack = Ack::kJournal}));
    std::this_thread::sleep_for(100ms);
    const auto t0 = std::chrono::steady_clock::now();
    auto report = bus->close();
    ASSERT_TRUE(report);
    // A drain does not wait for an event whose time lies ahead.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);
    EXPECT_EQ(report->undelivered, 1u);
    EXPECT_EQ(seen.size(), 0u);
  }
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", GetParam()), [&](const Message& m) {
    seen.add(m);
    EXPECT_EQ(m.deliver_at_us(), due);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return seen.size() == 1; }, 5s));
  EXPECT_GE(seen.when("later"), due);
  EXPECT_EQ(seen.get(), std::vector<std::string>{"later"});
}

// CloseReport::undelivered counts from the committed offset, which stays at
// the oldest unfinished event: behind a delayed event of a non-blocking
// group it also counts the other keys' events already handled, and those are
// handed again after a restart (at-least-once), as bus.hpp says.
TEST(DelayedDeliveryClose, UndeliveredCountsHandledEventsBehindAWaitingOne) {
  testing::ScratchDir dir("delayed-undelivered");
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    Seen seen;
    ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kNonBlocking), [&](const Message& m) {
      seen.add(m);
      return Outcome::done();
    }));
    Event late{.key = "a", .payload = "a-late"};
    late.deliver_at_us = now_us() + 60'000'000;
    ASSERT_TRUE(bus->publish("t", late, {.ack = Ack::kJournal}));
    for (const char* p : {"b1", "b2", "b3"}) ASSERT_TRUE(bus->publish("t", {.key = "b", .payload = p}, {.ack = Ack::kJournal}));
    ASSERT_TRUE(eventually([&] { return seen.size() == 3; }, 5s));
    auto report = bus->close();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->undelivered, 4u) << "the delayed event and the three handled behind it";
    EXPECT_EQ(seen.get(), (std::vector<std::string>{"b1", "b2", "b3"}));
  }
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  Seen again;
  ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kNonBlocking), [&](const Message& m) {
    again.add(m);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return again.size() == 3; }, 5s));
  EXPECT_EQ(again.get(), (std::vector<std::string>{"b1", "b2", "b3"})) << "handed again after the restart";
}

// A drain does not wait for a parking lot full of scheduled events either:
// the reader takes nothing more while the lot is full, so the events behind
// it wait with them (and count as undelivered).
TEST(DelayedDeliveryClose, DrainDoesNotWaitForAFullLotOfScheduledEvents) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Seen seen;
  SubscribeOptions so = group("g", RetryMode::kNonBlocking);
  so.max_parked = 4;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  const std::int64_t due = now_us() + 60'000'000;
  for (int i = 0; i < 4; ++i) {
    const std::string key = "k" + std::to_string(i);  // Event's fields are views
    Event e{.key = key, .payload = "late"};
    e.deliver_at_us = due;
    ASSERT_TRUE(bus->publish("t", e));
  }
  ASSERT_TRUE(eventually([&] {
    auto st = bus->describe_group("g");
    return st && st->partitions.at(0).parked == 4;
  }));
  // Published once the lot is full: the reader takes neither.
  for (const char* p : {"x1", "x2"}) ASSERT_TRUE(bus->publish("t", {.key = "x", .payload = p}));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(seen.size(), 0u) << "the lot was full: nothing past it is read";
  const auto t0 = std::chrono::steady_clock::now();
  auto report = bus->close(CloseOptions{.timeout = 5000ms});
  ASSERT_TRUE(report);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2000ms) << "the drain waited for the scheduled events";
  EXPECT_FALSE(report->timed_out);
  EXPECT_EQ(report->undelivered, 6u);
}

INSTANTIATE_TEST_SUITE_P(Modes, DelayedDelivery, ::testing::Values(RetryMode::kBlocking, RetryMode::kNonBlocking),
                         mode_name);

// The order rule. Key a: a1 delayed, then a2 and a3 at once; key b: b1 at once.
// Non-blocking: only key a waits (b1 first, then a1, a2, a3 in publish order).
// Blocking: the partition waits (a1, a2, b1, a3 in offset order, all after a1's time).
void publish_order_case(Bus& bus, std::int64_t due) {
  auto pub = [&](std::string_view key, std::string_view payload, std::int64_t at) {
    Event e{.key = key, .payload = payload};
    e.deliver_at_us = at;
    ASSERT_TRUE(bus.publish("t", e));
  };
  pub("a", "a1", due);
  pub("a", "a2", 0);
  pub("b", "b1", 0);
  pub("a", "a3", 0);
}

TEST(DelayedDeliveryOrder, NonBlockingOnlyTheKeyWaits) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kNonBlocking), [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  const std::int64_t due = now_us() + 300'000;
  publish_order_case(*bus, due);
  ASSERT_TRUE(eventually([&] { return seen.size() == 1; }, 5s));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen.get(), std::vector<std::string>{"b1"}) << "a2, a3 must wait behind the delayed a1";
  ASSERT_TRUE(eventually([&] { return seen.size() == 4; }, 5s));
  EXPECT_EQ(seen.get(), (std::vector<std::string>{"b1", "a1", "a2", "a3"}));
  EXPECT_GE(seen.when("a2"), due);
}

TEST(DelayedDeliveryOrder, BlockingThePartitionWaits) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kBlocking), [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  const std::int64_t due = now_us() + 300'000;
  publish_order_case(*bus, due);
  ASSERT_TRUE(eventually([&] { return seen.size() == 4; }, 5s));
  EXPECT_EQ(seen.get(), (std::vector<std::string>{"a1", "a2", "b1", "a3"}));
  EXPECT_GE(seen.when("a1"), due);
  EXPECT_GE(seen.when("b1"), due);
}

// A delayed event behind a finished one: the batch stops at it, the ones
// before it are handled at once (blocking); batch handlers too.
TEST(DelayedDeliveryOrder, BatchHandlerStopsBeforeTheDelayedEvent) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kBlocking), [&](std::span<const Message> batch) {
    for (const Message& m : batch) seen.add(m);
    return BatchOutcome::all(batch.size());
  }));
  const std::int64_t due = now_us() + 250'000;
  Event first{.key = "a", .payload = "x1"};
  Event delayed{.key = "a", .payload = "x2"};
  delayed.deliver_at_us = due;
  Event after{.key = "a", .payload = "x3"};
  const Event batch[] = {first, delayed, after};
  ASSERT_TRUE(bus->publish_batch("t", batch).status);
  ASSERT_TRUE(eventually([&] { return seen.size() >= 1; }, 5s));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen.get(), std::vector<std::string>{"x1"});
  ASSERT_TRUE(eventually([&] { return seen.size() == 3; }, 5s));
  EXPECT_GE(seen.when("x2"), due);
}

TEST(DelayedDeliveryInput, BadTimesAreRefusedPastTimesDeliverAtOnce) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  Event e{.key = "k", .payload = "p"};
  e.deliver_at_us = -5;
  auto r = bus->publish("t", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("deliver_at_us -5 is negative"), std::string::npos) << r.status().to_string();

  e.deliver_at_us = now_us() + 400LL * 24 * 3600 * 1000000;  // 400 days
  r = bus->publish("t", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("at most 366 days"), std::string::npos) << r.status().to_string();

  // Nanoseconds given by mistake: refused too.
  e.deliver_at_us = now_us() * 1000;
  EXPECT_FALSE(bus->publish("t", e));

  // The reserved header cannot be set by hand.
  const Header h[] = {{"weir_deliver_at", "1"}};
  Event raw{.key = "k", .payload = "p", .headers = h};
  r = bus->publish("t", raw);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("reserved"), std::string::npos);

  // A time in the past (or the epoch's first microsecond): due at once.
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kNonBlocking), [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  e.deliver_at_us = 1;
  ASSERT_TRUE(bus->publish("t", e));
  ASSERT_TRUE(eventually([&] { return seen.size() == 1; }, 5s));
}

TEST(DelayedDeliveryStatus, LocateSaysScheduled) {
  testing::ScratchDir dir("delayed-locate");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", group("g", RetryMode::kNonBlocking), [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  const std::int64_t due = now_us() + 60'000'000;  // a minute: close() does not wait for it
  Event e{.key = "k", .payload = "p1"};
  e.deliver_at_us = due;
  ASSERT_TRUE(bus->publish("t", e, {.ack = Ack::kJournal}));
  ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "p2"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(bus->publish("t", {.key = "other", .payload = "p3"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return seen.size() == 1; }, 5s));
  auto l = bus->locate("g", "t", EventRef{.key = "k"});
  ASSERT_TRUE(l) << l.status().to_string();
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].state, EventLocation::State::kScheduled);
  EXPECT_EQ(state_name((*l)[0].state), "scheduled");
  EXPECT_EQ((*l)[0].scheduled_us, due);
  EXPECT_EQ((*l)[1].state, EventLocation::State::kParked);
  EXPECT_EQ((*l)[1].parked_behind, 0u);
}

}  // namespace
}  // namespace weir
