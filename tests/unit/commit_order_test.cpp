// The journal writer's commit order: a group offset or a write set is never
// made durable before an event published (into a journaled partition)
// before it was handed in. Driven deterministically through a fake
// CommitSource whose claimed end runs ahead of what is ready to append (a
// producer that claimed a slot and has not filled it yet, or records the
// batch limit cuts off).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "journal/format.hpp"
#include "journal/journal.hpp"
#include "record/record.hpp"
#include "test_util.hpp"

namespace weir::internal {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A partition log whose producers claimed `claimed` offsets, of which the
// first `filled` are written (ready to append). Writer-thread methods read
// the atomics with acquire; the test stores with release.
class FakeSource final : public CommitSource {
 public:
  explicit FakeSource(std::unique_ptr<JournalLog> log) : log_(std::move(log)) {}
  JournalLog& journal_log() noexcept override { return *log_; }
  std::uint32_t ready(Offset from, std::uint32_t max) const noexcept override {
    const Offset filled = filled_.load(std::memory_order_acquire);
    return from >= filled ? 0 : static_cast<std::uint32_t>(std::min<Offset>(max, filled - from));
  }
  std::string_view record(Offset o) const noexcept override { return records_.at(o); }
  Offset published_end() const noexcept override { return claimed_.load(std::memory_order_acquire); }
  bool pending(Offset from) const noexcept override { return filled_.load(std::memory_order_seq_cst) > from; }
  void journaled(Offset) noexcept override {}
  void flushed() noexcept override {}
  RetentionLimits retention() const noexcept override { return {}; }
  void retained() noexcept override {}

  // Claims `n` offsets (records made now, filled later by fill()).
  void claim(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::string payload = "event " + std::to_string(records_.size());
      Event e{.key = "k", .payload = payload};
      std::string rec(record_size(e), '\0');
      encode_record(e, 1'000'000, rec.data());
      records_.push_back(std::move(rec));
    }
    claimed_.store(records_.size(), std::memory_order_release);
  }
  void fill_all() { filled_.store(records_.size(), std::memory_order_release); }

 private:
  std::unique_ptr<JournalLog> log_;
  std::vector<std::string> records_;  // written before the release stores above
  std::atomic<Offset> claimed_{0};
  std::atomic<Offset> filled_{0};
};

struct Sink final : TxnSink {
  std::mutex mu;
  std::vector<std::uint64_t> seqs;
  void committed(std::span<const std::uint64_t> s) override {
    std::lock_guard<std::mutex> l(mu);
    seqs.insert(seqs.end(), s.begin(), s.end());
  }
  std::size_t count() {
    std::lock_guard<std::mutex> l(mu);
    return seqs.size();
  }
};

class CommitOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weir-commit-order-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Options o;
    o.data_dir = dir_.string();
    o.offset_commit_interval = 1ms;
    o.journal_max_batch_events = 4;  // cut the records into small commits
    auto j = Journal::open(o);
    ASSERT_TRUE(j) << j.status().to_string();
    journal_ = std::move(j).value();
    auto logs = journal_->open_topic("out", {.partitions = 1, .durability = Durability::kJournaled});
    ASSERT_TRUE(logs) << logs.status().to_string();
    src_ = std::make_unique<FakeSource>(std::move((*logs)[0]));
    journal_->attach(src_.get());
    ref_ = std::make_shared<SinkRef>();
    ref_->sink = &sink_;
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> l(ref_->mu);
      ref_->sink = nullptr;
    }
    journal_->stop();
    journal_.reset();
    fs::remove_all(dir_);
  }

  // A write set moving group g's offset of topic "in" partition 0 to `next`.
  std::unique_ptr<WriteSet> write_set(std::uint64_t seq, Offset next) {
    auto ws = std::make_unique<WriteSet>();
    ws->sink = ref_;
    ws->seq = seq;
    ws->offsets_key = offsets_key("g", "in", 0);
    ws->next = next;
    ws->writes.put(state_key("g", "t", "k"), std::to_string(next));
    return ws;
  }
  Offset stored_offset() {
    auto offs = journal_->load_offsets("g", "in", 1);
    EXPECT_TRUE(offs) << offs.status().to_string();
    return offs && !offs->empty() ? (*offs)[0] : kUnsetOffset;
  }

  fs::path dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<FakeSource> src_;
  Sink sink_;
  std::shared_ptr<SinkRef> ref_;
};

