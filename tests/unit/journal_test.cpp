// Journaled topics: durability across reopen, offsets, acks, bad directories,
// map growth, size cap, corruption detection.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "base/crc32c.hpp"
#include "journal/fault.hpp"
#include "test_util.hpp"

namespace weir {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::eventually;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weir-journal-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Options opts() const {
    Options o;
    o.data_dir = dir_.string();
    o.offset_commit_interval = 5ms;
    return o;
  }
  std::unique_ptr<Bus> open(Options o) {
    auto b = Bus::open(o);
    EXPECT_TRUE(b) << b.status().to_string();
    return b ? std::move(b).value() : nullptr;
  }
  static TopicOptions journaled(std::uint32_t partitions = 1) {
    return {.partitions = partitions, .durability = Durability::kJournaled};
  }

  // Subscribes `group`, collects everything until `n` arrived, unsubscribes.
  static std::vector<std::string> consume(Bus& bus, const std::string& topic,
                                          const std::string& group, std::size_t n) {
    std::mutex mu;
    std::vector<std::string> got;
    EXPECT_TRUE(bus.subscribe(topic, {.group = group}, [&](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      got.emplace_back(m.payload());
      return Outcome::done();
    }));
    EXPECT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return got.size() >= n;
    }));
    auto r = bus.unsubscribe(group);
    EXPECT_TRUE(r);
    std::lock_guard<std::mutex> l(mu);
    return got;
  }

  // A bus whose journal is capped at 2 MiB, with topic "t" keeping 256 KiB
  // (retention_bytes).
  std::unique_ptr<Bus> open_capped_with_retention() {
    Options o = opts();
    o.journal_initial_map_bytes = 1u << 20;
    o.journal_max_bytes = 2u << 20;
    auto bus = open(o);
    if (bus && !bus->create_topic("t", {.durability = Durability::kJournaled, .retention_bytes = 256u << 10})) return nullptr;
    return bus;
  }

  // Events numbered "N:..." on topic "t", 10,000-byte payloads, under a
  // retention of 256 KiB: what retention kept is the newest, ending with
  // `last`, in order, none missing, at least retention_bytes' worth.
  static void expect_newest_kept(Bus& bus, int last) {
    std::mutex mu;
    std::vector<int> got;
    ASSERT_TRUE(bus.subscribe("t", {.group = "g"}, [&](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      got.push_back(std::stoi(std::string(m.payload().substr(0, m.payload().find(':')))));
      return Outcome::done();
    }));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return !got.empty() && got.back() == last;
    }));
    ASSERT_TRUE(bus.unsubscribe("g"));
    std::lock_guard<std::mutex> l(mu);
    EXPECT_GE(got.size(), 25u);
    for (std::size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i], got[i - 1] + 1) << "at " << i;
  }

  fs::path dir_;
};

TEST_F(JournalTest, EventsSurviveReopenInOrder) {
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("orders", journaled(3)));
    for (int i = 0; i < 300; ++i) {
      auto r = bus->publish("orders", {.key = "k" + std::to_string(i % 7), .payload = std::to_string(i)});
      ASSERT_TRUE(r) << r.status().to_string();
    }
    ASSERT_TRUE(bus->close());
  }
  auto bus = open(opts());
  EXPECT_EQ(bus->topics(), std::vector<std::string>{"orders"});
  // Declaring it again with the same options is fine; different is not.
  EXPECT_TRUE(bus->create_topic("orders", journaled(3)));
  EXPECT_EQ(bus->create_topic("orders", journaled(4)).code(), Code::kAlreadyExists);
  auto got = consume(*bus, "orders", "late", 300);
  ASSERT_EQ(got.size(), 300u);
  std::map<int, int> last_by_key;
  for (const auto& p : got) {
    const int v = std::stoi(p);
    auto it = last_by_key.find(v % 7);
    if (it != last_by_key.end()) {
      EXPECT_LT(it->second, v);
    }
    last_by_key[v % 7] = v;
  }
}

TEST_F(JournalTest, GroupOffsetsPersistAcrossRestart) {
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i)}));
    EXPECT_EQ(consume(*bus, "t", "g", 10).size(), 10u);
    ASSERT_TRUE(bus->close());
  }
  auto bus = open(opts());
  for (int i = 10; i < 15; ++i) ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i)}));
  auto got = consume(*bus, "t", "g", 5);
  EXPECT_EQ(got, (std::vector<std::string>{"10", "11", "12", "13", "14"}));
  auto st = bus->topic("t");
  ASSERT_TRUE(st);
}

TEST_F(JournalTest, AckNoneThenWaitAcked) {
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled(2)));
  auto t = bus->topic("t").value();
  std::vector<PublishReceipt> rs;
  for (int i = 0; i < 100; ++i) {
    auto r = t.publish({.key = std::to_string(i), .payload = "x"}, {.ack = Ack::kNone});
    ASSERT_TRUE(r);
    rs.push_back(*r);
  }
  for (const auto& r : rs) EXPECT_TRUE(t.wait_acked(r, Ack::kFsync, 5s));
  EXPECT_EQ(t.wait_acked({.partition = 9, .offset = 0}, Ack::kJournal, 1s).code(), Code::kInvalidArgument);
  std::vector<Event> evs(50, Event{.payload = "b"});
  auto br = t.publish_batch(evs, {.ack = Ack::kJournal});
  EXPECT_TRUE(br.status) << br.status.to_string();
  EXPECT_EQ(br.published, 50u);
}

