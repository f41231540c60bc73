// One worker pool per group over several topics (Bus::subscribe with a
// TopicSet): SubscribeOptions::workers threads serve every topic's
// partitions, a topic a pattern takes later joins the running pool,
// Bus::set_workers sizes the one pool, per-key order holds per
// topic-partition, and close/restart keeps offsets per topic-partition.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../unit/test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

// What the handler saw: the threads it ran on, and per (topic, key) the
// sequence numbers in the order handled.
struct Record {
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::map<std::pair<std::string, std::string>, std::vector<int>> seqs;
  std::size_t total = 0;

  Handler handler() {
    return [this](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      threads.insert(std::this_thread::get_id());
      seqs[{std::string(m.topic()), std::string(m.key())}].push_back(std::stoi(std::string(m.payload())));
      ++total;
      return Outcome::done();
    };
  }
  std::size_t handled() {
    std::lock_guard<std::mutex> l(mu);
    return total;
  }
  std::size_t thread_count() {
    std::lock_guard<std::mutex> l(mu);
    return threads.size();
  }
  void forget_threads() {
    std::lock_guard<std::mutex> l(mu);
    threads.clear();
  }
  // Every (topic, key) handled its events in publish order, `per_key` each.
  void expect_in_order(std::size_t keys, int per_key) {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(seqs.size(), keys);
    for (const auto& [tk, v] : seqs) {
      ASSERT_EQ(v.size(), static_cast<std::size_t>(per_key)) << tk.first << "/" << tk.second;
      for (int i = 0; i < per_key; ++i) ASSERT_EQ(v[i], i) << tk.first << "/" << tk.second;
    }
  }
};

// `per_key` events on each of `keys` keys, sequence numbers as payloads,
// keys interleaved.
void publish_keys(Bus& bus, const std::string& topic, int keys, int per_key, int first_seq = 0) {
  for (int i = first_seq; i < first_seq + per_key; ++i)
    for (int k = 0; k < keys; ++k)
      ASSERT_TRUE(bus.publish(topic, {.key = "k" + std::to_string(k), .payload = std::to_string(i)}));
}

// The GroupMetrics rows of `group` (one per topic).
std::vector<GroupMetrics> rows_of(Bus& bus, const std::string& group) {
  std::vector<GroupMetrics> out;
  auto m = bus.metrics();
  EXPECT_TRUE(m);
  for (const auto& g : m->groups)
    if (g.group == group) out.push_back(g);
  return out;
}

std::unique_ptr<Bus> open_memory() {
  auto b = Bus::open(Options{});
  EXPECT_TRUE(b) << b.status().to_string();
  return std::move(b).value();
}

TEST(TopicSetPool, TwoWorkersServeThreeTopicsInPerKeyOrder) {
  auto bus = open_memory();
  for (const char* t : {"a", "b", "c"}) ASSERT_TRUE(bus->create_topic(t, {.partitions = 3}));
  Record rec;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"a", "b", "c"}}, {.group = "g", .workers = 2}, rec.handler()));
  for (const char* t : {"a", "b", "c"}) publish_keys(*bus, t, 8, 50);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 3u * 8 * 50; }));
  EXPECT_LE(rec.thread_count(), 2u);  // one pool of 2, not 2 per topic
  rec.expect_in_order(3 * 8, 50);
  // Every topic's row reports the one pool, and every partition is owned by
  // one of its two workers.
  const auto rows = rows_of(*bus, "g");
  ASSERT_EQ(rows.size(), 3u);
  std::set<int> owners;
  for (const auto& g : rows) {
    EXPECT_EQ(g.workers, 2u) << g.topic;
    EXPECT_EQ(g.max_workers, 9u) << g.topic;  // the partitions of all three
    for (const auto& p : g.partitions) owners.insert(p.worker);
  }
  EXPECT_EQ(owners, (std::set<int>{0, 1}));
  ASSERT_TRUE(bus->close());
}

TEST(TopicSetPool, APatternTopicCreatedLaterJoinsTheSamePool) {
  auto bus = open_memory();
  ASSERT_TRUE(bus->create_topic("p.one", {.partitions = 1}));
  Record rec;
  ASSERT_TRUE(bus->subscribe(TopicSet{.pattern = "p\\..*"}, {.group = "g", .workers = 2}, rec.handler()));
  publish_keys(*bus, "p.one", 4, 20);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 80u; }));
  EXPECT_EQ(rec.thread_count(), 1u);  // one partition: the pool is capped at 1
  EXPECT_EQ(rows_of(*bus, "g").at(0).workers, 1u);
  // Two more topics while running: the pool grows to the 2 asked for and
  // serves them, without a restart of the group.
  ASSERT_TRUE(bus->create_topic("p.two", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("p.three", {.partitions = 2}));
  publish_keys(*bus, "p.two", 4, 20);
  publish_keys(*bus, "p.three", 4, 20);
  publish_keys(*bus, "p.one", 4, 20, 20);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 80u + 3 * 80; }));
  EXPECT_LE(rec.thread_count(), 2u);
  {
    std::lock_guard<std::mutex> l(rec.mu);
    for (const auto& [tk, v] : rec.seqs) {
      ASSERT_EQ(v.size(), tk.first == "p.one" ? 40u : 20u) << tk.first;
      for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], static_cast<int>(i)) << tk.first << "/" << tk.second;
    }
  }
  for (const auto& g : rows_of(*bus, "g")) EXPECT_EQ(g.workers, 2u) << g.topic;
  ASSERT_TRUE(bus->close());
}

