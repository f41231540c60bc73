// Outbound mirror against librdkafka's mock cluster: what arrives in Kafka
// (key, partition, headers, envelope, time), Kafka's partitioner equal to
// weir's, restart without loss, broker errors and outages retried.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "mock_kafka.hpp"
#include "weir/partitioner.hpp"

namespace weir::kafka {
namespace {

using namespace testing;

std::multiset<std::string> ids_of(const std::vector<Record>& rs) {
  std::multiset<std::string> ids;
  for (const Record& r : rs) ids.insert(r.headers.count("ce_id") ? r.headers.at("ce_id") : "<none>");
  return ids;
}

TEST(MirrorTest, ForwardsKeyPartitionHeadersAndEnvelope) {
  MockCluster kafka;
  kafka.create_topic("orders", 4);
  auto bus = Bus::open({}).value();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 4}));
  auto mirror = Mirror::start(*bus, {.topic = "orders", .kafka = kafka.config()});
  ASSERT_TRUE(mirror) << mirror.status().to_string();

  const Header extra[] = {{"tenant", "acme"}};
  std::map<std::string, PublishReceipt> where;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "order-" + std::to_string(i), id = "id-" + std::to_string(i);
    PublishOptions po;
    if (i % 10 == 0) po.partition = 3;  // explicit partition: must stay 3 in Kafka
    auto r = bus->publish("orders",
                          {.key = key, .payload = "payload-" + std::to_string(i), .headers = extra,
                           .time_us = 1'700'000'000'123'456 + i, .id = id, .source = "/shop", .type = "shop.order.placed"},
                          po);
    ASSERT_TRUE(r);
    where[id] = *r;
  }
  // One event with no envelope at all: its derived id travels as ce_id.
  ASSERT_TRUE(bus->publish("orders", {.key = "bare", .payload = "bare"}));

  auto records = read_topic(kafka, "orders", 4, 201);
  ASSERT_EQ(records.size(), 201u);
  for (const Record& r : records) {
    ASSERT_TRUE(r.headers.count("ce_id"));
    ASSERT_EQ(r.headers.at("ce_specversion"), "1.0");
    if (r.key == "bare") continue;
    const std::string& id = r.headers.at("ce_id");
    ASSERT_TRUE(where.count(id)) << id;
    EXPECT_EQ(static_cast<std::uint32_t>(r.partition), where[id].partition) << id;
    EXPECT_EQ(r.value, "payload-" + id.substr(3));
    EXPECT_EQ(r.headers.at("ce_type"), "shop.order.placed");
    EXPECT_EQ(r.headers.at("ce_source"), "/shop");
    EXPECT_EQ(r.headers.at("tenant"), "acme");
    const std::int64_t us = 1'700'000'000'123'456 + std::stoi(id.substr(3));
    EXPECT_EQ(r.timestamp_ms, us / 1000);
    char frac[8];
    std::snprintf(frac, sizeof frac, "%06d", static_cast<int>(us % 1'000'000));
    EXPECT_EQ(r.headers.at("ce_time"), std::string("2023-11-14T22:13:20.") + frac + "Z");
  }
  // Per-partition order of one key's events is kept: offsets rise with ids.
  auto st = (*mirror)->stats();
  EXPECT_EQ(st.delivered, 201u);
  EXPECT_EQ(st.delivery_errors, 0u);
  auto g = bus->describe_group((*mirror)->group());
  ASSERT_TRUE(g);
  for (const PartitionStatus& p : g->partitions) EXPECT_EQ(p.committed, p.end);
  ASSERT_TRUE((*mirror)->stop());
}

