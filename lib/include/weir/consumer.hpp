// What a handler returns, and the handler signatures.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir {

// A handler's verdict on one event.
//
//   done   the effect is durable: the group's offset may move past the event.
//   retry  a transient failure: deliver the same event again later (after
//          `delay`, or the group's backoff when delay is zero). Later events
//          of the partition wait behind it, so per-key order holds.
//   fail   a permanent failure: retrying cannot help. The event goes to the
//          group's dead-letter topic with the reason and is then acked
//          (SubscribeOptions::dead_letter; with it off, the partition stops
//          at the event, unacked). on_failure hears of it either way.
// A retry past SubscribeOptions::max_attempts is dead-lettered the same way:
// every path ends acked, dead-lettered, or still pending.
//
// The dead letter's reason (DeadLetter::reason, header weir.dlq.reason):
// for fail, the reason given; for running out of attempts, "gave up after N
// attempts", followed by "; last failure: <cause>" when the last failure had
// one: the reason given to retry(reason), "exception: <what()>" for an
// escaping std::exception ("exception (not a std::exception)" for any other
// thrown value), or "handler timeout after X ms (handler_timeout Y ms)" for
// a call that overran SubscribeOptions::handler_timeout. With
// exceptions_are_transient false, an escaping exception is a fail with that
// same "exception: ..." text as its reason.
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
  // A transient failure with its cause: if the event runs out of attempts,
  // its dead letter's reason is "gave up after N attempts; last failure:
  // <reason>".
  static Outcome retry(std::string reason, std::chrono::milliseconds delay = std::chrono::milliseconds{0}) {
    Outcome o(Kind::kRetry);
    o.delay_ = delay;
    o.reason_ = std::move(reason);
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

// The group's state tables as one event's handler sees them: key-value
// tables kept in the journal, per group. What a handler writes while
// handling an event is committed in the same LMDB transaction as the event's
// dedupe record and the group's offset past it, by the journal writer's next
// group commit; if the handler does not return done, its writes are dropped.
// Reads see this event's own writes, then the group's writes not yet
// committed, then the journal: read-your-writes across the group's events.
//
// Thread-safety: one State per worker; use it only inside the handler call
// it was passed to.
class State {
 public:
  virtual ~State() = default;
  // The value of `key` in `table`, or nullopt. Errors: kInvalidArgument
  // (bad table name or key too long), kIoError/kDataLoss from LMDB.
  virtual Result<std::optional<std::string>> get(std::string_view table, std::string_view key) = 0;
  // Sets `key` in `table`. Tables: 1..64 characters of [A-Za-z0-9._-]; the
  // group name, table and key together must fit LMDB's key limit (at most
  // 500 bytes); values up to 64 MiB.
  virtual Status put(std::string_view table, std::string_view key, std::string_view value) = 0;
  // Removes `key` from `table` (no error if absent).
  virtual Status erase(std::string_view table, std::string_view key) = 0;
  // Publishes `event` to the journaled `topic` as part of this event's
  // transaction (consume-transform-produce, exactly once):
  //   - it is appended in the same LMDB transaction as the state writes,
  //     the dedupe record and the group's offset past the input, so it is
  //     durable and visible to other groups exactly when they are: never
  //     before the input counts as done, never lost once it does;
  //   - if the handler does not return done, it is dropped with the writes;
  //     a redelivery of the input after a crash (nothing committed)
  //     publishes it anew, and a redelivered input already done is skipped
  //     by the dedupe store, so the topic holds it exactly once;
  //   - an event without an id gets "<input id>/<n>" (n = 1, 2, ... in the
  //     order of this call's publishes): the same id on every handling.
  // Routed by key like Bus::publish. Its offset is assigned when the
  // journal writer takes the transaction: follow-ups of one handler call,
  // and of one partition's inputs, keep their order in each target
  // partition; relative to other producers of that partition they land
  // wherever the commit falls (after everything published before the
  // handler returned). Errors: kNotFound (no such topic), kInvalidArgument
  // (a memory topic, or an event Bus::publish would refuse: payload, key or
  // header limits, reserved header names), kResourceExhausted (more than a
  // quarter of a target partition's capacity, rounded up to a power of two
  // as TopicOptions::capacity is, in one handler call; or the target is at
  // its quota_bytes, or the journal cannot commit: refused at once, never
  // waited for, whatever the target's full_policy, since a waiting handler
  // holds its partition).
  virtual Status publish(std::string_view topic, const Event& event) = 0;
};

// A handler with transactional state (journaled topics): its state writes,
// its State::publish events, the dedupe record and the offset commit are
// atomic. Same threading and
// exception rules as Handler.
using StateHandler = std::function<Outcome(const Message&, State&)>;

// Why a group's partition could not go on normally.
enum class FailureKind : std::uint8_t {
  // The handler returned Outcome::fail(reason) and dead-lettering is off:
  // the partition stops there.
  kHandler = 0,
  // A stored record failed validation (checksum, framing, header block, a
  // malformed batch key) or the journal could not read it. The partition
  // stops there; `reason` always names topic, partition and offset
  // ("data_loss: topic 't' partition 0 offset 1: ...").
  kCorruptRecord = 1,
  // Retention deleted events this group had not handled: `offset` is where
  // the group stood, `reason` says what was lost. With
  // RetentionGapPolicy::kJumpToEarliest the group goes on from the earliest
  // retained event; with kStop the partition stops.
  kRetentionGap = 2,
  // The event failed permanently or ran out of attempts and was moved to the
  // group's dead-letter topic (then acked); `reason` says why.
  kDeadLettered = 3,
};

// Reported to SubscribeOptions::on_failure. Views are valid during the
// callback only.
struct FailureReport {
  std::string_view group{};
  std::string_view topic{};
  std::uint32_t partition{};
  Offset offset{};
  std::uint32_t attempt{};
  std::string_view reason{};
  FailureKind kind = FailureKind::kHandler;
};
using FailureCallback = std::function<void(const FailureReport&)>;

}  // namespace weir
