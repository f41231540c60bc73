// Topic and group lifecycle: create_topic naming differing fields,
// alter_topic (live and next-start fields, refusals), delete_topic and
// delete_group on memory and journaled topics, across restarts.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

bool contains(const Status& s, const std::string& needle) { return s.message().find(needle) != std::string::npos; }

const PartitionMetrics& partition_of(const MetricsSnapshot& m, const std::string& topic, std::uint32_t p) {
  for (const auto& t : m.topics)
    if (t.topic == topic) return t.partitions.at(p);
  throw std::runtime_error("no topic " + topic);
}

TEST(Lifecycle, CreateTopicNamesEveryDifferingField) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .capacity = 64}));
  EXPECT_TRUE(bus->create_topic("t", {.partitions = 2, .capacity = 64}));  // a declaration
  Status s = bus->create_topic("t", {.partitions = 4, .capacity = 64, .full_policy = FullPolicy::kReject});
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_TRUE(contains(s, "partitions (stored 2, given 4)")) << s.to_string();
  EXPECT_TRUE(contains(s, "full_policy (stored block, given reject)")) << s.to_string();
  EXPECT_FALSE(contains(s, "capacity")) << s.to_string();
  EXPECT_TRUE(contains(s, "alter_topic")) << s.to_string();
}

TEST(Lifecycle, AlterTopicLiveFieldsTakeEffectAtOnce) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .capacity = 16, .block_timeout = 5000ms}));
  auto t = bus->topic("t").value();
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(t.publish({.key = "k", .payload = "x"}));
  // Full, block policy: a publish would wait 5 s. Switch to reject, live.
  auto changes = bus->alter_topic("t", {.full_policy = FullPolicy::kReject});
  ASSERT_TRUE(changes) << changes.status().to_string();
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].field, "full_policy");
  EXPECT_EQ((*changes)[0].from, "block");
  EXPECT_EQ((*changes)[0].to, "reject");
  EXPECT_FALSE((*changes)[0].at_next_start);
  EXPECT_EQ(t.publish({.key = "k", .payload = "x"}).status().code(), Code::kResourceExhausted);
  // Back to block with a short timeout, through the same handle.
  ASSERT_TRUE(bus->alter_topic("t", {.full_policy = FullPolicy::kBlock, .block_timeout = 20ms}));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(t.publish({.key = "k", .payload = "x"}).status().code(), Code::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // Equal values change nothing.
  EXPECT_TRUE(bus->alter_topic("t", {.block_timeout = 20ms}).value().empty());
  EXPECT_EQ(bus->topic_options("t").value().block_timeout, 20ms);
}

TEST(Lifecycle, AlterTopicRefusesWhatCannotChangeNamingEachField) {
  testing::ScratchDir dir("alter-refuse");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("m", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("j", {.partitions = 2, .durability = Durability::kJournaled}));
  auto r = bus->alter_topic("m", {.partitions = 4, .capacity = 1024, .retention_events = 5});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(r.status(), "partitions (2 -> 4): a memory topic is not stored")) << r.status().to_string();
  EXPECT_TRUE(contains(r.status(), "capacity (8192 -> 1024)")) << r.status().to_string();
  EXPECT_TRUE(contains(r.status(), "retention_events (0 -> 5): retention applies to journaled topics"));
  r = bus->alter_topic("j", {.partitions = 1, .durability = Durability::kMemory});
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status(), "partitions (2 -> 1): partitions can only grow")) << r.status().to_string();
  EXPECT_TRUE(contains(r.status(), "durability (journaled -> memory)")) << r.status().to_string();
  r = bus->alter_topic("j", {.capacity = 3});
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.status(), "TopicOptions::capacity = 3 is out of range")) << r.status().to_string();
  EXPECT_EQ(bus->alter_topic("nope", {.capacity = 64}).status().code(), Code::kNotFound);
  EXPECT_EQ(bus->alter_topic("bad name", {.capacity = 64}).status().code(), Code::kInvalidArgument);
  // Nothing was changed by the refusals.
  EXPECT_EQ(bus->topic_options("j").value().partitions, 2u);
}

