// Dead-letter depth and age are maintained counters: a metrics scrape (and
// the alert check) costs the same at 4,000 dead letters as at one, and the
// counters follow appends, purges and redrives exactly. A memory bus keeps
// at most 4,096 dead letters per group and never stops the source for it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

const GroupMetrics* group_of(const MetricsSnapshot& m, std::string_view g) {
  for (const auto& gm : m.groups)
    if (gm.group == g) return &gm;
  return nullptr;
}

std::uint64_t dlq_count(const Bus& bus, std::string_view g) {
  auto m = bus.metrics();
  if (!m) return ~0ull;
  const GroupMetrics* gm = group_of(*m, g);
  return gm ? gm->dlq_count : ~0ull;
}

// Seconds spent in `n` back-to-back scrapes.
double scrape_seconds(const Bus& bus, int n) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) EXPECT_TRUE(bus.metrics());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(DlqDepthTest, ScrapeCostDoesNotGrowWithDeadLetters) {
  auto bus = testing::open_bus();
  ASSERT_TRUE(bus->create_topic("jobs", {.partitions = 1, .capacity = 8192}));
  ASSERT_TRUE(bus->subscribe("jobs", {.group = "worker"},
                             [](const Message&) { return Outcome::fail("rejected"); }));
  ASSERT_TRUE(bus->publish("jobs", {.key = "k", .payload = "first"}));
  ASSERT_TRUE(eventually([&] { return dlq_count(*bus, "worker") == 1; }));
  const double one = scrape_seconds(*bus, 50);

  for (int i = 1; i < 4000; ++i) ASSERT_TRUE(bus->publish("jobs", {.key = "k", .payload = "job"}));
  ASSERT_TRUE(eventually([&] { return dlq_count(*bus, "worker") == 4000; }));
  const double many = scrape_seconds(*bus, 50);
  // A scan of 4,000 letters per scrape costs milliseconds each; counters cost
  // what one letter costs.
  EXPECT_LT(many, 10 * one + 0.02) << "50 scrapes: " << one * 1e3 << " ms at 1 dead letter, " << many * 1e3
                                   << " ms at 4,000";
}

TEST(DlqDepthTest, CountAndAgeFollowPurgeAndRedrive) {
  testing::ScratchDir dir("dlq-depth");
  for (bool journaled : {false, true}) {
    SCOPED_TRACE(journaled ? "journaled" : "memory");
    std::filesystem::remove_all(dir.path());
    Options o;
    if (journaled) o = dir.options();
    auto bus = testing::open_bus(o);
    TopicOptions to{.partitions = 1};
    if (journaled) to.durability = Durability::kJournaled;
    ASSERT_TRUE(bus->create_topic("jobs", to));
    std::atomic<bool> fixed{false};
    ASSERT_TRUE(bus->subscribe("jobs", {.group = "worker"}, [&](const Message&) {
      return fixed.load() ? Outcome::done() : Outcome::fail("rejected");
    }));
    for (int i = 0; i < 6; ++i)
      ASSERT_TRUE(bus->publish("jobs", {.key = "k" + std::to_string(i), .payload = "job"}));
    ASSERT_TRUE(eventually([&] { return dlq_count(*bus, "worker") == 6; }));
    std::this_thread::sleep_for(20ms);
    auto m = bus->metrics();
    ASSERT_TRUE(m);
    EXPECT_GT(group_of(*m, "worker")->dlq_oldest_age_seconds, 0.0);

    // Purge from the middle, then the oldest: the count follows each.
    ASSERT_EQ(*bus->dlq_purge("worker", {.key = "k3"}), 1u);
    EXPECT_EQ(dlq_count(*bus, "worker"), 5u);
    ASSERT_EQ(*bus->dlq_purge("worker", {.key = "k0"}), 1u);
    EXPECT_EQ(dlq_count(*bus, "worker"), 4u);
    ASSERT_EQ(*bus->dlq_purge("worker", {.key = "k3"}), 0u);  // settled letters count once
    EXPECT_EQ(dlq_count(*bus, "worker"), 4u);

    fixed = true;
    auto moved = bus->dlq_redrive("worker", {.key = "k1"}, {.max_per_second = 0});
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->moved, 1u);
    EXPECT_EQ(dlq_count(*bus, "worker"), 3u);
    // The redriven event is handled (done) before the handler fails again
    // below; otherwise it could be dead-lettered a second time.
    ASSERT_TRUE(eventually([&] {
      auto now = bus->metrics();
      const GroupMetrics* gm = now ? group_of(*now, "worker") : nullptr;
      if (gm == nullptr) return false;
      for (const auto& p : gm->partitions)
        if (p.lag > 0) return false;
      return true;
    }));
    ASSERT_EQ(*bus->dlq_purge("worker"), 3u);
    EXPECT_EQ(dlq_count(*bus, "worker"), 0u);
    m = bus->metrics();
    EXPECT_EQ(group_of(*m, "worker")->dlq_oldest_age_seconds, 0.0);

    if (journaled) {  // the count is rebuilt from the journal's ledger
      fixed = false;
      ASSERT_TRUE(bus->publish("jobs", {.key = "k9", .payload = "job"}));
      ASSERT_TRUE(eventually([&] { return dlq_count(*bus, "worker") == 1; }));
      ASSERT_TRUE(bus->close());
      bus.reset();
      bus = testing::open_bus(o);
      ASSERT_TRUE(bus->subscribe("jobs", {.group = "worker"}, [](const Message&) { return Outcome::done(); }));
      EXPECT_EQ(dlq_count(*bus, "worker"), 1u);
    }
  }
}


