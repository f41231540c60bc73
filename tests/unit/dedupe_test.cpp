// Idempotent consumers: the dedupe store and transactional state tables.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::eventually;

class DedupeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-dedupe-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    bus_ = reopen();
    ASSERT_TRUE(bus_->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}));
  }
  void TearDown() override {
    bus_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<Bus> reopen() {
    bus_.reset();
    Options o;
    o.data_dir = dir_.string();
    o.offset_commit_interval = 5ms;
    return Bus::open(o).value();
  }
  // Waits until `group` has handled (or skipped) everything published.
  void drained(const std::string& group) {
    ASSERT_TRUE(eventually([&] {
      auto st = bus_->describe_group(group);
      if (!st) return false;
      for (const auto& p : st->partitions)
        if (p.lag && !p.stopped) return false;
      return true;
    }));
  }

  fs::path dir_;
  std::unique_ptr<Bus> bus_;
};

TEST_F(DedupeTest, RedeliveredDuplicatesAreSkippedAndCounted) {
  std::atomic<int> calls{0};
  ASSERT_TRUE(bus_->subscribe("t", {.group = "g", .dedupe = true}, [&](const Message&) {
    ++calls;
    return Outcome::done();
  }));
  for (const char* id : {"a", "b", "a", "c", "b", "a"})
    ASSERT_TRUE(bus_->publish("t", {.key = "same", .payload = id, .id = id}));
  drained("g");
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(bus_->describe_group("g")->duplicates_skipped, 3u);
}

TEST_F(DedupeTest, RecordsAndOffsetsSurviveRestart) {
  std::atomic<int> calls{0};
  auto handler = [&](const Message&) {
    ++calls;
    return Outcome::done();
  };
  ASSERT_TRUE(bus_->subscribe("t", {.group = "g", .dedupe = true}, handler));
  ASSERT_TRUE(bus_->publish("t", {.payload = "x", .id = "charge-1"}));
  drained("g");
  ASSERT_TRUE(bus_->close());
  bus_ = reopen();
  ASSERT_TRUE(bus_->subscribe("t", {.group = "g", .dedupe = true}, handler));
  ASSERT_TRUE(bus_->publish("t", {.payload = "x again", .id = "charge-1"}));  // the producer retried
  ASSERT_TRUE(bus_->publish("t", {.payload = "y", .id = "charge-2"}));
  drained("g");
  EXPECT_EQ(calls.load(), 2);  // charge-1 once, charge-2 once; nothing replayed from before
  EXPECT_EQ(bus_->describe_group("g")->duplicates_skipped, 1u);
}