TEST_F(JournalTest, BadCombinations) {
  auto mem = testing::open_bus();
  EXPECT_EQ(mem->create_topic("j", journaled()).code(), Code::kInvalidArgument);
  ASSERT_TRUE(mem->create_topic("m", {}));
  auto r = mem->publish("m", {.payload = "x"}, {.ack = Ack::kJournal});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("memory topic"), std::string::npos);
  EXPECT_EQ(mem->topic("m")->wait_acked({}, Ack::kFsync, 1s).code(), Code::kInvalidArgument);

  Options o = opts();
  o.journal_initial_map_bytes = 1000;
  EXPECT_EQ(Bus::open(o).status().code(), Code::kInvalidArgument);
  o = opts();
  o.offset_commit_interval = 0ms;
  EXPECT_EQ(Bus::open(o).status().code(), Code::kInvalidArgument);
}

TEST_F(JournalTest, JournalMaxBytesBelowInitialMapIsNamed) {
  Options o = opts();
  o.journal_max_bytes = 2u << 20;  // below the 64 MiB initial map
  Status s = Bus::open(o).status();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("journal_max_bytes = 2097152"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("journal_initial_map_bytes = 67108864"), std::string::npos) << s.message();
  o.journal_initial_map_bytes = 1u << 20;
  EXPECT_TRUE(Bus::open(o));
}

TEST_F(JournalTest, DirectoryIsOwnerOnlyAndExclusive) {
  auto bus = open(opts());
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto second = Bus::open(opts());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  ASSERT_TRUE(bus->close());
  bus.reset();
  EXPECT_TRUE(Bus::open(opts()));  // released with the bus
}

TEST_F(JournalTest, CreatesMissingParents) {
  Options o = opts();
  o.data_dir = (dir_ / "a" / "b" / "bus").string();
  auto bus = open(o);
  ASSERT_TRUE(bus);
  struct stat st;
  ASSERT_EQ(::stat(o.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(JournalTest, RefusesForeignDirectories) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "notes.txt") << "hello";
  auto r = Bus::open(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("notes.txt"), std::string::npos);

  fs::remove_all(dir_);
  fs::create_directories(dir_);
  std::ofstream(dir_ / "data.mdb") << std::string(8192, 'z');
  r = Bus::open(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kDataLoss);

  fs::remove_all(dir_);
  std::ofstream(dir_.string() + "-file") << "x";
  Options o = opts();
  o.data_dir = dir_.string() + "-file";
  r = Bus::open(o);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  fs::remove(dir_.string() + "-file");
}

// Writes a value into weir.meta with raw LMDB, to fake other journals.
void poke_meta(const fs::path& dir, const char* key, std::string_view value, const char* dbname) {
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0600), 0);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, dbname, MDB_CREATE, &dbi), 0);
  MDB_val k{std::strlen(key), const_cast<char*>(key)}, v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST_F(JournalTest, RefusesOtherLmdbAndNewerVersions) {
  fs::create_directories(dir_);
  poke_meta(dir_, "format", "something-else", "weir.meta");
  auto r = Bus::open(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("not a weir journal"), std::string::npos);

  fs::remove_all(dir_);
  { auto bus = open(opts()); }
  const std::uint32_t v99 = 99;
  poke_meta(dir_, "version", std::string_view(reinterpret_cast<const char*>(&v99), 4), "weir.meta");
  r = Bus::open(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("version 99"), std::string::npos);
}

// Another program's LMDB data in data_dir: refused, and not written to.
TEST_F(JournalTest, LeavesAnotherProgramsLmdbAlone) {
  fs::create_directories(dir_);
  poke_meta(dir_, "theirs", "value", "their.db");
  auto r = Bus::open(opts());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("not a weir journal"), std::string::npos) << r.status().to_string();
  auto insp = Inspector::open(dir_.string());
  ASSERT_FALSE(insp);
  EXPECT_EQ(insp.status().code(), Code::kFailedPrecondition);

  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, dir_.c_str(), MDB_RDONLY, 0600), 0);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
  MDB_dbi dbi;
  EXPECT_EQ(mdb_dbi_open(txn, "weir.meta", 0, &dbi), MDB_NOTFOUND) << "the bus wrote into the foreign environment";
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

// A first open killed after LMDB made data.mdb but before the journal's
// first commit leaves an empty environment: the Inspector says there is no
// journal yet (kNotFound, not "foreign"), and a bus opening it makes one.
TEST_F(JournalTest, AFirstOpenCutOffBeforeItsFirstCommitLeavesNoJournalYet) {
  fs::create_directories(dir_);
  {
    MDB_env* env;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0600), 0);
    mdb_env_close(env);
  }
  ASSERT_TRUE(fs::exists(dir_ / "data.mdb"));
  auto insp = Inspector::open(dir_.string());
  ASSERT_FALSE(insp);
  EXPECT_EQ(insp.status().code(), Code::kNotFound) << insp.status().to_string();
  EXPECT_NE(insp.status().message().find("no weir journal yet"), std::string::npos) << insp.status().to_string();
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    ASSERT_TRUE(bus->close());
  }
  auto after = Inspector::open(dir_.string());
  ASSERT_TRUE(after) << after.status().to_string();
  auto topics = (*after)->topics();
  ASSERT_TRUE(topics);
  EXPECT_EQ(topics->size(), 1u);
}