// The 4,097th dead letter of a memory bus drops the oldest (counted and
// alerted) instead of blocking the source partition; purged letters free
// their slots.
TEST(DlqDepthTest, MemoryDeadLettersPastTheCapDropTheOldestAndTheSourceGoesOn) {
  auto bus = testing::open_bus();
  ASSERT_TRUE(bus->create_topic("jobs", {.partitions = 1, .capacity = 8192}));
  std::mutex mu;
  std::vector<Alert> alerts;
  SubscribeOptions so{.group = "worker"};
  so.alerts.on_alert = [&](const Alert& a) {
    std::lock_guard<std::mutex> l(mu);
    alerts.push_back(a);
  };
  std::atomic<std::uint64_t> handled{0};
  ASSERT_TRUE(bus->subscribe("jobs", so, [&](const Message&) {
    ++handled;
    return Outcome::fail("rejected");
  }));
  for (int i = 0; i < 4200; ++i)
    ASSERT_TRUE(bus->publish("jobs", {.key = "k" + std::to_string(i), .payload = "job"}));
  auto committed = [&] {
    auto m = bus->metrics();
    return m ? group_of(*m, "worker")->partitions[0].committed : 0;
  };
  ASSERT_TRUE(eventually([&] { return committed() == 4200; }, 5s))
      << "the source stopped at " << committed() << " after " << handled.load() << " handler calls";
  EXPECT_EQ(handled.load(), 4200u);  // no event handled twice
  auto m = bus->metrics();
  const GroupMetrics& g = *group_of(*m, "worker");
  EXPECT_EQ(g.dlq_count, 4096u);
  EXPECT_EQ(g.dlq_dropped, 104u);
  auto oldest = bus->dlq_list("worker", {}, 1);
  ASSERT_TRUE(oldest);
  ASSERT_EQ(oldest->size(), 1u);
  EXPECT_EQ(oldest->front().key, "k104");  // the oldest went first
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    for (const Alert& a : alerts)
      if (a.kind == AlertKind::kDlqDropped && a.raised && a.value >= 1) return true;
    return false;
  }, 3s));

  // Purging frees the ring: later dead letters drop nothing.
  ASSERT_EQ(*bus->dlq_purge("worker"), 4096u);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus->publish("jobs", {.key = "late", .payload = "job"}));
  ASSERT_TRUE(eventually([&] { return committed() == 4210; }, 5s));
  m = bus->metrics();
  EXPECT_EQ(group_of(*m, "worker")->dlq_count, 10u);
  EXPECT_EQ(group_of(*m, "worker")->dlq_dropped, 104u);
}

}  // namespace
}  // namespace weir
