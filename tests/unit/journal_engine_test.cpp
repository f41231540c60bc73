// The journal engine alone (journal/journal.hpp): a fake CommitSource and
// OffsetSource stand in for the partition and group layers. Appends become
// durable, watermarks advance, offsets persist, retention cuts, a failing
// commit stalls and recovers; no topic, ring or bus involved.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include "journal/fault.hpp"
#include "journal/format.hpp"
#include "journal/journal_check.hpp"
#include "journal/journal.hpp"
#include "record/record.hpp"
#include "test_util.hpp"

namespace weir::internal {
namespace {

using namespace std::chrono_literals;
using weir::testing::eventually;

// Records waiting to be journaled, as a partition's ring would hold them.
// Producers (the test thread) add under mu; the writer reads under mu.
class FakeSource final : public CommitSource {
 public:
  explicit FakeSource(std::unique_ptr<JournalLog> log) : log_(std::move(log)), base_(log_->committed()) {}

  void add(const std::string& payload, std::int64_t time_us = 1) {
    Event e{.payload = payload};
    std::string rec(record_size(e), '\0');
    encode_record(e, time_us, rec.data());
    std::lock_guard<std::mutex> l(mu_);
    waiting_.push_back(std::move(rec));
  }
  Offset journaled_end() const {
    std::lock_guard<std::mutex> l(mu_);
    return journaled_end_;
  }
  RetentionLimits limits;
  std::atomic<int> retained_calls{0};

  JournalLog& journal_log() noexcept override { return *log_; }
  std::uint32_t ready(Offset from, std::uint32_t max) const noexcept override {
    std::lock_guard<std::mutex> l(mu_);
    const Offset end = base_ + waiting_.size();
    return from >= end ? 0 : static_cast<std::uint32_t>(std::min<Offset>(max, end - from));
  }
  std::string_view record(Offset o) const noexcept override {
    std::lock_guard<std::mutex> l(mu_);
    return waiting_[o - base_];  // deque: references stay valid as it grows
  }
  // A producer claimed a slot and has not written it yet: the log's end
  // moves, but the record is not ready.
  void claim_unwritten() {
    std::lock_guard<std::mutex> l(mu_);
    ++unwritten_;
  }
  Offset published_end() const noexcept override {  // added records are filled, claimed ones not
    std::lock_guard<std::mutex> l(mu_);
    return base_ + waiting_.size() + unwritten_;
  }
  bool pending(Offset from) const noexcept override { return ready(from, 1) > 0; }
  void journaled(Offset end) noexcept override {
    std::lock_guard<std::mutex> l(mu_);
    while (base_ < end) {
      waiting_.pop_front();
      ++base_;
    }
    journaled_end_ = end;
  }
  void flushed() noexcept override {}
  RetentionLimits retention() const noexcept override { return limits; }
  void retained() noexcept override { retained_calls.fetch_add(1); }

 private:
  const std::unique_ptr<JournalLog> log_;
  mutable std::mutex mu_;
  std::deque<std::string> waiting_;  // GUARDED_BY(mu_): offsets base_ ...
  Offset base_;                      // GUARDED_BY(mu_)
  Offset journaled_end_ = 0;         // GUARDED_BY(mu_)
  Offset unwritten_ = 0;             // GUARDED_BY(mu_)
};

// A partition that always has one more record waiting: every writer cycle
// commits something (a producer that never lets up) until quiet() is
// called. The writer thread reads it; quiet() may be called from any thread
// (an atomic flag, relaxed: the writer only needs to see it eventually).
class EndlessSource final : public CommitSource {
 public:
  explicit EndlessSource(std::unique_ptr<JournalLog> log) : log_(std::move(log)) {
    Event e{.payload = "busy"};
    rec_.resize(record_size(e));
    encode_record(e, 1, rec_.data());
  }
  JournalLog& journal_log() noexcept override { return *log_; }
  void quiet() noexcept { quiet_.store(true, std::memory_order_relaxed); }
  std::uint32_t ready(Offset, std::uint32_t max) const noexcept override {
    return max && !quiet_.load(std::memory_order_relaxed) ? 1 : 0;
  }
  std::string_view record(Offset) const noexcept override { return rec_; }
  Offset published_end() const noexcept override {
    return log_->committed() + (quiet_.load(std::memory_order_relaxed) ? 0 : 1);
  }
  bool pending(Offset) const noexcept override { return !quiet_.load(std::memory_order_relaxed); }
  void journaled(Offset) noexcept override {}
  void flushed() noexcept override {}
  RetentionLimits retention() const noexcept override { return {}; }
  void retained() noexcept override {}

