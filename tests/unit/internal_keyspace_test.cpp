// The journal's internal records (attempt counts of failing events, the
// dead-letter settled ledger) live apart from users' state tables: groups
// named like another group's internal records ("billing.attempts",
// "billing.dlq") keep their own state, and neither side's deletion or
// reads reach the other's.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <atomic>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

constexpr const char* kIds[] = {"order-ok", "order-flaky", "order-bad"};

// Group `group` remembers every event it handled in its state table "seen".
Status subscribe_recorder(Bus& bus, const std::string& group) {
  return bus.subscribe("orders", {.group = group}, [](const Message& m, State& st) {
    if (Status s = st.put("seen", m.id(), m.payload()); !s) return Outcome::retry();
    return Outcome::done();
  });
}

bool saw_all(const Bus& bus, const std::string& group) {
  for (const char* id : kIds) {
    auto v = bus.read_state(group, "seen", id);
    if (!v || !v->has_value()) return false;
  }
  return true;
}

TEST(InternalKeyspace, GroupsNamedLikeAnotherGroupsRecordsKeepTheirOwn) {
  testing::ScratchDir dir("internal-keyspace");
  auto bus = testing::open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("orders", {.partitions = 1, .durability = Durability::kJournaled}));
  // "billing" retries "flaky" once (a journaled attempt record) and
  // dead-letters "bad".
  std::atomic<int> billed{0};
  SubscribeOptions so{.group = "billing"};
  so.retry_backoff = 1ms;
  ASSERT_TRUE(bus->subscribe("orders", so, [&](const Message& m) {
    if (m.payload() == "bad") return Outcome::fail("declined");
    if (m.payload() == "flaky" && m.attempt() < 2) return Outcome::retry();
    ++billed;
    return Outcome::done();
  }));
  ASSERT_TRUE(subscribe_recorder(*bus, "billing.attempts"));
  ASSERT_TRUE(subscribe_recorder(*bus, "billing.dlq"));
  for (const char* id : kIds) {
    const std::string payload = std::string(id).substr(6);
    ASSERT_TRUE(bus->publish("orders", {.key = id, .payload = payload, .id = id}));
  }
  ASSERT_TRUE(eventually([&] {
    auto l = bus->dlq_list("billing");
    return l && l->size() == 1 && billed.load() == 2 && saw_all(*bus, "billing.attempts") &&
           saw_all(*bus, "billing.dlq");
  }));
  // The attempt record is not a value of user group "billing.attempts"
  // (its table named after the topic, its key the partition).
  auto leaked = bus->read_state("billing.attempts", "orders", std::string(4, '\0'));
  ASSERT_TRUE(leaked);
  EXPECT_FALSE(leaked->has_value()) << "billing's attempt record reads as state of group 'billing.attempts'";

  ASSERT_EQ(*bus->dlq_purge("billing"), 1u);
  for (const char* g : {"billing", "billing.attempts", "billing.dlq"}) ASSERT_TRUE(bus->unsubscribe(g));

  // Deleting "billing.dlq" removes its own three values, not billing's
  // settled ledger: after a reopen the purged letter stays purged.
  auto gone = bus->delete_group("billing.dlq");
  ASSERT_TRUE(gone) << gone.status().to_string();
  EXPECT_EQ(gone->state_values, 3u);
  bus.reset();
  bus = testing::open_bus(dir.options());
  auto letters = bus->dlq_list("billing");
  ASSERT_TRUE(letters) << letters.status().to_string();
  EXPECT_TRUE(letters->empty()) << "billing's purged dead letter is back after deleting group 'billing.dlq'";

  // Deleting "billing" removes its attempt record and ledger, not the state
  // of group "billing.attempts".
  auto billing = bus->delete_group("billing");
  ASSERT_TRUE(billing) << billing.status().to_string();
  EXPECT_TRUE(billing->dead_letter_topic);
  EXPECT_TRUE(saw_all(*bus, "billing.attempts")) << "deleting 'billing' deleted group 'billing.attempts''s state";
  auto kept = bus->delete_group("billing.attempts");
  ASSERT_TRUE(kept) << kept.status().to_string();
  EXPECT_EQ(kept->state_values, 3u);
}

