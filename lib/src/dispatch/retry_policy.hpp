// RetryPolicy: when a failing event is tried again, when a group gives up on
// it, and the attempt counts a journaled group keeps across restarts.
//
// Backoff: the n-th failure waits base * 2^(n-1), capped at `max` (and safe
// from overflow); with jitter, a uniform draw in [0, that] ("full jitter").
// A handler's Outcome::retry(delay) overrides the backoff. After
// `max_attempts` attempts, or on Outcome::fail, the policy gives up: the
// caller dead-letters the event or stops the partition.
//
// Persistence (journaled groups only; memory groups pass a null journal):
// one internal record per partition in the journal's weir.internal, apart
// from users' state tables (journal/format.hpp: attempts_key,
// decode_attempts). Value: kAttemptsBigEndian, then (be64
// offset, be32 attempt) pairs, 1 + 12n bytes; the host-order form of earlier
// versions (12n bytes) is still read. Blocking mode stores the cursor's
// failing event; non-blocking mode every failing head of the partition
// (oldest first, at most 256). Writes are best effort: if the journal cannot
// take one, the count restarts after a crash (redelivery, never loss).
//
// Thread-safety: the policy is immutable after construction and may be used
// by every worker at once; an AttemptLedger belongs to one partition and is
// touched only by that partition's owning worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "journal/journal.hpp"
#include "weir/consumer.hpp"

namespace weir::internal {

// Retry state of one failing event: the partition's (blocking mode, or a
// partition-wide wait such as a transient read error) or a parked key's.
struct Attempts {
  std::uint32_t attempt = 1;
  std::chrono::steady_clock::time_point retry_at{};
  std::int64_t first_failure_us = 0;  // of the event (system clock)

  // The event finished: the next failure starts counting afresh.
  void succeeded() noexcept {
    attempt = 1;
    first_failure_us = 0;
  }
};

// Attempt counts of one partition's failing events (non-blocking mode) as
// persisted, and those a restart found. Owner worker only.
struct AttemptLedger {
  std::map<Offset, std::uint32_t> failing;   // failing heads -> attempt (what is stored)
  std::map<Offset, std::uint32_t> restored;  // stored before a restart, not yet read again
};

// What the policy decided for an outcome that is not done.
struct RetryDecision {
  enum class Kind {
    kRetry,   // try again at Attempts::retry_at (attempt already advanced)
    kGiveUp,  // permanent, or out of attempts: dead-letter or stop
  };
  Kind kind = Kind::kRetry;
  std::string reason;  // kGiveUp: what the report and the dead letter say
};

class RetryPolicy {
 public:
  struct Backoff {
    std::uint32_t max_attempts = 1;
    std::chrono::milliseconds base{0};
    std::chrono::milliseconds max{0};
    bool jitter = false;
  };

  // `journal` null: nothing is persisted (memory topics, tests).
  // `per_key`: RetryMode::kNonBlocking (every failing head is stored).
  RetryPolicy(const Backoff& backoff, Journal* journal, std::string group, std::string topic, bool per_key);

  // The wait after failed attempt number `attempt` (1-based), as the
  // backoff rule above says; with jitter, a fresh draw each call.
  std::chrono::milliseconds backoff(std::uint32_t attempt) const;

  // Judges a retry or fail outcome of the event whose retry state is `a`:
  // kRetry advances a.attempt and sets a.retry_at; kGiveUp leaves them.
  // Either way a.first_failure_us is set at the event's first failure.
  RetryDecision on_failure(Attempts& a, const Outcome& o) const;

  // Stores that the event at `offset` of `partition` is on `attempt`
  // (1: it no longer fails). No-op without a journal.
  void save(AttemptLedger& ledger, std::uint32_t partition, Offset offset, std::uint32_t attempt) const;

  // Reads what save() stored for `partition` before a restart; the restart
  // itself counts as one more attempt. Non-blocking: fills `ledger` with the
  // failing heads at or after `cursor`; returns the attempt of the event at
  // `cursor` (1 if it had not failed). No-op (1) without a journal.
  std::uint32_t restore(AttemptLedger& ledger, std::uint32_t partition, Offset cursor) const;

  // Where save() keeps `partition`'s attempt counts.
  std::string key(std::uint32_t partition) const;

 private:
  const Backoff backoff_;
  Journal* const journal_;
  const std::string group_, topic_;
  const bool per_key_;
};

}  // namespace weir::internal
