// Priority lanes (TopicOptions::priority_levels, Event::priority): under a
// backlog, urgent events overtake other keys' events; one key's events stay
// in publish order whatever their priorities (a key's set-aside events are
// handed out at its most urgent queued priority); the priority survives a
// restart of a journaled topic, and the level count is stored with it; bad
// priorities and level counts are refused naming the topic's levels. Plus
// the LaneQueue itself, without a Bus.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dispatch/lanes.hpp"
#include "journal/format.hpp"
#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

// --- LaneQueue alone -----------------------------------------------------------

TEST(LaneQueue, MostUrgentKeyFirstThenOldestHead) {
  internal::LaneQueue q(100);
  q.defer("a", 1, 0);
  q.defer("b", 2, 1);
  q.defer("c", 3, 0);
  q.defer("d", 4, 1);
  std::vector<std::string> order;
  while (const std::string* k = q.next()) {
    order.push_back(*k);
    q.finish_head(*k);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"b", "d", "a", "c"}));
  EXPECT_TRUE(q.empty());
}

TEST(LaneQueue, UrgentEventPromotesItsKeysEarlierEvents) {
  internal::LaneQueue q(100);
  q.defer("a", 1, 0);
  q.defer("k", 2, 0);
  q.defer("b", 3, 0);
  q.defer("k", 4, 2);  // urgent, behind k's offset 2
  q.defer("k", 5, 0);
  EXPECT_EQ(q.lane_of("k"), 2u);
  EXPECT_EQ(q.oldest(), 1u);
  std::vector<Offset> order;
  while (const std::string* k = q.next()) {
    order.push_back(q.head_offset(*k));
    q.finish_head(*k);
  }
  // k's queue goes first at priority 2 until its urgent event is done; its
  // last event (priority 0) then waits its turn by offset: 1 < 3 < 5.
  EXPECT_EQ(order, (std::vector<Offset>{2, 4, 1, 3, 5}));
}

TEST(LaneQueue, TakeHandsTheKeysQueueOverInOrder) {
  internal::LaneQueue q(3);
  q.defer("k", 7, 1);
  q.keep_record(7, "seven");
  q.defer("k", 9, 0);
  q.defer("x", 8, 0);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.count(0), 2u);
  auto taken = q.take("k");
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].first, 7u);
  EXPECT_EQ(taken[0].second, "seven");
  EXPECT_EQ(taken[1].first, 9u);
  EXPECT_TRUE(taken[1].second.empty());
  EXPECT_FALSE(q.holds("k"));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.oldest(), 8u);
  EXPECT_EQ(*q.next(), "x");
}

// --- through a Bus ---------------------------------------------------------------

// Handled payloads in call order; the first event handled ("gate") waits
// until open() so that a backlog builds behind it.
struct Recorder {
  std::mutex mu;
  std::vector<std::string> seen;
  std::map<std::string, std::uint32_t> priority;
  std::atomic<bool> gate_open{false};
  Outcome handle(const Message& m) {
    if (m.payload() == "gate")
      while (!gate_open.load()) std::this_thread::sleep_for(1ms);
    std::lock_guard<std::mutex> l(mu);
    seen.emplace_back(m.payload());
    priority[std::string(m.payload())] = m.priority();
    return Outcome::done();
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> l(mu);
    return seen;
  }
};

SubscribeOptions nonblocking(std::string name) {
  SubscribeOptions so{.group = std::move(name)};
  so.retry_mode = RetryMode::kNonBlocking;
  return so;
}

Status publish(Bus& bus, std::string_view key, std::string_view payload, std::uint32_t priority) {
  Event e{.key = key, .payload = payload};
  e.priority = priority;
  return bus.publish("t", e).status();
}

class LanesOverBacklog : public ::testing::TestWithParam<Durability> {};

std::string durability_name(const ::testing::TestParamInfo<Durability>& i) {
  return i.param == Durability::kMemory ? "Memory" : "Journaled";
}