TEST_F(JournalTest, MapGrowsWhenFull) {
  Options o = opts();
  o.journal_initial_map_bytes = 1u << 20;
  auto bus = open(o);
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  const std::string payload(4000, 'p');
  for (int i = 0; i < 2000; ++i) {  // ~8 MiB through a 1 MiB initial map
    auto r = bus->publish("t", {.payload = payload}, {.ack = i % 100 == 99 ? Ack::kJournal : Ack::kNone});
    ASSERT_TRUE(r) << i << ": " << r.status().to_string();
  }
  ASSERT_TRUE(bus->close());
  bus.reset();
  auto again = open(o);
  EXPECT_EQ(consume(*again, "t", "g", 2000).size(), 2000u);
}

TEST_F(JournalTest, SizeCapGivesClearErrorsAndKeepsAckedEvents) {
  Options o = opts();
  o.journal_initial_map_bytes = 1u << 20;
  o.journal_max_bytes = 2u << 20;
  std::size_t acked = 0;
  {
    auto bus = open(o);
    ASSERT_TRUE(bus->create_topic("t", {.block_timeout = std::chrono::milliseconds(300),
                                        .durability = Durability::kJournaled}));
    const std::string payload(10000, 'q');
    Status last;
    for (int i = 0; i < 1000; ++i) {
      auto r = bus->publish("t", {.payload = payload});
      if (!r) {
        last = r.status();
        break;
      }
      ++acked;
    }
    ASSERT_FALSE(last.is_ok()) << "the cap was never reached";
    EXPECT_TRUE(last.code() == Code::kResourceExhausted || last.code() == Code::kDeadlineExceeded)
        << last.to_string();
    EXPECT_NE(last.message().find("journal"), std::string::npos) << last.to_string();
    // The cap's own words (README), not LMDB's MDB_MAP_FULL.
    EXPECT_NE(last.message().find("journal is full: it reached Options::journal_max_bytes = 2097152 bytes"),
              std::string::npos)
        << last.to_string();
    auto rep = bus->close({.mode = CloseMode::kStopAtBatch, .timeout = 1s});
    ASSERT_TRUE(rep);
  }
  ASSERT_GT(acked, 10u);
  o.journal_max_bytes = 64u << 20;  // "space freed": a larger cap
  auto bus = open(o);
  auto got = consume(*bus, "t", "g", acked);
  EXPECT_GE(got.size(), acked);
  EXPECT_TRUE(bus->publish("t", {.payload = "after"}));
}

// At the cap, deleting a topic is how space is freed inside the journal:
// deleting an old topic goes through while every commit of a newer one's
// events fails for want of space, and then those commit and the bus goes
// on, nothing acked lost.
TEST_F(JournalTest, DeletingATopicAtTheCapFreesSpaceAndTheBusGoesOn) {
  Options o = opts();
  o.journal_initial_map_bytes = 1u << 20;
  o.journal_max_bytes = 2u << 20;
  auto bus = open(o);
  const TopicOptions to{.block_timeout = std::chrono::milliseconds(300), .durability = Durability::kJournaled};
  ASSERT_TRUE(bus->create_topic("old", to));
  ASSERT_TRUE(bus->create_topic("new", to));
  const std::string payload(10000, 'q');
  for (int i = 0; i < 80; ++i) ASSERT_TRUE(bus->publish("old", {.payload = payload}));
  std::vector<std::string> acked;
  Status last;
  for (int i = 0; i < 1000 && last.is_ok(); ++i) {
    std::string p = std::to_string(i) + payload;
    auto r = bus->publish("new", {.payload = p});
    if (r) acked.push_back(std::move(p));
    else last = r.status();
  }
  ASSERT_FALSE(last.is_ok()) << "the cap was never reached";
  ASSERT_GT(acked.size(), 5u);
  EXPECT_NE(last.message().find("journal"), std::string::npos) << last.to_string();
  const auto t0 = std::chrono::steady_clock::now();
  auto del = bus->delete_topic("old");
  ASSERT_TRUE(del) << del.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  Status after;
  ASSERT_TRUE(eventually([&] {
    auto r = bus->publish("new", {.payload = "after"});
    after = r.status();
    return r.is_ok();
  })) << "the bus did not go on after the delete freed space: " << after.to_string();
  auto got = consume(*bus, "new", "g", acked.size() + 1);
  ASSERT_GE(got.size(), acked.size() + 1);
  EXPECT_EQ(got.back(), "after");
  // Every acked event, in order; the one whose publish failed may be there
  // too (its ack said "not known to be durable").
  std::size_t at = 0;
  for (const std::string& g : got)
    if (at < acked.size() && g == acked[at]) ++at;
  EXPECT_EQ(at, acked.size());
}

