// Groups over several topics (Bus::subscribe with a TopicSet): offsets per
// topic-partition across restarts, a pattern joining topics created later,
// bad input named, and `weir groups` / `weir seek --group` per
// topic-partition for such a group.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <random>
#include <thread>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../cli/run_util.hpp"
#include "../unit/test_util.hpp"
#include "journal/fault.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

// Counts handled events by topic (and keeps their payloads).
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> by_topic;
  Handler handler() {
    return [this](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      by_topic[std::string(m.topic())].emplace_back(m.payload());
      return Outcome::done();
    };
  }
  std::size_t count(const std::string& t) {
    std::lock_guard<std::mutex> l(mu);
    return by_topic[t].size();
  }
  std::size_t total() {
    std::lock_guard<std::mutex> l(mu);
    std::size_t n = 0;
    for (const auto& [t, v] : by_topic) n += v.size();
    return n;
  }
};

void publish_n(Bus& bus, const std::string& topic, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    const std::string key = "k" + std::to_string(i % 5), payload = topic + "-" + std::to_string(i);
    ASSERT_TRUE(bus.publish(topic, {.key = key, .payload = payload}, {.ack = Ack::kJournal}));
  }
}

class TopicSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::ScratchDir>(
        std::string("topicset-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::unique_ptr<Bus> open() {
    Options o = dir_->options();
    o.offset_commit_interval = 2ms;
    auto b = Bus::open(o);
    EXPECT_TRUE(b) << b.status().to_string();
    return std::move(b).value();
  }
  static void create_journaled(Bus& bus) {
    ASSERT_TRUE(bus.create_topic("orders", {.partitions = 2, .durability = Durability::kJournaled}));
    ASSERT_TRUE(bus.create_topic("refunds", {.partitions = 3, .durability = Durability::kJournaled}));
  }
  std::unique_ptr<testing::ScratchDir> dir_;
};

TEST_F(TopicSetTest, OffsetsArePerTopicPartitionAndSurviveARestart) {
  {
    auto bus = open();
    create_journaled(*bus);
    publish_n(*bus, "orders", 0, 10);
    publish_n(*bus, "refunds", 0, 6);
    Seen seen;
    ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "billing", .workers = 2},
                               seen.handler()));
    ASSERT_TRUE(eventually([&] { return seen.total() == 16; }));
    EXPECT_EQ(seen.count("orders"), 10u);
    EXPECT_EQ(seen.count("refunds"), 6u);
    auto st = bus->describe_group("billing");
    ASSERT_TRUE(st);
    EXPECT_EQ(st->topic, "");
    EXPECT_EQ(st->topics, (std::vector<std::string>{"orders", "refunds"}));
    ASSERT_EQ(st->partitions.size(), 5u);  // 2 + 3, sorted by topic then partition
    EXPECT_EQ(st->partitions[0].topic, "orders");
    EXPECT_EQ(st->partitions[2].topic, "refunds");
    EXPECT_EQ(st->partitions[2].partition, 0u);
    EXPECT_TRUE(eventually([&] {
      auto s = bus->describe_group("billing");
      for (const auto& p : s->partitions)
        if (p.lag != 0) return false;
      return true;
    }));
    // One metrics row per (group, topic).
    auto m = bus->metrics();
    ASSERT_TRUE(m);
    std::set<std::string> topics;
    for (const auto& g : m->groups)
      if (g.group == "billing") topics.insert(g.topic);
    EXPECT_EQ(topics, (std::set<std::string>{"orders", "refunds"}));
    ASSERT_TRUE(bus->close());
  }
  {
    auto bus = open();
    create_journaled(*bus);
    publish_n(*bus, "orders", 10, 3);
    publish_n(*bus, "refunds", 6, 2);
    Seen seen;
    ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "billing"}, seen.handler()));
    ASSERT_TRUE(eventually([&] { return seen.total() == 5; }));
    std::this_thread::sleep_for(50ms);  // and nothing from before the restart
    EXPECT_EQ(seen.count("orders"), 3u);
    EXPECT_EQ(seen.count("refunds"), 2u);
    EXPECT_EQ(seen.total(), 5u);
    ASSERT_TRUE(bus->unsubscribe("billing"));
    // The same group on one of its topics alone keeps that topic's offsets.
    Seen one;
    ASSERT_TRUE(bus->subscribe("refunds", {.group = "billing"}, one.handler()));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(one.total(), 0u);
    ASSERT_TRUE(bus->close());
  }
}

