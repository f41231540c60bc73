// TxnOverlay on its own (no journal: add, get, in_overlay and committed do
// not read it): read-your-writes across write sets, an entry stays until
// every write set that wrote it is committed (in any commit order), and
// in_overlay reports a commit since the caller's generation.
#include "dispatch/txn_overlay.hpp"

#include <gtest/gtest.h>

namespace weir::internal {
namespace {

using Writes = TxnOverlay::Writes;

Writes put(std::string k, std::string v) {
  Writes w;
  w.emplace_back(std::move(k), std::move(v));
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
    erase.emplace_back("gone", std::nullopt);
    ov.add(1, 6, "", std::move(erase), b);
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

}  // namespace
}  // namespace weir::internal
