// Pipelines: State::publish appends follow-up events in the transaction
// that commits the input (state, dedupe record, offset): exactly one
// follow-up per input, derived ids, per-key order, dropped with a retry,
// refused for memory or unknown topics and invalid events.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::ScratchDir>(
        std::string("pipeline-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Options o = dir_->options();
    o.offset_commit_interval = 2ms;
    auto b = Bus::open(o);
    ASSERT_TRUE(b) << b.status().to_string();
    bus_ = std::move(b).value();
    for (const char* t : {"in", "out"})
      ASSERT_TRUE(bus_->create_topic(t, {.partitions = 3, .durability = Durability::kJournaled}));
  }
  void TearDown() override { bus_.reset(); }

  // Every event of `topic` (group `group`, from earliest) until `n` arrived.
  std::vector<std::pair<std::string, std::string>> collect(const std::string& topic, const std::string& group,
                                                           std::size_t n) {
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> got;  // (id, key:payload)
    EXPECT_TRUE(bus_->subscribe(topic, {.group = group}, [&](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      got.emplace_back(std::string(m.id()), std::string(m.key()) + ":" + std::string(m.payload()));
      return Outcome::done();
    }));
    EXPECT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return got.size() >= n;
    }));
    std::this_thread::sleep_for(20ms);  // no more than n
    EXPECT_TRUE(bus_->unsubscribe(group));
    return got;
  }

  std::unique_ptr<testing::ScratchDir> dir_;
  std::unique_ptr<Bus> bus_;
};

TEST_F(PipelineTest, EachInputYieldsExactlyOneFollowUpWithADerivedIdInKeyOrder) {
  ASSERT_TRUE(bus_->subscribe("in", {.group = "stage", .workers = 2},
                              [](const Message& m, State& st) {
                                if (!st.put("seen", m.key(), m.payload())) return Outcome::retry();
                                const std::string payload = "shipped " + std::string(m.payload());
                                if (!st.publish("out", {.key = m.key(), .payload = payload})) return Outcome::retry();
                                return Outcome::done();
                              }));
  std::map<std::string, std::string> in_ids;  // input id -> key:payload
  for (int i = 0; i < 300; ++i) {
    const std::string key = "k" + std::to_string(i % 7), payload = std::to_string(i);
    const std::string id = "order-" + std::to_string(i);
    ASSERT_TRUE(bus_->publish("in", {.key = key, .payload = payload, .id = id}));
    in_ids[id] = key + ":shipped " + payload;
  }
  const auto out = collect("out", "reader", 300);
  ASSERT_EQ(out.size(), 300u);
  std::map<std::string, int> last;  // key -> last input number
  for (const auto& [id, kp] : out) {
    const std::string input = id.substr(0, id.size() - 2);
    ASSERT_EQ(id.substr(id.size() - 2), "/1") << id;
    ASSERT_EQ(in_ids.count(input), 1u) << "unknown or duplicate follow-up " << id;
    EXPECT_EQ(in_ids[input], kp);
    in_ids.erase(input);
  }
  EXPECT_TRUE(in_ids.empty());
  // Per-key order: the follow-ups of one key arrive in input order (one
  // reader worker per partition; events of a key share a partition).
  for (const auto& [id, kp] : out) {
    const std::string key = kp.substr(0, kp.find(':'));
    const int n = std::stoi(kp.substr(kp.rfind(' ') + 1));
    auto it = last.find(key);
    if (it != last.end()) {
      EXPECT_LT(it->second, n) << "key " << key << " out of order";
    }
    last[key] = n;
  }
}

TEST_F(PipelineTest, ARetriedHandlingDropsItsFollowUps) {
  SubscribeOptions so{.group = "stage"};
  so.retry_backoff = 1ms;
  ASSERT_TRUE(bus_->subscribe("in", so,
                              [](const Message& m, State& st) {
                                if (!st.publish("out", {.key = m.key(), .payload = "attempt " +
                                                                                  std::to_string(m.attempt())}))
                                  return Outcome::fail("publish refused");
                                return m.attempt() < 3 ? Outcome::retry() : Outcome::done();
                              }));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(bus_->publish("in", {.key = "k" + std::to_string(i)}));
  const auto out = collect("out", "reader", 20);
  ASSERT_EQ(out.size(), 20u);
  for (const auto& [id, kp] : out) EXPECT_NE(kp.find("attempt 3"), std::string::npos) << kp;
}

TEST_F(PipelineTest, SeveralFollowUpsPerInputKeepTheirOrderAndIds) {
  ASSERT_TRUE(bus_->subscribe("in", {.group = "stage"}, [](const Message& m, State& st) {
    for (int n = 0; n < 3; ++n)
      if (!st.publish("out", {.key = m.key(), .payload = std::to_string(n)})) return Outcome::retry();
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("in", {.key = "one", .id = "x"}));
  const auto out = collect("out", "reader", 3);
  ASSERT_EQ(out.size(), 3u);
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(out[n].first, "x/" + std::to_string(n + 1));
    EXPECT_EQ(out[n].second, "one:" + std::to_string(n));
  }
}

TEST_F(PipelineTest, BadTargetsAreRefusedWithTheReason) {
  ASSERT_TRUE(bus_->create_topic("mem", {.partitions = 1}));
  std::mutex mu;
  std::vector<std::string> errors;
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus_->subscribe("in", {.group = "stage"}, [&](const Message&, State& st) {
    const Header reserved[] = {{"ce_id", "x"}};
    const std::string big(2 << 20, 'x');
    std::lock_guard<std::mutex> l(mu);
    for (Status s : {st.publish("mem", {.key = "k"}), st.publish("nope", {.key = "k"}),
                     st.publish("out", {.key = "k", .headers = reserved}),
                     st.publish("out", {.key = "k", .payload = big})})
      errors.push_back(s.to_string());
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("in", {.key = "k"}));
  ASSERT_TRUE(eventually([&] { return handled.load() == 1; }));
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_NE(errors[0].find("topic 'mem' is a memory topic; State::publish needs a journaled topic"),
            std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("topic 'nope' not found"), std::string::npos) << errors[1];
  EXPECT_NE(errors[2].find("header 'ce_id' is reserved"), std::string::npos) << errors[2];
  EXPECT_NE(errors[3].find("exceeds topic 'out' max_payload_bytes"), std::string::npos) << errors[3];
}

}  // namespace
}  // namespace weir
