// The bus registry (BusCore) and its mutex: delete_topic waits for the
// journal writer without it, so metrics(), creating and subscribing other
// topics stay fast while the writer cannot finish a cycle, and the topic
// being deleted is refused with a clear error until the deletion is done;
// create_topic opens a journaled topic's databases without it, and callers
// creating one name at once all see one topic.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "journal/fault.hpp"
#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using internal::FaultPoint;
using testing::eventually;

TEST(Registry, DeleteTopicWaitsForTheWriterWithoutTheBusMutex) {
  testing::ScratchDir dir("registry");
  auto bus = testing::open_bus(dir.options());
  const TopicOptions journaled{.partitions = 1, .durability = Durability::kJournaled};
  ASSERT_TRUE(bus->create_topic("victim", journaled));
  ASSERT_TRUE(bus->create_topic("busy", journaled));
  // Every commit waits from here: the writer's cycle does not end.
  internal::ScopedFault stall(FaultPoint::kCommit, internal::kFaultHang);
  ASSERT_TRUE(bus->publish("busy", {.payload = "x"}, {.ack = Ack::kNone}));
  ASSERT_TRUE(eventually([] { return internal::faults_injected(FaultPoint::kCommit) > 0; }));

  std::optional<Result<TopicDeletion>> deleted;
  std::atomic<bool> done{false};
  std::thread deleter([&] {
    deleted.emplace(bus->delete_topic("victim"));
    done.store(true, std::memory_order_release);
  });
  // Under way: the name is refused, naming why.
  Status again;
  ASSERT_TRUE(eventually([&] {
    again = bus->create_topic("victim", journaled);
    return again.code() == Code::kFailedPrecondition;
  })) << again.to_string();
  EXPECT_NE(again.message().find("is being deleted"), std::string::npos) << again.to_string();

  const auto t0 = std::chrono::steady_clock::now();
  auto m = bus->metrics();
  ASSERT_TRUE(m) << m.status().to_string();
  ASSERT_TRUE(bus->create_topic("other", {.partitions = 1}));
  ASSERT_TRUE(bus->subscribe("other", {.group = "g"}, [](const Message&) { return Outcome::done(); }));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 2s) << "the registry waited for the journal writer";
  const Status sub = bus->subscribe("victim", {.group = "late"}, [](const Message&) { return Outcome::done(); });
  EXPECT_EQ(sub.code(), Code::kFailedPrecondition) << sub.to_string();
  EXPECT_NE(sub.message().find("is being deleted"), std::string::npos) << sub.to_string();
  EXPECT_FALSE(done.load(std::memory_order_acquire)) << "delete_topic did not wait for the stalled writer";

  internal::disarm_faults();
  deleter.join();
  ASSERT_TRUE(*deleted) << deleted->status().to_string();
  EXPECT_TRUE(bus->create_topic("victim", journaled));
}

// While every commit fails, the stalled cycles still end, so delete_topic
// does not wait out its 30 s: its own drop fails at once, and the error
// says the journal kept the topic and why (README, "Changing and deleting").
TEST(Registry, DeleteTopicWhileCommitsFailNamesTheCauseAtOnce) {
  testing::ScratchDir dir("registry-eio");
  auto bus = testing::open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("victim", {.partitions = 1, .durability = Durability::kJournaled}));
  internal::ScopedFault stall(FaultPoint::kCommit, EIO);
  const auto t0 = std::chrono::steady_clock::now();
  auto del = bus->delete_topic("victim");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_FALSE(del);
  EXPECT_NE(del.status().message().find("is gone from the running bus, but the journal kept it"), std::string::npos)
      << del.status().to_string();
  EXPECT_NE(del.status().message().find("mdb_txn_commit"), std::string::npos) << del.status().to_string();
}

TEST(Registry, ConcurrentCreatesOfOneTopicMakeOneTopic) {
  testing::ScratchDir dir("registry-create");
  auto bus = testing::open_bus(dir.options());
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus->subscribe(TopicSet{.pattern = "orders"}, {.group = "watch"}, [&](const Message&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return Outcome::done();
  }));
  const TopicOptions journaled{.partitions = 2, .durability = Durability::kJournaled};
  std::vector<Status> results(6);
  std::vector<std::thread> creators;
  for (std::size_t i = 0; i < results.size(); ++i)
    creators.emplace_back([&, i] { results[i] = bus->create_topic("orders", journaled); });
  for (auto& t : creators) t.join();
  for (const Status& s : results) EXPECT_TRUE(s) << s.to_string();
  const Status other = bus->create_topic("orders", {.partitions = 3, .durability = Durability::kJournaled});
  EXPECT_EQ(other.code(), Code::kAlreadyExists) << other.to_string();
  // The pattern group joined it once: one event is handled once.
  ASSERT_TRUE(bus->publish("orders", {.payload = "x"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return handled.load(std::memory_order_relaxed) == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(handled.load(std::memory_order_relaxed), 1);
  auto m = bus->metrics();
  ASSERT_TRUE(m);
  EXPECT_EQ(std::count_if(m->topics.begin(), m->topics.end(), [](const auto& t) { return t.topic == "orders"; }), 1);
}

}  // namespace
}  // namespace weir
