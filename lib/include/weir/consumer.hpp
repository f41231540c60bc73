// What a handler returns, and the handler signatures.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "weir/event.hpp"

namespace weir {

// A handler's verdict on one event.
//
//   done   the effect is durable: the group's offset may move past the event.
//   retry  a transient failure: deliver the same event again later (after
//          `delay`, or the group's backoff when delay is zero). Later events
//          of the partition wait behind it, so per-key order holds.
//   fail   a permanent failure: retrying cannot help. The partition stops at
//          the event for this group (it is not acked, never skipped) and the
//          group's on_failure callback hears of it. Dead-letter routing
//          replaces the stop once dead-letter topics exist.
//
// Thread-safety: a plain value.
class Outcome {
 public:
  enum class Kind : std::uint8_t { kDone = 0, kRetry = 1, kFail = 2 };

  static Outcome done() noexcept { return Outcome(Kind::kDone); }
  static Outcome retry(std::chrono::milliseconds delay = std::chrono::milliseconds{0}) noexcept {
    Outcome o(Kind::kRetry);
    o.delay_ = delay;
    return o;
  }
  static Outcome fail(std::string reason) {
    Outcome o(Kind::kFail);
    o.reason_ = std::move(reason);
    return o;
  }

  Kind kind() const noexcept { return kind_; }
  bool is_done() const noexcept { return kind_ == Kind::kDone; }
  std::chrono::milliseconds delay() const noexcept { return delay_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  explicit Outcome(Kind k) noexcept : kind_(k) {}
  Kind kind_;
  std::chrono::milliseconds delay_{0};
  std::string reason_;
};

// A batch handler's verdict: the first `done` events are done; if done is
// less than the batch size, `rest` is the verdict on event [done] and the
// events after it are delivered again later (in order).
struct BatchOutcome {
  std::size_t done = 0;
  Outcome rest = Outcome::done();

  static BatchOutcome all(std::size_t n) { return BatchOutcome{n, Outcome::done()}; }
};

// Handles one event. Runs on a worker thread of the group; one partition is
// never handled by two threads at once. Must not throw: an escaping exception
// is caught and treated as Outcome::retry().
using Handler = std::function<Outcome(const Message&)>;

// Handles up to SubscribeOptions::max_batch consecutive events of one
// partition, in offset order. Same threading and exception rules as Handler.
using BatchHandler = std::function<BatchOutcome(std::span<const Message>)>;

// Why a group's partition could not go on normally.
enum class FailureKind : std::uint8_t {
  // The handler returned Outcome::fail(reason). The partition stops there.
  kHandler = 0,
  // A stored record failed validation (checksum, framing). The partition
  // stops there; `reason` names topic, partition and offset.
  kCorruptRecord = 1,
  // Retention deleted events this group had not handled: `offset` is where
  // the group stood, `reason` says what was lost. With
  // RetentionGapPolicy::kJumpToEarliest the group goes on from the earliest
  // retained event; with kStop the partition stops.
  kRetentionGap = 2,
};

// Reported to SubscribeOptions::on_failure. Views are valid during the
// callback only.
struct FailureReport {
  std::string_view group;
  std::string_view topic;
  std::uint32_t partition;
  Offset offset;
  std::uint32_t attempt;
  std::string_view reason;
  FailureKind kind = FailureKind::kHandler;
};
using FailureCallback = std::function<void(const FailureReport&)>;

}  // namespace weir
