// Pipelines: State::publish appends follow-up events in the transaction
// that commits the input (state, dedupe record, offset): exactly one
// follow-up per input, derived ids, per-key order, dropped with a retry,
// refused for memory or unknown topics and invalid events.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weir/inspect.hpp"

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

// A topic deleted while a stage's write set with follow-ups for it waits
// for the journal writer: the follow-ups go with the topic, and the write
// set (state, offset) still commits. Before, the writer kept it queued,
// retrying a placement that could never succeed, and every transactional
// group of the bus stopped committing behind it.
TEST_F(PipelineTest, DeletingTheTargetTopicDoesNotStallTheWriter) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  ASSERT_TRUE(bus_->subscribe("in", {.group = "stage"}, [&](const Message& m, State& st) {
    if (m.key() == "first") {
      if (!st.publish("out", {.key = m.key()})) return Outcome::retry();
      ++entered;
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return release; });  // the handler returns after 'out' is gone
    }
    if (!st.put("seen", m.key(), "1")) return Outcome::retry();
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("in", {.key = "first"}));
  ASSERT_TRUE(eventually([&] { return entered.load() == 1; }));
  ASSERT_TRUE(bus_->delete_topic("out"));
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(bus_->publish("in", {.key = "second"}));
  auto rep = bus_->close({.timeout = 5s});
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->journal_status) << rep->journal_status.to_string();
  EXPECT_FALSE(rep->timed_out);
  bus_.reset();
  auto insp = Inspector::open(dir_->path().string());
  ASSERT_TRUE(insp) << insp.status().to_string();
  for (const char* key : {"first", "second"}) {
    auto v = (*insp)->state_get("stage", "seen", key);
    ASSERT_TRUE(v) << v.status().to_string();
    EXPECT_TRUE(v->has_value()) << "the state write of '" << key << "' was not committed";
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

// A target at its quota_bytes refuses follow-ups at once, whatever its
// full_policy: a handler never waits in State::publish (it would hold its
// partition), and the events past the quota are not appended.
TEST_F(PipelineTest, ATargetAtItsQuotaRefusesFollowUps) {
  TopicOptions capped{.partitions = 1, .full_policy = FullPolicy::kBlock, .block_timeout = 10s};
  capped.durability = Durability::kJournaled;
  capped.quota_bytes = 1000;
  ASSERT_TRUE(bus_->create_topic("capped", capped));
  const std::string payload(200, 'p');
  Status last = Status::ok();
  for (int i = 0; i < 100 && last; ++i)
    last = bus_->publish("capped", {.payload = payload}, {.timeout = 50ms, .ack = Ack::kJournal}).status();
  ASSERT_EQ(last.code(), Code::kDeadlineExceeded) << last.to_string();
  auto end_of_capped = [&] {
    auto m = bus_->metrics();
    if (m)
      for (const auto& t : m->topics)
        if (t.topic == "capped") return t.partitions.at(0).end;
    ADD_FAILURE() << "no metrics for topic 'capped'";
    return Offset(0);
  };
  const Offset end_before = end_of_capped();
  std::mutex mu;
  std::vector<Status> got;
  std::chrono::steady_clock::duration took{};
  ASSERT_TRUE(bus_->subscribe("in", {.group = "stage"}, [&](const Message& m, State& st) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = st.publish("capped", {.key = m.key(), .payload = "follow-up"});
    std::lock_guard<std::mutex> l(mu);
    took = std::max(took, std::chrono::steady_clock::now() - t0);
    got.push_back(s);
    return Outcome::done();
  }));
  ASSERT_TRUE(bus_->publish("in", {.key = "k"}));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return !got.empty();
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(got[0].code(), Code::kResourceExhausted) << got[0].to_string();
  EXPECT_NE(got[0].message().find("quota_bytes of 1000"), std::string::npos) << got[0].to_string();
  EXPECT_LT(took, 2s) << "State::publish waited for the quota";
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(end_of_capped(), end_before);
}