// 60 low events of 60 keys, then 6 urgent ones of other keys, all behind a
// slow event: every urgent one is handled before every low one.
TEST_P(LanesOverBacklog, UrgentEventsOvertakeOtherKeys) {
  testing::ScratchDir dir("lanes-overtake");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = GetParam(), .priority_levels = 2}));
  Recorder r;
  ASSERT_TRUE(bus->subscribe("t", nonblocking("g"), [&](const Message& m) { return r.handle(m); }));
  ASSERT_TRUE(publish(*bus, "x", "gate", 0));
  std::this_thread::sleep_for(30ms);  // the gate event is in the handler
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(publish(*bus, "low" + std::to_string(i), "l" + std::to_string(i), 0));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(publish(*bus, "high" + std::to_string(i), "h" + std::to_string(i), 1));
  r.gate_open = true;
  ASSERT_TRUE(eventually([&] { return r.get().size() == 67; }));
  const auto seen = r.get();
  EXPECT_EQ(seen[0], "gate");
  for (int i = 1; i <= 6; ++i) EXPECT_EQ(seen[i], "h" + std::to_string(i - 1)) << "position " << i;
  for (int i = 7; i < 67; ++i) EXPECT_EQ(seen[i], "l" + std::to_string(i - 7)) << "position " << i;
  EXPECT_EQ(r.priority["h0"], 1u);
  EXPECT_EQ(r.priority["l0"], 0u);
  // Everything was handled, so the committed offset reached the end.
  ASSERT_TRUE(eventually([&] {
    auto gm = bus->metrics()->groups;
    return !gm.empty() && gm[0].partitions[0].committed == 67;
  }));
}

// One key's events keep their publish order whatever their priorities; an
// urgent event behind its key's earlier low ones takes them along ahead of
// other keys' low events.
TEST_P(LanesOverBacklog, OneKeysEventsStayInPublishOrder) {
  testing::ScratchDir dir("lanes-order");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = GetParam(), .priority_levels = 3}));
  Recorder r;
  ASSERT_TRUE(bus->subscribe("t", nonblocking("g"), [&](const Message& m) { return r.handle(m); }));
  ASSERT_TRUE(publish(*bus, "x", "gate", 0));
  std::this_thread::sleep_for(30ms);
  ASSERT_TRUE(publish(*bus, "a", "a1", 0));
  ASSERT_TRUE(publish(*bus, "k", "k1", 0));
  ASSERT_TRUE(publish(*bus, "b", "b1", 1));
  ASSERT_TRUE(publish(*bus, "k", "k2", 2));  // urgent, behind k1
  ASSERT_TRUE(publish(*bus, "k", "k3", 0));
  ASSERT_TRUE(publish(*bus, "c", "c1", 2));  // urgent, its key has nothing waiting
  r.gate_open = true;
  ASSERT_TRUE(eventually([&] { return r.get().size() == 7; }));
  // c1 at once when read; then k's queue at priority 2 (k1, k2); then by
  // priority and offset: b1 (1), a1 (0, offset 1), k3 (0, offset 5).
  EXPECT_EQ(r.get(), (std::vector<std::string>{"gate", "c1", "k1", "k2", "b1", "a1", "k3"}));
}

