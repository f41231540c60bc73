// Prometheus text exposition of a metrics snapshot, and the MetricsServer
// that serves it over HTTP.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using testing::eventually;
using testing::open_bus;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

MetricsSnapshot sample_snapshot() {
  MetricsSnapshot s;
  s.taken_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'500));
  TopicMetrics orders{.topic = "orders", .journaled = true, .partitions = {}};
  orders.partitions.push_back({.partition = 0, .start = 3, .end = 10, .bytes = 4096});
  orders.partitions.push_back({.partition = 1, .start = 0, .end = 42, .bytes = 0});
  s.topics.push_back(orders);
  s.topics.push_back({.topic = "audit", .journaled = false, .partitions = {{.partition = 0, .end = 1}}});

  GroupMetrics billing;
  billing.group = "billing";
  billing.topic = "orders";
  billing.workers = 2;
  billing.min_workers = 1;
  billing.max_workers = 4;
  billing.partitions.push_back({.partition = 0, .committed = 3, .end = 10, .lag = 7, .in_flight = 2,
                                .lag_seconds = 1.5, .processed = 100, .parked = 1, .stopped = false,
                                .paused = false, .skewed = true, .worker = 1});
  billing.partitions.push_back({.partition = 1, .committed = 42, .end = 42, .worker = -1});
  billing.retries = 5;
  billing.retry_rate = 0.25;
  billing.dlq_count = 3;
  billing.dlq_oldest_age_seconds = 60;
  billing.duplicates_skipped = 9;
  billing.breaker = BreakerState::kOpen;
  billing.breaker_trips = 2;
  billing.rebalances = 4;
  billing.rebalance_duration = {.count = 4, .p50_us = 1000, .p90_us = 2000, .p99_us = 3000, .p999_us = 3000,
                                .max_us = 3000};
  billing.handler_latency = {.count = 10, .p50_us = 250, .p90_us = 1000, .p99_us = 2500, .p999_us = 5000,
                             .max_us = 5000};
  s.groups.push_back(billing);

  // Weir restricts names to [A-Za-z0-9._-]; the exposition escapes anyway.
  GroupMetrics odd;
  odd.group = "we\"ird\\name\nx";
  odd.topic = "audit";
  odd.partitions.push_back({.partition = 0, .end = 1, .lag = 1});
  s.groups.push_back(odd);
  return s;
}