// Retention makes room at the size cap: a topic whose retention keeps far
// less than the cap goes on taking bursts of several times the cap, no
// publish or ack failing: when a commit finds no room, the writer lets
// retention cut at once (not at its interval) and retries.
TEST_F(JournalTest, RetentionMakesRoomAtTheCapAndNoPublishFails) {
  auto bus = open_capped_with_retention();
  ASSERT_TRUE(bus);
  auto topic = bus->topic("t").value();
  const std::string payload(10000, 'r');
  int n = 0;
  for (int burst = 0; burst < 8; ++burst) {  // 8 x 1.5 MB through a 2 MiB cap
    PublishReceipt last{};
    for (int i = 0; i < 150; ++i, ++n) {
      auto r = topic.publish({.payload = std::to_string(n) + ":" + payload}, {.ack = Ack::kNone});
      ASSERT_TRUE(r) << "burst " << burst << ", event " << n << ": " << r.status().to_string();
      last = *r;
    }
    Status acked = topic.wait_acked(last, Ack::kFsync, 20s);
    ASSERT_TRUE(acked) << "burst " << burst << ": " << acked.to_string();
  }
  EXPECT_LE(fs::file_size(dir_ / "data.mdb"), 2u << 20);
  expect_newest_kept(*bus, n - 1);
}

// A commit larger than the room left under the cap is committed in parts,
// retention cutting between them: the writer is held in a cycle while
// 2.5 MB, more than the whole 2 MiB cap, is published, so its next cycle
// takes all of it at once.
TEST_F(JournalTest, ACommitLargerThanTheRoomLeftGoesInParts) {
  auto bus = open_capped_with_retention();
  ASSERT_TRUE(bus);
  auto topic = bus->topic("t").value();
  const std::string payload(10000, 'r');
  PublishReceipt last{};
  {
    internal::ScopedFault hold(internal::FaultPoint::kCommit, internal::kFaultHang);
    ASSERT_TRUE(topic.publish({.payload = "0:first"}, {.ack = Ack::kNone}));
    ASSERT_TRUE(eventually([] { return internal::faults_injected(internal::FaultPoint::kCommit) > 0; }));
    for (int n = 1; n <= 250; ++n) {
      auto r = topic.publish({.payload = std::to_string(n) + ":" + payload}, {.ack = Ack::kNone});
      ASSERT_TRUE(r) << "event " << n << ": " << r.status().to_string();
      last = *r;
    }
  }  // the writer goes on
  Status acked = topic.wait_acked(last, Ack::kFsync, 20s);
  ASSERT_TRUE(acked) << acked.to_string();
  EXPECT_LE(fs::file_size(dir_ / "data.mdb"), 2u << 20);
  expect_newest_kept(*bus, 250);
}

TEST_F(JournalTest, CorruptedRecordIsReportedNotDelivered) {
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    ASSERT_TRUE(bus->publish("t", {.payload = "first-good"}));
    ASSERT_TRUE(bus->publish("t", {.payload = "MARKER-to-corrupt"}));
    ASSERT_TRUE(bus->close());
  }
  {
    std::fstream f(dir_ / "data.mdb", std::ios::in | std::ios::out | std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto pos = all.find("MARKER-to-corrupt");
    ASSERT_NE(pos, std::string::npos);
    f.seekp(static_cast<std::streamoff>(pos + 3));
    f.put('#');
  }
  auto bus = open(opts());
  std::mutex mu;
  std::vector<std::string> got;
  std::string failure;
  SubscribeOptions so{.group = "g"};
  so.on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    failure = std::string(r.reason);
  };
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    got.emplace_back(m.payload());
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return !failure.empty();
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(got, std::vector<std::string>{"first-good"});
  EXPECT_NE(failure.find("data_loss"), std::string::npos) << failure;
  EXPECT_NE(failure.find("topic 't' partition 0 offset 1"), std::string::npos) << failure;
  EXPECT_NE(failure.find("checksum"), std::string::npos) << failure;
}

// A batch stopped by an invalid event waits for its published prefix to
// reach the requested ack level, like a batch that completes.
TEST_F(JournalTest, PublishBatchStoppedByAnInvalidEventAcksItsPrefix) {
  Options o = opts();
  o.offset_commit_interval = 200ms;
  auto bus = open(o);
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .max_payload_bytes = 10,
                                      .durability = Durability::kJournaled}));
  auto t = bus->topic("t").value();
  const std::string big(11, 'x');
  for (int trial = 0; trial < 5; ++trial) {
    const std::vector<Event> evs{{.payload = "a"}, {.payload = "b"}, {.payload = big}};
    std::vector<PublishReceipt> rc(evs.size());
    auto r = t.publish_batch(evs, {.ack = Ack::kJournal}, rc);
    ASSERT_EQ(r.status.code(), Code::kInvalidArgument) << r.status.to_string();
    ASSERT_EQ(r.published, 2u);
    Status acked = t.wait_acked(rc[1], Ack::kJournal, 0ms);  // already committed: no wait
    EXPECT_TRUE(acked) << "trial " << trial << ": " << acked.to_string();
  }
}