// Random keys and priorities under a backlog, 3 partitions, 2 workers:
// each key's events are handled exactly in publish order.
TEST_P(LanesOverBacklog, RandomMixKeepsPerKeyOrder) {
  testing::ScratchDir dir("lanes-random");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 3, .durability = GetParam(), .priority_levels = 4}));
  std::mutex mu;
  std::map<std::string, std::vector<int>> per_key;
  std::atomic<int> handled{0};
  auto so = nonblocking("g");
  so.workers = 2;
  so.max_parked = 64;  // a small window: reading stops and resumes often
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    std::this_thread::sleep_for(20us);
    std::lock_guard<std::mutex> l(mu);
    per_key[std::string(m.key())].push_back(std::stoi(std::string(m.payload())));
    ++handled;
    return Outcome::done();
  }));
  std::mt19937 rng(7);
  constexpr int kEvents = 3000;
  for (int i = 0; i < kEvents; ++i) {
    const std::string key = "k" + std::to_string(rng() % 40);
    ASSERT_TRUE(publish(*bus, key, std::to_string(i), rng() % 4));
  }
  ASSERT_TRUE(eventually([&] { return handled.load() == kEvents; }, 20s));
  std::lock_guard<std::mutex> l(mu);
  for (const auto& [key, seq] : per_key)
    for (std::size_t i = 1; i < seq.size(); ++i) ASSERT_LT(seq[i - 1], seq[i]) << "key " << key;
}

// A set-aside event that fails transiently is retried with its key's later
// events behind it (they move into the parking lot together); other keys
// flow meanwhile.
TEST_P(LanesOverBacklog, FailingSetAsideEventHoldsOnlyItsKey) {
  testing::ScratchDir dir("lanes-retry");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = GetParam(), .priority_levels = 2}));
  Recorder r;
  std::atomic<int> k1_calls{0};
  auto so = nonblocking("g");
  so.retry_backoff = 50ms;
  so.jitter = false;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    if (m.payload() == "k1" && k1_calls++ == 0) return Outcome::retry();
    return r.handle(m);
  }));
  ASSERT_TRUE(publish(*bus, "x", "gate", 0));
  std::this_thread::sleep_for(30ms);
  ASSERT_TRUE(publish(*bus, "k", "k1", 0));
  ASSERT_TRUE(publish(*bus, "k", "k2", 1));
  ASSERT_TRUE(publish(*bus, "a", "a1", 0));
  ASSERT_TRUE(publish(*bus, "b", "b1", 1));
  r.gate_open = true;
  ASSERT_TRUE(eventually([&] { return r.get().size() == 5; }));
  // b1 at once; k's queue goes first (promoted by k2) but k1 fails: a1 goes
  // on, and k1, k2 follow after the backoff, in order.
  EXPECT_EQ(r.get(), (std::vector<std::string>{"gate", "b1", "a1", "k1", "k2"}));
  EXPECT_EQ(k1_calls.load(), 2);
}

INSTANTIATE_TEST_SUITE_P(Durabilities, LanesOverBacklog,
                         ::testing::Values(Durability::kMemory, Durability::kJournaled), durability_name);

// A blocking group handles a lanes topic in offset order.
TEST(Lanes, BlockingGroupKeepsOffsetOrder) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .priority_levels = 2}));
  Recorder r;
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) { return r.handle(m); }));
  ASSERT_TRUE(publish(*bus, "x", "gate", 0));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(publish(*bus, "a", "a1", 0));
  ASSERT_TRUE(publish(*bus, "b", "b1", 1));
  r.gate_open = true;
  ASSERT_TRUE(eventually([&] { return r.get().size() == 3; }));
  EXPECT_EQ(r.get(), (std::vector<std::string>{"gate", "a1", "b1"}));
}

// Journaled: the priority is stored with each event and the level count
// with the topic; after a restart the backlog is served urgent first.
TEST(Lanes, JournaledPriorityAndLevelsSurviveRestart) {
  testing::ScratchDir dir("lanes-restart");
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled, .priority_levels = 2}));
    for (int i = 0; i < 20; ++i) {
      // Event holds views: the strings must outlive the publish.
      const std::string key = "k" + std::to_string(i), payload = (i % 5 == 4 ? "h" : "l") + std::to_string(i);
      Event e{.key = key, .payload = payload};
      e.priority = i % 5 == 4 ? 1 : 0;
      ASSERT_TRUE(bus->publish("t", e, {.ack = Ack::kJournal}));
    }
    ASSERT_TRUE(bus->close());
  }
  auto bus = open_bus(dir.options());
  // The stored topic keeps its levels: no create_topic needed, and a
  // different level count is refused naming the field.
  auto stored = bus->topic_options("t");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->priority_levels, 2u);
  const Status s = bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled});
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_NE(s.message().find("priority_levels (stored 2, given 1)"), std::string::npos) << s.to_string();
  Recorder r;
  ASSERT_TRUE(bus->subscribe("t", nonblocking("g"), [&](const Message& m) { return r.handle(m); }));
  ASSERT_TRUE(eventually([&] { return r.get().size() == 20; }));
  const auto seen = r.get();
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 4),
            (std::vector<std::string>{"h4", "h9", "h14", "h19"}));
  EXPECT_EQ(seen[4], "l0");
  EXPECT_EQ(r.priority["h9"], 1u);
  EXPECT_EQ(r.priority["l3"], 0u);
}