 private:
  const std::unique_ptr<JournalLog> log_;
  std::string rec_;
  std::atomic<bool> quiet_{false};
};

class FakeOffsets final : public OffsetSource {
 public:
  const std::string& group_name() const override { return group_; }
  const std::string& topic_name() const override { return topic_; }
  std::vector<Offset> current_offsets() const override {
    std::lock_guard<std::mutex> l(mu_);
    return offsets_;
  }
  void set(std::vector<Offset> o) {
    std::lock_guard<std::mutex> l(mu_);
    offsets_ = std::move(o);
  }

 private:
  const std::string group_ = "g", topic_ = "t";
  mutable std::mutex mu_;
  std::vector<Offset> offsets_;  // GUARDED_BY(mu_)
};

class JournalEngine : public ::testing::Test {
 protected:
  void TearDown() override { disarm_faults(); }
  Options opts() const {
    Options o = dir_.options();
    o.offset_commit_interval = 5ms;
    return o;
  }
  // Opens the journal (closing one open before); the fixture owns it.
  Journal* open() {
    j_.reset();
    auto j = Journal::open(opts());
    EXPECT_TRUE(j) << j.status().to_string();
    j_ = j ? std::move(j).value() : nullptr;
    return j_.get();
  }
  // Partition `p` of topic "t" as a source (kept until the journal is gone).
  FakeSource* source(Journal& j, std::uint32_t partitions = 1, std::uint32_t p = 0, std::string_view topic = "t") {
    auto logs = j.open_topic(topic, {.partitions = partitions, .durability = Durability::kJournaled});
    EXPECT_TRUE(logs) << logs.status().to_string();
    sources_.push_back(std::make_unique<FakeSource>(std::move((*logs)[p])));
    return sources_.back().get();
  }
  static std::vector<std::string> read_payloads(const Journal& j, const JournalLog& log, Offset from) {
    std::vector<std::string> out;
    ReadBatch rb;
    EXPECT_TRUE(j.read(log, from, 1000, rb));
    for (const auto& r : rb.recs)
      out.emplace_back(decode_record(rb.bytes.data() + r.pos, "t", 0, r.offset, 1).payload());
    return out;
  }

  // The closed journal's directory read with LMDB directly, read-only:
  // txn is a read transaction, partition(p) the DBI of topic "t"'s log p.
  struct RawView {
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    explicit RawView(const std::filesystem::path& dir) {
      EXPECT_EQ(mdb_env_create(&env), 0);
      mdb_env_set_maxdbs(env, 64);
      EXPECT_EQ(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600), 0);
      EXPECT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
    }
    ~RawView() {
      if (txn) mdb_txn_abort(txn);
      mdb_env_close(env);
    }
    MDB_dbi partition(std::uint32_t p) const {
      MDB_dbi dbi = 0;
      EXPECT_EQ(mdb_dbi_open(txn, partition_dbi_name("t", p).c_str(), 0, &dbi), 0) << p;
      return dbi;
    }
  };
  static void expect_same_bounds(const PartitionBounds& got, const PartitionBounds& want, const std::string& what) {
    EXPECT_EQ(got.start, want.start) << what;
    EXPECT_EQ(got.end, want.end) << what;
    EXPECT_EQ(got.bytes, want.bytes) << what;
  }

  weir::testing::ScratchDir dir_{"journal-engine-" +
                                 std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())};
  // Declared before j_: the writer stops before the sources go.
  std::vector<std::unique_ptr<FakeSource>> sources_;
  FakeOffsets offsets_;
  std::unique_ptr<Journal> j_;
};

TEST_F(JournalEngine, AppendsBecomeDurableAndWatermarksAdvance) {
  auto j = open();
  auto src = source(*j);
  EXPECT_EQ(src->journal_log().committed(), 0u);
  j->attach(src);
  for (int i = 0; i < 10; ++i) src->add("e" + std::to_string(i));
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == 10; }));
  EXPECT_EQ(src->journaled_end(), 10u);
  EXPECT_GT(src->journal_log().bytes(), 0u);
  EXPECT_EQ(src->journal_log().start(), 0u);
  const auto got = read_payloads(*j, src->journal_log(), 3);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got.front(), "e3");
  EXPECT_EQ(got.back(), "e9");
  // Reading at or past committed() gives nothing.
  ReadBatch rb;
  EXPECT_TRUE(j->read(src->journal_log(), 10, 5, rb));
  EXPECT_TRUE(rb.recs.empty());
}