// A record whose checksum is right but whose header block lies about its
// count is kDataLoss on read (validated once, in scan_batch, for every
// journal reader), never handed to a handler whose Message would walk it.
TEST_F(JournalTest, LyingHeaderBlockIsDataLossOnRead) {
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    ASSERT_TRUE(bus->publish("t", {.payload = "first-good"}));
    const Header h[] = {{"trace", "t-1"}};
    ASSERT_TRUE(bus->publish("t", {.payload = "MARKER-headers", .headers = h}));
    ASSERT_TRUE(bus->close());
  }
  {
    std::fstream f(dir_ / "data.mdb", std::ios::in | std::ios::out | std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto pos = all.find("MARKER-headers");
    ASSERT_NE(pos, std::string::npos);
    const std::size_t rec = pos - 24, frame = rec - 8;  // no key: RecordHead, then the payload
    std::uint32_t len;
    std::memcpy(&len, all.data() + frame + 4, 4);
    const std::uint32_t count = 0;  // the block holds one header; claim none
    std::memcpy(all.data() + rec + 20, &count, 4);
    const std::uint32_t crc = internal::crc32c(all.data() + frame + 4, 4 + std::size_t{len});
    std::memcpy(all.data() + frame, &crc, 4);
    f.seekp(static_cast<std::streamoff>(frame));
    f.write(all.data() + frame, 8 + len);
  }
  auto bus = open(opts());
  std::mutex mu;
  std::vector<std::string> got;
  std::string failure;
  SubscribeOptions so{.group = "g"};
  so.on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    failure = std::string(r.reason);
  };
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    got.emplace_back(m.payload());
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return !failure.empty() || got.size() == 2;
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(got, std::vector<std::string>{"first-good"});
  EXPECT_NE(failure.find("data_loss"), std::string::npos) << failure;
  EXPECT_NE(failure.find("topic 't' partition 0 offset 1"), std::string::npos) << failure;
  EXPECT_NE(failure.find("header block"), std::string::npos) << failure;
}

// Every kDataLoss a group reports names topic, partition and offset, also
// for a malformed batch key (an 8-byte offset is expected).
TEST_F(JournalTest, CorruptRecordReasonsNameTopicPartitionAndOffset) {
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    const std::vector<Event> two{{.payload = "a"}, {.payload = "b"}};
    ASSERT_TRUE(bus->publish_batch("t", two, {.ack = Ack::kJournal}).status);  // one batch: offsets 0, 1
    ASSERT_TRUE(bus->publish("t", {.payload = "c"}, {.ack = Ack::kJournal}));   // batch at offset 2
    ASSERT_TRUE(bus->close());
  }
  {
    // A 9-byte key sorting between batch 0 and batch 2.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 64), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env, std::size_t{1} << 28), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, "p/t/0", 0, &dbi), 0);
    char one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val probe{8, one}, pv;
    const bool split = mdb_get(txn, dbi, &probe, &pv) == 0;
    char bad[9] = {0, 0, 0, 0, 0, 0, 0, 0, 'x'};
    MDB_val k{9, bad}, v{4, const_cast<char*>("junk")};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    if (split) GTEST_SKIP() << "the writer committed offsets 0 and 1 apart";
  }
  // Bus::open checks the journal's layout before LMDB maps it: the damage is
  // refused there, named by topic, partition and offset.
  auto opened = Bus::open(opts());
  if (!opened) {
    EXPECT_EQ(opened.status().code(), Code::kDataLoss) << opened.status().to_string();
    EXPECT_NE(opened.status().message().find("topic 't' partition 0 offset"), std::string::npos)
        << opened.status().to_string();
    return;
  }
  auto bus = std::move(opened).value();
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::to_offset(1).creating_group()));
  std::mutex mu;
  std::string failure;
  SubscribeOptions so{.group = "g"};
  so.on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    failure = std::string(r.reason);
  };
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message&) { return Outcome::done(); }));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return !failure.empty();
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_NE(failure.find("data_loss"), std::string::npos) << failure;
  EXPECT_NE(failure.find("topic 't' partition 0 offset 1"), std::string::npos) << failure;
  EXPECT_NE(failure.find("malformed batch key"), std::string::npos) << failure;
}

TEST_F(JournalTest, ManyProducersManyGroupsAtLeastOnceAcrossRestart) {
  constexpr int kProducers = 3, kPer = 500;
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled(4)));
    std::vector<std::thread> ths;
    for (int p = 0; p < kProducers; ++p)
      ths.emplace_back([&, p] {
        for (int i = 0; i < kPer; ++i) {
          const std::string key = "p" + std::to_string(p) + "k" + std::to_string(i % 5);
          auto r = bus->publish("t", {.key = key, .payload = std::to_string(p * kPer + i)},
                                {.ack = i % 50 == 0 ? Ack::kFsync : Ack::kNone});
          ASSERT_TRUE(r) << r.status().to_string();
        }
      });
    for (auto& t : ths) t.join();
    ASSERT_TRUE(bus->close());
  }
  auto bus = open(opts());
  for (const char* g : {"a", "b"}) {
    auto got = consume(*bus, "t", g, kProducers * kPer);
    std::set<std::string> uniq(got.begin(), got.end());
    EXPECT_EQ(uniq.size(), static_cast<std::size_t>(kProducers * kPer)) << g;
  }
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST_F(JournalTest, SeekEarliestLatestOffsetTime) {
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i), .time_us = 1000 * (i + 1)}));
  EXPECT_EQ(consume(*bus, "t", "g", 10).size(), 10u);

  ASSERT_TRUE(bus->seek("g", "t", SeekTo::to_offset(7)));
  EXPECT_EQ(consume(*bus, "t", "g", 3), (std::vector<std::string>{"7", "8", "9"}));
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::to_time(4500)));  // first event at or after 4.5 ms
  EXPECT_EQ(consume(*bus, "t", "g", 6), (std::vector<std::string>{"4", "5", "6", "7", "8", "9"}));
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::earliest(), 0));
  EXPECT_EQ(consume(*bus, "t", "g", 10).size(), 10u);
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::latest()));
  ASSERT_TRUE(bus->publish("t", {.payload = "new"}));
  EXPECT_EQ(consume(*bus, "t", "g", 1), std::vector<std::string>{"new"});
  ASSERT_TRUE(bus->seek("fresh", "t", SeekTo::to_time(1LL << 60).creating_group()));  // past every event: the end
  ASSERT_TRUE(bus->publish("t", {.payload = "newer"}));
  EXPECT_EQ(consume(*bus, "t", "fresh", 1), std::vector<std::string>{"newer"});

  // Seeks persist across a restart.
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::to_offset(9)));
  ASSERT_TRUE(bus->close());
  bus.reset();
  bus = open(opts());
  EXPECT_EQ(consume(*bus, "t", "g", 3), (std::vector<std::string>{"9", "new", "newer"}));
}