TEST(Lanes, BadPriorityAndLevelsAreRefused) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .priority_levels = 3}));
  ASSERT_TRUE(bus->create_topic("plain", {.partitions = 1}));
  Event e{.key = "k", .payload = "p"};
  e.priority = 3;
  auto r = bus->publish("t", e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("topic 't' has 3 priority levels (0..2)"), std::string::npos)
      << r.status().to_string();
  const Event batch[] = {Event{.key = "k", .payload = "ok"}, e};
  EXPECT_EQ(bus->publish_batch("t", batch).status.code(), Code::kInvalidArgument);
  e.priority = 1;
  r = bus->publish("plain", e);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("topic 'plain' has no priority lanes"), std::string::npos)
      << r.status().to_string();
  for (std::uint32_t levels : {0u, kMaxPriorityLevels + 1}) {
    const Status s = bus->create_topic("bad", {.partitions = 1, .priority_levels = levels});
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("TopicOptions::priority_levels = " + std::to_string(levels)), std::string::npos)
        << s.to_string();
  }
  // The envelope header is reserved: it cannot be forged as a free header.
  const Header h[] = {{envelope_header::kPriority, "2"}};
  Event forged{.key = "k", .payload = "p", .headers = h};
  EXPECT_EQ(bus->publish("t", forged).status().code(), Code::kInvalidArgument);
}

// Compatibility: a topic without lanes stores exactly the value weir stored
// before lanes existed (layout 1), a stored value from then reads as one
// level, and the priority is an ordinary header to a reader that predates
// lanes (only set when > 0).
TEST(Lanes, StoredFormsStayCompatible) {
  TopicOptions plain;
  plain.durability = Durability::kJournaled;
  EXPECT_EQ(internal::encode_topic_options(plain).layout, 1u);
  TopicOptions laned = plain;
  laned.priority_levels = 5;
  const internal::StoredTopic st = internal::encode_topic_options(laned);
  EXPECT_EQ(st.layout & 0xffu, 1u);
  std::string value(sizeof st, '\0');
  std::memcpy(value.data(), &st, sizeof st);
  EXPECT_EQ(internal::decode_topic_options(value)->priority_levels, 5u);
  internal::StoredTopic old = st;
  old.layout = 1;
  std::memcpy(value.data(), &old, sizeof old);
  EXPECT_EQ(internal::decode_topic_options(value)->priority_levels, 1u);

  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .priority_levels = 2}));
  Recorder r;
  ASSERT_TRUE(bus->subscribe("t", nonblocking("g"), [&](const Message& m) {
    EXPECT_EQ(m.header(envelope_header::kPriority).value_or("none"), m.payload() == "u" ? "1" : "none");
    return r.handle(m);
  }));
  ASSERT_TRUE(publish(*bus, "k", "n", 0));
  ASSERT_TRUE(publish(*bus, "k", "u", 1));
  ASSERT_TRUE(eventually([&] { return r.get().size() == 2; }));
  EXPECT_EQ(r.get(), (std::vector<std::string>{"n", "u"}));
}

}  // namespace
}  // namespace weir
