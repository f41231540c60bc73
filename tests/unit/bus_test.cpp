// Bus API: topics, publishing, and every bad input a caller can hand in.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using testing::open_bus;

TEST(BusOpen, RejectsBadOptions) {
  Options o;
  o.idle_spin = std::chrono::seconds(1);
  auto b = Bus::open(o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
  EXPECT_NE(b.status().message().find("idle_spin"), std::string::npos);
}

TEST(Topics, CreateListAndDeclareAgain) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 4}));
  ASSERT_TRUE(bus->create_topic("audit.v1_x-y", {}));
  EXPECT_TRUE(bus->create_topic("orders", {.partitions = 4}));  // same options: a declaration
  Status s = bus->create_topic("orders", {.partitions = 8});
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(bus->topics(), (std::vector<std::string>{"audit.v1_x-y", "orders"}));
  auto t = bus->topic("orders");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name(), "orders");
  EXPECT_EQ(t->partitions(), 4u);
}

TEST(Topics, BadNames) {
  auto bus = open_bus();
  for (const std::string& name : {std::string(""), std::string("has space"), std::string("slash/x"),
                                  std::string("."), std::string(".."), std::string(250, 'a'),
                                  std::string("é")}) {
    Status s = bus->create_topic(name, {});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << "'" << name << "'";
    EXPECT_NE(s.message().find("topic name"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(bus->create_topic(std::string(249, 'a'), {}));
}

TEST(Topics, BadOptionsNameTheField) {
  auto bus = open_bus();
  struct Case {
    TopicOptions o;
    const char* field;
  } cases[] = {
      {{.partitions = 0}, "partitions"},
      {{.partitions = 5000}, "partitions"},
      {{.capacity = 8}, "capacity"},
      {{.capacity = (1u << 25)}, "capacity"},
      {{.partitions = 4096, .capacity = (1u << 20)}, "partitions x capacity"},
      {{.block_timeout = std::chrono::milliseconds(-1)}, "block_timeout"},
      {{.max_payload_bytes = 0}, "max_payload_bytes"},
      {{.max_payload_bytes = (65u << 20)}, "max_payload_bytes"},
      {{.max_key_bytes = (65u << 10)}, "max_key_bytes"},
  };
  for (const auto& c : cases) {
    Status s = bus->create_topic("t", c.o);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
  }
  EXPECT_TRUE(bus->topics().empty());
}

TEST(Publish, UnknownTopic) {
  auto bus = open_bus();
  auto r = bus->publish("nope", {.key = "k", .payload = "v"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("'nope'"), std::string::npos);
  EXPECT_EQ(bus->topic("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(bus->topic("bad name").status().code(), Code::kInvalidArgument);
}

TEST(Publish, OffsetsAndKafkaPartitioning) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 5}));
  auto t = bus->topic("t").value();
  for (int i = 0; i < 50; ++i) {
    const std::string key = "key-" + std::to_string(i % 7);
    auto r = t.publish({.key = key, .payload = "x"});
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_EQ(r->partition, partition_for_key(key, 5));
    EXPECT_EQ(t.partition_for(key), r->partition);
  }
  auto r = t.publish({.key = "any", .payload = "x"}, {.partition = 3});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->partition, 3u);
}

TEST(Publish, BadInputs) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2, .max_payload_bytes = 100, .max_key_bytes = 8}));
  auto t = bus->topic("t").value();
  const std::string big(101, 'x');
  auto r = t.publish({.key = "k", .payload = big});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("max_payload_bytes"), std::string::npos);
  r = t.publish({.key = "123456789", .payload = "v"});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("max_key_bytes"), std::string::npos);
  r = t.publish({.key = "k", .payload = "v"}, {.partition = 2});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("out of range"), std::string::npos);
  r = t.publish({.key = "k", .payload = "v"}, {.partition = -7});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  Topic empty;
  EXPECT_EQ(empty.publish({}).status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(t.publish({.key = "k", .payload = std::string(100, 'y')}));
}

TEST(Publish, RejectPolicyWhenFull) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.capacity = 16, .full_policy = FullPolicy::kReject}));
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  auto r = bus->publish("t", {.payload = "x"});
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_NE(r.status().message().find("full"), std::string::npos);
}

TEST(Publish, BlockPolicyTimesOut) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.capacity = 16, .block_timeout = std::chrono::milliseconds(20)}));
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  auto r = bus->publish("t", {.payload = "x"});
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded);
  r = bus->publish("t", {.payload = "x"}, {.timeout = std::chrono::milliseconds(0)});
  EXPECT_EQ(r.status().code(), Code::kDeadlineExceeded);
}

