// The retry loop: bounded attempts, backoff, exceptions, timeouts, and dead
// letters with provenance.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "base/coding.hpp"
#include "journal/format.hpp"
#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;
using Clock = std::chrono::steady_clock;

struct DeadLetters {
  std::mutex mu;
  std::vector<std::map<std::string, std::string>> seen;
  void watch(Bus& bus, const std::string& group) {
    ASSERT_TRUE(bus.subscribe(group + ".dlq", {.group = group + "-triage"}, [this](const Message& m) {
      std::map<std::string, std::string> row{{"id", std::string(m.id())},
                                             {"key", std::string(m.key())},
                                             {"payload", std::string(m.payload())},
                                             {"type", std::string(m.type())},
                                             {"x-tenant", std::string(m.header("x-tenant").value_or(""))}};
      for (const char* h : {"weir.dlq.reason", "weir.dlq.attempts", "weir.dlq.first_failure_us",
                            "weir.dlq.last_failure_us", "weir.dlq.topic", "weir.dlq.partition",
                            "weir.dlq.offset", "weir.dlq.group"})
        row[h] = std::string(m.header(h).value_or("<missing>"));
      std::lock_guard<std::mutex> l(mu);
      seen.push_back(row);
      return Outcome::done();
    }));
  }
  std::size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return seen.size();
  }
};

TEST(Retries, BoundedThenDeadLetteredWithProvenance) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("pay", {.partitions = 2}));
  std::atomic<int> attempts{0};
  std::atomic<int> later{0};
  SubscribeOptions so{.group = "charger", .max_attempts = 3};
  so.retry_backoff = 1ms;
  so.retry_backoff_max = 2ms;
  ASSERT_TRUE(bus->subscribe("pay", so, [&](const Message& m) {
    if (m.payload() == "flaky-forever") {
      EXPECT_EQ(m.attempt(), static_cast<std::uint32_t>(attempts.load() + 1));
      ++attempts;
      return Outcome::retry();
    }
    ++later;
    return Outcome::done();
  }));
  DeadLetters dl;
  dl.watch(*bus, "charger");
  const Header h[] = {{"x-tenant", "acme"}};
  ASSERT_TRUE(bus->publish("pay", {.key = "order-7", .payload = "flaky-forever", .headers = h,
                                   .id = "order-7/charge", .type = "shop.charge"},
                           {.partition = 1}));
  ASSERT_TRUE(bus->publish("pay", {.key = "order-7", .payload = "next"}, {.partition = 1}));
  ASSERT_TRUE(eventually([&] { return dl.size() == 1 && later.load() == 1; }));
  EXPECT_EQ(attempts.load(), 3);
  auto& r = dl.seen[0];
  EXPECT_EQ(r["id"], "order-7/charge");  // redrives keep the id
  EXPECT_EQ(r["key"], "order-7");
  EXPECT_EQ(r["payload"], "flaky-forever");
  EXPECT_EQ(r["type"], "shop.charge");
  EXPECT_EQ(r["x-tenant"], "acme");
  EXPECT_EQ(r["weir.dlq.reason"], "gave up after 3 attempts");
  EXPECT_EQ(r["weir.dlq.attempts"], "3");
  EXPECT_EQ(r["weir.dlq.topic"], "pay");
  EXPECT_EQ(r["weir.dlq.partition"], "1");
  EXPECT_EQ(r["weir.dlq.offset"], "0");
  EXPECT_EQ(r["weir.dlq.group"], "charger");
  EXPECT_LE(std::stoll(r["weir.dlq.first_failure_us"]), std::stoll(r["weir.dlq.last_failure_us"]));
  auto st = bus->describe_group("charger");
  EXPECT_EQ(st->partitions[1].lag, 0u);  // acked once it was safely dead-lettered
  EXPECT_FALSE(st->partitions[1].stopped);
}