TEST_F(JournalTest, SeekBadInputs) {
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled(2)));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}, {.partition = 0}));
  EXPECT_EQ(bus->seek("g", "nope", SeekTo::earliest()).code(), Code::kNotFound);
  EXPECT_EQ(bus->seek("bad name", "t", SeekTo::earliest()).code(), Code::kInvalidArgument);
  Status s = bus->seek("g", "t", SeekTo::to_offset(5).creating_group(), 0);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("valid 0..1"), std::string::npos) << s.message();
  EXPECT_EQ(bus->seek("g", "t", SeekTo::earliest().creating_group(), 2).code(), Code::kInvalidArgument);
  ASSERT_TRUE(bus->subscribe("t", {.group = "live"}, [](const Message&) { return Outcome::done(); }));
  s = bus->seek("live", "t", SeekTo::earliest());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("unsubscribe"), std::string::npos);
}

TEST_F(JournalTest, SeekRefusesInvalidTopicNameAndUnknownGroup) {
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
  EXPECT_EQ(consume(*bus, "t", "billing", 1).size(), 1u);
  Status s = bus->seek("g", "bad name", SeekTo::earliest());
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.to_string();
  s = bus->seek("biling", "t", SeekTo::earliest());  // a typo must not create a group
  EXPECT_EQ(s.code(), Code::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("group 'biling' has never consumed topic 't'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("known groups: billing"), std::string::npos) << s.message();
  EXPECT_TRUE(bus->seek("billing", "t", SeekTo::earliest()));
}

TEST(MemorySeek, OffsetsApplyAtNextSubscribe) {
  auto bus = testing::open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus->publish("t", {.payload = std::to_string(i)}));
  ASSERT_TRUE(bus->seek("g", "t", SeekTo::to_offset(3).creating_group()));  // before its first subscribe
  std::mutex mu;
  std::vector<std::string> got;
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    got.emplace_back(m.payload());
    return Outcome::done();
  }));
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(got, (std::vector<std::string>{"3", "4"}));
}

