// Consumer groups: delivery, fan-out, order, outcomes, batching, lifecycle.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using testing::eventually;
using testing::open_bus;
using namespace std::chrono_literals;

struct Seen {
  std::mutex mu;
  std::vector<std::string> payloads;
  std::map<std::string, std::vector<std::string>> by_key;
  void add(const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    payloads.emplace_back(m.payload());
    by_key[std::string(m.key())].emplace_back(m.payload());
  }
  std::size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return payloads.size();
  }
};

TEST(Consume, DeliversEverythingWithMetadata) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1}));
  const Header hs[] = {{"trace", "abc"}, {"empty", ""}, {"dup", "1"}, {"dup", "2"}};
  ASSERT_TRUE(bus->publish("t", {.key = "k1", .payload = "hello", .headers = hs, .time_us = 42}));
  std::atomic<bool> checked{false};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    EXPECT_EQ(m.topic(), "t");
    EXPECT_EQ(m.partition(), 0u);
    EXPECT_EQ(m.offset(), 0u);
    EXPECT_EQ(m.key(), "k1");
    EXPECT_EQ(m.payload(), "hello");
    EXPECT_EQ(m.time_us(), 42);
    EXPECT_EQ(m.attempt(), 1u);
    EXPECT_EQ(m.header_count(), 4u);
    EXPECT_EQ(m.header("trace"), "abc");
    EXPECT_EQ(m.header("empty"), "");
    EXPECT_EQ(m.header("dup"), "1");
    EXPECT_FALSE(m.header("missing"));
    EXPECT_EQ(m.header_at(3).value, "2");
    checked = true;
    return Outcome::done();
  }));
  EXPECT_TRUE(eventually([&] { return checked.load(); }));
}

TEST(Consume, TimeDefaultsToNow) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  std::atomic<std::int64_t> t{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    t = m.time_us();
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return t.load() != 0; }));
  EXPECT_GE(t.load(), before - 20000);  // coarse clock: tick resolution
}

TEST(Consume, LargePayloadsAndBinaryBytes) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.capacity = 16}));
  std::string big(200000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    seen.add(m);
    return Outcome::done();
  }));
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(bus->publish("t", {.key = std::string("\0k", 2), .payload = i % 3 ? big : "s"}));
  ASSERT_TRUE(eventually([&] { return seen.size() == 40; }));
  for (int i = 0; i < 40; ++i) EXPECT_EQ(seen.payloads[i], i % 3 ? big : "s") << i;
}

TEST(Consume, EveryGroupGetsEveryEventInKeyOrder) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 4, .capacity = 64}));
  Seen a, b;
  ASSERT_TRUE(bus->subscribe("t", {.group = "a", .workers = 3}, [&](const Message& m) {
    a.add(m);
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->subscribe("t", {.group = "b", .workers = 1, .max_batch = 7},
                             [&](std::span<const Message> ms) {
                               for (const auto& m : ms) b.add(m);
                               return BatchOutcome::all(ms.size());
                             }));
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(bus->publish("t", {.key = "k" + std::to_string(i % 10), .payload = std::to_string(i)}));
  ASSERT_TRUE(bus->close());
  for (Seen* s : {&a, &b}) {
    ASSERT_EQ(s->size(), static_cast<std::size_t>(kN));
    for (auto& [key, vals] : s->by_key)
      for (std::size_t i = 1; i < vals.size(); ++i)
        EXPECT_LT(std::stoi(vals[i - 1]), std::stoi(vals[i])) << key;
  }
}

TEST(Consume, RetryRedeliversWithAttemptCountAndKeepsOrder) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::vector<std::pair<std::string, std::uint32_t>> calls;
  std::mutex mu;
  SubscribeOptions o{.group = "g"};
  o.retry_backoff = 1ms;
  o.retry_backoff_max = 4ms;
  ASSERT_TRUE(bus->subscribe("t", o, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    calls.emplace_back(std::string(m.payload()), m.attempt());
    if (m.payload() == "b" && m.attempt() < 3) return Outcome::retry();
    if (m.payload() == "c" && m.attempt() < 2) return Outcome::retry(5ms);
    return Outcome::done();
  }));
  for (const char* p : {"a", "b", "c", "d"}) ASSERT_TRUE(bus->publish("t", {.payload = p}));
  ASSERT_TRUE(bus->close());
  const std::vector<std::pair<std::string, std::uint32_t>> want{
      {"a", 1}, {"b", 1}, {"b", 2}, {"b", 3}, {"c", 1}, {"c", 2}, {"d", 1}};
  EXPECT_EQ(calls, want);
}

TEST(Consume, ExceptionIsTreatedAsRetry) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::atomic<int> calls{0};
  SubscribeOptions o{.group = "g"};
  o.retry_backoff = 0ms;
  ASSERT_TRUE(bus->subscribe("t", o, [&](const Message& m) -> Outcome {
    if (++calls == 1) throw std::runtime_error("boom");
    EXPECT_EQ(m.attempt(), 2u);
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(calls.load(), 2);
}

TEST(Consume, FailStopsThePartitionAndReports) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 2}));
  std::atomic<int> reports{0};
  std::string reason;
  Offset failed_at = 99;
  SubscribeOptions o{.group = "g"};
  o.dead_letter = false;  // stop at the event instead of dead-lettering it
  o.on_failure = [&](const FailureReport& r) {
    reason = r.reason;
    failed_at = r.offset;
    EXPECT_EQ(r.group, "g");
    EXPECT_EQ(r.partition, 0u);
    ++reports;
  };
  Seen seen;
  ASSERT_TRUE(bus->subscribe("t", o, [&](const Message& m) {
    if (m.payload() == "poison") return Outcome::fail("cannot parse");
    seen.add(m);
    return Outcome::done();
  }));
  for (const char* p : {"ok1", "poison", "ok2"}) ASSERT_TRUE(bus->publish("t", {.payload = p}, {.partition = 0}));
  ASSERT_TRUE(bus->publish("t", {.payload = "other"}, {.partition = 1}));
  ASSERT_TRUE(eventually([&] { return reports.load() == 1 && seen.size() == 2; }));
  EXPECT_EQ(reason, "cannot parse");
  EXPECT_EQ(failed_at, 1u);
  auto st = bus->describe_group("g");
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->partitions[0].stopped);
  EXPECT_EQ(st->partitions[0].committed, 1u);  // not past the poison event
  EXPECT_EQ(st->partitions[0].lag, 2u);
  EXPECT_FALSE(st->partitions[1].stopped);
  auto rep = bus->close();  // drain does not wait for a stopped partition
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->undelivered, 2u);
  EXPECT_FALSE(rep->timed_out);
}