TEST(Retries, PermanentFailuresSkipTheRetriesAndDerivedIdsAreKept) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::atomic<int> calls{0};
  std::string original_id;
  std::mutex mu;
  std::vector<FailureKind> kinds;
  SubscribeOptions so{.group = "g"};
  so.on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    kinds.push_back(r.kind);
  };
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    ++calls;
    std::lock_guard<std::mutex> l(mu);
    original_id = std::string(m.id());
    return Outcome::fail("card declined");
  }));
  DeadLetters dl;
  dl.watch(*bus, "g");
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] { return dl.size() == 1; }));
  EXPECT_EQ(calls.load(), 1);
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(dl.seen[0]["weir.dlq.reason"], "card declined");
  EXPECT_EQ(dl.seen[0]["weir.dlq.attempts"], "1");
  EXPECT_EQ(dl.seen[0]["id"], original_id);  // the derived id was materialised
  EXPECT_EQ(kinds, std::vector<FailureKind>{FailureKind::kDeadLettered});
}

TEST(Retries, BackoffGrowsExponentiallyWithoutJitter) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::vector<Clock::time_point> at;
  std::mutex mu;
  SubscribeOptions so{.group = "g", .max_attempts = 4};
  so.retry_backoff = 20ms;
  so.retry_backoff_max = 1000ms;
  so.jitter = false;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    at.push_back(Clock::now());
    return m.attempt() < 4 ? Outcome::retry() : Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return at.size() == 4;
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_GE(at[1] - at[0], 20ms);
  EXPECT_GE(at[2] - at[1], 40ms);
  EXPECT_GE(at[3] - at[2], 80ms);
}

TEST(Retries, JitteredDelaysStayWithinTheCap) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::vector<Clock::time_point> at;
  std::mutex mu;
  SubscribeOptions so{.group = "g", .max_attempts = 6};
  so.retry_backoff = 30ms;
  so.retry_backoff_max = 30ms;  // full jitter: each delay uniform in [0, 30 ms]
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    at.push_back(Clock::now());
    return m.attempt() < 6 ? Outcome::retry() : Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return at.size() == 6;
  }));
  std::lock_guard<std::mutex> l(mu);
  // Each gap is the jittered delay plus scheduling; 5 gaps well under 5 x 30 ms + slack.
  EXPECT_LT(at[5] - at[0], 150ms + 100ms);
}

TEST(Retries, ExceptionsTransientOrPermanent) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::atomic<int> transient_calls{0}, permanent_calls{0};
  SubscribeOptions a{.group = "transient"};
  a.retry_backoff = 0ms;
  ASSERT_TRUE(bus->subscribe("t", a, [&](const Message&) -> Outcome {
    if (++transient_calls < 3) throw std::runtime_error("flaky");
    return Outcome::done();
  }));
  SubscribeOptions b{.group = "permanent"};
  b.exceptions_are_transient = false;
  ASSERT_TRUE(bus->subscribe("t", b, [&](const Message&) -> Outcome {
    ++permanent_calls;
    throw std::runtime_error("schema mismatch");
  }));
  DeadLetters dl;
  dl.watch(*bus, "permanent");
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] { return dl.size() == 1 && transient_calls.load() == 3; }));
  EXPECT_EQ(permanent_calls.load(), 1);
  EXPECT_EQ(dl.seen[0]["weir.dlq.reason"], "exception: schema mismatch");
}

TEST(Retries, SlowHandlerCountsAsTransientFailure) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::vector<std::uint32_t> attempts;
  std::mutex mu;
  SubscribeOptions so{.group = "g"};
  so.handler_timeout = 20ms;
  so.retry_backoff = 0ms;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    {
      std::lock_guard<std::mutex> l(mu);
      attempts.push_back(m.attempt());
    }
    if (m.attempt() == 1) std::this_thread::sleep_for(60ms);  // hangs past the timeout
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return attempts.size() == 2;
  }));
  std::this_thread::sleep_for(50ms);
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{1, 2}));
}