// Dedupe: one store per group (subscribe.hpp). An id handled on one topic
// counts as handled on the others while its write set still waits for the
// journal (here: every commit fails until the test lets it through), and
// after it is committed.
TEST_F(TopicSetTest, AnIdHandledOnOneTopicIsADuplicateOnTheOthersBeforeAndAfterItsCommit) {
  auto bus = open();
  create_journaled(*bus);
  ASSERT_TRUE(bus->create_topic("other", {.partitions = 1, .durability = Durability::kJournaled}));
  std::mutex mu;
  std::map<std::string, int> handled;  // "topic/id" -> calls
  std::atomic<bool> entered{false}, go{false};
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "g", .dedupe = true},
                             [&](const Message& m) {
                               if (m.topic() == "orders") {
                                 entered = true;
                                 while (!go.load()) std::this_thread::sleep_for(1ms);
                               }
                               std::lock_guard<std::mutex> l(mu);
                               ++handled[std::string(m.topic()) + "/" + std::string(m.id())];
                               return Outcome::done();
                             }));
  ASSERT_TRUE(bus->pause_topic("g", "refunds"));
  ASSERT_TRUE(bus->publish("orders", {.key = "k", .payload = "o", .id = "x"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(bus->publish("refunds", {.key = "k", .payload = "r", .id = "x"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  // Every commit fails from here on (the stall is known once publishes are
  // refused): "orders/x"'s dedupe record stays in its topic's overlay.
  internal::arm_fault(internal::FaultPoint::kCommit, EIO);
  ASSERT_TRUE(eventually([&] {
    return bus->publish("other", {.payload = "p"}, {.ack = Ack::kNone}).status().code() == Code::kResourceExhausted;
  }));
  go = true;
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return handled.count("orders/x") == 1;
  }));
  ASSERT_TRUE(bus->resume_topic("g", "refunds"));
  const bool skipped = eventually([&] {
    auto st = bus->describe_group("g");
    std::lock_guard<std::mutex> l(mu);
    return (st && st->duplicates_skipped == 1) || handled.count("refunds/x");
  }, 5s);
  internal::disarm_faults();
  EXPECT_TRUE(skipped);
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(handled.count("refunds/x"), 0u) << "handled again on refunds before orders' commit";
  }
  // Committed now: the same id on refunds again is a duplicate too.
  Status last = Status::ok();
  ASSERT_TRUE(eventually([&] {
    auto r = bus->publish("refunds", {.key = "k2", .payload = "r2", .id = "x"}, {.ack = Ack::kJournal});
    last = r.status();
    return static_cast<bool>(r);
  })) << last.to_string();
  ASSERT_TRUE(eventually([&] {
    auto st = bus->describe_group("g");
    return st && st->duplicates_skipped == 2;
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(handled, (std::map<std::string, int>{{"orders/x", 1}}));
}

// One worker serves both topics, so no two events are handled at the same
// moment: every id published to both is handled exactly once, whichever
// topic comes first and however its commit races the other topic's check.
TEST_F(TopicSetTest, EachIdIsHandledOnceAcrossTopicsWhileCommitsRace) {
  auto bus = open();
  create_journaled(*bus);
  std::mutex mu;
  std::map<std::string, int> handled;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "g", .workers = 1, .dedupe = true},
                             [&](const Message& m) {
                               std::lock_guard<std::mutex> l(mu);
                               ++handled[std::string(m.id())];
                               return Outcome::done();
                             }));
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  constexpr int kIds = 2000;
  std::vector<std::string> ids, keys;
  for (int i = 0; i < kIds; ++i) {
    ids.push_back("id-" + std::to_string(i));
    keys.push_back("k" + std::to_string(rng() % 7));
  }
  for (int from = 0; from < kIds;) {
    const int n = 1 + static_cast<int>(rng() % 64);
    std::vector<Event> first, second;
    for (int i = from; i < std::min(kIds, from + n); ++i) {
      first.push_back({.key = keys[i], .payload = "a", .id = ids[i]});
      second.push_back({.key = keys[i], .payload = "b", .id = ids[i]});
    }
    const bool orders_first = rng() % 2;
    ASSERT_TRUE(bus->publish_batch(orders_first ? "orders" : "refunds", first, {.ack = Ack::kJournal}).status);
    if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
    ASSERT_TRUE(bus->publish_batch(orders_first ? "refunds" : "orders", second, {.ack = Ack::kJournal}).status);
    from += n;
  }
  ASSERT_TRUE(eventually([&] {
    auto st = bus->describe_group("g");
    std::lock_guard<std::mutex> l(mu);
    std::size_t calls = 0;
    for (const auto& [id, n] : handled) calls += static_cast<std::size_t>(n);
    return st && st->duplicates_skipped + calls >= 2 * kIds;
  }, 30s));
  ASSERT_TRUE(bus->close());
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(handled.size(), static_cast<std::size_t>(kIds));
  int twice = 0;
  for (const auto& [id, n] : handled) twice += n > 1;
  EXPECT_EQ(twice, 0) << "ids handled more than once (seed " << ::testing::UnitTest::GetInstance()->random_seed()
                      << ")";
}

TEST_F(TopicSetTest, APatternJoinsTopicsCreatedLater) {
  auto bus = open();
  ASSERT_TRUE(bus->create_topic("shop.orders", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("audit", {.partitions = 1}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe(TopicSet{.pattern = "shop\\..*"}, {.group = "watch"}, seen.handler()));
  ASSERT_TRUE(bus->create_topic("shop.refunds", {.partitions = 3}));
  ASSERT_TRUE(bus->create_topic("shopping", {.partitions = 1}));  // a whole-name match only
  for (const char* t : {"shop.orders", "shop.refunds", "audit", "shopping"})
    ASSERT_TRUE(bus->publish(t, {.key = "k", .payload = "x"}));
  ASSERT_TRUE(eventually([&] { return seen.total() == 2; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen.count("shop.orders"), 1u);
  EXPECT_EQ(seen.count("shop.refunds"), 1u);
  EXPECT_EQ(seen.total(), 2u);
  auto st = bus->describe_group("watch");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->topics, (std::vector<std::string>{"shop.orders", "shop.refunds"}));
  EXPECT_EQ(st->partitions.size(), 5u);
  // A journaled topic created later is joined too, and its offsets persist.
  ASSERT_TRUE(bus->create_topic("shop.returns", {.partitions = 1, .durability = Durability::kJournaled}));
  ASSERT_TRUE(bus->publish("shop.returns", {.key = "k", .payload = "r"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return seen.count("shop.returns") == 1; }));
  // A topic a subscribed group reads cannot be deleted under it.
  auto del = bus->delete_topic("shop.refunds");
  ASSERT_FALSE(del);
  EXPECT_EQ(del.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(del.status().message().find("watch"), std::string::npos) << del.status().message();
  ASSERT_TRUE(bus->close());
}

TEST_F(TopicSetTest, APatternWithStateTablesLeavesMemoryTopicsOut) {
  auto bus = open();
  ASSERT_TRUE(bus->create_topic("ev.mem", {.partitions = 1}));
  std::atomic<int> n{0};
  ASSERT_TRUE(bus->subscribe(TopicSet{.pattern = "ev\\..*"}, {.group = "tally"}, [&](const Message&, State& s) {
    ++n;
    return s.put("t", "last", "x") ? Outcome::done() : Outcome::retry();
  }));
  ASSERT_TRUE(bus->create_topic("ev.disk", {.partitions = 1, .durability = Durability::kJournaled}));
  ASSERT_TRUE(bus->publish("ev.mem", {.key = "k", .payload = "m"}));
  ASSERT_TRUE(bus->publish("ev.disk", {.key = "k", .payload = "d"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return n.load() == 1; }));
  EXPECT_EQ(bus->describe_group("tally")->topics, (std::vector<std::string>{"ev.disk"}));
  ASSERT_TRUE(bus->close());
}

TEST_F(TopicSetTest, BadInputIsNamed) {
  auto bus = open();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("disk", {.partitions = 1, .durability = Durability::kJournaled}));
  Seen seen;
  auto expect = [&](const Status& s, Code code, const std::string& needle) {
    EXPECT_EQ(s.code(), code) << s.to_string();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  expect(bus->subscribe(TopicSet{}, {.group = "g"}, seen.handler()), Code::kInvalidArgument,
         "TopicSet of group 'g' is empty");
  expect(bus->subscribe(TopicSet{.pattern = "orders["}, {.group = "g"}, seen.handler()), Code::kInvalidArgument,
         "TopicSet::pattern 'orders[' of group 'g' is not a valid regular expression");
  expect(bus->subscribe(TopicSet{.topics = {"orders", "nope"}, .pattern = "o.*"}, {.group = "g"}, seen.handler()),
         Code::kNotFound, "topic 'nope' (listed in the TopicSet of group 'g') not found; a listed topic must exist");
  expect(bus->subscribe(TopicSet{.topics = {"orders", "orders"}}, {.group = "g"}, seen.handler()),
         Code::kInvalidArgument, "lists topic 'orders' twice");
  expect(bus->subscribe(TopicSet{.topics = {"bad name"}}, {.group = "g"}, seen.handler()), Code::kInvalidArgument,
         "TopicSet of group 'g': ");
  expect(bus->subscribe(TopicSet{.topics = {"disk", "orders"}}, {.group = "g"},
                        [](const Message&, State&) { return Outcome::done(); }),
         Code::kInvalidArgument, "'orders' is a memory topic");
  EXPECT_FALSE(bus->describe_group("g"));  // nothing was left subscribed
  // One name, one subscription: a TopicSet group and a one-topic group clash.
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders"}, .pattern = "d.*"}, {.group = "g"}, seen.handler()));
  expect(bus->subscribe("disk", {.group = "g"}, seen.handler()), Code::kAlreadyExists,
         "group 'g' is already subscribed (to topics 'orders' and pattern 'd.*')");
  ASSERT_TRUE(bus->subscribe("orders", {.group = "h"}, seen.handler()));
  expect(bus->subscribe(TopicSet{.topics = {"disk"}}, {.group = "h"}, seen.handler()), Code::kAlreadyExists,
         "group 'h' is already subscribed (to topic 'orders')");
  // A partition number alone is ambiguous for a group over several topics.
  expect(bus->pause("g", 0), Code::kInvalidArgument, "partition 0 alone is ambiguous");
  EXPECT_TRUE(bus->pause("g"));
  EXPECT_TRUE(bus->resume("g"));
  EXPECT_TRUE(bus->set_workers("g", 2));
  expect(bus->seek("g", "orders", SeekTo::earliest()), Code::kFailedPrecondition, "is subscribed");
  ASSERT_TRUE(bus->close());
}

TEST_F(TopicSetTest, MemoryTopicsKeepTheirOffsetsPerTopicAcrossResubscribe) {
  auto bus = open();
  ASSERT_TRUE(bus->create_topic("a", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("b", {.partitions = 1}));
  Seen seen;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"a", "b"}}, {.group = "g"}, seen.handler()));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(bus->publish("a", {.key = std::to_string(i), .payload = "a"}));
    ASSERT_TRUE(bus->publish("b", {.key = std::to_string(i), .payload = "b"}));
  }
  ASSERT_TRUE(eventually([&] { return seen.total() == 8; }));
  ASSERT_TRUE(bus->unsubscribe("g"));
  ASSERT_TRUE(bus->publish("b", {.key = "z", .payload = "b"}));
  Seen again;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"a", "b"}}, {.group = "g"}, again.handler()));
  ASSERT_TRUE(eventually([&] { return again.total() == 1; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(again.count("b"), 1u);
  EXPECT_EQ(again.total(), 1u);
  ASSERT_TRUE(bus->close());
}

TEST_F(TopicSetTest, DeadLettersOfEveryTopicGoToTheGroupsOneDlqNamingTheirSource) {
  auto bus = open();
  create_journaled(*bus);
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "billing"},
                             [](const Message& m) {
                               return m.payload() == "bad" ? Outcome::fail("refused") : Outcome::done();
                             }));
  ASSERT_TRUE(bus->publish("orders", {.key = "1", .payload = "bad"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(bus->publish("refunds", {.key = "2", .payload = "bad"}, {.ack = Ack::kJournal}));
  std::vector<DeadLetter> letters;
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("billing");
    if (l) letters = *l;
    return letters.size() == 2;
  }));
  std::set<std::string> sources;
  for (const auto& d : letters) sources.insert(d.topic);
  EXPECT_EQ(sources, (std::set<std::string>{"orders", "refunds"}));
  ASSERT_TRUE(bus->close());
}

