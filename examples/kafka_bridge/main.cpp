// The Kafka bridge, end to end and offline: a checkout module publishes
// orders into weir, a Mirror forwards them to Kafka, and a shipping module
// runs as a weir consumer group on the Kafka topic (retries, dead letters),
// as it would in another process on another machine.
//
// The Kafka "cluster" is librdkafka's built-in mock (three brokers in this
// process), so the example needs no broker; point `bootstrap.servers` at a
// real cluster and nothing else changes. Exits non-zero if an order is lost.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <weir/kafka.hpp>
#include <weir/weir.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace {

constexpr int kOrders = 2000;
constexpr int kPartitions = 4;

bool wait_for(const auto& done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

int main() {
  // --- a Kafka cluster: librdkafka's mock, in this process ------------------
  char err[256];
  rd_kafka_conf_t* host_conf = rd_kafka_conf_new();
  rd_kafka_conf_set(host_conf, "log_level", "2", err, sizeof err);
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, host_conf, err, sizeof err);
  if (host == nullptr) {
    std::fprintf(stderr, "cannot create the mock cluster's host: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, 3);
  rd_kafka_mock_topic_create(cluster, "orders", kPartitions, 1);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);
  std::printf("kafka: mock cluster with 3 brokers at %s, topic 'orders' with %d partitions\n", brokers.c_str(),
              kPartitions);
  const weir::kafka::Config kafka = {{"bootstrap.servers", brokers}, {"log_level", "2"}};

  int rc = 0;
  {
    // --- process A: checkout publishes into weir, the mirror forwards --------
    auto checkout_bus = weir::Bus::open({.name = "checkout"}).value();
    if (!checkout_bus->create_topic("orders", {.partitions = kPartitions})) return 1;
    auto mirror = weir::kafka::Mirror::start(*checkout_bus, {.topic = "orders", .kafka = kafka});
    if (!mirror) {
      std::fprintf(stderr, "mirror: %s\n", mirror.status().to_string().c_str());
      return 1;
    }

    // --- process B: shipping consumes the Kafka topic as a weir group --------
    auto shipping_bus = weir::Bus::open({.name = "shipping"}).value();
    std::mutex mu;
    std::set<std::string> shipped;
    std::atomic<int> retries{0};
    weir::kafka::GroupOptions go{.topic = "orders", .kafka = kafka};
    go.group.group = "shipping";
    go.group.workers = 2;
    go.group.max_attempts = 3;
    go.group.retry_backoff = std::chrono::milliseconds(10);
    auto shipping = weir::kafka::Group::start(
        *shipping_bus, go, weir::Handler([&](const weir::Message& m) {
          if (m.payload() == "address: unknown") return weir::Outcome::fail("no such address");
          if (m.attempt() == 1 && m.key().ends_with("13")) {  // the carrier's API hiccups
            retries.fetch_add(1, std::memory_order_relaxed);
            return weir::Outcome::retry();
          }
          std::lock_guard<std::mutex> lock(mu);
          shipped.insert(std::string(m.id()));
          return weir::Outcome::done();
        }));
    if (!shipping) {
      std::fprintf(stderr, "shipping group: %s\n", shipping.status().to_string().c_str());
      return 1;
    }

    const auto t0 = std::chrono::steady_clock::now();
    int poison = 0;
    for (int i = 0; i < kOrders; ++i) {
      const std::string key = "order-" + std::to_string(i);
      const bool bad = i % 500 == 250;
      poison += bad;
      auto r = checkout_bus->publish("orders", {.key = key,
                                                .payload = bad ? "address: unknown" : "address: ok",
                                                .id = key + "/placed",
                                                .source = "/checkout",
                                                .type = "shop.order.placed"});
      if (!r) {
        std::fprintf(stderr, "publish: %s\n", r.status().to_string().c_str());
        return 1;
      }
    }
    std::printf("checkout: published %d orders into weir topic 'orders' (%d with an unknown address)\n", kOrders,
                poison);

    const bool forwarded = wait_for([&] { return (*mirror)->stats().delivered >= kOrders; }, std::chrono::seconds(30));
    std::printf("mirror: %llu events acknowledged by Kafka (idempotent producer, murmur2 partitions = weir's)\n",
                static_cast<unsigned long long>((*mirror)->stats().delivered));
    const bool handled = wait_for(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          auto dlq = shipping_bus->dlq_list("shipping");
          return static_cast<int>(shipped.size()) + (dlq ? static_cast<int>(dlq->size()) : 0) >= kOrders;
        },
        std::chrono::seconds(30));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto dlq = shipping_bus->dlq_list("shipping");
    const int dead = dlq ? static_cast<int>(dlq->size()) : 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      std::printf("shipping: %zu orders shipped from Kafka in %.2f s, %d carrier retries, %d dead-lettered "
                  "(weir topic 'shipping.dlq'%s%s)\n",
                  shipped.size(), secs, retries.load(), dead, dead > 0 ? ": " : "",
                  dead > 0 ? (*dlq)[0].reason.c_str() : "");
      if (!forwarded || !handled || static_cast<int>(shipped.size()) + dead != kOrders || dead != poison) rc = 1;
    }

    if (weir::Status s = (*shipping)->commit(); !s) std::printf("commit: %s\n", s.to_string().c_str());
    std::int64_t committed = 0;
    for (const auto& p : (*shipping)->stats().assigned) {
      std::printf("kafka partition %d: committed offset %lld\n", p.partition, static_cast<long long>(p.committed));
      committed += p.committed;
    }
    std::printf("kafka group 'shipping': offsets committed over %lld events (only over handled or dead-lettered "
                "ones)\n",
                static_cast<long long>(committed));
    if (committed != kOrders) rc = 1;
    (*shipping)->stop().status().ignore();
    (*mirror)->stop().status().ignore();
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  std::printf("%s\n", rc == 0 ? "PASS: every order shipped or dead-lettered, none lost" : "FAIL");
  return rc;
}