TEST(PrometheusExport, ExactLinesForSomeFamilies) {
  const std::string text = to_prometheus(sample_snapshot());
  for (const char* line : {
           "# HELP weir_metrics_snapshot_timestamp_seconds When this snapshot was taken, in seconds since the "
           "Unix epoch.",
           "# TYPE weir_metrics_snapshot_timestamp_seconds gauge",
           "weir_metrics_snapshot_timestamp_seconds 1700000000.5",
           "weir_topic_journaled{topic=\"orders\"} 1",
           "weir_topic_journaled{topic=\"audit\"} 0",
           "# TYPE weir_topic_partition_end_offset gauge",
           "weir_topic_partition_end_offset{topic=\"orders\",partition=\"1\"} 42",
           "weir_topic_partition_start_offset{topic=\"orders\",partition=\"0\"} 3",
           "weir_topic_partition_bytes{topic=\"orders\",partition=\"0\"} 4096",
           "# TYPE weir_group_lag_events gauge",
           "weir_group_lag_events{group=\"billing\",topic=\"orders\",partition=\"0\"} 7",
           "weir_group_in_flight_events{group=\"billing\",topic=\"orders\",partition=\"0\"} 2",
           "weir_group_lag_seconds{group=\"billing\",topic=\"orders\",partition=\"0\"} 1.5",
           "weir_group_committed_offset{group=\"billing\",topic=\"orders\",partition=\"1\"} 42",
           "# TYPE weir_group_processed_events_total counter",
           "weir_group_processed_events_total{group=\"billing\",topic=\"orders\",partition=\"0\"} 100",
           "weir_group_partition_skewed{group=\"billing\",topic=\"orders\",partition=\"0\"} 1",
           "weir_group_partition_skewed{group=\"billing\",topic=\"orders\",partition=\"1\"} 0",
           "weir_group_partition_worker{group=\"billing\",topic=\"orders\",partition=\"1\"} -1",
           "weir_group_retries_total{group=\"billing\",topic=\"orders\"} 5",
           "weir_group_retries_per_second{group=\"billing\",topic=\"orders\"} 0.25",
           "weir_group_dlq_events{group=\"billing\",topic=\"orders\"} 3",
           "weir_group_dlq_oldest_age_seconds{group=\"billing\",topic=\"orders\"} 60",
           "weir_group_breaker_state{group=\"billing\",topic=\"orders\",state=\"closed\"} 0",
           "weir_group_breaker_state{group=\"billing\",topic=\"orders\",state=\"open\"} 1",
           "weir_group_breaker_state{group=\"billing\",topic=\"orders\",state=\"half_open\"} 0",
           "weir_group_rebalances_total{group=\"billing\",topic=\"orders\"} 4",
           "# TYPE weir_group_handler_latency_seconds summary",
           "weir_group_handler_latency_seconds{group=\"billing\",topic=\"orders\",quantile=\"0.5\"} 0.00025",
           "weir_group_handler_latency_seconds{group=\"billing\",topic=\"orders\",quantile=\"0.99\"} 0.0025",
           "weir_group_handler_latency_seconds{group=\"billing\",topic=\"orders\",quantile=\"0.999\"} 0.005",
           "weir_group_handler_latency_seconds_count{group=\"billing\",topic=\"orders\"} 10",
           "# TYPE weir_group_handler_latency_max_seconds gauge",
           "weir_group_handler_latency_max_seconds{group=\"billing\",topic=\"orders\"} 0.005",
           "weir_group_rebalance_duration_seconds{group=\"billing\",topic=\"orders\",quantile=\"0.9\"} 0.002",
           // No samples: NaN, as Prometheus client libraries report an empty summary.
           "weir_group_end_to_end_latency_seconds{group=\"billing\",topic=\"orders\",quantile=\"0.5\"} NaN",
           "weir_group_end_to_end_latency_seconds_count{group=\"billing\",topic=\"orders\"} 0",
           "weir_group_lag_events{group=\"we\\\"ird\\\\name\\nx\",topic=\"audit\",partition=\"0\"} 1",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n--- in ---\n" << text;
  }
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
}

// Every line is a comment (HELP/TYPE) or `name{labels} value`; each family
// has one HELP and one TYPE, before its samples, and its samples together.
// The dropped-letters counter covers both causes GroupMetrics::dlq_dropped
// counts: the memory bus's 4,096 bound and a journaled dead-letter topic's
// retention.
TEST(PrometheusExport, DlqDroppedHelpNamesBothCauses) {
  const std::string text = to_prometheus(sample_snapshot());
  EXPECT_TRUE(has_line(text,
                       "# HELP weir_group_dlq_dropped_total Dead letters dropped before they were redriven or purged: "
                       "on memory buses the oldest, when the group's dead-letter topic held 4,096; on journaled "
                       "ones, those its retention deleted."))
      << text;
}

TEST(PrometheusExport, EveryLineFollowsTheExpositionGrammar) {
  const std::string text = to_prometheus(sample_snapshot());
  const std::string name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const std::string label = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:\\\\[\\\\\"n]|[^\"\\\\\\n])*\"";
  const std::string value = "(?:NaN|[+-]Inf|[-+]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][-+]?[0-9]+)?)";
  const std::regex sample_re("(" + name + ")(?:\\{(" + label + "(?:," + label + ")*)\\})? " + value);
  const std::regex help_re("# HELP (" + name + ") .+");
  const std::regex type_re("# TYPE (" + name + ") (counter|gauge|summary|histogram|untyped)");

  std::map<std::string, std::string> type_of;
  std::set<std::string> helped, finished;
  std::string current;  // family whose samples are being written
  std::size_t samples = 0;
  for (const std::string& line : lines_of(text)) {
    std::smatch m;
    if (std::regex_match(line, m, help_re)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP: " << line;
    } else if (std::regex_match(line, m, type_re)) {
      EXPECT_TRUE(type_of.emplace(m[1], m[2]).second) << "second TYPE: " << line;
      EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP: " << line;
      if (!current.empty()) finished.insert(current);
      current = m[1];
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample_re)) << "not a sample line: '" << line << "'";
      ++samples;
      std::string family = m[1];
      if (type_of[current] == "summary" && family == current + "_count") family = current;
      EXPECT_EQ(family, current) << "sample outside its family block: " << line;
      EXPECT_FALSE(finished.count(family)) << line;
      const std::string& type = type_of[current];
      if (type == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << line;
      } else {
        EXPECT_FALSE(family.ends_with("_total")) << line;
      }
      EXPECT_TRUE(family.starts_with("weir_")) << line;
    }
  }
  EXPECT_EQ(helped.size(), type_of.size());
  EXPECT_GT(samples, 60u);
}

TEST(PrometheusExport, EmptySnapshotHasOnlyTheTimestamp) {
  MetricsSnapshot s;
  EXPECT_EQ(to_prometheus(s),
            "# HELP weir_metrics_snapshot_timestamp_seconds When this snapshot was taken, in seconds since the "
            "Unix epoch.\n"
            "# TYPE weir_metrics_snapshot_timestamp_seconds gauge\n"
            "weir_metrics_snapshot_timestamp_seconds 0\n");
}