TEST_F(JournalEngine, ReopenContinuesAtTheCommittedEnd) {
  {
    auto j = open();
    auto src = source(*j, 2, 1);
    j->attach(src);
    for (int i = 0; i < 5; ++i) src->add("x" + std::to_string(i));
    j->bell().ring();
    ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == 5; }));
  }
  auto j = open();
  auto stored = j->stored_topics();
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].first, "t");
  EXPECT_EQ((*stored)[0].second.partitions, 2u);
  auto src = source(*j, 2, 1);
  EXPECT_EQ(src->journal_log().committed(), 5u);
  j->attach(src);
  src->add("x5");
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == 6; }));
  EXPECT_EQ(read_payloads(*j, src->journal_log(), 0),
            (std::vector<std::string>{"x0", "x1", "x2", "x3", "x4", "x5"}));
}

TEST_F(JournalEngine, OffsetsPersistWhileTrackedAndOnUntrack) {
  {
    auto j = open();
    source(*j, 2);
    EXPECT_TRUE(j->load_offsets("g", "t", 2)->empty());
    FakeOffsets& g = offsets_;
    g.set({3, 7});
    j->track(&g);
    ASSERT_TRUE(j->wait_offsets_durable(5s));
    EXPECT_EQ(*j->load_offsets("g", "t", 2), (std::vector<Offset>{3, 7}));
    g.set({4, 9});
    ASSERT_TRUE(j->untrack(&g));
    EXPECT_EQ(*j->groups_of("t"), std::vector<std::string>{"g"});
  }
  auto j = open();
  EXPECT_EQ(*j->load_offsets("g", "t", 2), (std::vector<Offset>{4, 9}));
}

TEST_F(JournalEngine, RetentionByEventsMovesStart) {
  auto j = open();
  auto src = source(*j);
  src->limits.events = 3;
  j->attach(src);
  // Three commits (three batches): retention deletes whole batches.
  for (int b = 0; b < 3; ++b) {
    for (int i = 0; i < 3; ++i) src->add("r");
    j->bell().ring();
    ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == Offset(3 * (b + 1)); }));
  }
  ASSERT_TRUE(eventually([&] { return src->journal_log().start() == 6; }));
  EXPECT_GT(src->retained_calls.load(), 0);
  ReadBatch rb;
  EXPECT_EQ(j->read(src->journal_log(), 0, 1, rb).code(), Code::kNotFound);
}

// The batch bound is LMDB's: beside an 8-byte key, a value of
// inline_value_limit bytes stays in its leaf page, one byte more goes to an
// overflow page.
TEST_F(JournalEngine, InlineValueLimitMatchesLmdb) {
  std::filesystem::create_directories(dir_.path());
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, dir_.path().c_str(), MDB_NOSYNC, 0600), 0);
  MDB_stat st;
  ASSERT_EQ(mdb_env_stat(env, &st), 0);
  const std::size_t limit = inline_value_limit(st.ms_psize, 8);
  auto overflow_after_put = [&](std::uint64_t key, std::size_t bytes) {
    MDB_txn* txn = nullptr;
    EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    EXPECT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    std::string value(bytes, 'v');
    MDB_val k{8, &key}, v{value.size(), value.data()};
    EXPECT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    EXPECT_EQ(mdb_txn_commit(txn), 0);
    MDB_stat s;
    EXPECT_EQ(mdb_env_stat(env, &s), 0);
    return s.ms_overflow_pages;
  };
  EXPECT_EQ(overflow_after_put(1, limit), 0u) << limit << " bytes on " << st.ms_psize << "-byte pages";
  EXPECT_GT(overflow_after_put(2, limit + 1), 0u) << limit + 1 << " bytes on " << st.ms_psize << "-byte pages";
  mdb_env_close(env);
}