// A pattern never matches a dead-letter topic (another group's letters),
// though ".*" matches its name.
TEST_F(TopicSetTest, APatternNeverJoinsDeadLetterTopics) {
  auto bus = open();
  ASSERT_TRUE(bus->create_topic("a", {.partitions = 1}));
  ASSERT_TRUE(bus->subscribe("a", {.group = "pay"}, [](const Message&) { return Outcome::fail("refused"); }));
  ASSERT_TRUE(bus->publish("a", {.key = "k", .payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("pay");
    return l && l->size() == 1;
  }));
  ASSERT_TRUE(bus->topic("pay.dlq"));  // exists when the pattern is resolved
  Seen seen;
  ASSERT_TRUE(bus->subscribe(TopicSet{.pattern = ".*"}, {.group = "all"}, seen.handler()));
  ASSERT_TRUE(eventually([&] { return seen.total() == 1; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen.count("a"), 1u);
  EXPECT_EQ(seen.total(), 1u);
  auto st = bus->describe_group("all");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->topics, (std::vector<std::string>{"a"}));
  ASSERT_TRUE(bus->close());
}

// `weir groups` lists such a group per topic-partition; `weir seek --group`
// moves one topic's offsets and leaves the other's alone.
TEST_F(TopicSetTest, CliGroupsAndSeekActPerTopicPartition) {
  {
    auto bus = open();
    create_journaled(*bus);
    publish_n(*bus, "orders", 0, 4);
    publish_n(*bus, "refunds", 0, 3);
    Seen seen;
    ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "billing"}, seen.handler()));
    ASSERT_TRUE(eventually([&] { return seen.total() == 7; }));
    ASSERT_TRUE(bus->close());
  }
  const auto scratch = dir_->path().parent_path() / (dir_->path().filename().string() + "-cli");
  auto groups = testing::run_weir({"groups", dir_->path().string(), "--json"}, "", scratch);
  ASSERT_EQ(groups.rc, 0) << groups.err;
  std::map<std::string, int> rows;
  std::uint64_t committed = 0;
  for (const auto& r : groups.rows()) {
    if (r["group"] != "billing") continue;
    ++rows[r["topic"].get<std::string>()];
    committed += r["committed"].get<std::uint64_t>();
    EXPECT_EQ(r["lag"].get<std::uint64_t>(), 0u);
  }
  EXPECT_EQ(rows, (std::map<std::string, int>{{"orders", 2}, {"refunds", 3}}));
  EXPECT_EQ(committed, 7u);
  auto seek = testing::run_weir(
      {"seek", dir_->path().string(), "refunds", "--group", "billing", "--to", "earliest", "--execute", "--json"},
      "", scratch);
  ASSERT_EQ(seek.rc, 0) << seek.err;
  EXPECT_EQ(seek.rows().size(), 3u);
  std::filesystem::remove_all(scratch);
  {
    auto bus = open();
    create_journaled(*bus);
    Seen seen;
    ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"orders", "refunds"}}, {.group = "billing"}, seen.handler()));
    ASSERT_TRUE(eventually([&] { return seen.total() == 3; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(seen.count("refunds"), 3u);
    EXPECT_EQ(seen.count("orders"), 0u);
    ASSERT_TRUE(bus->close());
  }
}

}  // namespace
}  // namespace weir