TEST(Lifecycle, AlterJournaledTopicRetentionNowPartitionsAtTheNextStart) {
  testing::ScratchDir dir("alter-journaled");
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}));
    auto t = bus->topic("t").value();
    // One commit per event: retention deletes whole batches.
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(t.publish({.key = "k", .payload = "x"}, {.partition = 0}));
    auto changes = bus->alter_topic("t", {.partitions = 3, .retention_events = 10});
    ASSERT_TRUE(changes) << changes.status().to_string();
    ASSERT_EQ(changes->size(), 2u);
    EXPECT_EQ((*changes)[0].field, "partitions");
    EXPECT_TRUE((*changes)[0].at_next_start);
    EXPECT_EQ((*changes)[1].field, "retention_events");
    EXPECT_FALSE((*changes)[1].at_next_start);
    EXPECT_EQ(t.partitions(), 2u);  // running as opened
    EXPECT_EQ(bus->topic_options("t").value().partitions, 3u);
    // The declaration the application makes at start must match what is stored now.
    EXPECT_EQ(bus->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}).code(),
              Code::kAlreadyExists);
    ASSERT_TRUE(eventually([&] { return partition_of(bus->metrics().value(), "t", 0).start >= 30; }));
  }
  auto bus = open_bus(dir.options());
  auto o = bus->topic_options("t").value();
  EXPECT_EQ(o.partitions, 3u);
  EXPECT_EQ(o.retention_events, 10u);
  EXPECT_EQ(bus->topic("t").value().partitions(), 3u);
  EXPECT_TRUE(bus->publish("t", {.key = "k", .payload = "x"}, {.partition = 2}));
}

TEST(Lifecycle, DeleteTopicRefusesWhileSubscribedThenRemovesEverything) {
  testing::ScratchDir dir("delete-topic");
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}));
    std::atomic<int> handled{0};
    ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) {
      ++handled;
      return Outcome::done();
    }));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus->publish("t", {.key = std::to_string(i), .payload = "x"}));
    ASSERT_TRUE(eventually([&] { return handled.load() == 10; }));
    auto refused = bus->delete_topic("t");
    EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
    EXPECT_TRUE(contains(refused.status(), "subscribed group g")) << refused.status().to_string();
    // The dead-letter topic of a subscribed group is in use too.
    EXPECT_EQ(bus->delete_topic("g.dlq").status().code(), Code::kFailedPrecondition);
    ASSERT_TRUE(bus->unsubscribe("g"));
    auto handle = bus->topic("t").value();
    auto d = bus->delete_topic("t");
    ASSERT_TRUE(d) << d.status().to_string();
    EXPECT_EQ(d->partitions, 2u);
    EXPECT_EQ(d->events, 10u);
    EXPECT_EQ(d->groups, std::vector<std::string>{"g"});
    EXPECT_EQ(bus->topic("t").status().code(), Code::kNotFound);
    EXPECT_EQ(handle.publish({.payload = "x"}).status().code(), Code::kClosed);
    EXPECT_EQ(bus->delete_topic("t").status().code(), Code::kNotFound);
    // The name is free again, with new options and no old offsets.
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->publish("t", {.payload = "new"}));
  }
  auto bus = open_bus(dir.options());
  EXPECT_EQ(bus->topic_options("t").value().partitions, 1u);
  std::atomic<int> seen{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    EXPECT_EQ(m.payload(), "new");
    ++seen;
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return seen.load() == 1; }));
}

TEST(Lifecycle, DeleteMemoryTopicForgetsRememberedOffsets) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::latest().creating_group()));
  auto d = bus->delete_topic("t");
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(d->groups, std::vector<std::string>{"g"});
  EXPECT_EQ(bus->delete_group("g").status().code(), Code::kNotFound);  // nothing left under it
}

TEST(Lifecycle, DeleteGroupRemovesOffsetsDedupeStateAndDeadLetters) {
  testing::ScratchDir dir("delete-group");
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    std::atomic<int> handled{0};
    ASSERT_TRUE(bus->subscribe("t", {.group = "g", .dedupe = true}, [&](const Message& m) {
      ++handled;
      if (m.payload() == "bad") return Outcome::fail("declined");
      return Outcome::done();
    }));
    for (const char* p : {"ok", "bad", "ok", "bad"}) ASSERT_TRUE(bus->publish("t", {.payload = p}));
    ASSERT_TRUE(eventually([&] {
      auto l = bus->dlq_list("g");
      return l && l->size() == 2;
    }));
    auto refused = bus->delete_group("g");
    EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
    EXPECT_TRUE(contains(refused.status(), "unsubscribe it first")) << refused.status().to_string();
    ASSERT_TRUE(bus->unsubscribe("g"));
    auto d = bus->delete_group("g");
    ASSERT_TRUE(d) << d.status().to_string();
    EXPECT_EQ(d->offsets, 1u);
    EXPECT_GE(d->dedupe_records, 2u);
    EXPECT_TRUE(d->dead_letter_topic);
    EXPECT_EQ(d->dead_letters, 2u);
    EXPECT_EQ(bus->dlq_list("g").status().code(), Code::kNotFound);
    for (const auto& name : bus->topics()) EXPECT_NE(name, "g.dlq");
    auto again = bus->delete_group("g");
    EXPECT_EQ(again.status().code(), Code::kNotFound);
    EXPECT_TRUE(contains(again.status(), "known groups: none")) << again.status().to_string();
    EXPECT_EQ(bus->delete_group("bad name").status().code(), Code::kInvalidArgument);
  }
  // After a restart the group is new: it starts from the earliest event.
  auto bus = open_bus(dir.options());
  for (const auto& name : bus->topics()) EXPECT_NE(name, "g.dlq");
  std::atomic<int> seen{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) {
    ++seen;
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return seen.load() == 4; }));
}