TEST(PublishBatch, PrefixSemanticsAndReceipts) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 3, .capacity = 16,
                                      .full_policy = FullPolicy::kReject, .max_payload_bytes = 10}));
  auto t = bus->topic("t").value();
  std::vector<Event> evs;
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) keys.push_back("k" + std::to_string(i));
  for (int i = 0; i < 12; ++i) evs.push_back({.key = keys[i], .payload = "v"});
  std::vector<PublishReceipt> rc(evs.size());
  auto r = t.publish_batch(evs, {}, rc);
  ASSERT_TRUE(r.status) << r.status.to_string();
  EXPECT_EQ(r.published, 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(rc[i].partition, t.partition_for(keys[i]));

  // An invalid event in the middle: the prefix before it is published.
  const std::string big(11, 'x');
  std::vector<Event> mixed{{.key = "a", .payload = "1"}, {.key = "b", .payload = "2"},
                           {.key = "c", .payload = big}, {.key = "d", .payload = "4"}};
  r = t.publish_batch(mixed);
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(r.published, 2u);

  std::vector<PublishReceipt> wrong(1);
  r = t.publish_batch(evs, {}, wrong);
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(r.published, 0u);

  // Fill partition 0 to its limit: the batch stops where it is full.
  std::vector<Event> many(20, Event{.payload = "z"});
  r = t.publish_batch(many, {.partition = 0});
  EXPECT_EQ(r.status.code(), Code::kResourceExhausted);
  EXPECT_LE(r.published, 16u);
}

// A batch that stops at an invalid event still wakes the sleeping group for
// the published prefix (no wait for the worker's next 50 ms look).
TEST(PublishBatch, StoppedBatchWakesTheGroupForItsPrefix) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .max_payload_bytes = 10}));
  std::atomic<std::int64_t> handled_at{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) {
    handled_at.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_release);
    return Outcome::done();
  }));
  auto t = bus->topic("t").value();
  const std::string big(11, 'x');
  std::vector<double> ms;
  for (int trial = 0; trial < 7; ++trial) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));  // the worker parks
    handled_at.store(0, std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<Event> evs{{.payload = "ok"}, {.payload = big}};
    auto r = t.publish_batch(evs);
    ASSERT_EQ(r.status.code(), Code::kInvalidArgument);
    ASSERT_EQ(r.published, 1u);
    ASSERT_TRUE(testing::eventually([&] { return handled_at.load(std::memory_order_acquire) != 0; }));
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::duration(handled_at.load()) - t0.time_since_epoch())
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  EXPECT_LT(ms[ms.size() / 2], 10.0) << "median wake-up " << ms[ms.size() / 2] << " ms";
}

TEST(Subscribe, BadInputs) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2}));
  auto h = [](const Message&) { return Outcome::done(); };
  EXPECT_EQ(bus->subscribe("t", {.group = ""}, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->subscribe("t", {.group = "bad group"}, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->subscribe("nope", {.group = "g"}, h).code(), Code::kNotFound);
  EXPECT_EQ(bus->subscribe("t", {.group = "g", .workers = 0}, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->subscribe("t", {.group = "g", .max_batch = 0}, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->subscribe("t", {.group = "g"}, Handler{}).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->subscribe("t", {.group = "g"}, BatchHandler{}).code(), Code::kInvalidArgument);
  SubscribeOptions backwards{.group = "g"};
  backwards.retry_backoff = std::chrono::seconds(5);
  backwards.retry_backoff_max = std::chrono::seconds(1);
  EXPECT_EQ(bus->subscribe("t", backwards, h).code(), Code::kInvalidArgument);
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, h));
  Status twice = bus->subscribe("t", {.group = "g"}, h);
  EXPECT_EQ(twice.code(), Code::kAlreadyExists);
  EXPECT_NE(twice.message().find("'g'"), std::string::npos);
  EXPECT_EQ(bus->unsubscribe("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(bus->describe_group("nope").status().code(), Code::kNotFound);
}

TEST(Subscribe, AtMost64GroupsPerTopic) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  auto h = [](const Message&) { return Outcome::done(); };
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(bus->subscribe("t", {.group = "g" + std::to_string(i)}, h));
  EXPECT_EQ(bus->subscribe("t", {.group = "g64"}, h).code(), Code::kResourceExhausted);
  ASSERT_TRUE(bus->unsubscribe("g3"));
  EXPECT_TRUE(bus->subscribe("t", {.group = "g64"}, h));
}

TEST(Close, EverythingAfterCloseFailsClearly) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  auto t = bus->topic("t").value();
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(t.publish({.payload = "x"}).status().code(), Code::kClosed);
  EXPECT_EQ(bus->publish("t", {.payload = "x"}).status().code(), Code::kClosed);
  std::vector<Event> evs(3);
  EXPECT_EQ(t.publish_batch(evs).status.code(), Code::kClosed);
  EXPECT_EQ(bus->create_topic("u", {}).code(), Code::kClosed);
  EXPECT_EQ(bus->subscribe("t", {.group = "g"}, [](const Message&) { return Outcome::done(); }).code(),
            Code::kClosed);
  auto again = bus->close();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->undelivered, 0u);
}

TEST(Close, TopicHandleOutlivesBus) {
  Topic t;
  {
    auto bus = open_bus();
    ASSERT_TRUE(bus->create_topic("t", {}));
    t = bus->topic("t").value();
  }
  EXPECT_EQ(t.publish({.payload = "x"}).status().code(), Code::kClosed);
}

TEST(Close, WakesBlockedPublisher) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.capacity = 16, .block_timeout = std::chrono::seconds(30)}));
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  std::thread producer([&] {
    auto r = bus->publish("t", {.payload = "x"});
    EXPECT_EQ(r.status().code(), Code::kClosed);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto rep = bus->close({.mode = CloseMode::kStopAtBatch});
  producer.join();
  ASSERT_TRUE(rep);
}

}  // namespace
}  // namespace weir
