// TxnOverlay on its own (no journal: add, get, in_overlay and committed do
// not read it): read-your-writes across write sets, an entry stays until
// every write set that wrote it is committed (in any commit order),
// in_overlay reports a commit since the caller's generation, and overlays
// of one DedupeScope see each other's dedupe keys.
#include "dispatch/txn_overlay.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "dispatch/key_table.hpp"

namespace weir::internal {
namespace {

using Writes = StateWrites;

Writes put(std::string_view k, std::string_view v) {
  Writes w;
  w.put(k, v);
  return w;
}

TEST(TxnOverlay, WritesAndDedupeKeysAreVisibleUntilCommitted) {
  TxnOverlay ov(nullptr, "g", "t", std::chrono::seconds(60), 2);
  std::unique_ptr<WriteSet> ws;
  ov.add(0, 1, "g:id-1", put("k", "v1"), ws);
  ASSERT_TRUE(ws);
  ov.add(0, 2, "", put("k", "v2"), ws);  // same write set writes k twice
  EXPECT_EQ(ws->next, 2u);
  EXPECT_EQ(ws->writes.size(), 2u);
  EXPECT_EQ(ws->dedupe_keys.size(), 1u);
  auto v = ov.get("k");
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, "v2");
  EXPECT_EQ(ov.in_overlay("g:id-1", 0), std::optional<bool>(true));
  EXPECT_EQ(ov.in_overlay("g:id-2", 0), std::optional<bool>(false));
  EXPECT_FALSE(ov.get("other"));
  const std::uint64_t seq = ws->seq;
  ov.committed(std::span<const std::uint64_t>(&seq, 1));
  EXPECT_FALSE(ov.get("k"));
  // A commit was reported since generation 0: the caller must read again.
  EXPECT_EQ(ov.in_overlay("g:id-1", 0), std::nullopt);
  EXPECT_EQ(ov.in_overlay("g:id-1", 1), std::optional<bool>(false));
}

TEST(TxnOverlay, AKeyWrittenByTwoWriteSetsLeavesWhenBothAreCommittedInEitherOrder) {
  for (const bool newer_first : {false, true}) {
    TxnOverlay ov(nullptr, "g", "t", std::chrono::seconds(60), 2);
    std::unique_ptr<WriteSet> a, b;
    ov.add(0, 1, "", put("k", "old"), a);
    ov.add(1, 5, "", put("k", "new"), b);
    Writes erase;
    erase.put("gone", std::nullopt);
    ov.add(1, 6, "", erase, b);
    const std::uint64_t sa = a->seq, sb = b->seq;
    ov.committed(std::span<const std::uint64_t>(newer_first ? &sb : &sa, 1));
    auto v = ov.get("k");
    ASSERT_TRUE(v && *v) << newer_first;
    EXPECT_EQ(**v, "new");  // the newest value, whichever commit came first
    auto g = ov.get("gone");
    EXPECT_EQ(g.has_value(), !newer_first);  // an erase is visible until committed
    if (g) {
      EXPECT_FALSE(*g);
    }
    ov.committed(std::span<const std::uint64_t>(newer_first ? &sa : &sb, 1));
    EXPECT_FALSE(ov.get("k"));
    EXPECT_FALSE(ov.get("gone"));
  }
}

// Two overlays in one DedupeScope (a group over two topics): a dedupe key
// one holds is in_overlay for the other; state keys stay each one's own;
// a commit reported to either changes the generation both answer for; an
// overlay detached (its group stopped) is no longer looked at.
TEST(TxnOverlay, OverlaysOfOneScopeSeeEachOthersDedupeKeysAndCommits) {
  auto scope = std::make_shared<DedupeScope>();
  TxnOverlay a(nullptr, "g", "orders", std::chrono::seconds(60), 1, scope);
  TxnOverlay b(nullptr, "g", "refunds", std::chrono::seconds(60), 1, scope);
  TxnOverlay alone(nullptr, "g", "other", std::chrono::seconds(60), 1);
  a.attach();
  b.attach();
  alone.attach();
  std::unique_ptr<WriteSet> ws;
  a.add(0, 1, "g:id-1", put("k", "v"), ws);
  const std::uint64_t gen = scope->generation();
  EXPECT_EQ(b.in_overlay("g:id-1", gen), std::optional<bool>(true));
  EXPECT_EQ(b.in_overlay("g:id-2", gen), std::optional<bool>(false));
  EXPECT_EQ(alone.in_overlay("g:id-1", 0), std::optional<bool>(false)) << "another scope";
  EXPECT_FALSE(b.get("k")) << "state writes stay their topic's until committed";
  const std::uint64_t seq = ws->seq;
  a.committed(std::span<const std::uint64_t>(&seq, 1));
  EXPECT_EQ(b.in_overlay("g:id-1", gen), std::nullopt) << "a's commit: b's caller must read again";
  EXPECT_EQ(b.in_overlay("g:id-1", scope->generation()), std::optional<bool>(false));
  std::unique_ptr<WriteSet> ws2;
  a.add(0, 2, "g:id-3", {}, ws2);
  a.detach();
  EXPECT_EQ(b.in_overlay("g:id-3", scope->generation()), std::optional<bool>(false));
  b.detach();
  alone.detach();
}

struct TableEntry {
  std::string key;
  std::uint64_t hash = 0;
};

// KeyTable against std::map under random inserts and erases, with hashes
// forced into few home slots so probe runs are long and wrap the array:
// backward-shift deletion must keep every remaining key findable.
TEST(KeyTable, FindsEveryKeyThroughInsertsAndErasesWithCollidingHashes) {
  for (const std::uint64_t spread : {std::uint64_t{3}, std::uint64_t{1} << 40}) {
    KeyTable<TableEntry> table;
    std::map<std::string, std::unique_ptr<TableEntry>> model;
    std::mt19937_64 rng(7);
    for (int step = 0; step < 20000; ++step) {
      const std::string key = "k" + std::to_string(rng() % 500);
      // Few distinct hashes (spread 3), or many whose low bits still collide.
      const std::uint64_t hash = (KeyTable<TableEntry>::hash_of(key) % spread) * (spread > 3 ? 1 : 61);
      auto it = model.find(key);
      if (it == model.end()) {
        auto e = std::make_unique<TableEntry>(TableEntry{key, hash});
        ASSERT_EQ(table.find(key, hash), nullptr) << key;
        table.insert(e.get());
        model.emplace(key, std::move(e));
      } else {
        ASSERT_EQ(table.find(key, hash), it->second.get()) << key;
        table.erase(it->second.get());
        model.erase(it);
        ASSERT_EQ(table.find(key, hash), nullptr) << key;
      }
      ASSERT_EQ(table.size(), model.size());
      if (step % 1000 != 0) continue;
      for (const auto& [k, e] : model) {
        ASSERT_EQ(table.find(k, e->hash), e.get()) << k << " at step " << step;
      }
    }
    std::size_t seen = 0;
    table.for_each([&](TableEntry*) { ++seen; });
    EXPECT_EQ(seen, model.size());
  }
}

TEST(TxnOverlay, ReusedEntriesCarryNoStaleValueOrErase) {
  TxnOverlay ov(nullptr, "g", "t", std::chrono::seconds(60), 1);
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<WriteSet> ws;
    Writes w;
    w.put("erased-" + std::to_string(round), std::nullopt);
    w.put("k-" + std::to_string(round), std::string(100, char('a' + round)));
    ov.add(0, static_cast<Offset>(round + 1), "g:id-" + std::to_string(round), w, ws);
    auto e = ov.get("erased-" + std::to_string(round));
    ASSERT_TRUE(e);
    EXPECT_FALSE(*e);
    auto v = ov.get("k-" + std::to_string(round));
    ASSERT_TRUE(v && *v);
    EXPECT_EQ(**v, std::string(100, char('a' + round)));
    EXPECT_EQ(ov.in_overlay("g:id-" + std::to_string(round), static_cast<std::uint64_t>(round)),
              std::optional<bool>(true));
    const std::uint64_t seq = ws->seq;
    ov.committed(std::span<const std::uint64_t>(&seq, 1));  // entries go back to the pool
    EXPECT_FALSE(ov.get("k-" + std::to_string(round)));
    EXPECT_FALSE(ov.get("erased-" + std::to_string(round)));
  }
}

}  // namespace
}  // namespace weir::internal