// A group whose dead-letter topic another subscribed group reads is kept
// whole: delete_group refuses before it removes the offsets, dedupe records
// or state, so the group resumes where it was.
TEST(Lifecycle, DeleteGroupRefusedForItsReadDeadLetterTopicRemovesNothing) {
  testing::ScratchDir dir("delete-group-dlq-read");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .dedupe = true}, [](const Message& m) {
    return m.payload() == "bad" ? Outcome::fail("declined") : Outcome::done();
  }));
  for (const char* p : {"ok", "bad", "ok"}) ASSERT_TRUE(bus->publish("t", {.payload = p}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("g");
    auto st = bus->describe_group("g");
    return l && l->size() == 1 && st && st->partitions.at(0).committed == 3;
  }));
  ASSERT_TRUE(bus->unsubscribe("g"));
  // An auditor reads g's dead letters.
  ASSERT_TRUE(bus->subscribe("g.dlq", {.group = "audit"}, [](const Message&) { return Outcome::done(); }));
  auto refused = bus->delete_group("g");
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().to_string();
  EXPECT_TRUE(contains(refused.status(), "audit")) << refused.status().to_string();
  EXPECT_TRUE(contains(refused.status(), "g.dlq")) << refused.status().to_string();
  // Nothing went: g's offset still stands (it handles only the new event),
  // and its dead letter is still listed.
  std::atomic<int> seen{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .dedupe = true}, [&](const Message&) {
    ++seen;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "new"}));
  ASSERT_TRUE(eventually([&] { return seen.load() == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(seen.load(), 1) << "delete_group removed g's offset although it refused";
  auto letters = bus->dlq_list("g");
  ASSERT_TRUE(letters) << letters.status().to_string();
  EXPECT_EQ(letters->size(), 1u);
}

// The settled ledger of group g is keyed by offsets in "g.dlq": deleting
// that topic takes g's settlements with it, so the letters of a new "g.dlq"
// (whose offsets start again at 0) are not taken for settled ones; the
// deletion is refused while g is subscribed, as delete_group is.
TEST(Lifecycle, DeleteDeadLetterTopicDropsTheGroupsSettledLedger) {
  testing::ScratchDir dir("delete-dlq");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  auto failing = [](const Message&) { return Outcome::fail("declined"); };
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, failing));
  ASSERT_TRUE(bus->publish("t", {.payload = "first"}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("g");
    return l && l->size() == 1;
  }));
  ASSERT_EQ(*bus->dlq_purge("g"), 1u);  // settles g.dlq offset 0
  auto refused = bus->delete_topic("g.dlq");
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(contains(refused.status(), "unsubscribe it first")) << refused.status().to_string();
  ASSERT_TRUE(bus->unsubscribe("g"));
  auto d = bus->delete_topic("g.dlq");
  ASSERT_TRUE(d) << d.status().to_string();
  EXPECT_EQ(d->events, 1u);

  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, failing));
  ASSERT_TRUE(bus->publish("t", {.payload = "second"}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("g");
    return l && l->size() == 1;
  }));
  ASSERT_TRUE(bus->unsubscribe("g"));
  bus.reset();
  // The next start reads the ledger from the journal.
  bus = open_bus(dir.options());
  auto letters = bus->dlq_list("g");
  ASSERT_TRUE(letters) << letters.status().to_string();
  ASSERT_EQ(letters->size(), 1u) << "the new g.dlq's letter at offset 0 reads as settled by the deleted topic's ledger";
  EXPECT_EQ(letters->at(0).dlq_offset, 0u);
  EXPECT_EQ(letters->at(0).reason, "declined");
}

const EventLocation& at(const std::vector<EventLocation>& v, Offset o) {
  for (const auto& l : v)
    if (l.offset == o) return l;
  throw std::runtime_error("no location at offset " + std::to_string(o));
}