// librdkafka's default partitioner is consistent_random (CRC32); the bridge
// forces murmur2_random. Kafka must put every key where weir does.
TEST(MirrorTest, KafkaPartitionsKeysExactlyAsWeir) {
  MockCluster kafka;
  kafka.create_topic("keys", 8);
  auto bus = Bus::open({}).value();
  ASSERT_TRUE(bus->create_topic("keys", {.partitions = 8, .capacity = 4096}));
  auto mirror = Mirror::start(*bus, {.topic = "keys", .kafka = kafka.config(), .partitioning = Partitioning::kByKey});
  ASSERT_TRUE(mirror) << mirror.status().to_string();

  std::mt19937_64 rng(20240501);
  std::map<std::string, std::uint32_t> weir_partition;
  std::vector<std::string> keys = {"", "a", "order-42", std::string("\0\xff\x80", 3)};
  for (int i = 0; i < 2000; ++i) {
    std::string k(1 + rng() % 40, '\0');
    for (char& c : k) c = static_cast<char>(rng());
    keys.push_back(k);
  }
  int n = 0;
  for (const std::string& k : keys) {
    const std::string id = "k" + std::to_string(n++);
    auto r = bus->publish("keys", {.key = k, .payload = "x", .id = id});
    ASSERT_TRUE(r);
    weir_partition[id] = r->partition;
    ASSERT_EQ(r->partition, partition_for_key(k, 8));
  }
  auto records = read_topic(kafka, "keys", 8, keys.size());
  ASSERT_EQ(records.size(), keys.size());
  std::set<std::int32_t> used;
  for (const Record& r : records) {
    const std::string& id = r.headers.at("ce_id");
    EXPECT_EQ(static_cast<std::uint32_t>(r.partition), weir_partition.at(id)) << "key of " << id;
    EXPECT_EQ(static_cast<std::uint32_t>(r.partition), partition_for_key(r.key, 8));
    used.insert(r.partition);
  }
  EXPECT_EQ(used.size(), 8u);
}

TEST(MirrorTest, PartitionCountMismatchIsRefused) {
  MockCluster kafka;
  kafka.create_topic("orders", 3);
  auto bus = Bus::open({}).value();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 4}));
  auto mirror = Mirror::start(*bus, {.topic = "orders", .kafka = kafka.config()});
  ASSERT_FALSE(mirror);
  EXPECT_EQ(mirror.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(mirror.status().message().find("has 3 partitions"), std::string::npos) << mirror.status().to_string();
  // kByKey is fine with any count.
  EXPECT_TRUE(Mirror::start(*bus, {.topic = "orders", .kafka = kafka.config(), .partitioning = Partitioning::kByKey}));
}

class MirrorRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("weir-kafka-mirror-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Bus> open() {
    auto bus = Bus::open({.data_dir = dir_.string()}).value();
    EXPECT_TRUE(bus->create_topic("orders", {.partitions = 2, .durability = Durability::kJournaled}));
    return bus;
  }
  std::filesystem::path dir_;
};

// The mirror's offsets live in the journal: after a restart it forwards what
// it had not, and nothing is lost.
TEST_F(MirrorRestartTest, ResumesAfterRestartWithoutLoss) {
  MockCluster kafka;
  kafka.create_topic("orders", 2);
  std::set<std::string> published;
  auto publish = [&](Bus& bus, int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string id = "o" + std::to_string(i);
      ASSERT_TRUE(bus.publish("orders", {.key = id, .payload = "p", .id = id}));
      published.insert(id);
    }
  };
  {
    auto bus = open();
    auto mirror = Mirror::start(*bus, {.topic = "orders", .kafka = kafka.config()});
    ASSERT_TRUE(mirror);
    publish(*bus, 0, 100);
    ASSERT_TRUE(eventually([&] { return (*mirror)->stats().delivered >= 100; }));
    ASSERT_TRUE((*mirror)->stop());
    publish(*bus, 100, 250);  // while the mirror is down
    ASSERT_TRUE(bus->close());
  }
  auto bus = open();
  auto mirror = Mirror::start(*bus, {.topic = "orders", .kafka = kafka.config()});
  ASSERT_TRUE(mirror);
  publish(*bus, 250, 300);
  auto records = read_topic(kafka, "orders", 2, 300);
  const auto ids = ids_of(records);
  for (const std::string& id : published) EXPECT_EQ(ids.count(id), 1u) << id;
  EXPECT_EQ(records.size(), 300u);
}