// A handler published 3 events (claimed, not yet written by a slow
// producer thread) and then handed in its write set: the write set waits
// until those events commit, then commits with them.
TEST_F(CommitOrderTest, WriteSetWaitsForEventsPublishedBeforeIt) {
  src_->claim(3);
  journal_->submit(write_set(1, 10));
  journal_->nudge();
  std::this_thread::sleep_for(50ms);  // many writer cycles
  EXPECT_EQ(sink_.count(), 0u) << "the write set committed before the events published before it";
  EXPECT_EQ(stored_offset(), kUnsetOffset);
  EXPECT_EQ(src_->journal_log().committed(), 0u);

  src_->fill_all();
  journal_->nudge();
  ASSERT_TRUE(testing::eventually([&] { return sink_.count() == 1; }, 5s));
  EXPECT_EQ(src_->journal_log().committed(), 3u);
  EXPECT_EQ(stored_offset(), 10u);
}

// The batch limit (4 events per partition per commit) cuts 10 published
// events into three commits: the write set handed in after them commits
// with the last of them, never before.
TEST_F(CommitOrderTest, WriteSetWaitsForEventsTheBatchLimitCut) {
  src_->claim(10);
  src_->fill_all();
  // Hand the write set in at once: the writer may already be appending.
  journal_->submit(write_set(1, 7));
  journal_->nudge();
  ASSERT_TRUE(testing::eventually([&] { return sink_.count() == 1; }, 5s));
  EXPECT_EQ(src_->journal_log().committed(), 10u);
  EXPECT_EQ(stored_offset(), 7u);
}

// wait_offsets_durable (synchronous offset commits, unsubscribe) returns
// only once the takes of its cycle committed, not when a later cycle did.
TEST_F(CommitOrderTest, DurableCycleWaitsForHeldBackTakes) {
  src_->claim(2);
  journal_->submit(write_set(1, 5));
  journal_->nudge();
  EXPECT_EQ(journal_->wait_offsets_durable(30ms).code(), Code::kDeadlineExceeded);
  src_->fill_all();
  EXPECT_TRUE(journal_->wait_offsets_durable(5s));
  EXPECT_EQ(sink_.count(), 1u);
  EXPECT_EQ(stored_offset(), 5u);
}

// A plain group's offsets (persisted from its cursors) wait the same way:
// the handler published, then its cursor moved past the input.
struct Cursors final : OffsetSource {
  std::string group = "g", topic = "in";
  std::atomic<Offset> next{0};
  const std::string& group_name() const override { return group; }
  const std::string& topic_name() const override { return topic; }
  std::vector<Offset> current_offsets() const override { return {next.load(std::memory_order_acquire)}; }
};

TEST_F(CommitOrderTest, GroupOffsetWaitsForEventsPublishedBeforeIt) {
  Cursors cursors;
  journal_->track(&cursors);
  src_->claim(2);
  cursors.next.store(4, std::memory_order_release);
  journal_->nudge();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(stored_offset(), kUnsetOffset) << "the offset committed before the events published before it";
  src_->fill_all();
  journal_->nudge();
  ASSERT_TRUE(testing::eventually([&] { return stored_offset() == 4u; }, 5s));
  EXPECT_EQ(src_->journal_log().committed(), 2u);
  EXPECT_TRUE(journal_->untrack(&cursors));
}

}  // namespace
}  // namespace weir::internal