TEST(Locate, EachStateOfABlockingGroup) {
  testing::ScratchDir dir("locate-blocking");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  std::atomic<bool> hold{true};
  struct Release {
    std::atomic<bool>& h;
    ~Release() { h = false; }
  } release{hold};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    if (m.payload() == "bad") return Outcome::fail("declined");
    while (m.payload() == "hold" && hold.load()) std::this_thread::sleep_for(1ms);
    return Outcome::done();
  }));
  for (const char* p : {"ok", "bad", "hold"})
    ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = p, .id = std::string("id-") + p}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->locate("g", "t", {.key = "k"});
    // The dead letter of "bad" is written through the journal: wait until
    // it is visible too, not only until "hold" is in flight.
    // The offset past the letter is committed a little after the letter
    // shows: wait for it too, since `ahead` counts from the committed offset.
    return l && l->size() == 3 && at(*l, 1).state == EventLocation::State::kDeadLettered &&
           at(*l, 2).state == EventLocation::State::kInFlight && at(*l, 2).committed == Offset{2};
  }));
  // Published once "hold" is being handled, so it cannot be part of the
  // batch the worker read (a batch's events all count as in flight).
  ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "later", .id = "id-later"}));
  ASSERT_TRUE(eventually([&] { return bus->locate("g", "t", {.key = "k"}).value().size() == 4; }));
  auto l = bus->locate("g", "t", {.key = "k"}).value();
  EXPECT_EQ(at(l, 0).state, EventLocation::State::kDone);
  EXPECT_EQ(at(l, 1).state, EventLocation::State::kDeadLettered);
  EXPECT_EQ(at(l, 1).reason.find("declined") != std::string::npos, true) << at(l, 1).reason;
  EXPECT_GT(at(l, 1).dead_lettered_us, 0);
  EXPECT_EQ(at(l, 2).state, EventLocation::State::kInFlight);
  EXPECT_GE(at(l, 2).worker, 0);
  EXPECT_EQ(at(l, 3).state, EventLocation::State::kNotYetReached);
  EXPECT_EQ(at(l, 3).ahead, 1u);
  EXPECT_TRUE(at(l, 3).group_running);
  EXPECT_EQ(state_name(at(l, 3).state), "not_yet_reached");
  // By id: exactly that event.
  auto one = bus->locate("g", "t", {.id = "id-later"}).value();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].offset, 3u);
  hold = false;
  ASSERT_TRUE(eventually([&] { return bus->locate("g", "t", {.id = "id-later"}).value()[0].state ==
                                       EventLocation::State::kDone; }));
  // Bad input.
  EXPECT_EQ(bus->locate("g", "t", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->locate("g", "t", {.id = "x", .key = "k"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->locate("g", "nope", {.key = "k"}).status().code(), Code::kNotFound);
  auto unknown = bus->locate("typo", "t", {.key = "k"});
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_TRUE(contains(unknown.status(), "known groups: g")) << unknown.status().to_string();
  EXPECT_TRUE(bus->locate("g", "t", {.key = "absent"}).value().empty());
}

TEST(Locate, RetryingAndParkedWithNonBlockingRetries) {
  testing::ScratchDir dir("locate-parked");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  SubscribeOptions so;
  so.group = "g";
  so.retry_mode = RetryMode::kNonBlocking;
  so.max_attempts = 1000;
  so.retry_backoff = 50ms;
  so.retry_backoff_max = 50ms;
  std::atomic<int> failures{0};
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    if (m.payload() == "retry") {
      ++failures;
      return Outcome::retry("not yet");
    }
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.key = "A", .payload = "retry"}));
  ASSERT_TRUE(bus->publish("t", {.key = "A", .payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->locate("g", "t", {.key = "A"});
    return l && l->size() == 2 && at(*l, 0).state == EventLocation::State::kRetrying &&
           at(*l, 1).state == EventLocation::State::kParked;
  })) << failures.load();
  auto l = bus->locate("g", "t", {.key = "A"}).value();
  EXPECT_GE(at(l, 0).attempt, 2u);
  EXPECT_EQ(at(l, 1).parked_behind, 0u);
  // Offline, after the group stops: retrying (when it resumes) from the stored count.
  ASSERT_TRUE(bus->unsubscribe("g", {.mode = CloseMode::kStopAtBatch}));
  l = bus->locate("g", "t", {.key = "A"}).value();
  EXPECT_EQ(at(l, 0).state, EventLocation::State::kRetrying);
  EXPECT_FALSE(at(l, 0).group_running);
  EXPECT_EQ(at(l, 1).state, EventLocation::State::kNotYetReached);
}