// The dead letter names the last failure's cause, not only the count:
// the exception text, or the handler timeout (findable by "timeout").
TEST(Retries, DeadLetterReasonCarriesTheLastFailure) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  SubscribeOptions a{.group = "thrower", .max_attempts = 2};
  a.retry_backoff = 0ms;
  ASSERT_TRUE(bus->subscribe("t", a, [](const Message&) -> Outcome { throw std::runtime_error("boom"); }));
  SubscribeOptions b{.group = "sleeper", .max_attempts = 2};
  b.retry_backoff = 0ms;
  b.handler_timeout = 5ms;
  ASSERT_TRUE(bus->subscribe("t", b, [](const Message&) {
    std::this_thread::sleep_for(15ms);
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    auto x = bus->dlq_list("thrower"), y = bus->dlq_list("sleeper");
    return x && x->size() == 1 && y && y->size() == 1;
  }));
  EXPECT_EQ(bus->dlq_list("thrower")->front().reason, "gave up after 2 attempts; last failure: exception: boom");
  auto timeouts = bus->dlq_list("sleeper", {.reason_contains = "timeout"});
  ASSERT_TRUE(timeouts);
  ASSERT_EQ(timeouts->size(), 1u);
  EXPECT_NE(timeouts->front().reason.find("gave up after 2 attempts; last failure: handler timeout after "),
            std::string::npos) << timeouts->front().reason;
  EXPECT_NE(timeouts->front().reason.find("(handler_timeout 5 ms)"), std::string::npos) << timeouts->front().reason;
}

TEST(Retries, RetryReasonReachesTheDeadLetter) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  SubscribeOptions so{.group = "g", .max_attempts = 3};
  so.retry_backoff = 0ms;
  ASSERT_TRUE(bus->subscribe("t", so, [](const Message& m) {
    return Outcome::retry("gateway 503 on attempt " + std::to_string(m.attempt()));
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("g");
    return l && l->size() == 1;
  }));
  EXPECT_EQ(bus->dlq_list("g")->front().reason, "gave up after 3 attempts; last failure: gateway 503 on attempt 3");
}

TEST(Retries, BadOptions) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  auto h = [](const Message&) { return Outcome::done(); };
  EXPECT_EQ(bus->subscribe("t", {.group = "g", .max_attempts = 0}, h).code(), Code::kInvalidArgument);
  EXPECT_EQ(bus->subscribe("t", {.group = "g", .max_attempts = 1001}, h).code(), Code::kInvalidArgument);
  SubscribeOptions neg{.group = "g"};
  neg.handler_timeout = -1ms;
  EXPECT_EQ(bus->subscribe("t", neg, h).code(), Code::kInvalidArgument);
}

TEST(DeadLetters, JournaledDeadLettersSurviveRestart) {
  testing::ScratchDir dir("dlq");
  Options o = dir.options();
  {
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("t", {.durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [](const Message&) { return Outcome::fail("poison"); }));
    ASSERT_TRUE(bus->publish("t", {.payload = "p", .id = "evt-1"}));
    ASSERT_TRUE(eventually([&] { return bus->describe_group("g")->partitions[0].lag == 0; }));
    ASSERT_TRUE(bus->close());
  }
  auto bus = Bus::open(o).value();
  const auto topics = bus->topics();
  EXPECT_NE(std::find(topics.begin(), topics.end(), "g.dlq"), topics.end());
  DeadLetters dl;
  dl.watch(*bus, "g");
  ASSERT_TRUE(eventually([&] { return dl.size() == 1; }));
  EXPECT_EQ(dl.seen[0]["id"], "evt-1");
  EXPECT_EQ(dl.seen[0]["weir.dlq.reason"], "poison");
  ASSERT_TRUE(bus->close());
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(Breaker, OpensOnFailuresProbesAndCloses) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  std::atomic<bool> down{true};
  std::atomic<int> calls{0}, handled{0};
  std::mutex mu;
  std::vector<std::pair<BreakerState, BreakerState>> changes;
  std::vector<Clock::time_point> call_times;
  SubscribeOptions so{.group = "g", .max_attempts = 1000};
  so.retry_backoff = 0ms;
  so.breaker = {.enabled = true, .failure_ratio = 0.5, .min_calls = 5, .window = 1000ms, .cool_down = 150ms};
  so.on_breaker = [&](std::string_view group, BreakerState from, BreakerState to) {
    EXPECT_EQ(group, "g");
    std::lock_guard<std::mutex> l(mu);
    changes.emplace_back(from, to);
  };
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message&) {
    ++calls;
    {
      std::lock_guard<std::mutex> l(mu);
      call_times.push_back(Clock::now());
    }
    if (down.load()) return Outcome::retry();
    ++handled;
    return Outcome::done();
  }));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  // It opens after 5 failed calls, then probes once per cool-down.
  ASSERT_TRUE(eventually([&] { return bus->describe_group("g")->breaker_trips >= 3; }));
  EXPECT_EQ(bus->describe_group("g")->breaker, BreakerState::kOpen);
  {
    std::lock_guard<std::mutex> l(mu);
    // No retry storm: 5 calls to trip, then one probe per cool-down.
    EXPECT_LE(call_times.size(), 5u + bus->describe_group("g")->breaker_trips);
    for (std::size_t i = 6; i < call_times.size(); ++i) EXPECT_GE(call_times[i] - call_times[i - 1], 140ms);
  }
  down = false;  // the dependency recovers: the next probe closes the breaker
  ASSERT_TRUE(eventually([&] { return handled.load() == 20; }));
  EXPECT_EQ(bus->describe_group("g")->breaker, BreakerState::kClosed);
  std::lock_guard<std::mutex> l(mu);
  ASSERT_GE(changes.size(), 4u);
  EXPECT_EQ(changes[0], std::make_pair(BreakerState::kClosed, BreakerState::kOpen));
  EXPECT_EQ(changes[1], std::make_pair(BreakerState::kOpen, BreakerState::kHalfOpen));
  EXPECT_EQ(changes[2], std::make_pair(BreakerState::kHalfOpen, BreakerState::kOpen));
  EXPECT_EQ(changes.back(), std::make_pair(BreakerState::kHalfOpen, BreakerState::kClosed));
}

