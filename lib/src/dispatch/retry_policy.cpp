#include "dispatch/retry_policy.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "base/coding.hpp"
#include "journal/format.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

RetryPolicy::RetryPolicy(const Backoff& backoff, Journal* journal, std::string group, std::string topic,
                         bool per_key)
    : backoff_(backoff), journal_(journal), group_(std::move(group)), topic_(std::move(topic)), per_key_(per_key) {}

std::chrono::milliseconds RetryPolicy::backoff(std::uint32_t attempt) const {
  // Exponential: base * 2^(attempt-1), capped (and safe from overflow),
  // then full jitter: uniform in [0, that].
  const std::int64_t base = backoff_.base.count();
  const std::int64_t cap = backoff_.max.count();
  std::int64_t d = base;
  for (std::uint32_t i = 1; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  if (backoff_.jitter && d > 0) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    d = std::uniform_int_distribution<std::int64_t>(0, d)(rng);
  }
  return std::chrono::milliseconds(d);
}

RetryDecision RetryPolicy::on_failure(Attempts& a, const Outcome& o) const {
  if (a.first_failure_us == 0)
    a.first_failure_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (o.kind() == Outcome::Kind::kRetry && a.attempt < backoff_.max_attempts) {
    auto delay = o.delay();
    if (delay.count() <= 0) delay = backoff(a.attempt);
    ++a.attempt;
    a.retry_at = Clock::now() + delay;
    return {RetryDecision::Kind::kRetry, {}};
  }
  // Permanent, or out of attempts: the count, and the cause of the last
  // failure if known.
  return {RetryDecision::Kind::kGiveUp,
          o.kind() == Outcome::Kind::kFail
              ? o.reason()
              : "gave up after " + std::to_string(a.attempt) + " attempts" +
                    (o.reason().empty() ? std::string() : "; last failure: " + o.reason())};
}

void RetryPolicy::save(AttemptLedger& ledger, std::uint32_t partition, Offset offset, std::uint32_t attempt) const {
  if (!journal_) return;
  std::string rec(1, kAttemptsBigEndian);
  auto add = [&rec](Offset off, std::uint32_t att) { append_attempt(rec, off, att); };
  if (per_key_) {
    // Every failing head of the partition, oldest first (at most 256: the
    // oldest are redelivered first after a restart).
    if (attempt > 1) {
      ledger.failing[offset] = attempt;
    } else if (ledger.failing.erase(offset) == 0) {
      return;
    }
    for (auto it = ledger.failing.begin(); it != ledger.failing.end() && rec.size() < 1 + 256 * 12; ++it)
      add(it->first, it->second);
  } else {
    add(offset, attempt);
  }
  (void)journal_->internal_put({{key(partition), std::move(rec)}});
}

std::uint32_t RetryPolicy::restore(AttemptLedger& ledger, std::uint32_t partition, Offset cursor) const {
  std::uint32_t at_cursor = 1;
  if (!journal_) return at_cursor;
  auto rec = journal_->internal_get(key(partition));
  if (!rec || !rec->has_value()) return at_cursor;
  for (const auto& [off, attempt] : decode_attempts(**rec)) {
    if (per_key_ && off >= cursor) {
      ledger.restored[off] = attempt + 1;
      ledger.failing[off] = attempt + 1;
    } else if (off == cursor) {
      at_cursor = attempt + 1;
    }
  }
  return at_cursor;
}

std::string RetryPolicy::key(std::uint32_t partition) const { return attempts_key(group_, topic_, partition); }

}  // namespace weir::internal
