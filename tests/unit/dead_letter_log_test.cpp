// The dead-letter log alone (dlq/log.hpp) over a memory partition: dead
// letters are iterated oldest first, selected by every filter field,
// settled ones never match again, depth counts the unsettled; settlement
// of a journaled log is kept in the journal, apart per group.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dlq/format.hpp"
#include "dlq/log.hpp"
#include "log/memory_partition.hpp"
#include "record/record.hpp"
#include "test_util.hpp"

namespace weir::internal {
namespace {

using namespace std::chrono_literals;

// Appends the dead letter of an event (key k<i>, type even/odd) that failed
// `i + 1` times, last at time 1000 * (i + 1), to `dlq`.
void add_letter(Partition& dlq, int i) {
  const std::string key = "k" + std::to_string(i), payload = "body" + std::to_string(i);
  Event original{.key = key, .payload = payload, .type = i % 2 ? "odd" : "even"};
  Envelope env;
  make_envelope(original, env);
  std::string rec(record_size(original, env), '\0');
  encode_record(original, env, 1, rec.data());
  const Message m = decode_record(rec.data(), "orders", 0, static_cast<Offset>(100 + i), 1);
  const std::string reason = i == 3 ? "timeout after 5 ms" : "error: boom";
  DeadLetterRecord letter(m, {.topic = "orders", .group = "g", .reason = reason,
                              .attempts = static_cast<std::uint32_t>(i + 1),
                              .first_failure_us = 500, .last_failure_us = 1000 * (i + 1)});
  Envelope lenv;
  make_envelope(letter.event(), lenv);
  Offset o;
  ASSERT_EQ(dlq.ring().claim(1, false, 0ns, o), PartitionLog::ClaimError::kNone);
  const std::size_t n = record_size(letter.event(), lenv);
  encode_record(letter.event(), lenv, 7, dlq.ring().slot_buffer(o, n));
  dlq.ring().publish(o);
}

std::vector<Offset> offsets(const Result<std::vector<DeadLetterEvent>>& r) {
  EXPECT_TRUE(r) << r.status().to_string();
  std::vector<Offset> out;
  if (r)
    for (const auto& e : *r) out.push_back(e.letter.dlq_offset);
  return out;
}

class DeadLetterLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 5; ++i) add_letter(part_, i);
  }
  MemoryPartition part_{"g.dlq", 0, 16, 0};
};

TEST_F(DeadLetterLogTest, IteratesOldestFirstWithProvenance) {
  DeadLetterLog log("g", part_, nullptr);
  std::vector<DeadLetterEvent> seen;
  ASSERT_TRUE(log.for_each({}, [&](const DeadLetterEvent& e) {
    seen.push_back(e);
    return seen.size() < 4;  // stops when fn returns false
  }));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].letter.dlq_offset, 0u);
  EXPECT_EQ(seen[0].letter.key, "k0");
  EXPECT_EQ(seen[0].payload, "body0");
  EXPECT_EQ(seen[2].letter.topic, "orders");
  EXPECT_EQ(seen[2].letter.offset, 102u);
  EXPECT_EQ(seen[2].letter.attempts, 3u);
  EXPECT_EQ(seen[2].letter.first_failure_us, 500);
  EXPECT_EQ(seen[2].letter.last_failure_us, 3000);
  EXPECT_EQ(seen[3].letter.reason, "timeout after 5 ms");
  EXPECT_EQ(seen[3].letter.type, "odd");
}

TEST_F(DeadLetterLogTest, SelectsByEveryFilterField) {
  DeadLetterLog log("g", part_, nullptr);
  EXPECT_EQ(offsets(log.select({}, 100)), (std::vector<Offset>{0, 1, 2, 3, 4}));
  EXPECT_EQ(offsets(log.select({}, 2)), (std::vector<Offset>{0, 1}));
  EXPECT_TRUE(offsets(log.select({}, 0)).empty());
  EXPECT_EQ(offsets(log.select({.dlq_offset = 2}, 100)), std::vector<Offset>{2});
  EXPECT_EQ(offsets(log.select({.key = "k4"}, 100)), std::vector<Offset>{4});
  EXPECT_EQ(offsets(log.select({.type = "odd"}, 100)), (std::vector<Offset>{1, 3}));
  EXPECT_EQ(offsets(log.select({.reason_contains = "timeout"}, 100)), std::vector<Offset>{3});
  // Last failure in [2000, 4000): letters 1 and 2.
  EXPECT_EQ(offsets(log.select({.failed_from_us = 2000, .failed_to_us = 4000}, 100)),
            (std::vector<Offset>{1, 2}));
  EXPECT_TRUE(offsets(log.select({.key = "k1", .type = "even"}, 100)).empty());
}

TEST_F(DeadLetterLogTest, SettledLettersNeverMatchAndLeaveTheDepth) {
  DeadLetterLog log("g", part_, nullptr);
  auto d = log.depth();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->count, 5u);
  EXPECT_EQ(d->oldest_failure_us, 1000);
  ASSERT_TRUE(log.settle({0, 3}, "purged"));
  ASSERT_TRUE(log.settle({}, "redriven"));
  EXPECT_EQ(offsets(log.select({}, 100)), (std::vector<Offset>{1, 2, 4}));
  EXPECT_TRUE(offsets(log.select({.dlq_offset = 3}, 100)).empty());
  d = log.depth();
  EXPECT_EQ(d->count, 3u);
  EXPECT_EQ(d->oldest_failure_us, 2000);
}

TEST_F(DeadLetterLogTest, JournaledSettlementIsKeptPerGroup) {
  weir::testing::ScratchDir dir("dead-letter-log");
  auto j = Journal::open(dir.options());
  ASSERT_TRUE(j) << j.status().to_string();
  {
    DeadLetterLog log("g", part_, j->get());
    ASSERT_TRUE(log.settle({1, 2}, "redriven"));
  }
  // A new log object (a restarted bus) reads the settlement back.
  DeadLetterLog again("g", part_, j->get());
  EXPECT_EQ(offsets(again.select({}, 100)), (std::vector<Offset>{0, 3, 4}));
  // Another group's log over the same events settles apart.
  DeadLetterLog other("h", part_, j->get());
  EXPECT_EQ(offsets(other.select({}, 100)), (std::vector<Offset>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace weir::internal
