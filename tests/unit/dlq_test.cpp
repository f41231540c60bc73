// Dead-letter administration: list, show, redrive (for one group only,
// rate-limited, dry run), purge; memory and journaled.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class DlqTest : public ::testing::TestWithParam<bool> {  // param: journaled
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weir-dlq-test-" + std::to_string(::getpid()) + "-" + std::to_string(GetParam()));
    std::filesystem::remove_all(dir_);
    open();
    TopicOptions to{.partitions = 2};
    if (GetParam()) to.durability = Durability::kJournaled;
    ASSERT_TRUE(bus_->create_topic("orders", to));
  }
  void TearDown() override {
    bus_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    bus_.reset();
    Options o;
    if (GetParam()) o.data_dir = dir_.string();
    bus_ = Bus::open(o).value();
  }
  // Group "billing" fails orders whose payload starts with "bad" until fixed.
  void subscribe_billing() {
    ASSERT_TRUE(bus_->subscribe("orders", {.group = "billing"}, [this](const Message& m) {
      std::lock_guard<std::mutex> l(mu_);
      if (!fixed_ && m.payload().substr(0, 3) == "bad") return Outcome::fail("declined: " + std::string(m.payload()));
      billed_.emplace_back(m.id());
      return Outcome::done();
    }));
    ASSERT_TRUE(bus_->subscribe("orders", {.group = "audit"}, [this](const Message&) {
      ++audited_;
      return Outcome::done();
    }));
  }
  void publish_orders() {
    int i = 0;
    for (const char* p : {"ok-1", "bad-card", "ok-2", "bad-address", "bad-card"}) {
      const std::string id = "order-" + std::to_string(i++);
      ASSERT_TRUE(bus_->publish("orders", {.key = id, .payload = p, .id = id, .type = "shop.order"}));
    }
    ASSERT_TRUE(eventually([&] {
      auto l = bus_->dlq_list("billing");
      return l && l->size() == 3 && audited_.load() == 5;
    }));
  }

  std::filesystem::path dir_;
  std::unique_ptr<Bus> bus_;
  std::mutex mu_;
  bool fixed_ = false;
  std::vector<std::string> billed_;
  std::atomic<int> audited_{0};
};

TEST_P(DlqTest, ListShowAndFilter) {
  subscribe_billing();
  publish_orders();
  auto all = bus_->dlq_list("billing");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  const DeadLetter& d = (*all)[0];
  EXPECT_EQ(d.id, "order-1");
  EXPECT_EQ(d.key, "order-1");
  EXPECT_EQ(d.type, "shop.order");
  EXPECT_EQ(d.reason, "declined: bad-card");
  EXPECT_EQ(d.attempts, 1u);
  EXPECT_EQ(d.topic, "orders");
  EXPECT_GT(d.last_failure_us, 0);
  EXPECT_EQ(d.payload_bytes, 8u);

  EXPECT_EQ(bus_->dlq_list("billing", {.reason_contains = "card"})->size(), 2u);
  EXPECT_EQ(bus_->dlq_list("billing", {.key = "order-3"})->size(), 1u);
  EXPECT_EQ(bus_->dlq_list("billing", {.type = "other"})->size(), 0u);
  EXPECT_EQ(bus_->dlq_list("billing", {.failed_to_us = 1})->size(), 0u);
  EXPECT_EQ(bus_->dlq_list("billing", {}, 2)->size(), 2u);

  auto shown = bus_->dlq_show("billing", d.dlq_offset);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->payload, "bad-card");
  bool has_reason = false;
  for (const auto& [k, v] : shown->headers) has_reason |= k == "weir.dlq.reason" && v == "declined: bad-card";
  EXPECT_TRUE(has_reason);
  EXPECT_EQ(bus_->dlq_show("billing", 99).status().code(), Code::kNotFound);
  EXPECT_EQ(bus_->dlq_list("nobody").status().code(), Code::kNotFound);
}

TEST_P(DlqTest, RedriveGoesBackToTheGroupOnlyAndKeepsIds) {
  subscribe_billing();
  publish_orders();
  auto dry = bus_->dlq_redrive("billing", {.reason_contains = "card"}, {.dry_run = true});
  ASSERT_TRUE(dry);
  EXPECT_EQ(dry->matched, 2u);
  EXPECT_EQ(dry->moved, 0u);
  EXPECT_EQ(bus_->dlq_list("billing")->size(), 3u);  // nothing moved

  {
    std::lock_guard<std::mutex> l(mu_);
    fixed_ = true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto moved = bus_->dlq_redrive("billing", {}, {.max_per_second = 20});
  ASSERT_TRUE(moved) << moved.status().to_string();
  EXPECT_EQ(moved->moved, 3u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);  // 3 at 20/s: two gaps of 50 ms
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu_);
    return billed_.size() == 5;
  }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(audited_.load(), 5);  // the audit group did not see the redriven events
  {
    std::lock_guard<std::mutex> l(mu_);
    EXPECT_EQ(std::count(billed_.begin(), billed_.end(), "order-1"), 1);  // same ids as before
    EXPECT_EQ(std::count(billed_.begin(), billed_.end(), "order-4"), 1);
  }
  EXPECT_EQ(bus_->dlq_list("billing")->size(), 0u);
  EXPECT_EQ(bus_->dlq_redrive("billing")->moved, 0u);  // settled letters do not move twice
  EXPECT_EQ(bus_->dlq_redrive("billing", {}, {.max_per_second = -1}).status().code(), Code::kInvalidArgument);
}

TEST_P(DlqTest, PurgeHidesThemForGood) {
  subscribe_billing();
  publish_orders();
  auto purged = bus_->dlq_purge("billing", {.reason_contains = "address"});
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(bus_->dlq_list("billing")->size(), 2u);
  if (GetParam()) {  // the ledger is in the journal
    ASSERT_TRUE(bus_->close());
    open();
    EXPECT_EQ(bus_->dlq_list("billing")->size(), 2u);
  }
  EXPECT_EQ(*bus_->dlq_purge("billing"), 2u);
  EXPECT_EQ(bus_->dlq_list("billing")->size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(MemoryAndJournaled, DlqTest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? std::string("journaled") : std::string("memory");
                         });

}  // namespace
}  // namespace weir
