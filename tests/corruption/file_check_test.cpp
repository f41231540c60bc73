// The data.mdb parsers on their own: meta pages and size (file_check),
// the page walk on hostile bytes, and salvage of a healthy journal.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>

#include <lmdb.h>

#include "../unit/test_util.hpp"
#include "journal/journal_check.hpp"
#include "journal/page_walk.hpp"
#include "weir/weir.hpp"

namespace weir {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
namespace mf = internal::mdbfile;

void fill(const fs::path& dir, int events, std::size_t payload_bytes = 50) {
  Options o;
  o.data_dir = dir.string();
  auto bus = Bus::open(o);
  ASSERT_TRUE(bus) << bus.status().to_string();
  ASSERT_TRUE((*bus)->create_topic("t", {.partitions = 2, .durability = Durability::kJournaled}));
  for (int i = 0; i < events; ++i) {
    const std::string key = "k" + std::to_string(i), value = std::to_string(i) + std::string(payload_bytes, 'v');
    PublishOptions po;
    po.ack = i % 10 == 9 || i + 1 == events ? Ack::kJournal : Ack::kNone;
    ASSERT_TRUE((*bus)->publish("t", Event{.key = key, .payload = value}, po));
  }
}

void write_at(const fs::path& file, std::uint64_t at, const void* bytes, std::size_t n) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(n));
}

TEST(FileCheck, HealthyJournalHasNoFindings) {
  testing::ScratchDir d("fc-healthy");
  fill(d.path(), 500, 3000);  // big values: overflow pages
  auto scan = internal::scan_journal_file(d.path().string());
  ASSERT_TRUE(scan) << scan.status().to_string();
  for (const auto& f : scan->findings) ADD_FAILURE() << f.to_string();
  EXPECT_GT(scan->pages_read, 10u);
  EXPECT_EQ(scan->file.used == 0 || scan->file.used == 1, true);
  EXPECT_TRUE(check_journal(d.path().string(), {})->empty());
}

TEST(FileCheck, TruncatedFileIsDataLossNamingSizesAndMeta) {
  testing::ScratchDir d("fc-trunc");
  fill(d.path(), 300);
  const fs::path file = d.path() / "data.mdb";
  const auto size = fs::file_size(file);
  fs::resize_file(file, size / 2);
  Options o = d.options();
  auto bus = Bus::open(o);
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.status().code(), Code::kDataLoss);
  const Status st = bus.status();
  const std::string& m = st.message();
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(size)), std::string::npos) << m;      // expected
  EXPECT_NE(m.find(std::to_string(size / 2)), std::string::npos) << m;  // actual
  EXPECT_NE(m.find("meta page"), std::string::npos) << m;
  auto in = Inspector::open(d.path().string());
  ASSERT_FALSE(in);
  EXPECT_EQ(in.status().code(), Code::kDataLoss);
}

TEST(FileCheck, EmptyDataFileIsANewJournal) {
  testing::ScratchDir d("fc-empty");
  fs::create_directories(d.path());
  std::ofstream(d.path() / "data.mdb").close();
  auto f = mf::read_data_file((d.path() / "data.mdb").string());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->used, -1);
  EXPECT_TRUE(f->problems.empty());
  auto bus = Bus::open(d.options());
  EXPECT_TRUE(bus) << bus.status().to_string();
}

TEST(FileCheck, DamagedTxnidIsRefused) {
  testing::ScratchDir d("fc-txnid");
  fill(d.path(), 50);
  auto f = mf::read_data_file((d.path() / "data.mdb").string());
  ASSERT_TRUE(f);
  // Push the older meta's txnid past the newer one's: LMDB would read the
  // older snapshot and drop the last commit without a word.
  const int older = 1 - f->used;
  const std::uint64_t t = f->current().txnid + 7;
  write_at(d.path() / "data.mdb", static_cast<std::uint64_t>(older) * f->page_size + 144, &t, 8);
  auto bus = Bus::open(d.options());
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.status().code(), Code::kDataLoss);
  EXPECT_NE(bus.status().message().find("not consecutive"), std::string::npos) << bus.status().message();
}

