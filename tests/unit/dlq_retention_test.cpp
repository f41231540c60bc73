// The default retention of dead-letter topics (Options::
// dead_letter_retention_age): given to each new journaled "<group>.dlq",
// alterable with alter_topic, kept across restarts; letters older than it
// are deleted by the journal's retention (and stop counting in the depth),
// younger ones stay and redrive as before.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

// A group "g" on journaled "t" that dead-letters every "bad..." payload at
// once, and handles it when redriven.
void subscribe_declining(Bus& bus, std::atomic<int>* redriven_handled = nullptr) {
  ASSERT_TRUE(bus.subscribe("t", {.group = "g"}, [redriven_handled](const Message& m) {
    if (m.header("weir.redrive.group")) {
      if (redriven_handled) ++*redriven_handled;
      return Outcome::done();
    }
    if (m.payload().substr(0, 3) == "bad") return Outcome::fail("card declined");
    return Outcome::done();
  }));
}

std::size_t letters(Bus& bus) {
  auto l = bus.dlq_list("g");
  return l ? l->size() : 0;
}

const GroupMetrics* group_metrics(const MetricsSnapshot& m) {
  for (const auto& g : m.groups)
    if (g.group == "g") return &g;
  return nullptr;
}

TEST(DeadLetterRetention, NewDeadLetterTopicsGetTheDefaultAndItCanBeAltered) {
  testing::ScratchDir dir("dlq-retention-default");
  {
    auto bus = open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    subscribe_declining(*bus);
    ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "bad-1"}));
    ASSERT_TRUE(eventually([&] { return letters(*bus) == 1; }));
    auto o = bus->topic_options("g.dlq");
    ASSERT_TRUE(o) << o.status().to_string();
    EXPECT_EQ(o->retention_age, std::chrono::hours(24 * 7));
    EXPECT_EQ(o->durability, Durability::kJournaled);
    auto changed = bus->alter_topic("g.dlq", {.retention_age = std::chrono::hours(24 * 30)});
    ASSERT_TRUE(changed) << changed.status().to_string();
    ASSERT_EQ(changed->size(), 1u);
    EXPECT_EQ((*changed)[0].field, "retention_age");
    EXPECT_FALSE((*changed)[0].at_next_start);
  }
  // The altered value is stored: a restart keeps it, whatever the default.
  Options o = dir.options();
  o.dead_letter_retention_age = 0s;
  auto bus = open_bus(o);
  EXPECT_EQ(bus->topic_options("g.dlq").value().retention_age, std::chrono::hours(24 * 30));
  EXPECT_EQ(bus->dlq_list("g").value().size(), 1u);
}

TEST(DeadLetterRetention, ZeroKeepsForeverAndANegativeValueIsRefused) {
  testing::ScratchDir dir("dlq-retention-zero");
  Options o = dir.options();
  o.dead_letter_retention_age = -1s;
  auto bad = Bus::open(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("dead_letter_retention_age"), std::string::npos) << bad.status().to_string();
  o.dead_letter_retention_age = 0s;
  auto bus = open_bus(o);
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  subscribe_declining(*bus);
  ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "bad-1"}));
  ASSERT_TRUE(eventually([&] { return letters(*bus) == 1; }));
  EXPECT_EQ(bus->topic_options("g.dlq").value().retention_age, 0s);
}

TEST(DeadLetterRetention, OldLettersAreDeletedYoungerOnesStayAndRedrive) {
  testing::ScratchDir dir("dlq-retention-cut");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
  std::atomic<int> redriven{0};
  subscribe_declining(*bus, &redriven);
  ASSERT_TRUE(bus->publish("t", {.key = "old-1", .payload = "bad-1"}));
  ASSERT_TRUE(bus->publish("t", {.key = "old-2", .payload = "bad-2"}));
  ASSERT_TRUE(eventually([&] { return letters(*bus) == 2; }));
  ASSERT_TRUE(bus->alter_topic("g.dlq", {.retention_age = 3s}));
  // Retention counts from when a letter was written; let these two age.
  std::this_thread::sleep_for(3200ms);
  // Two younger letters, in batches of their own (the newest batch is never
  // deleted, so the older of the two shows that age alone keeps it).
  ASSERT_TRUE(bus->publish("t", {.key = "young-1", .payload = "bad-3"}, {.ack = Ack::kJournal}));
  // (Its batch makes the two old letters' batches deletable at once.)
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("g");
    return l && !l->empty() && l->back().key == "young-1";
  }));
  ASSERT_TRUE(bus->publish("t", {.key = "young-2", .payload = "bad-4"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("g");
    return l && l->size() == 2 && (*l)[0].key == "young-1" && (*l)[1].key == "young-2";
  })) << letters(*bus);
  // The depth counter and the dropped count follow the cut.
  ASSERT_TRUE(eventually([&] {
    auto m = bus->metrics();
    const GroupMetrics* g = m ? group_metrics(*m) : nullptr;
    return g && g->dlq_count == 2 && g->dlq_dropped == 2;
  }));
  // What is left redrives and is handled.
  auto r = bus->dlq_redrive("g", {}, {.max_per_second = 0});
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->moved, 2u);
  ASSERT_TRUE(eventually([&] { return redriven.load() == 2; }));
  EXPECT_TRUE(bus->dlq_list("g").value().empty());
  ASSERT_TRUE(eventually([&] {
    auto m = bus->metrics();
    const GroupMetrics* g = m ? group_metrics(*m) : nullptr;
    return g && g->dlq_count == 0;
  }));
}

}  // namespace
}  // namespace weir