TEST(PrometheusExport, KeepsTheSnapshotsOrder) {
  MetricsSnapshot s;
  for (const char* g : {"zeta", "alpha", "mid"}) {
    GroupMetrics gm;
    gm.group = g;
    gm.topic = "t";
    gm.partitions.push_back({.partition = 1});
    gm.partitions.push_back({.partition = 0});
    s.groups.push_back(gm);
  }
  const std::string text = to_prometheus(s);
  auto at = [&](const std::string& group, int partition) {
    return text.find("weir_group_lag_events{group=\"" + group + "\",topic=\"t\",partition=\"" +
                     std::to_string(partition) + "\"}");
  };
  ASSERT_NE(at("zeta", 1), std::string::npos) << text;
  EXPECT_LT(at("zeta", 1), at("zeta", 0));
  EXPECT_LT(at("zeta", 0), at("alpha", 1));
  EXPECT_LT(at("alpha", 0), at("mid", 1));
  EXPECT_EQ(to_prometheus(s), text);
}

// --- MetricsServer -----------------------------------------------------------

// Sends `request` to 127.0.0.1:port, returns everything the server answers.
std::string http(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    for (std::size_t sent = 0; sent < request.size();) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  } else {
    ADD_FAILURE() << "connect to port " << port << ": " << std::strerror(errno);
  }
  ::close(fd);
  return out;
}

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = open_bus();
    ASSERT_TRUE(bus_->create_topic("orders", {.partitions = 2}));
    ASSERT_TRUE(bus_->subscribe("orders", {.group = "billing"}, [this](const Message&) {
      handled_.fetch_add(1, std::memory_order_relaxed);
      return Outcome::done();
    }));
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(bus_->publish("orders", {.key = "k" + std::to_string(i), .payload = "v"}));
    ASSERT_TRUE(eventually([&] { return handled_.load(std::memory_order_relaxed) == 10; }));
  }

  std::unique_ptr<Bus> bus_;
  std::atomic<int> handled_{0};
};

using MetricsServerBasics = MetricsServerTest;

TEST_F(MetricsServerBasics, ServesMetricsOnAnEphemeralPort) {
  auto server = MetricsServer::start(*bus_, {.bind_address = "127.0.0.1", .port = 0});
  ASSERT_TRUE(server) << server.status().to_string();
  const std::uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);

  const std::string r = http(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
  const std::string body = body_of(r);
  EXPECT_NE(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << r;
  EXPECT_NE(body.find("weir_group_lag_events{group=\"billing\",topic=\"orders\",partition=\"0\"}"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("weir_topic_partition_end_offset{topic=\"orders\""), std::string::npos);

  // A query string is fine; scrapers add them.
  EXPECT_TRUE(http(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST_F(MetricsServerBasics, OtherPathsAndMethods) {
  auto server = MetricsServer::start(*bus_, {.bind_address = "127.0.0.1", .port = 0});
  ASSERT_TRUE(server) << server.status().to_string();
  const std::uint16_t port = (*server)->port();
  EXPECT_TRUE(http(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
  const std::string post = http(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET\r\n"), std::string::npos);
  EXPECT_TRUE(http(port, "garbage\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(http(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(10000, 'a') + "\r\n\r\n")
                  .starts_with("HTTP/1.1 431 "));
  // Still serving after all that.
  EXPECT_TRUE(http(port, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST_F(MetricsServerBasics, SilentClientDoesNotWedgeIt) {
  auto server = MetricsServer::start(*bus_, {.bind_address = "127.0.0.1", .port = 0});
  ASSERT_TRUE(server) << server.status().to_string();
  const std::uint16_t port = (*server)->port();
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(::connect(silent, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::send(silent, "GET /met", 8, MSG_NOSIGNAL), 8);  // and nothing more
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(http(port, "GET /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  ::close(silent);
}

TEST_F(MetricsServerBasics, StopsPromptlyWithAClientConnected) {
  auto started = MetricsServer::start(*bus_, {.bind_address = "127.0.0.1", .port = 0});
  ASSERT_TRUE(started) << started.status().to_string();
  std::unique_ptr<MetricsServer> server = std::move(started).value();
  int idle = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->port());
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(::connect(idle, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server is now reading from it
  const auto t0 = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  ::close(idle);
}

TEST_F(MetricsServerBasics, BadAddressIsInvalidArgument) {
  auto server = MetricsServer::start(*bus_, {.bind_address = "999.1.1.1", .port = 0});
  ASSERT_FALSE(server);
  EXPECT_EQ(server.status().code(), Code::kInvalidArgument);
  EXPECT_NE(server.status().message().find("999.1.1.1"), std::string::npos) << server.status().message();
}

TEST_F(MetricsServerBasics, PortInUseIsIoError) {
  auto first = MetricsServer::start(*bus_, {.bind_address = "127.0.0.1", .port = 0});
  ASSERT_TRUE(first) << first.status().to_string();
  const std::uint16_t port = (*first)->port();
  auto second = MetricsServer::start(*bus_, {.bind_address = "127.0.0.1", .port = port});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), Code::kIoError);
  const std::string msg = second.status().message();
  EXPECT_NE(msg.find("port " + std::to_string(port) + " on 127.0.0.1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in use"), std::string::npos) << msg;
}

}  // namespace
}  // namespace weir