// A commit of many small records stores them in leaf pages, as runs of
// batches that read back in order (no overflow pages, which LMDB would
// malloc afresh for every commit); a record bigger than a leaf's share is a
// batch of its own. The bytes counted while writing are those a reopen
// counts.
TEST_F(JournalEngine, SmallRecordsGoInLeafPagesABigOneAlone) {
  constexpr int kSmall = 5000;
  // LMDB's pages are the system's: the big record must overflow a leaf.
  const std::size_t big = 2 * inline_value_limit(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), 8);
  std::uint64_t bytes = 0;
  {
    auto j = open();
    auto src = source(*j);
    for (int i = 0; i < kSmall; ++i) src->add(std::string(100, 'a' + i % 26) + std::to_string(i));
    src->add(std::string(big, 'B'));
    for (int i = 0; i < 10; ++i) src->add("tail" + std::to_string(i));
    j->attach(src);  // all in one commit
    j->bell().ring();
    ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == kSmall + 11; }));
    std::vector<std::string> got;
    while (got.size() < kSmall + 11) {
      const auto more = read_payloads(*j, src->journal_log(), got.size());
      ASSERT_FALSE(more.empty()) << "stuck at offset " << got.size();
      got.insert(got.end(), more.begin(), more.end());
    }
    for (int i = 0; i < kSmall; ++i) ASSERT_EQ(got[i], std::string(100, 'a' + i % 26) + std::to_string(i));
    EXPECT_EQ(got[kSmall], std::string(big, 'B'));
    EXPECT_EQ(got.back(), "tail9");
    bytes = src->journal_log().bytes();
  }
  j_.reset();
  EXPECT_EQ(source(*open())->journal_log().bytes(), bytes);
  j_.reset();

  RawView raw(dir_.path());
  MDB_stat st;
  ASSERT_EQ(mdb_stat(raw.txn, raw.partition(0), &st), 0);
  // ~130 bytes a record: about 15 to a batch, 2 batches to a page.
  EXPECT_GT(st.ms_entries, std::size_t{kSmall} / 20);
  // Only the big record's batch (twice a leaf's share: a few overflow pages).
  EXPECT_GT(st.ms_overflow_pages, 0u);
  EXPECT_LE(st.ms_overflow_pages * st.ms_psize, big + 2 * st.ms_psize);
}

// Bus::open takes each log's bounds from its open check instead of walking
// every batch through LMDB's map: they must be what that walk reads, for a
// log retention cut (start > 0), one with many batches, and an empty one.
TEST_F(JournalEngine, TheOpenCheckFindsTheBoundsAWalkReads) {
  PartitionBounds before[3];
  {
    auto j = open();
    FakeSource* src[3] = {source(*j, 3, 0), source(*j, 3, 1), source(*j, 3, 2)};
    src[0]->limits.events = 1000;
    for (int i = 0; i < 10; ++i) src[1]->add("y" + std::to_string(i));
    for (FakeSource* s : src) j->attach(s);
    for (int c = 1; c <= 3; ++c) {  // three commits: batches retention may cut, whatever their size
      for (int i = 0; i < 1000; ++i) src[0]->add(std::string(200, 'x'));
      j->bell().ring();
      ASSERT_TRUE(eventually([&] { return src[0]->journal_log().committed() == Offset(1000 * c); }));
    }
    ASSERT_TRUE(eventually([&] { return src[1]->journal_log().committed() == 10; }));
    ASSERT_TRUE(eventually([&] { return src[0]->journal_log().start() > 0; }));
    j->stop();  // no retention pass between the snapshot below and the scan
    for (int p = 0; p < 3; ++p)
      before[p] = {src[p]->journal_log().start(), src[p]->journal_log().committed(), src[p]->journal_log().bytes()};
  }
  j_.reset();
  auto scan = scan_journal_file(dir_.path().string());
  ASSERT_TRUE(scan) << scan.status().to_string();
  ASSERT_TRUE(scan->findings.empty()) << scan->findings.front().to_string();
  // The parallel walk (for big files) finds the same.
  auto parallel = scan_journal_file(dir_.path().string(), true, ScanHooks{.threads = 2, .parallel_min_pages = 0});
  ASSERT_TRUE(parallel) << parallel.status().to_string();
  EXPECT_EQ(parallel->threads, 2u);
  ASSERT_EQ(parallel->logs.size(), scan->logs.size());
  {
    RawView raw(dir_.path());
    for (std::uint32_t p = 0; p < 3; ++p) {
      auto walked = partition_bounds(raw.txn, raw.partition(p));
      ASSERT_TRUE(walked);
      ASSERT_EQ(scan->logs.count(partition_dbi_name("t", p)), 1u) << p;
      const PartitionBounds& found = scan->logs[partition_dbi_name("t", p)];
      expect_same_bounds(parallel->logs[partition_dbi_name("t", p)], found, "parallel, partition " + std::to_string(p));
      expect_same_bounds(found, *walked, "walked, partition " + std::to_string(p));
      expect_same_bounds(found, before[p], "before close, partition " + std::to_string(p));
    }
  }
  // And a reopened journal starts from them.
  auto j = open();
  for (std::uint32_t p = 0; p < 3; ++p) {
    const JournalLog& log = source(*j, 3, p)->journal_log();
    expect_same_bounds({log.start(), log.committed(), log.bytes()}, before[p],
                       "reopened, partition " + std::to_string(p));
  }
}