TEST_F(JournalTest, RetentionByEventsAndGapPolicies) {
  auto bus = open(opts());
  TopicOptions to = journaled();
  to.retention_events = 100;
  ASSERT_TRUE(bus->create_topic("t", to));
  ASSERT_TRUE(bus->seek("old", "t", SeekTo::earliest().creating_group()));     // both stand at 0
  ASSERT_TRUE(bus->seek("strict", "t", SeekTo::earliest().creating_group()));
  std::vector<Event> batch(50, Event{.payload = "e"});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus->publish_batch("t", batch).status);  // 10 commits of 50
  // Retention keeps at least 100 events, deleting whole batches: start 400.
  ASSERT_TRUE(eventually([&] { return bus->seek("probe", "t", SeekTo::to_offset(399).creating_group()).code() == Code::kInvalidArgument; }));
  EXPECT_TRUE(bus->seek("probe", "t", SeekTo::to_offset(400).creating_group()));

  std::mutex mu;
  std::vector<std::pair<FailureKind, std::string>> reports;
  std::atomic<int> handled{0};
  auto on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    reports.emplace_back(r.kind, std::string(r.reason));
  };
  SubscribeOptions jump{.group = "old"};
  jump.on_failure = on_failure;
  ASSERT_TRUE(bus->subscribe("t", jump, [&](const Message& m) {
    EXPECT_GE(m.offset(), 400u);
    ++handled;
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return handled.load() == 100; }));
  {
    std::lock_guard<std::mutex> l(mu);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].first, FailureKind::kRetentionGap);
    EXPECT_NE(reports[0].second.find("retention deleted offsets 0..399"), std::string::npos) << reports[0].second;
  }
  SubscribeOptions stop{.group = "strict"};
  stop.on_failure = on_failure;
  stop.on_retention_gap = RetentionGapPolicy::kStop;
  ASSERT_TRUE(bus->subscribe("t", stop, [&](const Message&) { return Outcome::done(); }));
  ASSERT_TRUE(eventually([&] {
    auto st = bus->describe_group("strict");
    return st && st->partitions[0].stopped;
  }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(reports.size(), 2u);
}

// The parked-then-deleted case: key "stuck" asks for a retry of its first
// event (offset 0) in 1.5 s, which parks the key; 500 events of another key
// and "stuck"'s second event follow, so retention (100 events) deletes
// offset 0 before its retry comes due.
struct ParkedThenDeleted {
  std::atomic<int> stuck_calls{0}, later_calls{0};

  static TopicOptions topic(TopicOptions to) {
    to.retention_events = 100;
    return to;
  }
  static SubscribeOptions group(RetentionGapPolicy policy) {
    SubscribeOptions so{.group = "g"};
    so.retry_mode = RetryMode::kNonBlocking;
    so.on_retention_gap = policy;
    return so;
  }
  Handler handler() {
    return [this](const Message& m) {
      if (m.key() != "stuck") return Outcome::done();
      if (m.offset() == 0) {
        ++stuck_calls;
        return Outcome::retry(std::chrono::milliseconds(1500));  // parks the key
      }
      ++later_calls;  // the key's next event, once the parked head is gone
      return Outcome::done();
    };
  }
  void publish(Bus& bus) {
    ASSERT_TRUE(bus.publish("t", Event{.key = "stuck", .payload = "first"}, {.ack = Ack::kJournal}));
    ASSERT_TRUE(eventually([&] { return stuck_calls.load() == 1; }));
    std::vector<Event> batch(50, Event{.key = "other", .payload = "e"});
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(bus.publish_batch("t", batch).status);
    ASSERT_TRUE(bus.publish("t", Event{.key = "stuck", .payload = "second"}, {.ack = Ack::kJournal}));
  }
};

// A parked (non-blocking) event that retention deletes while it waits for
// its retry is reported as a retention gap when it comes due, and its key
// goes on: the handler never sees it again.
TEST_F(JournalTest, ParkedEventRemovedByRetentionIsReportedAndItsKeyGoesOn) {
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", ParkedThenDeleted::topic(journaled())));
  ParkedThenDeleted c;
  std::mutex mu;
  std::vector<FailureReport> reports;  // their reason views are not kept
  SubscribeOptions so = ParkedThenDeleted::group(RetentionGapPolicy::kJumpToEarliest);
  so.on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    reports.push_back(r);
    reports.back().reason = {};
  };
  ASSERT_TRUE(bus->subscribe("t", so, c.handler()));
  c.publish(*bus);
  ASSERT_TRUE(eventually([&] { return c.later_calls.load() == 1; }));
  EXPECT_EQ(c.stuck_calls.load(), 1);
  std::lock_guard<std::mutex> l(mu);
  bool found = false;
  for (std::size_t i = 0; i < reports.size(); ++i)
    if (reports[i].offset == 0 && reports[i].kind == FailureKind::kRetentionGap) found = true;
  EXPECT_TRUE(found) << "no retention-gap report for the parked offset 0 (" << reports.size() << " reports)";
}

