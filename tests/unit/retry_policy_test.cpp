// RetryPolicy on its own: backoff bounds, the jitter range, the attempt
// limit and the reasons it gives up with. (Attempt persistence goes through
// the journal and is covered by the Retries and NonBlocking restart tests.)
#include "dispatch/retry_policy.hpp"

#include <gtest/gtest.h>

namespace weir::internal {
namespace {

using namespace std::chrono_literals;

RetryPolicy policy(std::uint32_t max_attempts, std::chrono::milliseconds base, std::chrono::milliseconds max,
                   bool jitter) {
  return RetryPolicy(RetryPolicy::Backoff{max_attempts, base, max, jitter}, nullptr, "g", "t", false);
}

TEST(RetryPolicy, BackoffDoublesFromBaseUpToTheCap) {
  const RetryPolicy p = policy(10, 100ms, 1000ms, false);
  EXPECT_EQ(p.backoff(1), 100ms);
  EXPECT_EQ(p.backoff(2), 200ms);
  EXPECT_EQ(p.backoff(3), 400ms);
  EXPECT_EQ(p.backoff(4), 800ms);
  EXPECT_EQ(p.backoff(5), 1000ms);
  EXPECT_EQ(p.backoff(6), 1000ms);
  EXPECT_EQ(p.backoff(4000000000u), 1000ms);  // no overflow however many attempts
}

TEST(RetryPolicy, BackoffOfZeroOrAtTheCapStaysThere) {
  EXPECT_EQ(policy(10, 0ms, 1000ms, false).backoff(7), 0ms);
  EXPECT_EQ(policy(10, 0ms, 1000ms, true).backoff(7), 0ms);
  EXPECT_EQ(policy(10, 500ms, 500ms, false).backoff(3), 500ms);
}

TEST(RetryPolicy, JitterIsUniformBetweenZeroAndTheBackoff) {
  const RetryPolicy p = policy(10, 100ms, 30000ms, true);
  std::chrono::milliseconds lo = 1h, hi = 0ms;
  for (int i = 0; i < 2000; ++i) {
    const auto d = p.backoff(3);  // bound: 400 ms
    ASSERT_GE(d, 0ms);
    ASSERT_LE(d, 400ms);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // 2000 uniform draws over [0, 400] reach both quarters at the ends.
  EXPECT_LT(lo, 100ms);
  EXPECT_GT(hi, 300ms);
}

TEST(RetryPolicy, RetriesUntilTheAttemptLimitThenGivesUpWithTheLastFailure) {
  const RetryPolicy p = policy(3, 10ms, 10ms, false);
  Attempts a;
  const auto before = std::chrono::steady_clock::now();
  RetryDecision d = p.on_failure(a, Outcome::retry("flaky"));
  EXPECT_EQ(d.kind, RetryDecision::Kind::kRetry);
  EXPECT_EQ(a.attempt, 2u);
  EXPECT_GE(a.retry_at, before + 10ms);
  EXPECT_GT(a.first_failure_us, 0);
  const std::int64_t first = a.first_failure_us;

  d = p.on_failure(a, Outcome::retry("flaky"));
  EXPECT_EQ(d.kind, RetryDecision::Kind::kRetry);
  EXPECT_EQ(a.attempt, 3u);
  EXPECT_EQ(a.first_failure_us, first);  // the first failure is kept

  d = p.on_failure(a, Outcome::retry("flaky"));
  EXPECT_EQ(d.kind, RetryDecision::Kind::kGiveUp);
  EXPECT_EQ(d.reason, "gave up after 3 attempts; last failure: flaky");
  EXPECT_EQ(a.attempt, 3u);

  a.succeeded();
  EXPECT_EQ(a.attempt, 1u);
  EXPECT_EQ(a.first_failure_us, 0);
}

TEST(RetryPolicy, GivingUpWithoutAReasonSaysOnlyTheCount) {
  const RetryPolicy p = policy(1, 10ms, 10ms, false);
  Attempts a;
  const RetryDecision d = p.on_failure(a, Outcome::retry());
  EXPECT_EQ(d.kind, RetryDecision::Kind::kGiveUp);
  EXPECT_EQ(d.reason, "gave up after 1 attempts");
}

TEST(RetryPolicy, AFailIsPermanentAtOnceWithItsOwnReason) {
  const RetryPolicy p = policy(5, 10ms, 10ms, false);
  Attempts a;
  const RetryDecision d = p.on_failure(a, Outcome::fail("bad card"));
  EXPECT_EQ(d.kind, RetryDecision::Kind::kGiveUp);
  EXPECT_EQ(d.reason, "bad card");
  EXPECT_EQ(a.attempt, 1u);
}

TEST(RetryPolicy, AHandlersDelayOverridesTheBackoff) {
  const RetryPolicy p = policy(5, 10ms, 10ms, false);
  Attempts a;
  const auto before = std::chrono::steady_clock::now();
  ASSERT_EQ(p.on_failure(a, Outcome::retry("later", 5s)).kind, RetryDecision::Kind::kRetry);
  EXPECT_GE(a.retry_at, before + 5s);
  EXPECT_LT(a.retry_at, before + 6s);
}

TEST(RetryPolicy, WithoutAJournalNothingIsPersisted) {
  const RetryPolicy p(RetryPolicy::Backoff{5, 10ms, 10ms, false}, nullptr, "g", "t", true);
  AttemptLedger ledger;
  p.save(ledger, 0, 42, 3);  // a no-op without a journal
  EXPECT_TRUE(ledger.failing.empty());
  EXPECT_EQ(p.restore(ledger, 0, 42), 1u);
  EXPECT_TRUE(ledger.restored.empty());
}

}  // namespace
}  // namespace weir::internal