TEST(TopicSetPool, SetWorkersSizesThePoolOfEveryTopic) {
  auto bus = open_memory();
  for (const char* t : {"a", "b", "c"}) ASSERT_TRUE(bus->create_topic(t, {.partitions = 2}));
  Record rec;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"a", "b", "c"}}, {.group = "g", .workers = 1}, rec.handler()));
  for (const char* t : {"a", "b", "c"}) publish_keys(*bus, t, 4, 10);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 120u; }));
  EXPECT_EQ(rec.thread_count(), 1u);

  ASSERT_TRUE(bus->set_workers("g", 3));
  for (const auto& g : rows_of(*bus, "g")) EXPECT_EQ(g.workers, 3u) << g.topic;
  // All three take partitions (6 partitions, worker = number % 3).
  ASSERT_TRUE(eventually([&] {
    std::set<int> owners;
    for (const auto& g : rows_of(*bus, "g"))
      for (const auto& p : g.partitions) owners.insert(p.worker);
    return owners == std::set<int>{0, 1, 2};
  }));
  rec.forget_threads();
  for (const char* t : {"a", "b", "c"}) publish_keys(*bus, t, 4, 10, 10);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 240u; }));
  EXPECT_LE(rec.thread_count(), 3u);
  rec.expect_in_order(12, 20);

  // Down to 1 again, and past the partition count is capped at it.
  ASSERT_TRUE(bus->set_workers("g", 1));
  ASSERT_TRUE(eventually([&] {
    for (const auto& g : rows_of(*bus, "g"))
      for (const auto& p : g.partitions)
        if (p.worker != 0) return false;
    return true;
  }));
  ASSERT_TRUE(bus->set_workers("g", 100));
  for (const auto& g : rows_of(*bus, "g")) EXPECT_EQ(g.workers, 6u) << g.topic;
  auto zero = bus->set_workers("g", 0);
  EXPECT_EQ(zero.code(), Code::kInvalidArgument) << zero.to_string();
  ASSERT_TRUE(bus->close());
}

TEST(TopicSetPool, SetWorkersBeforeAPatternTakesATopicSizesItsPool) {
  auto bus = open_memory();
  Record rec;
  ASSERT_TRUE(bus->subscribe(TopicSet{.pattern = "late\\..*"}, {.group = "g", .workers = 1}, rec.handler()));
  ASSERT_TRUE(bus->set_workers("g", 2));  // no topic yet: remembered
  ASSERT_TRUE(bus->create_topic("late.a", {.partitions = 4}));
  EXPECT_EQ(rows_of(*bus, "g").at(0).workers, 2u);
  publish_keys(*bus, "late.a", 8, 10);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 80u; }));
  EXPECT_LE(rec.thread_count(), 2u);
  rec.expect_in_order(8, 10);
  ASSERT_TRUE(bus->close());
}

TEST(TopicSetPool, PauseActsPerTopicThroughTheSharedPool) {
  auto bus = open_memory();
  for (const char* t : {"a", "b"}) ASSERT_TRUE(bus->create_topic(t, {.partitions = 2}));
  Record rec;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"a", "b"}}, {.group = "g", .workers = 1}, rec.handler()));
  ASSERT_TRUE(bus->pause("g"));
  publish_keys(*bus, "a", 2, 5);
  publish_keys(*bus, "b", 2, 5);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(rec.handled(), 0u);
  ASSERT_TRUE(bus->resume("g"));
  ASSERT_TRUE(eventually([&] { return rec.handled() == 20u; }));
  rec.expect_in_order(4, 5);
  ASSERT_TRUE(bus->close());
}