TEST(FileCheck, NotAnLmdbFileIsDataLoss) {
  testing::ScratchDir d("fc-garbage");
  fs::create_directories(d.path());
  std::ofstream(d.path() / "data.mdb") << std::string(20000, 'g');
  auto f = mf::read_data_file((d.path() / "data.mdb").string());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->used, -1);
  ASSERT_FALSE(f->problems.empty());
  EXPECT_NE(f->problems[0].find("not a readable LMDB journal"), std::string::npos);
  auto bus = Bus::open(d.options());
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.status().code(), Code::kDataLoss);
}

// Hostile bytes: valid meta pages over pages of random bytes, and random
// bytes sprinkled over a real journal. The walk must report, never fault
// (run under the asan preset too).
TEST(FileCheck, WalkSurvivesHostileBytes) {
  testing::ScratchDir d("fc-hostile");
  fill(d.path(), 400, 700);
  const fs::path file = d.path() / "data.mdb";
  const auto size = fs::file_size(file);
  std::ifstream in(file, std::ios::binary);
  std::string orig((std::istreambuf_iterator<char>(in)), {});
  std::mt19937_64 rng(7);
  for (int round = 0; round < 60; ++round) {
    std::string bytes = orig;
    auto f = mf::read_data_file(file.string());
    const std::size_t ps = f->page_size;
    if (round < 10) {
      for (std::size_t i = 2 * ps; i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());
    } else {
      for (int k = 0; k < 1 + round % 20; ++k)
        bytes[2 * ps + rng() % (size - 2 * ps)] = static_cast<char>(rng());
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    auto scan = internal::scan_journal_file(d.path().string(), true, {true, {}, {}});
    ASSERT_TRUE(scan) << scan.status().to_string();
    if (round < 10) {
      EXPECT_FALSE(scan->findings.empty()) << "round " << round;
    }
    auto problems = check_journal(d.path().string(), {});
    ASSERT_TRUE(problems);
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << orig;
}

// A stored topic whose partition count is out of range (damage inside a
// value, which no page check sees) is malformed: the check names it at
// once, rather than looking for billions of partition logs (a hostile
// count made it loop for minutes), and Bus::open refuses the journal.
TEST(FileCheck, StoredTopicWithImpossiblePartitionCountIsMalformed) {
  testing::ScratchDir d("fc-partitions");
  fill(d.path(), 20);
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    ASSERT_EQ(mdb_env_open(env, d.path().c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta;
    ASSERT_EQ(mdb_dbi_open(txn, "weir.meta", 0, &meta), 0);
    const std::string key = "topic/t";
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
    ASSERT_EQ(mdb_get(txn, meta, &k, &v), 0);
    std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
    const std::uint32_t partitions = kMaxTopicPartitions + 1;
    std::memcpy(value.data() + 4, &partitions, 4);  // StoredTopic::partitions
    MDB_val nv{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, meta, &k, &nv, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto scan = internal::scan_journal_file(d.path().string());
  ASSERT_TRUE(scan) << scan.status().to_string();
  ASSERT_EQ(scan->findings.size(), 1u) << scan->findings.back().to_string();
  EXPECT_NE(scan->findings[0].what.find("stored topic options are malformed"), std::string::npos)
      << scan->findings[0].to_string();
  auto bus = Bus::open({.data_dir = d.path().string()});
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.status().code(), Code::kDataLoss);
  EXPECT_NE(bus.status().message().find("stored topic options are malformed"), std::string::npos)
      << bus.status().to_string();
}

// A state group's journal: its dedupe and state trees are three levels
// deep, so a parallel walk cuts them below level 1.
void fill_state(const fs::path& dir, int events) {
  auto bus = Bus::open({.data_dir = dir.string()});
  ASSERT_TRUE(bus) << bus.status().to_string();
  ASSERT_TRUE((*bus)->create_topic("t", {.partitions = 4, .durability = Durability::kJournaled}));
  std::vector<std::string> keys, ids;  // Event holds views
  for (int i = 0; i < events; ++i) {
    keys.push_back("key-" + std::to_string(i));
    ids.push_back("id-" + std::to_string(i));
  }
  std::vector<Event> batch;
  for (int i = 0; i < events; ++i) batch.push_back({.key = keys[i], .payload = "p", .id = ids[i]});
  ASSERT_TRUE((*bus)->publish_batch("t", batch, {.ack = Ack::kJournal}).status);
  std::atomic<int> seen{0};
  ASSERT_TRUE((*bus)->subscribe("t", {.group = "g", .workers = 2}, [&](const Message& m, State& st) {
    if (!st.put("seen", m.key(), "done")) return Outcome::retry();
    seen.fetch_add(1);
    return Outcome::done();
  }));
  ASSERT_TRUE(testing::eventually([&] { return seen.load() >= events; }, 60s)) << seen.load() << " of " << events;
  ASSERT_TRUE((*bus)->close());
}

internal::ScanHooks with_threads(unsigned threads) {
  internal::ScanHooks h;
  h.threads = threads;
  h.parallel_min_pages = 0;
  return h;
}

std::vector<std::string> findings_of(const internal::JournalScan& scan) {
  std::vector<std::string> out;
  for (const auto& f : scan.findings) out.push_back(f.to_string());
  return out;
}

TEST(FileCheck, ParallelWalkReadsWhatTheOneThreadWalkReads) {
  testing::ScratchDir d("fc-parallel");
  fill_state(d.path(), 30000);
  auto one = internal::scan_journal_file(d.path().string(), true, with_threads(1));
  ASSERT_TRUE(one) << one.status().to_string();
  for (const auto& f : one->findings) ADD_FAILURE() << f.to_string();
  EXPECT_EQ(one->threads, 1u);
  for (unsigned threads : {2u, 3u, 8u}) {
    auto many = internal::scan_journal_file(d.path().string(), true, with_threads(threads));
    ASSERT_TRUE(many) << many.status().to_string();
    for (const auto& f : many->findings) ADD_FAILURE() << f.to_string();
    EXPECT_EQ(many->threads, threads) << "a clean file is walked on every thread asked for";
    EXPECT_EQ(many->pages_read, one->pages_read) << threads << " threads";
  }
  // Small files stay on one thread.
  auto small = internal::scan_journal_file(d.path().string(), true, {});
  ASSERT_TRUE(small);
  EXPECT_EQ(small->threads, 1u);
}

// threads = 0: one thread per core, at most 16 (journal_check.hpp, ScanHooks).
TEST(FileCheck, ParallelWalkTakesOneThreadPerCoreAtMostSixteen) {
  testing::ScratchDir d("fc-parallel-cores");
  fill_state(d.path(), 30000);
  for (auto [cores, want] : {std::pair{64u, 16u}, {16u, 16u}, {3u, 3u}, {1u, 1u}}) {
    internal::ScanHooks h = with_threads(0);
    h.cores = cores;
    auto scan = internal::scan_journal_file(d.path().string(), true, h);
    ASSERT_TRUE(scan) << scan.status().to_string();
    for (const auto& f : scan->findings) ADD_FAILURE() << f.to_string();
    EXPECT_EQ(scan->threads, want) << cores << " cores";
  }
}

// Writes `rounds` kinds of random damage into `dir`'s data.mdb in turn
// (every fourth round one whole page of noise, else 1..8 random bytes), on
// a fresh copy of the file each round, and calls check(round) after each;
// check returns whether the walk found damage. Puts the file back; returns
// the rounds with damage found.
template <typename Check>
int damage_rounds(const fs::path& dir, std::uint64_t seed, int rounds, Check&& check) {
  const fs::path file = dir / "data.mdb";
  const auto size = fs::file_size(file);
  std::ifstream in(file, std::ios::binary);
  const std::string orig((std::istreambuf_iterator<char>(in)), {});
  const std::size_t ps = mf::read_data_file(file.string())->page_size;
  std::mt19937_64 rng(seed);
  int damaged = 0;
  for (int round = 0; round < rounds; ++round) {
    std::string bytes = orig;
    if (round % 4 == 0) {  // one whole page of noise
      const std::size_t page = 2 + rng() % (size / ps - 2);
      for (std::size_t i = 0; i < ps; ++i) bytes[page * ps + i] = static_cast<char>(rng());
    } else {
      for (int k = 0; k < 1 + round % 8; ++k) bytes[2 * ps + rng() % (size - 2 * ps)] = static_cast<char>(rng());
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    if (check(round)) ++damaged;
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << orig;
  return damaged;
}

// Damage anywhere: the parallel walk's findings are the one-thread walk's,
// in the same order (it falls back to one thread when it finds anything),
// and it never faults (asan, tsan presets).
TEST(FileCheck, ParallelWalkOverDamageFindsWhatOneThreadFinds) {
  testing::ScratchDir d("fc-parallel-damage");
  fill_state(d.path(), 20000);
  const int damaged = damage_rounds(d.path(), 11, 40, [&](int round) {
    auto one = internal::scan_journal_file(d.path().string(), true, with_threads(1));
    auto many = internal::scan_journal_file(d.path().string(), true, with_threads(4));
    EXPECT_TRUE(one && many);
    if (!one || !many) return false;
    EXPECT_EQ(findings_of(*many), findings_of(*one)) << "round " << round;
    if (!one->findings.empty()) {
      EXPECT_EQ(many->threads, 1u) << "round " << round;
    }
    return !one->findings.empty();
  });
  EXPECT_GT(damaged, 5) << "the noise should land on pages the walk reads";
}

internal::ScanHooks one_thread(bool read_ahead) {
  internal::ScanHooks h = with_threads(1);
  h.read_ahead = read_ahead;
  return h;
}

// A branch page's leaf children are read in runs of adjacent pages, one
// pread per run, instead of one pread per page: the same pages checked.
TEST(FileCheck, LeavesAreReadInRunsOfAdjacentPages) {
  testing::ScratchDir d("fc-read-ahead");
  fill_state(d.path(), 30000);
  auto runs = internal::scan_journal_file(d.path().string(), true, one_thread(true));
  auto pages = internal::scan_journal_file(d.path().string(), true, one_thread(false));
  ASSERT_TRUE(runs) << runs.status().to_string();
  ASSERT_TRUE(pages) << pages.status().to_string();
  for (const auto& f : runs->findings) ADD_FAILURE() << f.to_string();
  for (const auto& f : pages->findings) ADD_FAILURE() << f.to_string();
  EXPECT_EQ(runs->pages_read, pages->pages_read);
  EXPECT_GE(pages->reads, pages->pages_read) << "one pread per page without read-ahead";
  // How many fewer depends on where LMDB put the leaves (at least a quarter
  // fewer here; about half under the sanitizers' slower, differently
  // interleaved commits).
  EXPECT_LT(runs->reads * 4, pages->reads * 3) << runs->reads << " preads with read-ahead for "
                                               << runs->pages_read << " pages";
}

// Damage anywhere, including inside a run read ahead: the findings (and
// their order) are those of the page-by-page walk, and nothing faults.
TEST(FileCheck, ReadAheadOverDamageFindsWhatPageByPageFinds) {
  testing::ScratchDir d("fc-read-ahead-damage");
  fill_state(d.path(), 20000);
  const int damaged = damage_rounds(d.path(), 23, 40, [&](int round) {
    auto runs = internal::scan_journal_file(d.path().string(), true, one_thread(true));
    auto pages = internal::scan_journal_file(d.path().string(), true, one_thread(false));
    EXPECT_TRUE(runs && pages);
    if (!runs || !pages) return false;
    EXPECT_EQ(findings_of(*runs), findings_of(*pages)) << "round " << round;
    EXPECT_EQ(runs->pages_read, pages->pages_read) << "round " << round;
    return !pages->findings.empty();
  });
  EXPECT_GT(damaged, 5) << "the noise should land on pages the walk reads";
}

TEST(Salvage, HealthyJournalIsCopiedWhole) {
  testing::ScratchDir d("salvage-healthy");
  fill(d.path(), 600, 2500);
  const fs::path out = d.path().string() + "-copy";
  fs::remove_all(out);
  auto report = salvage_journal(d.path().string(), out.string());
  ASSERT_TRUE(report) << report.status().to_string();
  EXPECT_TRUE(report->complete());
  EXPECT_EQ(report->events, 600u);
  ASSERT_EQ(report->partitions.size(), 2u);
  auto before = Inspector::open(d.path().string());
  auto after = Inspector::open(out.string());
  ASSERT_TRUE(before && after) << after.status().to_string();
  auto pb = (*before)->partitions("t"), pa = (*after)->partitions("t");
  ASSERT_TRUE(pb && pa);
  for (std::uint32_t p = 0; p < 2; ++p) {
    EXPECT_EQ((*pa)[p].end, (*pb)[p].end);
    auto rb = (*before)->read("t", p, 0, 1000), ra = (*after)->read("t", p, 0, 1000);
    ASSERT_TRUE(rb && ra);
    ASSERT_EQ(ra->size(), rb->size());
    for (std::size_t i = 0; i < ra->size(); ++i) {
      EXPECT_EQ((*ra)[i].payload, (*rb)[i].payload);
      EXPECT_EQ((*ra)[i].id, (*rb)[i].id);  // the journal id is kept
    }
  }
  after->reset();
  {
    Options o;
    o.data_dir = out.string();
    auto bus = Bus::open(o);
    EXPECT_TRUE(bus) << bus.status().to_string();
  }
  // A non-empty target is refused.
  auto again = salvage_journal(d.path().string(), out.string());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  fs::remove_all(out);
}

// One flipped byte in the middle of a batch costs that record only: the
// records after it in the same batch are checksum-valid and are copied.
TEST(Salvage, OneDamagedRecordCostsOnlyItself) {
  testing::ScratchDir d("salvage-one-record");
  {
    Options o;
    o.data_dir = d.path().string();
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    std::vector<Event> events;
    std::vector<std::string> payloads;
    for (int i = 0; i < 5; ++i) payloads.push_back("payload-" + std::to_string(i) + "-" + std::string(40, 'a' + i));
    for (int i = 0; i < 5; ++i) events.push_back(Event{.key = "k", .payload = payloads[i]});
    auto topic = bus->topic("t").value();
    auto r = topic.publish_batch(events, {.ack = Ack::kJournal});
    ASSERT_TRUE(r.status) << r.status.to_string();
    ASSERT_EQ(r.published, 5u);
    ASSERT_TRUE(bus->close());
  }
  const fs::path file = d.path() / "data.mdb";
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string needle = "payload-2-" + std::string(40, 'c');
  const auto at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bytes.find(needle, at + 1), std::string::npos);
  const char flipped = static_cast<char>(bytes[at + 12] ^ 0x01);
  write_at(file, at + 12, &flipped, 1);

  const fs::path out = d.path().string() + "-copy";
  fs::remove_all(out);
  auto report = salvage_journal(d.path().string(), out.string());
  ASSERT_TRUE(report) << report.status().to_string();
  EXPECT_FALSE(report->complete());
  EXPECT_EQ(report->events, 4u);
  ASSERT_EQ(report->partitions.size(), 1u);
  const PartitionSalvage& ps = report->partitions[0];
  ASSERT_EQ(ps.recovered.size(), 2u);
  EXPECT_EQ(ps.recovered[0].first, 0u);
  EXPECT_EQ(ps.recovered[0].end, 2u);
  EXPECT_EQ(ps.recovered[1].first, 3u);
  EXPECT_EQ(ps.recovered[1].end, 5u);
  ASSERT_EQ(ps.lost.size(), 1u);
  EXPECT_EQ(ps.lost[0].first, 2u);
  EXPECT_EQ(ps.lost[0].end, 3u);
  EXPECT_FALSE(ps.tail_unknown);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].offset.value_or(999), 2u);
  EXPECT_NE(report->problems[0].what.find("checksum"), std::string::npos) << report->problems[0].what;

  auto copy = Inspector::open(out.string());
  ASSERT_TRUE(copy) << copy.status().to_string();
  for (Offset o : {0u, 1u, 3u, 4u}) {
    auto rec = (*copy)->read("t", 0, o, 1);
    ASSERT_TRUE(rec) << rec.status().to_string();
    ASSERT_EQ(rec->size(), 1u) << "offset " << o;
    EXPECT_EQ((*rec)[0].payload, "payload-" + std::to_string(o) + "-" + std::string(40, static_cast<char>('a' + o)));
  }
  copy->reset();
  fs::remove_all(out);
}

}  // namespace
}  // namespace weir