// Retention runs on its interval even when every writer cycle commits
// something: a busy topic beside it does not keep a limit from cutting.
TEST_F(JournalEngine, RetentionRunsWhileEveryCycleCommits) {
  auto j = open();
  auto logs = j->open_topic("busy", {.partitions = 1, .durability = Durability::kJournaled});
  ASSERT_TRUE(logs) << logs.status().to_string();
  EndlessSource busy(std::move((*logs)[0]));
  auto src = source(*j);
  src->limits.events = 3;
  j->attach(&busy);
  ASSERT_TRUE(eventually([&] { return busy.journal_log().committed() > 10; }));
  j->attach(src);
  for (int b = 0; b < 3; ++b) {
    for (int i = 0; i < 3; ++i) src->add("r");
    j->bell().ring();
    ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == Offset(3 * (b + 1)); }));
  }
  EXPECT_TRUE(eventually([&] { return src->journal_log().start() == 6; }, 5s))
      << "start " << src->journal_log().start() << " while the busy log reached "
      << busy.journal_log().committed();
  busy.quiet();  // a closing bus stops its producers before the journal
  j_.reset();    // the writer stops before `busy` goes
}

TEST_F(JournalEngine, OffsetForTime) {
  auto j = open();
  auto src = source(*j);
  j->attach(src);
  for (int i = 0; i < 4; ++i) src->add("t", 100 * (i + 1));  // times 100, 200, 300, 400
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == 4; }));
  EXPECT_EQ(*j->offset_for_time(src->journal_log(), 0), 0u);
  EXPECT_EQ(*j->offset_for_time(src->journal_log(), 250), 2u);
  EXPECT_EQ(*j->offset_for_time(src->journal_log(), 401), 4u);
}

// A reader still holding the log of a dropped topic (a seek or locate that
// found the topic before delete_topic) gets kNotFound, never the log of a
// topic created after the drop, whose database LMDB opens in the dropped
// handle's slot.
TEST_F(JournalEngine, ADroppedLogReadsNeitherItselfNorTheNextTopicsLog) {
  auto j = open();
  auto a = source(*j, 1, 0, "a");
  j->attach(a);
  a->add("a0", 100);
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return a->journal_log().committed() == 1; }));
  ASSERT_TRUE(j->drop_topic("a", 1, {}, ""));

  auto b = source(*j, 1, 0, "b");
  j->attach(b);
  b->add("b0", 100);
  b->add("b1", 200);
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return b->journal_log().committed() == 2; }));

  ReadBatch rb;
  const Status s = j->read(a->journal_log(), 0, 10, rb);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("'a' was deleted"), std::string::npos) << s.to_string();
  EXPECT_TRUE(rb.recs.empty());
  auto t = j->offset_for_time(a->journal_log(), 150);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.status().code(), Code::kNotFound);
  EXPECT_EQ(read_payloads(*j, b->journal_log(), 0), (std::vector<std::string>{"b0", "b1"}));
}

// A group's offsets wait for every record published before they moved,
// on every log. When such a log's topic is deleted before its records
// commit (a producer's claimed slot never written), the offsets commit
// without it: the deleted log does not hold them forever.
TEST_F(JournalEngine, ADeletedTopicsUncommittedRecordsDoNotHoldOtherOffsets) {
  auto j = open();
  source(*j);  // topic "t", whose offsets group "g" stores
  auto a = source(*j, 1, 0, "a");
  j->attach(a);
  a->claim_unwritten();
  offsets_.set({1});
  j->track(&offsets_);
  EXPECT_FALSE(j->wait_offsets_durable(100ms)) << "the offsets went in before a record published earlier";
  const Status dropped = j->drop_topic("a", 1, {}, "");
  ASSERT_TRUE(dropped) << dropped.to_string();
  ASSERT_TRUE(j->wait_offsets_durable(5s)) << "the deleted topic's unwritten record holds the offsets";
  EXPECT_EQ(*j->load_offsets("g", "t", 1), (std::vector<Offset>{1}));
  ASSERT_TRUE(j->untrack(&offsets_));
}