// Under RetentionGapPolicy::kStop a parked event that retention deletes
// stops the partition when it comes due, as a gap at the partition's next
// event does: the key's later event is not handled past the gap.
TEST_F(JournalTest, ParkedEventRemovedByRetentionStopsThePartitionUnderKStop) {
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", ParkedThenDeleted::topic(journaled())));
  ParkedThenDeleted c;
  std::atomic<int> gaps{0};
  SubscribeOptions so = ParkedThenDeleted::group(RetentionGapPolicy::kStop);
  so.on_failure = [&](const FailureReport& r) {
    if (r.kind == FailureKind::kRetentionGap && r.offset == 0) ++gaps;
  };
  ASSERT_TRUE(bus->subscribe("t", so, c.handler()));
  c.publish(*bus);
  ASSERT_TRUE(eventually([&] {
    auto st = bus->describe_group("g");
    return st && st->partitions.at(0).stopped;
  })) << "the partition did not stop for the deleted parked event";
  EXPECT_EQ(gaps.load(), 1);
  EXPECT_EQ(c.stuck_calls.load(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(c.later_calls.load(), 0) << "the key went on past its deleted head";
}

TEST_F(JournalTest, RetentionByBytesAndAge) {
  auto bus = open(opts());
  TopicOptions by_bytes = journaled();
  by_bytes.retention_bytes = 20000;
  ASSERT_TRUE(bus->create_topic("bytes", by_bytes));
  TopicOptions by_age = journaled();
  by_age.retention_age = std::chrono::seconds(60);
  ASSERT_TRUE(bus->create_topic("age", by_age));
  const std::string payload(1000, 'b');
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(bus->publish("bytes", {.payload = payload}));
    // Old events (an hour ago) and then fresh ones.
    const std::int64_t t = i < 50 ? 1000000 : 0;
    ASSERT_TRUE(bus->publish("age", {.payload = "a", .time_us = t}));
  }
  ASSERT_TRUE(eventually([&] { return bus->seek("p", "bytes", SeekTo::to_offset(70).creating_group()).code() == Code::kInvalidArgument; }));
  ASSERT_TRUE(eventually([&] { return bus->seek("p", "age", SeekTo::to_offset(49).creating_group()).code() == Code::kInvalidArgument; }));
  EXPECT_TRUE(bus->seek("p", "age", SeekTo::to_offset(50).creating_group()));  // fresh events stay
  EXPECT_TRUE(bus->seek("p", "bytes", SeekTo::to_offset(85).creating_group()));  // >= 20000 bytes stay
}

TEST_F(JournalTest, QuotaRejectsOrBlocks) {
  auto bus = open(opts());
  TopicOptions reject = journaled();
  reject.full_policy = FullPolicy::kReject;
  reject.quota_bytes = 10000;
  ASSERT_TRUE(bus->create_topic("r", reject));
  const std::string payload(1000, 'q');
  Status last;
  int ok = 0;
  for (int i = 0; i < 50 && last.is_ok(); ++i) {
    auto r = bus->publish("r", {.payload = payload});
    if (r) ++ok; else last = r.status();
  }
  EXPECT_EQ(last.code(), Code::kResourceExhausted);
  EXPECT_NE(last.message().find("quota_bytes"), std::string::npos) << last.message();
  EXPECT_GE(ok, 9);

  TopicOptions block = journaled();
  block.block_timeout = std::chrono::milliseconds(100);
  block.quota_bytes = 10000;
  ASSERT_TRUE(bus->create_topic("b", block));
  for (int i = 0; i < 50 && last.code() != Code::kDeadlineExceeded; ++i) {
    auto r = bus->publish("b", {.payload = payload});
    if (!r) last = r.status();
  }
  EXPECT_EQ(last.code(), Code::kDeadlineExceeded);

  // With retention freeing space, a blocked publisher goes on.
  TopicOptions flowing = journaled();
  flowing.quota_bytes = 30000;
  flowing.retention_bytes = 5000;
  ASSERT_TRUE(bus->create_topic("f", flowing));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(bus->publish("f", {.payload = payload})) << i;
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// Anonymous resident memory (heap, stacks): what a backlog held in RAM would
// grow. LMDB's map is file-backed and not counted here.
std::size_t rss_anon_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  return 0;
}

TEST_F(JournalTest, BacklogLivesInTheJournalNotInRam) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer runtimes hold freed memory; RSS says nothing here";
#endif
  auto bus = open(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  auto t = bus->topic("t").value();
  const std::string payload(100, 'r');
  std::vector<Event> batch(1000, Event{.key = "some-key", .payload = payload});
  const std::size_t before = rss_anon_bytes();
  constexpr int kBatches = 1000;  // 1,000,000 events, ~130 MB of records
  for (int i = 0; i < kBatches; ++i)
    ASSERT_TRUE(t.publish_batch(batch, {.ack = i + 1 == kBatches ? Ack::kJournal : Ack::kNone}).status);
  const std::size_t after_publish = rss_anon_bytes();
  std::atomic<std::size_t> handled{0};
  ASSERT_TRUE(bus->subscribe("t", {.group = "late"}, [&](const Message&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return handled.load() == 1000u * kBatches; }, std::chrono::seconds(60)));
  const std::size_t after_consume = rss_anon_bytes();
  std::printf("RssAnon: before %zu KiB, after publishing 1M events %zu KiB, after consuming %zu KiB\n",
              before / 1024, after_publish / 1024, after_consume / 1024);
  EXPECT_LT(after_publish, before + (24u << 20));
  EXPECT_LT(after_consume, before + (24u << 20));
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

// More concurrent readers than LMDB reader slots: reads that find the table
// full retry; nothing stops, nothing is lost.
TEST_F(JournalTest, ReaderTableSmallerThanWorkers) {
  Options o = opts();
  o.journal_max_readers = 8;
  auto bus = open(o);
  ASSERT_TRUE(bus->create_topic("t", journaled(16)));
  std::atomic<int> handled{0};
  std::atomic<int> failures{0};
  for (int g = 0; g < 3; ++g) {
    SubscribeOptions so{.group = "g" + std::to_string(g), .workers = 8, .max_batch = 4};
    so.on_failure = [&](const FailureReport&) { ++failures; };
    ASSERT_TRUE(bus->subscribe("t", so, [&](const Message&) {
      ++handled;
      return Outcome::done();
    }));
  }
  std::vector<Event> evs;
  std::vector<std::string> keys(2000);
  for (int i = 0; i < 2000; ++i) keys[i] = std::to_string(i);
  for (int i = 0; i < 2000; ++i) evs.push_back({.key = keys[i], .payload = "x"});
  ASSERT_TRUE(bus->publish_batch("t", evs).status);
  ASSERT_TRUE(eventually([&] { return handled.load() == 6000; }, std::chrono::seconds(30)));
  EXPECT_EQ(failures.load(), 0);
}

// The longest names still make offset keys under LMDB's 511-byte key limit.
TEST_F(JournalTest, LongestNamesFitLmdbKeys) {
  // 245: the longest group whose dead-letter topic ("<group>.dlq") is a valid name.
  const std::string topic(249, 't'), group(245, 'g');
  {
    auto bus = open(opts());
    ASSERT_TRUE(bus->create_topic(topic, journaled()));
    ASSERT_TRUE(bus->publish(topic, {.payload = "a"}));
    EXPECT_EQ(consume(*bus, topic, group, 1).size(), 1u);
    ASSERT_TRUE(bus->publish(topic, {.payload = "b"}));
    ASSERT_TRUE(bus->close());
  }
  auto bus = open(opts());
  EXPECT_EQ(consume(*bus, topic, group, 1), std::vector<std::string>{"b"});
  const Status too_long = bus->subscribe(topic, {.group = std::string(249, 'g')},
                                         [](const Message&) { return Outcome::done(); });
  EXPECT_EQ(too_long.code(), Code::kInvalidArgument);
  EXPECT_NE(too_long.message().find("dead-letter topic"), std::string::npos);
}

}  // namespace
}  // namespace weir