// Rounds of: a stage (state handler publishing each input to `out` inside
// its transaction) and a plain group on `out`; 20 inputs; close(mode) at
// once; then the journal as the Inspector reads it: `lags` (group, topic,
// partition) and the time close() took.
struct DrainRound {
  std::vector<GroupLag> lags;
  std::chrono::milliseconds close_took{};
  Status journal_status;
};

DrainRound pipeline_round(const std::string& name, CloseMode mode) {
  DrainRound r;
  testing::ScratchDir dir(name);
  {
    Options o = dir.options();
    o.offset_commit_interval = 2ms;
    auto bus = Bus::open(o);
    EXPECT_TRUE(bus) << bus.status().to_string();
    if (!bus) return r;
    for (const char* t : {"in", "out"})
      EXPECT_TRUE((*bus)->create_topic(t, {.partitions = 2, .durability = Durability::kJournaled}));
    EXPECT_TRUE((*bus)->subscribe("in", {.group = "stage"}, [](const Message& m, State& st) {
      if (!st.publish("out", {.key = m.key(), .payload = m.payload()})) return Outcome::retry();
      return Outcome::done();
    }));
    EXPECT_TRUE((*bus)->subscribe("out", {.group = "down"}, [](const Message&) { return Outcome::done(); }));
    for (int i = 0; i < 20; ++i) EXPECT_TRUE((*bus)->publish("in", {.key = "k" + std::to_string(i)}));
    const auto t0 = std::chrono::steady_clock::now();
    auto rep = (*bus)->close({.mode = mode, .timeout = 10s});
    r.close_took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    r.journal_status = rep ? rep->journal_status : rep.status();
  }
  auto insp = Inspector::open(dir.path().string());
  EXPECT_TRUE(insp) << insp.status().to_string();
  if (!insp) return r;
  auto lags = (*insp)->group_lags();
  EXPECT_TRUE(lags) << lags.status().to_string();
  if (lags) r.lags = std::move(*lags);
  return r;
}

// A close that stops at a batch boundary still commits the write sets the
// stage handed to the journal, follow-ups included, although `out` is
// closed by then: the stage's persisted offsets and `out` agree (one
// follow-up per input below them), and close() does not wait out its
// timeout for write sets that could never commit.
TEST(PipelineClose, StopAtBatchCommitsTheFollowUpsOfHandledInputs) {
  for (int round = 0; round < 40; ++round) {
    const DrainRound r = pipeline_round("pipeline-stop-" + std::to_string(round), CloseMode::kStopAtBatch);
    ASSERT_TRUE(r.journal_status) << "round " << round << ": " << r.journal_status.to_string();
    ASSERT_LT(r.close_took, 5s) << "round " << round;
    Offset handled = 0, out_events = 0;
    for (const auto& g : r.lags) {
      if (g.group == "stage") handled += g.committed.value_or(0);
      if (g.group == "down") out_events += g.end;
    }
    ASSERT_EQ(handled, out_events) << "round " << round;
  }
}

// A drain covers what a stage published inside its transaction: close()
// waits until the follow-ups of every handled input are in their topic and
// handled downstream, not only until every group has read what it saw. The
// follow-ups reach `out` when the journal writer takes the stage's write set,
// after the stage's cursor moved; a close that checked the groups alone
// could find both caught up in that window and leave them unhandled.
TEST(PipelineClose, DrainHandlesFollowUpsPublishedInsideTheTransaction) {
  for (int round = 0; round < 40; ++round) {
    const DrainRound r = pipeline_round("pipeline-drain-" + std::to_string(round), CloseMode::kDrain);
    ASSERT_TRUE(r.journal_status) << "round " << round << ": " << r.journal_status.to_string();
    ASSERT_LT(r.close_took, 5s) << "round " << round;
    Offset out_events = 0;
    for (const auto& g : r.lags) {
      EXPECT_EQ(g.lag, 0u) << "round " << round << ": group " << g.group << " left " << g.lag
                           << " events of topic " << g.topic << " partition " << g.partition;
      if (g.group == "down") out_events += g.end;
    }
    ASSERT_EQ(out_events, 20u) << "round " << round;
  }
}

}  // namespace
}  // namespace weir