TEST_F(DedupeTest, WindowExpiresAndPurges) {
  std::atomic<int> calls{0};
  SubscribeOptions so{.group = "g", .dedupe = true};
  so.dedupe_window = 1s;
  ASSERT_TRUE(bus_->subscribe("t", so, [&](const Message&) {
    ++calls;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("t", {.payload = "x", .id = "w"}));
  drained("g");
  ASSERT_TRUE(bus_->publish("t", {.payload = "x", .id = "w"}));
  drained("g");
  EXPECT_EQ(calls.load(), 1);
  std::this_thread::sleep_for(1300ms);  // past the window; the writer purges within 100 ms
  ASSERT_TRUE(bus_->publish("t", {.payload = "x", .id = "w"}));
  drained("g");
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(DedupeTest, LongIdsAreHashedWithoutCollisions) {
  std::mutex mu;
  std::vector<std::string> handled;
  ASSERT_TRUE(bus_->subscribe("t", {.group = "g", .dedupe = true}, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    handled.emplace_back(m.id().substr(m.id().size() - 3));
    return Outcome::done();
  }));
  const std::string stem(900, 'i');
  for (const char* tail : {"AAA", "BBB", "AAA", "CCC", "BBB"})
    ASSERT_TRUE(bus_->publish("t", {.key = "k", .payload = "x", .id = stem + tail}));
  drained("g");
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(handled, (std::vector<std::string>{"AAA", "BBB", "CCC"}));
}

TEST_F(DedupeTest, StateTablesReadYourWritesAndPersist) {
  auto counter = [](const Message& m, State& st) {
    auto cur = st.get("counts", m.key());
    if (!cur) return Outcome::retry();
    const long n = cur->has_value() ? std::stol(**cur) : 0;
    if (!st.put("counts", m.key(), std::to_string(n + 1))) return Outcome::fail("put failed");
    if (m.payload() == "forget" && !st.erase("counts", m.key())) return Outcome::fail("erase failed");
    return Outcome::done();
  };
  ASSERT_TRUE(bus_->subscribe("t", {.group = "counter"}, counter));
  // Many events of one key back to back: each must see the previous write,
  // committed or not.
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(bus_->publish("t", {.key = "apples", .payload = "+1"}, {.ack = Ack::kNone}));
  ASSERT_TRUE(bus_->publish("t", {.key = "pears", .payload = "+1"}));
  ASSERT_TRUE(bus_->publish("t", {.key = "plums", .payload = "+1"}));
  ASSERT_TRUE(bus_->publish("t", {.key = "plums", .payload = "forget"}));
  drained("counter");
  ASSERT_TRUE(bus_->unsubscribe("counter"));
  EXPECT_EQ(bus_->read_state("counter", "counts", "apples")->value_or("-"), "500");
  EXPECT_EQ(bus_->read_state("counter", "counts", "pears")->value_or("-"), "1");
  EXPECT_FALSE(bus_->read_state("counter", "counts", "plums")->has_value());
  ASSERT_TRUE(bus_->close());
  bus_ = reopen();
  EXPECT_EQ(bus_->read_state("counter", "counts", "apples")->value_or("-"), "500");
  EXPECT_FALSE(bus_->read_state("other-group", "counts", "apples")->has_value());  // per group
}

TEST_F(DedupeTest, WritesOfRetriedOrFailedEventsAreDropped) {
  SubscribeOptions so{.group = "g"};
  so.retry_backoff = 0ms;
  ASSERT_TRUE(bus_->subscribe("t", so, [](const Message& m, State& st) {
    auto cur = st.get("c", "total");
    const long n = cur && cur->has_value() ? std::stol(**cur) : 0;
    (void)st.put("c", "total", std::to_string(n + 1));
    if (m.payload() == "flaky" && m.attempt() < 3) return Outcome::retry();  // writes dropped twice
    if (m.payload() == "poison") return Outcome::fail("bad");                // writes dropped
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("t", {.payload = "flaky"}, {.partition = 0}));
  ASSERT_TRUE(bus_->publish("t", {.payload = "ok"}, {.partition = 0}));
  ASSERT_TRUE(bus_->publish("t", {.payload = "poison"}, {.partition = 1}));
  drained("g");  // the poison event is dead-lettered; its writes were dropped
  ASSERT_TRUE(eventually([&] {
    auto v = bus_->read_state("g", "c", "total");
    return v && v->has_value() && **v == "2";
  }));
}

TEST_F(DedupeTest, BadInputs) {
  auto mem = testing::open_bus();
  ASSERT_TRUE(mem->create_topic("m", {}));
  auto noop = [](const Message&) { return Outcome::done(); };
  auto noop_state = [](const Message&, State&) { return Outcome::done(); };
  EXPECT_EQ(mem->subscribe("m", {.group = "g", .dedupe = true}, noop).code(), Code::kInvalidArgument);
  EXPECT_EQ(mem->subscribe("m", {.group = "g"}, StateHandler(noop_state)).code(), Code::kInvalidArgument);
  EXPECT_EQ(mem->read_state("g", "t", "k").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(bus_->subscribe("t", {.group = "b", .dedupe = true},
                            BatchHandler([](std::span<const Message> ms) { return BatchOutcome::all(ms.size()); }))
                .code(),
            Code::kInvalidArgument);
  SubscribeOptions tiny{.group = "w", .dedupe = true};
  tiny.dedupe_window = 0s;
  EXPECT_EQ(bus_->subscribe("t", tiny, noop).code(), Code::kInvalidArgument);

  std::mutex mu;
  std::vector<Code> codes;
  ASSERT_TRUE(bus_->subscribe("t", {.group = "s"}, [&](const Message&, State& st) {
    std::lock_guard<std::mutex> l(mu);
    codes.push_back(st.put("", "k", "v").code());
    codes.push_back(st.put("bad table", "k", "v").code());
    codes.push_back(st.put("ok", std::string(600, 'k'), "v").code());
    codes.push_back(st.get("ok", std::string(600, 'k')).status().code());
    codes.push_back(st.put("ok", "k", "v").code());
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("t", {.payload = "x"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return codes.size() == 5;
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(codes, (std::vector<Code>{Code::kInvalidArgument, Code::kInvalidArgument, Code::kInvalidArgument,
                                      Code::kInvalidArgument, Code::kOk}));
}

}  // namespace
}  // namespace weir