// Produce requests fail (retriable errors injected by the mock), then every
// broker goes down for longer than message.timeout.ms: the delivery reports
// fail, weir retries the batch with the group's backoff, and once the
// brokers are back everything arrives. Duplicates carry the same ce_id.
TEST(MirrorTest, BrokerErrorsAndOutagesAreRetriedNothingLost) {
  MockCluster kafka;
  kafka.create_topic("orders", 2);
  auto bus = Bus::open({}).value();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 2}));
  std::atomic<int> errors{0};
  MirrorOptions mo{.topic = "orders",
                   .kafka = kafka.config({{"message.timeout.ms", "1000"}, {"retry.backoff.ms", "20"}})};
  mo.group.retry_backoff = std::chrono::milliseconds(50);
  mo.group.retry_backoff_max = std::chrono::milliseconds(200);
  mo.on_error = [&](const Status&) { errors.fetch_add(1, std::memory_order_relaxed); };
  auto mirror = Mirror::start(*bus, std::move(mo));
  ASSERT_TRUE(mirror) << mirror.status().to_string();

  rd_kafka_mock_push_request_errors(kafka.get(), kProduce, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  std::set<std::string> published;
  auto publish = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string id = "o" + std::to_string(i);
      ASSERT_TRUE(bus->publish("orders", {.key = id, .payload = "p", .id = id}));
      published.insert(id);
    }
  };
  publish(0, 100);
  ASSERT_TRUE(eventually([&] { return (*mirror)->stats().delivered >= 100; }));

  kafka.set_all_brokers(false);
  publish(100, 200);
  ASSERT_TRUE(eventually([&] { return (*mirror)->stats().delivery_errors > 0; }, 10s))
      << "no delivery report failed while every broker was down";
  kafka.set_all_brokers(true);
  publish(200, 250);

  auto records = read_topic(kafka, "orders", 2, 250);
  const auto ids = ids_of(records);
  for (const std::string& id : published) EXPECT_GE(ids.count(id), 1u) << id << " lost";
  for (const std::string& id : ids) EXPECT_TRUE(published.count(id)) << id;
  auto g = bus->describe_group((*mirror)->group());
  for (const PartitionStatus& p : g->partitions) EXPECT_EQ(p.committed, p.end);
  EXPECT_GT(errors.load(), 0);
}

// An idempotent producer's fatal error (e.g. an out-of-order sequence) makes
// it unusable: the mirror replaces it and goes on.
TEST(MirrorTest, FatalProducerErrorReplacesTheProducer) {
  MockCluster kafka;
  kafka.create_topic("orders", 1);
  auto bus = Bus::open({}).value();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 1}));
  MirrorOptions mo{.topic = "orders", .kafka = kafka.config()};
  mo.group.retry_backoff = std::chrono::milliseconds(10);
  auto mirror = Mirror::start(*bus, std::move(mo));
  ASSERT_TRUE(mirror);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(bus->publish("orders", {.key = "k", .id = "a" + std::to_string(i)}));
  ASSERT_TRUE(eventually([&] { return (*mirror)->stats().delivered >= 50; }));
  (*mirror)->TEST_fatal_error();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(bus->publish("orders", {.key = "k", .id = "b" + std::to_string(i)}));
  auto records = read_topic(kafka, "orders", 1, 100);
  const auto ids = ids_of(records);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(ids.count("a" + std::to_string(i)), 1u);
    EXPECT_GE(ids.count("b" + std::to_string(i)), 1u);
  }
  EXPECT_GE((*mirror)->stats().producer_restarts, 1u);
}

}  // namespace
}  // namespace weir::kafka