// Raw LMDB access to a closed journal, as an older weir (or damage) left it.
class RawJournal {
 public:
  explicit RawJournal(const std::filesystem::path& dir) {
    EXPECT_EQ(mdb_env_create(&env_), 0);
    EXPECT_EQ(mdb_env_set_maxdbs(env_, 64), 0);
    EXPECT_EQ(mdb_env_open(env_, dir.c_str(), 0, 0600), 0);
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, 0, &txn_), 0);
  }
  ~RawJournal() {
    if (txn_) {
      EXPECT_EQ(mdb_txn_commit(txn_), 0);
    }
    mdb_env_close(env_);
  }
  // The database `name`, or 0 if there is none.
  MDB_dbi dbi(const char* name) {
    MDB_dbi d = 0;
    return mdb_dbi_open(txn_, name, 0, &d) == 0 ? d : 0;
  }
  std::vector<std::pair<std::string, std::string>> entries(const char* name) {
    std::vector<std::pair<std::string, std::string>> out;
    const MDB_dbi d = dbi(name);
    if (d == 0) return out;
    MDB_cursor* cur = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn_, d, &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
      out.emplace_back(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                       std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    mdb_cursor_close(cur);
    return out;
  }
  void put(const char* name, std::string_view key, std::string_view value) {
    MDB_dbi d = 0;
    ASSERT_EQ(mdb_dbi_open(txn_, name, MDB_CREATE, &d), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn_, d, &k, &v, 0), 0);
  }
  void drop(const char* name) { ASSERT_EQ(mdb_drop(txn_, dbi(name), 1), 0); }
  std::uint32_t version() {
    for (const auto& [k, v] : entries("weir.meta"))
      if (k == "version" && v.size() == 4) {
        std::uint32_t out;
        std::memcpy(&out, v.data(), 4);
        return out;
      }
    return 0;
  }
  void set_version(std::uint32_t version) {
    put("weir.meta", "version", std::string_view(reinterpret_cast<const char*>(&version), 4));
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
};

// Rewrites a journal into the version-1 layout: internal records back in
// weir.state under the pseudo-groups "<group>.attempts" and "<group>.dlq",
// no weir.internal, version 1. Written out here, not with the library's
// encoders, so the test pins the old layout.
void downgrade_to_version_1(const std::filesystem::path& dir) {
  RawJournal raw(dir);
  ASSERT_EQ(raw.version(), 2u);
  for (const auto& [k, v] : raw.entries("weir.internal")) {
    const auto a = k.find('\0'), b = k.find('\0', a + 1);
    const std::string group = k.substr(0, a), kind = k.substr(a + 1, b - a - 1), rest = k.substr(b + 1);
    if (kind == "attempts") {
      raw.put("weir.state", group + ".attempts" + std::string(1, '\0') + rest, v);  // rest: topic \0 be32
    } else {
      ASSERT_EQ(kind, "dlq.settled");
      raw.put("weir.state", group + ".dlq" + std::string(1, '\0') + "settled" + std::string(1, '\0') + rest, v);
    }
  }
  raw.drop("weir.internal");
  raw.set_version(1);
}