// In flight since when, and retrying with its next try, for a running
// group; on a memory topic (nothing stored) and a journaled one; offline,
// what is stored.
void check_in_flight_and_retrying(Durability durability) {
  testing::ScratchDir dir("locate-details");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .durability = durability}));
  std::atomic<bool> hold{true};
  struct Release {
    std::atomic<bool>& h;
    ~Release() { h = false; }
  } release{hold};
  SubscribeOptions so;
  so.group = "g";
  so.workers = 2;  // one per partition: "held" blocks only its own
  so.max_attempts = 1000;
  so.retry_backoff = 700ms;
  so.retry_backoff_max = 700ms;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    if (m.payload() == "retry") return Outcome::retry("provider busy");
    while (m.payload() == "hold" && hold.load()) std::this_thread::sleep_for(1ms);
    return Outcome::done();
  }));
  const auto before_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(bus->publish("t", {.key = "k-hold", .payload = "hold", .id = "held"}));
  ASSERT_TRUE(bus->publish("t", {.key = "k-retry", .payload = "retry", .id = "retried"}));
  // (each key may land on either partition; with 2 partitions both may
  // share one, then "retried" waits behind "held" and is not yet reached.)
  ASSERT_TRUE(eventually([&] {
    auto l = bus->locate("g", "t", {.id = "held"});
    return l && l->size() == 1 && (*l)[0].state == EventLocation::State::kInFlight;
  }));
  auto held = bus->locate("g", "t", {.id = "held"}).value().at(0);
  EXPECT_GE(held.worker, 0);
  // The coarse clock runs up to a tick (1-4 ms) behind the precise one.
  EXPECT_GE(held.in_flight_since_us, before_us - 20'000);
  EXPECT_LE(held.in_flight_since_us, before_us + 5'000'000);
  const bool same_partition = held.partition == bus->locate("g", "t", {.id = "retried"}).value().at(0).partition;
  if (same_partition) hold = false;
  ASSERT_TRUE(eventually([&] {
    auto l = bus->locate("g", "t", {.id = "retried"});
    return l && l->size() == 1 && (*l)[0].state == EventLocation::State::kRetrying;
  }));
  auto retried = bus->locate("g", "t", {.id = "retried"}).value().at(0);
  EXPECT_GE(retried.attempt, 2u);
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(retried.next_try_us, now_us - 10'000) << "the next try is due within the backoff";
  EXPECT_LT(retried.next_try_us, now_us + 800'000);
  const std::string j = to_json(retried);
  EXPECT_NE(j.find("\"state\":\"retrying\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"next_try_us\":" + std::to_string(retried.next_try_us)), std::string::npos) << j;
  hold = false;
  ASSERT_TRUE(bus->unsubscribe("g", {.mode = CloseMode::kStopAtBatch}));
  // Offline: a journaled topic still knows the attempt (not when: the try
  // comes when the group runs again); a memory one has nothing stored.
  auto off = bus->locate("g", "t", {.id = "retried"}).value().at(0);
  EXPECT_FALSE(off.group_running);
  EXPECT_EQ(off.next_try_us, 0);
  if (durability == Durability::kJournaled) {
    EXPECT_EQ(off.state, EventLocation::State::kRetrying);
    EXPECT_GE(off.attempt, 2u);
  } else {
    EXPECT_EQ(off.state, EventLocation::State::kNotYetReached);
  }
}

TEST(Locate, InFlightSinceAndRetryingNextTryOnAMemoryTopic) { check_in_flight_and_retrying(Durability::kMemory); }

TEST(Locate, InFlightSinceAndRetryingNextTryOnAJournaledTopic) {
  check_in_flight_and_retrying(Durability::kJournaled);
}

TEST(Locate, JsonFormNamesEveryField) {
  EventLocation l;
  l.state = EventLocation::State::kInFlight;
  l.topic = "orders";
  l.key = std::string("\xff\x01", 2);
  l.worker = 3;
  l.in_flight_since_us = 1700000000000000;
  const std::string j = to_json(l);
  for (const char* f : {"topic", "partition", "offset", "id", "key_b64", "time_us", "state", "committed", "ahead",
                        "attempt", "next_try_us", "parked_behind", "worker", "in_flight_since_us", "reason",
                        "dead_lettered_us", "dlq_offset", "group_running", "paused", "stopped"})
    EXPECT_NE(j.find("\"" + std::string(f) + "\":"), std::string::npos) << f << " in " << j;
  EXPECT_NE(j.find("\"state\":\"in_flight\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"committed\":null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"key_b64\":\"/wE=\""), std::string::npos) << j;
}

}  // namespace
}  // namespace weir