TEST(TopicSetPool, PauseOneTopicOrOneTopicPartitionWhileTheOthersFlow) {
  auto bus = open_memory();
  ASSERT_TRUE(bus->create_topic("a", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("b", {.partitions = 1}));
  Record rec;
  ASSERT_TRUE(bus->subscribe(TopicSet{.topics = {"a", "b"}}, {.group = "g", .workers = 1}, rec.handler()));
  ASSERT_TRUE(bus->pause_topic("g", "a"));
  publish_keys(*bus, "a", 4, 5);
  publish_keys(*bus, "b", 4, 5);
  ASSERT_TRUE(eventually([&] { return rec.handled() == 20u; }));  // b flows on the same worker
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(rec.handled(), 20u);
  // One topic-partition: a's partition 0 goes on, its partition 1 stays paused.
  ASSERT_TRUE(bus->resume_topic("g", "a", 0));
  auto paused_end = [&] {
    std::uint64_t end = 0;
    const auto st = bus->describe_group("g");
    for (const auto& p : st->partitions)
      if (p.topic == "a" && p.partition == 1) end = p.end;
    return end;
  };
  ASSERT_TRUE(eventually([&] { return rec.handled() == 40u - paused_end(); }));
  for (const auto& g : rows_of(*bus, "g"))
    for (const auto& p : g.partitions) EXPECT_EQ(p.paused, g.topic == "a" && p.partition == 1) << g.topic;
  ASSERT_TRUE(bus->resume_topic("g", "a", 1));
  ASSERT_TRUE(eventually([&] { return rec.handled() == 40u; }));
  rec.expect_in_order(8, 5);

  auto expect = [](const Status& s, Code code, const std::string& needle) {
    EXPECT_EQ(s.code(), code) << s.to_string();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  expect(bus->pause_topic("g", "c"), Code::kNotFound, "group 'g' does not read topic 'c' (it reads topics 'a', 'b')");
  expect(bus->pause_topic("g", "b", 1), Code::kInvalidArgument, "partition 1 out of range: topic 'b'");
  expect(bus->pause_topic("nobody", "a"), Code::kNotFound, "group 'nobody' not found");
  // A one-topic group takes its own topic.
  ASSERT_TRUE(bus->subscribe("b", {.group = "solo"}, rec.handler()));
  EXPECT_TRUE(bus->pause_topic("solo", "b", 0));
  EXPECT_TRUE(bus->resume_topic("solo", "b"));
  expect(bus->pause_topic("solo", "a"), Code::kNotFound, "(it reads topic 'b')");
  ASSERT_TRUE(bus->close());
}

TEST(TopicSetPool, DrainingCloseAndRestartKeepOffsetsPerTopicPartition) {
  testing::ScratchDir dir("topicset-pool");
  const std::vector<std::string> topics = {"x", "y", "z"};
  {
    auto b = Bus::open(dir.options());
    ASSERT_TRUE(b) << b.status().to_string();
    auto& bus = *b;
    for (const auto& t : topics)
      ASSERT_TRUE(bus->create_topic(t, {.partitions = 2, .durability = Durability::kJournaled}));
    Record rec;
    ASSERT_TRUE(bus->subscribe(TopicSet{.topics = topics}, {.group = "g", .workers = 2}, rec.handler()));
    for (const auto& t : topics) publish_keys(*bus, t, 4, 25);
    // A draining close hands every published event of every topic out first.
    auto r = bus->close({.mode = CloseMode::kDrain, .timeout = 10s});
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->undelivered, 0u);
    EXPECT_FALSE(r->timed_out);
    EXPECT_EQ(rec.handled(), 300u);
    EXPECT_LE(rec.thread_count(), 2u);
    rec.expect_in_order(12, 25);
  }
  {
    auto b = Bus::open(dir.options());
    ASSERT_TRUE(b) << b.status().to_string();
    auto& bus = *b;
    // Only topic y gets more; the group resumes at each topic-partition's offset.
    publish_keys(*bus, "y", 4, 5, 25);
    Record rec;
    ASSERT_TRUE(bus->subscribe(TopicSet{.topics = topics}, {.group = "g", .workers = 2}, rec.handler()));
    ASSERT_TRUE(eventually([&] { return rec.handled() == 20u; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(rec.handled(), 20u);
    {
      std::lock_guard<std::mutex> l(rec.mu);
      for (const auto& [tk, v] : rec.seqs) {
        EXPECT_EQ(tk.first, "y");
        EXPECT_EQ(v, (std::vector<int>{25, 26, 27, 28, 29})) << tk.second;
      }
    }
    auto st = bus->describe_group("g");
    ASSERT_TRUE(st);
    ASSERT_EQ(st->partitions.size(), 6u);
    ASSERT_TRUE(eventually([&] {
      auto s = bus->describe_group("g");
      std::map<std::string, std::uint64_t> ends;
      for (const auto& p : s->partitions) {
        if (p.committed != p.end) return false;
        ends[p.topic] += p.end;
      }
      return ends == std::map<std::string, std::uint64_t>{{"x", 100}, {"y", 120}, {"z", 100}};
    }));
    ASSERT_TRUE(bus->close());
  }
}

}  // namespace
}  // namespace weir