TEST(Consume, BatchHandlerPartialDoneRedeliversRest) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::vector<std::vector<std::string>> batches;
  std::mutex mu;
  SubscribeOptions o{.group = "g", .max_batch = 4};
  o.retry_backoff = 0ms;
  bool once = true;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i)}));
  ASSERT_TRUE(bus->subscribe("t", o, [&](std::span<const Message> ms) {
    std::lock_guard<std::mutex> l(mu);
    std::vector<std::string> b;
    for (const auto& m : ms) b.emplace_back(m.payload());
    batches.push_back(b);
    if (once) {
      once = false;
      EXPECT_EQ(ms[0].attempt(), 1u);
      return BatchOutcome{2, Outcome::retry()};  // 0,1 done; 2 retried
    }
    return BatchOutcome::all(ms.size());
  }));
  ASSERT_TRUE(bus->close());
  ASSERT_GE(batches.size(), 2u);
  EXPECT_EQ(batches[0], (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(batches[1].front(), "2");
  std::vector<std::string> all;
  for (std::size_t i = 1; i < batches.size(); ++i) all.insert(all.end(), batches[i].begin(), batches[i].end());
  EXPECT_EQ(all, (std::vector<std::string>{"2", "3", "4", "5"}));
}

TEST(Consume, StartEarliestVersusLatest) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  ASSERT_TRUE(bus->publish("t", {.payload = "before"}));
  Seen early, late;
  ASSERT_TRUE(bus->subscribe("t", {.group = "early"}, [&](const Message& m) { early.add(m); return Outcome::done(); }));
  ASSERT_TRUE(bus->subscribe("t", {.group = "late", .start_from = StartFrom::kLatest},
                             [&](const Message& m) { late.add(m); return Outcome::done(); }));
  ASSERT_TRUE(bus->publish("t", {.payload = "after"}));
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(early.payloads, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(late.payloads, (std::vector<std::string>{"after"}));
}

TEST(Consume, UnsubscribeThenResubscribeResumes) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  Seen first, second;
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) { first.add(m); return Outcome::done(); }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i)}));
  auto rep = bus->unsubscribe("g");
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->undelivered, 0u);
  EXPECT_EQ(first.size(), 5u);
  for (int i = 5; i < 8; ++i) ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i)}));
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) { second.add(m); return Outcome::done(); }));
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(second.payloads, (std::vector<std::string>{"5", "6", "7"}));
}

TEST(Consume, BackpressureBlocksUntilConsumerCatchesUp) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.capacity = 16}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "slow"}, [&](const Message&) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ++handled;
    return Outcome::done();
  }));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));  // blocks, never fails
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(handled.load(), 200);
}

TEST(Close, DrainLetsHandlersPublishOnward) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 2}));
  ASSERT_TRUE(bus->create_topic("invoices", {.partitions = 2}));
  std::atomic<int> invoices{0};
  std::atomic<int> publish_errors{0};
  ASSERT_TRUE(bus->subscribe("orders", {.group = "billing"}, [&](const Message& m) {
    if (!bus->publish("invoices", {.key = m.key(), .payload = m.payload()})) ++publish_errors;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->subscribe("invoices", {.group = "mailer"}, [&](const Message&) {
    ++invoices;
    return Outcome::done();
  }));
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(bus->publish("orders", {.key = std::to_string(i), .payload = "x"}));
  auto rep = bus->close();
  ASSERT_TRUE(rep);
  EXPECT_EQ(publish_errors.load(), 0);
  EXPECT_EQ(invoices.load(), 500);
  EXPECT_EQ(rep->undelivered, 0u);
}

TEST(Close, StopAtBatchReportsUndelivered) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.capacity = 1024}));
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .max_batch = 1}, [&](const Message&) {
    std::this_thread::sleep_for(2ms);
    ++handled;
    return Outcome::done();
  }));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  auto rep = bus->close({.mode = CloseMode::kStopAtBatch});
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->undelivered + static_cast<std::uint64_t>(handled.load()), 200u);
  EXPECT_GT(rep->undelivered, 0u);
}

TEST(Close, DrainTimeoutFallsBackToStop) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) { return Outcome::retry(1000ms); }));
  ASSERT_TRUE(bus->publish("t", {.payload = "stuck"}));
  auto rep = bus->close({.mode = CloseMode::kDrain, .timeout = 50ms});
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->timed_out);
  EXPECT_EQ(rep->undelivered, 1u);
}

TEST(Close, FromHandlerIsRefused) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::atomic<int> code{-1};
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message&) {
    code = static_cast<int>(bus->close().status().code());
    EXPECT_EQ(bus->unsubscribe("g").status().code(), Code::kFailedPrecondition);
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] { return code.load() != -1; }));
  EXPECT_EQ(code.load(), static_cast<int>(Code::kFailedPrecondition));
}

}  // namespace
}  // namespace weir