TEST(InternalKeyspace, OpensAVersion1JournalAndMovesItsRecords) {
  testing::ScratchDir dir("internal-keyspace-v1");
  std::atomic<int> flaky_tries{0};
  {
    auto bus = testing::open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("orders", {.partitions = 1, .durability = Durability::kJournaled}));
    // "billing" dead-letters "bad" and keeps retrying "flaky" (one attempt
    // record at its offset, the next try 10 s away).
    SubscribeOptions so{.group = "billing"};
    so.retry_backoff = 10s;
    ASSERT_TRUE(bus->subscribe("orders", so, [&](const Message& m) {
      if (m.payload() == "bad") return Outcome::fail("declined");
      ++flaky_tries;
      return Outcome::retry();
    }));
    ASSERT_TRUE(subscribe_recorder(*bus, "billing.attempts"));
    for (const char* id : kIds) ASSERT_TRUE(bus->publish("orders", {.key = id, .payload = "bad", .id = id}));
    ASSERT_TRUE(bus->publish("orders", {.key = "f", .payload = "flaky", .id = "order-f"}));
    ASSERT_TRUE(eventually([&] {
      auto l = bus->dlq_list("billing");
      return l && l->size() == 3 && flaky_tries.load() == 1 && saw_all(*bus, "billing.attempts");
    }));
    DeadLetterFilter first;
    first.dlq_offset = 0;
    ASSERT_EQ(*bus->dlq_purge("billing", first), 1u);
    ASSERT_TRUE(bus->unsubscribe("billing", {.mode = CloseMode::kStopAtBatch}));
  }
  downgrade_to_version_1(dir.path());
  {
    // A user's value that looks almost like a version-1 attempt record
    // (its value is not one) stays a user's value.
    RawJournal raw(dir.path());
    raw.put("weir.state", std::string("x.attempts\0orders\0abcd", 22), "hello");
    std::string dump;
    for (const auto& [k, v] : raw.entries("weir.state")) dump += k + "=" + v + "\n";
    EXPECT_EQ(raw.entries("weir.state").size(), 4u + 2u + 1u) << dump;  // "seen" x4, 2 internal, 1 lookalike
  }
  {
    // Read-only, the Inspector reads the old layout where it is.
    auto in = Inspector::open(dir.path().string());
    ASSERT_TRUE(in) << in.status().to_string();
    auto l = (*in)->dlq_list("billing");
    ASSERT_TRUE(l) << l.status().to_string();
    EXPECT_EQ(l->size(), 2u);
  }
  {
    auto bus = testing::open_bus(dir.options());
    auto l = bus->dlq_list("billing");
    ASSERT_TRUE(l) << l.status().to_string();
    EXPECT_EQ(l->size(), 2u) << "the purged dead letter came back";
    EXPECT_TRUE(saw_all(*bus, "billing.attempts"));
    EXPECT_EQ(**bus->read_state("x.attempts", "orders", "abcd"), "hello");
    EXPECT_FALSE(bus->read_state("billing.attempts", "orders", std::string(4, '\0'))->has_value());
    // The attempt count resumes where it was.
    std::atomic<std::uint32_t> attempt{0};
    ASSERT_TRUE(bus->subscribe("orders", {.group = "billing"}, [&](const Message& m) {
      if (m.payload() == "flaky") attempt = m.attempt();
      return Outcome::done();
    }));
    ASSERT_TRUE(eventually([&] { return attempt.load() != 0; }));
    EXPECT_GT(attempt.load(), 1u) << "the attempt record was lost in the upgrade";
  }
  RawJournal raw(dir.path());
  EXPECT_EQ(raw.version(), 2u);
  EXPECT_EQ(raw.entries("weir.state").size(), 4u + 1u);
  EXPECT_EQ(raw.entries("weir.internal").size(), 2u);
}

TEST(InternalKeyspace, VerifyNamesMalformedInternalRecords) {
  testing::ScratchDir dir("internal-keyspace-verify");
  {
    auto bus = testing::open_bus(dir.options());
    ASSERT_TRUE(bus->create_topic("orders", {.partitions = 1, .durability = Durability::kJournaled}));
  }
  {
    auto in = Inspector::open(dir.path().string());
    ASSERT_TRUE(in) << in.status().to_string();
    auto clean = (*in)->verify();
    ASSERT_TRUE(clean) << clean.status().to_string();
    EXPECT_TRUE(clean->empty());
  }
  {
    RawJournal raw(dir.path());
    raw.put("weir.internal", std::string("billing\0attempts\0orders\0\0\0\0\0", 28), "xx");
    raw.put("weir.internal", std::string("billing\0attempts\0orders\0\0\0\0\7", 28),
            "B" + std::string(12, '\0'));
    raw.put("weir.internal", "no kind", "");
  }
  auto in = Inspector::open(dir.path().string());
  ASSERT_TRUE(in) << in.status().to_string();
  auto problems = (*in)->verify();
  ASSERT_TRUE(problems) << problems.status().to_string();
  ASSERT_EQ(problems->size(), 3u);
  std::vector<std::string> what;
  for (const auto& p : *problems) what.push_back(p.group + ": " + p.what);
  EXPECT_EQ(what[0], "billing: attempt record is malformed (2 bytes)");
  EXPECT_EQ(what[1], "billing: attempt record names a partition the topic does not have (1 partitions)");
  EXPECT_EQ(what[2], ": malformed internal record key (7 bytes)");
}

}  // namespace
}  // namespace weir
