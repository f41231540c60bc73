// Test helpers: librdkafka's built-in mock cluster, and a plain consumer that
// reads a Kafka topic back (to check what the bridge wrote).
#pragma once

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "weir/kafka.hpp"

namespace weir::kafka::testing {

using namespace std::chrono_literals;

// Kafka protocol ApiKeys for rd_kafka_mock_push_request_errors.
inline constexpr std::int16_t kProduce = 0;
inline constexpr std::int16_t kFetch = 1;
inline constexpr std::int16_t kOffsetCommit = 8;

// An in-process Kafka cluster (librdkafka's mock): no external broker.
class MockCluster {
 public:
  explicit MockCluster(int brokers = 3) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);  // the mock's own notices are noise here
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (host_ == nullptr) throw std::runtime_error(err);
    cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
    if (cluster_ == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
    brokers_ = brokers;
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(host_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  rd_kafka_mock_cluster_t* get() const { return cluster_; }
  void create_topic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void set_all_brokers(bool up) {
    for (int id = 1; id <= brokers_; ++id) {
      if (up) rd_kafka_mock_broker_set_up(cluster_, id);
      else rd_kafka_mock_broker_set_down(cluster_, id);
    }
  }
  // Client properties for this cluster, plus `extra`.
  Config config(Config extra = {}) const {
    extra.emplace("bootstrap.servers", bootstraps());
    extra.emplace("log_level", "2");  // broker-down noise in the outage tests
    // Reconnect quickly once a downed mock broker is back (default up to 10 s).
    extra.emplace("reconnect.backoff.ms", "10");
    extra.emplace("reconnect.backoff.max.ms", "200");
    return extra;
  }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int brokers_ = 0;
};

struct Record {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string value;
  std::int64_t timestamp_ms = 0;
  std::map<std::string, std::string> headers;  // first value of each name
};

// Reads `topic` from the beginning of every partition until `want` records
// arrived (then `settle` more, to catch extra copies) or `timeout`.
inline std::vector<Record> read_topic(const MockCluster& c, const std::string& topic, int partitions,
                                      std::size_t want, std::chrono::milliseconds timeout = 15s,
                                      std::chrono::milliseconds settle = 300ms) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", c.bootstraps().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "weir-test-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  EXPECT_NE(rk, nullptr) << err;
  if (rk == nullptr) return {};
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(l, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  EXPECT_EQ(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(l);
  std::vector<Record> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool settling = false;
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Record r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      rd_kafka_headers_t* h = nullptr;
      if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        std::size_t size;
        for (std::size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
          r.headers.emplace(name, std::string(val ? static_cast<const char*>(val) : "", val ? size : 0));
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
    if (!settling && out.size() >= want) {
      settling = true;
      deadline = std::chrono::steady_clock::now() + settle;
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Polls `pred` until true or `timeout`.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

}  // namespace weir::kafka::testing