TEST(Breaker, BadOptions) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  auto h = [](const Message&) { return Outcome::done(); };
  for (BreakerOptions b : {BreakerOptions{.enabled = true, .failure_ratio = 0},
                           BreakerOptions{.enabled = true, .failure_ratio = 1.5},
                           BreakerOptions{.enabled = true, .min_calls = 0},
                           BreakerOptions{.enabled = true, .window = 1ms},
                           BreakerOptions{.enabled = true, .cool_down = 0ms}}) {
    SubscribeOptions so{.group = "g"};
    so.breaker = b;
    EXPECT_EQ(bus->subscribe("t", so, h).code(), Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

struct AlertLog {
  std::mutex mu;
  std::vector<Alert> seen;
  AlertCallback sink() {
    return [this](const Alert& a) {
      std::lock_guard<std::mutex> l(mu);
      seen.push_back(a);
    };
  }
  bool has(AlertKind k, bool raised) {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& a : seen)
      if (a.kind == k && a.raised == raised) return true;
    return false;
  }
};

TEST(Alerts, DlqDepthRaisedThenClearedByPurge) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  AlertLog log;
  SubscribeOptions so{.group = "g"};
  so.alerts.dlq_depth = 2;
  so.alerts.on_alert = log.sink();
  ASSERT_TRUE(bus->subscribe("t", so, [](const Message&) { return Outcome::fail("nope"); }));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] { return log.has(AlertKind::kDlqDepth, true); }));
  ASSERT_TRUE(bus->dlq_purge("g"));
  ASSERT_TRUE(eventually([&] { return log.has(AlertKind::kDlqDepth, false); }));
  std::lock_guard<std::mutex> l(log.mu);
  EXPECT_EQ(log.seen[0].group, "g");
  EXPECT_GE(log.seen[0].value, 2.0);
  EXPECT_EQ(log.seen[0].threshold, 2.0);
}

TEST(Alerts, OldestDeadLetterPastTheTriageSla) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  AlertLog log;
  SubscribeOptions so{.group = "g"};
  so.alerts.dlq_oldest_age = std::chrono::seconds(1);
  so.alerts.on_alert = log.sink();
  ASSERT_TRUE(bus->subscribe("t", so, [](const Message&) { return Outcome::fail("nope"); }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] { return log.has(AlertKind::kDlqAge, true); }, std::chrono::seconds(5)));
  std::lock_guard<std::mutex> l(log.mu);
  EXPECT_GT(log.seen[0].value, 1.0);
}