TEST_F(JournalEngine, FailingCommitStallsThenRecovers) {
  auto j = open();
  auto src = source(*j);
  j->attach(src);
  arm_fault(FaultPoint::kCommit, EIO);
  src->add("held");
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return j->stalled(); }));
  EXPECT_NE(j->error().message().find("mdb_txn_commit"), std::string::npos) << j->error().to_string();
  EXPECT_EQ(src->journal_log().committed(), 0u);
  EXPECT_EQ(j->wait_offsets_durable(50ms).code(), Code::kDeadlineExceeded);
  disarm_faults();
  ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == 1; }));
  // The watermark moves before the writer clears its stalled flag.
  EXPECT_TRUE(eventually([&] { return !j->stalled(); }));
  EXPECT_TRUE(j->error());
}

// One flush per group commit (journal/flush_debt.hpp): a commit makes
// records and offsets committed() at once (kill -9 keeps them) and
// flushed() (power loss keeps them) one flush later. While every flush
// fails, nothing reaches flushed(), a synchronous offset commit waits, and
// the journal says why; after the failure a flush only counts once a newer
// meta page was written.
TEST_F(JournalEngine, CommitsAreFlushedOneFlushLaterAndNotAfterAFailedFlush) {
  auto j = open();
  auto src = source(*j);
  j->attach(src);
  src->add("a");
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return src->journal_log().flushed() == 1; }));
  EXPECT_EQ(src->journal_log().committed(), 1u);

  const auto failed_before = faults_injected(FaultPoint::kFlush);
  arm_fault(FaultPoint::kFlush, EIO);
  src->add("b");
  offsets_.set({2});
  j->track(&offsets_);
  j->bell().ring();
  ASSERT_TRUE(eventually([&] { return src->journal_log().committed() == 2; }));
  ASSERT_TRUE(eventually([&] { return j->stalled(); }));
  EXPECT_NE(j->error().message().find("mdb_env_sync"), std::string::npos) << j->error().to_string();
  EXPECT_GT(faults_injected(FaultPoint::kFlush), failed_before);
  const Status waited = j->wait_offsets_durable(300ms);
  EXPECT_EQ(waited.code(), Code::kDeadlineExceeded) << waited.to_string();
  EXPECT_EQ(*j->load_offsets("g", "t", 1), (std::vector<Offset>{2})) << "committed, only not flushed";
  EXPECT_EQ(src->journal_log().flushed(), 1u);

  disarm_faults();
  ASSERT_TRUE(eventually([&] { return src->journal_log().flushed() == 2; }));
  EXPECT_TRUE(j->wait_offsets_durable(5s));
  EXPECT_TRUE(eventually([&] { return !j->stalled(); }));
  ASSERT_TRUE(j->untrack(&offsets_));
}

// A commit outside the writer (internal_put, store_offsets, the catalog,
// lifecycle) flushes before it returns: when that flush fails it says the
// commit is made but not on stable storage (kIoError), and the value is
// there to read (a process crash keeps it; a power loss may undo it).
TEST_F(JournalEngine, ACommitOutsideTheWriterReportsAFailedFlush) {
  auto j = open();
  {
    ScopedFault flush(FaultPoint::kFlush, EIO, 1);
    const Status s = j->internal_put({{"k", "v"}});
    EXPECT_EQ(s.code(), Code::kIoError) << s.to_string();
    EXPECT_NE(s.message().find("could not be flushed to stable storage"), std::string::npos) << s.to_string();
  }
  EXPECT_EQ(**j->internal_get("k"), "v");
  EXPECT_TRUE(j->internal_put({{"k", "w"}}));
  EXPECT_EQ(**j->internal_get("k"), "w");
}

TEST_F(JournalEngine, InternalPutAndGet) {
  auto j = open();
  ASSERT_TRUE(j->internal_put({{"k1", "v1"}, {"k2", "v2"}}));
  EXPECT_EQ(**j->internal_get("k1"), "v1");
  EXPECT_FALSE(j->internal_get("absent")->has_value());
  EXPECT_FALSE(j->state_get("k1")->has_value());  // apart from users' state tables
  {
    ScopedFault full(FaultPoint::kPut, ENOSPC, 1);
    const Status s = j->internal_put({{"k3", "v3"}});
    EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.to_string();
    EXPECT_NE(s.message().find("No space left on device"), std::string::npos) << s.to_string();
  }
  EXPECT_FALSE(j->internal_get("k3")->has_value());
  EXPECT_TRUE(j->internal_put({{"k3", "v3"}}));  // the fault is gone with its scope
  EXPECT_EQ(**j->internal_get("k3"), "v3");
}

}  // namespace
}  // namespace weir::internal
