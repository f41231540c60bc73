// FlushDebt (journal/flush_debt.hpp): when the journal writer's commits
// count as on stable storage. A commit pays the ones before it (its data
// flush covers their meta pages); a flush pays all; a failure counted in
// between makes a flush alone insufficient until a newer meta page is
// written.
#include "journal/flush_debt.hpp"

#include <gtest/gtest.h>

namespace weir::internal {
namespace {

// Only the pointer's identity matters to FlushDebt.
CommitSource* log_a() { return reinterpret_cast<CommitSource*>(0x1000); }
CommitSource* log_b() { return reinterpret_cast<CommitSource*>(0x2000); }

TEST(FlushDebt, TheNextCommitPaysTheOnesBeforeIt) {
  FlushDebt d;
  EXPECT_FALSE(d.owed());
  auto paid = d.committed(0, 1, {{log_a(), 10}});
  EXPECT_EQ(paid.commit, 0u) << "a commit's own meta page is not flushed by its commit";
  EXPECT_TRUE(d.owed());
  paid = d.committed(0, 2, {{log_a(), 25}, {log_b(), 3}});
  EXPECT_EQ(paid.commit, 1u);
  EXPECT_EQ(paid.logs, (FlushDebt::Ends{{log_a(), 10}}));
  // Commit 2 is owed now; a flush pays it, and then nothing is owed.
  paid = d.flushed(0);
  EXPECT_EQ(paid.commit, 2u);
  EXPECT_EQ(paid.logs, (FlushDebt::Ends{{log_a(), 25}, {log_b(), 3}}));
  EXPECT_FALSE(d.owed());
  EXPECT_EQ(d.flushed(0).commit, 0u) << "nothing left to pay";
}

TEST(FlushDebt, ALogKeepsItsHighestEndAcrossCommits) {
  FlushDebt d;
  d.committed(0, 1, {{log_a(), 10}});
  d.committed(1, 2, {{log_a(), 20}});  // a failure in between: commit 1 stays owed
  const auto paid = d.flushed(1);
  EXPECT_EQ(paid.commit, 2u);
  EXPECT_EQ(paid.logs, (FlushDebt::Ends{{log_a(), 20}}));
}

TEST(FlushDebt, AFailureSinceTheNewestMetaPageBlocksAFlushUntilANewerOne) {
  FlushDebt d;
  d.committed(5, 1, {{log_a(), 10}});
  // A flush failed after commit 1's meta page was written (the count moved
  // to 6): that page may be gone, so a successful flush does not pay.
  EXPECT_TRUE(d.stale(6));
  EXPECT_EQ(d.flushed(6).commit, 0u);
  EXPECT_TRUE(d.owed());
  // Nor does the next commit's data flush pay commit 1; that commit's meta
  // page (which holds commit 1 too) takes the debt over.
  const auto none = d.committed(6, 2, {{log_b(), 4}});
  EXPECT_EQ(none.commit, 0u);
  EXPECT_FALSE(d.stale(6));
  // A flush with no failure since pays both.
  const auto paid = d.flushed(6);
  EXPECT_EQ(paid.commit, 2u);
  EXPECT_EQ(paid.logs, (FlushDebt::Ends{{log_a(), 10}, {log_b(), 4}}));
}

TEST(FlushDebt, AWriteOfNothingButAMetaPageMakesItPayable) {
  FlushDebt d;
  d.committed(0, 1, {{log_a(), 7}});
  ASSERT_TRUE(d.stale(1));
  // The writer's bump transaction: no logs, same commit number.
  EXPECT_EQ(d.committed(1, 1, {}).commit, 0u);
  const auto paid = d.flushed(1);
  EXPECT_EQ(paid.commit, 1u);
  EXPECT_EQ(paid.logs, (FlushDebt::Ends{{log_a(), 7}}));
}

TEST(FlushDebt, ForgottenLogsAreNotPaid) {
  FlushDebt d;
  d.committed(0, 1, {{log_a(), 7}, {log_b(), 9}});
  d.forget_logs([](CommitSource* s) { return s != log_a(); });
  const auto paid = d.flushed(0);
  EXPECT_EQ(paid.commit, 1u);
  EXPECT_EQ(paid.logs, (FlushDebt::Ends{{log_b(), 9}}));
}

}  // namespace
}  // namespace weir::internal