TEST(Alerts, SustainedRetryRate) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  AlertLog log;
  std::atomic<bool> failing{true};
  SubscribeOptions so{.group = "g", .max_attempts = 1000};
  so.retry_backoff = 1ms;
  so.retry_backoff_max = 1ms;
  so.alerts.retry_rate = 20;
  so.alerts.retry_window = std::chrono::seconds(1);
  so.alerts.on_alert = log.sink();
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message&) {
    return failing.load() ? Outcome::retry() : Outcome::done();
  }));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] { return log.has(AlertKind::kRetryRate, true); }, std::chrono::seconds(5)));
  failing = false;
  ASSERT_TRUE(eventually([&] { return log.has(AlertKind::kRetryRate, false); }, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(Retries, AttemptCountsSurviveARestart) {
  testing::ScratchDir dir("attempts");
  Options o = dir.options();
  std::mutex mu;
  std::vector<std::uint32_t> attempts;
  auto handler = [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    attempts.push_back(m.attempt());
    return m.attempt() < 3 ? Outcome::retry(std::chrono::milliseconds(m.attempt() == 1 ? 1 : 60000))
                           : Outcome::done();
  };
  {
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("t", {.durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, handler));
    ASSERT_TRUE(bus->publish("t", {.payload = "flaky"}));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return attempts.size() == 2;  // attempt 2 failed; attempt 3 is a minute away
    }));
    ASSERT_TRUE(bus->close({.mode = CloseMode::kStopAtBatch}));
  }
  {
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, handler));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return attempts.size() == 3;
    }));
    ASSERT_TRUE(bus->close());
  }
  std::lock_guard<std::mutex> l(mu);
  // 1 and 2 failed; the restart counts as one more: the next delivery is 4.
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{1, 2, 4}));
}

// The stored attempt record (in weir.internal) is big-endian ('B', then be64 offset, be32
// attempt per failing event), readable on any host; a record of the old
// host-order form (a multiple of 12 bytes) is still read.
TEST(Retries, AttemptRecordsAreBigEndianAndTheOldFormStillReads) {
  testing::ScratchDir dir("attempts-be");
  Options o = dir.options();
  std::mutex mu;
  std::vector<std::uint32_t> attempts;
  auto handler = [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    attempts.push_back(m.attempt());
    return m.attempt() < 3 ? Outcome::retry(std::chrono::milliseconds(m.attempt() == 1 ? 1 : 60000))
                           : Outcome::done();
  };
  {
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("t", {.durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, handler));
    ASSERT_TRUE(bus->publish("t", {.payload = "flaky"}));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return attempts.size() == 2;
    }));
    ASSERT_TRUE(bus->close({.mode = CloseMode::kStopAtBatch}));
  }
  const std::string key = internal::attempts_key("g", "t", 0);
  auto with_record = [&](const std::function<void(MDB_txn*, MDB_dbi)>& fn) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 64), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env, std::size_t{1} << 28), 0);
    ASSERT_EQ(mdb_env_open(env, o.data_dir.c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, internal::kInternalDbi, 0, &dbi), 0);
    fn(txn, dbi);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  };
  with_record([&](MDB_txn* txn, MDB_dbi dbi) {
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    ASSERT_EQ(mdb_get(txn, dbi, &k, &v), 0);
    const std::string rec(static_cast<const char*>(v.mv_data), v.mv_size);
    ASSERT_EQ(rec.size(), 13u);
    EXPECT_EQ(rec[0], 'B');
    EXPECT_EQ(internal::get_be64(rec.data() + 1), 0u);  // offset 0
    EXPECT_EQ(internal::get_be32(rec.data() + 9), 3u);  // attempt 2 failed: the next is 3
    // The old form: host-order (offset, attempt), 12 bytes.
    char old[12];
    const std::uint64_t off = 0;
    const std::uint32_t att = 3;
    std::memcpy(old, &off, 8);
    std::memcpy(old + 8, &att, 4);
    MDB_val ov{12, old};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &ov, 0), 0);
  });
  {
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, handler));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return attempts.size() == 3;
    }));
    ASSERT_TRUE(bus->close());
  }
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(attempts, (std::vector<std::uint32_t>{1, 2, 4}));
}

}  // namespace
}  // namespace weir
