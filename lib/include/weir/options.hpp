// Options structs: plain aggregates with defaults in the comments.
//
// Each field says its default and what it REQUIRES; a value outside its range
// is rejected with Code::kInvalidArgument naming the field, never clamped
// silently. Fields are grouped by "affects behaviour" and "affects
// performance".
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "weir/consumer.hpp"
#include "weir/event.hpp"

namespace weir {

// Bus-wide options, given to Bus::open.
struct Options {
  // --- affects behaviour ---------------------------------------------------
  // A name for this bus in logs and errors. Default "weir".
  std::string name = "weir";

  // Directory of the bus's journal (one LMDB environment). Empty (the
  // default): a memory-only bus, where journaled topics cannot be created.
  // Created with mode 0700 if missing. Opening it restores the journaled
  // topics and the groups' committed offsets stored there. One bus (one
  // process) at a time may own a directory. REQUIRES: an empty directory, a
  // missing one, or a weir journal of a version this build reads.
  std::string data_dir;

  // Largest size the journal may grow to, in bytes; past it publishes fail
  // with kResourceExhausted. 0 (default): grow until the disk is full.
  std::size_t journal_max_bytes = 0;

  // Partitions of all journaled topics together (LMDB named databases).
  // Default 1024. REQUIRES: 1..32768.
  std::uint32_t journal_max_partitions = 1024;

  // How often the journal writer persists groups' offsets when nothing else
  // is committed; a group that handled 1,000 events since its last persisted
  // offset asks for a commit at once. Default 50 ms. REQUIRES: 1 ms..10 s.
  std::chrono::milliseconds offset_commit_interval{50};

  // --- affects performance -------------------------------------------------
  // How long an idle worker spins, checking for new events, before it parks
  // on a futex. Spinning trades CPU for wake-up latency. Default 20 us.
  // REQUIRES: 0 <= idle_spin <= 10 ms.
  std::chrono::microseconds idle_spin{20};

  // Initial LMDB map size; the map doubles whenever it fills (LMDB reports
  // MDB_MAP_FULL), so this only saves early resizes. Default 64 MiB.
  // REQUIRES: >= 1 MiB.
  std::size_t journal_initial_map_bytes = 64u << 20;

  // Most events of one partition in one group commit (one record batch).
  // Default 65536. REQUIRES: 1..1048576.
  std::uint32_t journal_max_batch_events = 65536;

  // LMDB reader slots: one per group worker plus tools reading the directory.
  // Default 512. REQUIRES: 8..65536.
  std::uint32_t journal_max_readers = 512;
};

// Where a topic's events live.
enum class Durability : std::uint8_t {
  // In RAM only; lost when the process dies. The default.
  kMemory = 0,
  // Appended to the bus's LMDB journal before any group sees them; survive
  // process crashes and restarts. REQUIRES: Options::data_dir.
  kJournaled = 1,
};

// How far a publish waits before it returns (journaled topics).
enum class Ack : std::uint8_t {
  // Returns once the event has an offset (it is in the bus's memory): a
  // process crash before the next group commit loses it.
  kNone = 0,
  // Returns once the group commit holding the event is committed to LMDB:
  // it survives kill -9 of the process.
  kJournal = 1,
  // Returns once it is on stable storage: it survives power loss. weir
  // commits every group with LMDB's full sync, so kJournal acks are in fact
  // as durable as kFsync (they arrive at the same moment); the two levels
  // stay distinct so a future lazy-sync mode can tell them apart.
  kFsync = 2,
};

// What publish does when the target partition is full.
enum class FullPolicy : std::uint8_t {
  // Wait for a consumer to free space, up to TopicOptions::block_timeout (or
  // PublishOptions::timeout); then fail with kDeadlineExceeded.
  kBlock = 0,
  // Fail at once with kResourceExhausted. The caller decides what to do.
  kReject = 1,
};

// Options for one topic, given to Bus::create_topic.
struct TopicOptions {
  // --- affects behaviour ---------------------------------------------------
  // Number of partitions, fixed at creation. Default 1.
  // REQUIRES: 1 <= partitions <= 4096.
  std::uint32_t partitions = 1;

  // Events a partition holds that some subscribed group has not yet handled
  // (and, with no group subscribed, events retained for a group that will
  // subscribe from the earliest offset). Rounded up to a power of two.
  // Publishing into a full partition applies `full_policy`. Each slot costs
  // 128 bytes up front (records up to 104 bytes live in the slot), so a
  // topic's ring memory is partitions x capacity x 128 B: 1 MiB per partition
  // by default. Default 8192. REQUIRES: 16 <= capacity <= 2^24.
  std::uint32_t capacity = 8192;

  // Default kBlock.
  FullPolicy full_policy = FullPolicy::kBlock;

  // How long a blocking publish waits for space. Default 5 s.
  // REQUIRES: >= 0.
  std::chrono::milliseconds block_timeout{5000};

  // Largest payload accepted, in bytes; a larger one is rejected with
  // kInvalidArgument. Default 1 MiB. REQUIRES: 1 <= max_payload_bytes <= 64 MiB.
  std::uint32_t max_payload_bytes = 1u << 20;

  // Largest key accepted, in bytes. Default 4096. REQUIRES: <= 64 KiB.
  std::uint32_t max_key_bytes = 4096;

  // Default kMemory. A journaled topic's `capacity` bounds the events
  // published but not yet committed to the journal; its backlog for groups
  // lives in the journal, not in RAM.
  Durability durability = Durability::kMemory;

  // Ack level of publishes that do not name one (journaled topics; memory
  // topics always ack at kNone). Default kJournal.
  Ack default_ack = Ack::kJournal;

  // --- journaled topics: retention and quota -------------------------------
  // Retention deletes a partition's oldest record batches (whole group
  // commits) while any limit is exceeded; the journal writer does it in
  // small steps between commits, so producers do not stall. 0 = no limit.
  // Defaults: no limits. A group that had not handled deleted events is told
  // (FailureKind::kRetentionGap) and follows its RetentionGapPolicy.
  std::chrono::seconds retention_age{0};  // by event time of a batch's newest event
  std::uint64_t retention_bytes = 0;      // per partition, stored bytes
  std::uint64_t retention_events = 0;     // per partition

  // Most bytes the topic may hold in the journal (all partitions). When
  // reached, publishes follow `full_policy`: kReject fails at once with
  // kResourceExhausted, kBlock waits (up to block_timeout) for retention to
  // free space. 0 (default): no quota. Checked at publish against committed
  // bytes, so it may be overshot by what is in flight.
  std::uint64_t quota_bytes = 0;
};

// Options for one publish call.
struct PublishOptions {
  // --- affects behaviour ---------------------------------------------------
  // Target partition. Default -1: chosen by the key's murmur2 hash, exactly as
  // Kafka's default partitioner does. REQUIRES: -1 or 0 <= partition < N.
  std::int32_t partition = -1;

  // Overrides TopicOptions::block_timeout for this call when >= 0; bounds
  // both the wait for space and the wait for the ack. Default -1 (the
  // topic's).
  std::chrono::milliseconds timeout{-1};

  // Ack level to wait for. Default: TopicOptions::default_ack. kJournal or
  // kFsync on a memory topic is kInvalidArgument.
  std::optional<Ack> ack;
};

// Where a group starts reading a partition it has no offset for.
enum class StartFrom : std::uint8_t {
  kEarliest = 0,  // the oldest event the partition still holds
  kLatest = 1,    // only events published after the subscription
};

// What a group does when retention deleted events it had not handled.
enum class RetentionGapPolicy : std::uint8_t {
  kJumpToEarliest = 0,  // report it, then go on from the earliest retained event
  kStop = 1,            // report it and stop the partition for this group
};

// Circuit breaker states (see SubscribeOptions::breaker).
enum class BreakerState : std::uint8_t { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

// Told of every breaker state change (on a worker thread).
using BreakerCallback = std::function<void(std::string_view group, BreakerState from, BreakerState to)>;

// A group's circuit breaker: when handlers keep failing (a dependency is
// down), stop calling them for a while instead of retrying into it.
struct BreakerOptions {
  // Default false (no breaker).
  bool enabled = false;
  // Opens when failures / outcomes over `window` reach this... Default 0.5.
  // REQUIRES: 0 < failure_ratio <= 1.
  double failure_ratio = 0.5;
  // ...with at least this many outcomes in the window. Default 20. REQUIRES: >= 1.
  std::uint32_t min_calls = 20;
  // Default 10 s. REQUIRES: >= 2 ms.
  std::chrono::milliseconds window{10000};
  // How long it stays open before one probe event is let through
  // (half-open): success closes it, failure opens it again. Default 5 s.
  // REQUIRES: > 0.
  std::chrono::milliseconds cool_down{5000};
};

// A group's worker pool sized by per-partition lag (see
// SubscribeOptions::autoscale). Every `window` the group looks at each
// partition's lag: when some partition's lag (above min_lag) rose over the
// previous window for `grow_after` windows in a row, one worker is added;
// when every partition's lag stayed below min_lag for `shrink_after`
// windows in a row, one is removed. Never fewer than min_workers, never
// more than max_workers or the partition count.
struct AutoscaleOptions {
  // Default false: the pool stays at SubscribeOptions::workers (Bus::set_workers
  // still resizes it).
  bool enabled = false;
  // Bounds. REQUIRES: 1 <= min_workers <= max_workers <= 256; max_workers 0
  // means the partition count.
  std::uint32_t min_workers = 1;
  std::uint32_t max_workers = 0;
  // Default 1 s. REQUIRES: >= 10 ms.
  std::chrono::milliseconds window{1000};
  // Defaults 3 and 10 windows. REQUIRES: >= 1.
  std::uint32_t grow_after = 3;
  std::uint32_t shrink_after = 10;
  // Lag (events) a partition needs before rising lag counts. Default 1,000.
  std::uint64_t min_lag = 1000;
};

// What an alert is about (see SubscribeOptions::alerts).
enum class AlertKind : std::uint8_t {
  kDlqDepth = 0,   // unsettled dead letters of the group reached the threshold
  kDlqAge = 1,     // the oldest unsettled dead letter is older than the threshold (s)
  kRetryRate = 2,  // retries per second stayed above the threshold for a whole window
};

struct Alert {
  AlertKind kind;
  std::string_view group;
  double value;      // the measurement
  double threshold;  // what it crossed
  bool raised;       // true when crossing up; false when it is back below
};
using AlertCallback = std::function<void(const Alert&)>;

// Alert thresholds of a group, checked about once a second by one of its
// workers; each alert is raised once when crossed and cleared once when back
// below. 0 turns a threshold off (all off by default).
struct AlertOptions {
  std::uint64_t dlq_depth = 0;
  // The seed article's triage SLA: e.g. 15 minutes.
  std::chrono::seconds dlq_oldest_age{0};
  double retry_rate = 0;               // retries per second...
  std::chrono::seconds retry_window{60};  // ...sustained over this long. REQUIRES: >= 1 s.
  AlertCallback on_alert;
};

// Where Bus::seek moves a group.
struct SeekTo {
  enum class Kind : std::uint8_t { kEarliest, kLatest, kOffset, kTime };
  Kind kind = Kind::kEarliest;
  Offset offset = 0;        // kOffset
  std::int64_t time_us = 0;  // kTime: first event whose time is >= this

  static SeekTo earliest() { return {Kind::kEarliest}; }
  static SeekTo latest() { return {Kind::kLatest}; }
  static SeekTo to_offset(Offset o) { return {Kind::kOffset, o}; }
  static SeekTo to_time(std::int64_t us) { return {Kind::kTime, 0, us}; }
};

// What Bus::close (or unsubscribe) does with events not yet handled.
enum class CloseMode : std::uint8_t {
  // Stop accepting new events from outside the bus, let every group handle
  // everything already published (handlers may still publish to other
  // topics), then stop. Bounded by CloseOptions::timeout.
  kDrain = 0,
  // Each worker finishes the batch in its hands and stops; events not yet
  // handled are counted in CloseReport::undelivered. For memory topics they
  // are gone.
  kStopAtBatch = 1,
};

// Options for one consumer group, given to Bus::subscribe.
// See SubscribeOptions::retry_mode.
enum class RetryMode { kBlocking, kNonBlocking };

struct SubscribeOptions {
  // --- affects behaviour ---------------------------------------------------
  // Group name: unique within the bus. REQUIRES: same rules as topic names.
  std::string group;

  // Worker threads of this group. A partition is handled by one worker at a
  // time; workers beyond the partition count would idle, so the pool is
  // capped at the partition count. Default 1. REQUIRES: 1 <= workers <= 256.
  std::uint32_t workers = 1;

  // Where to start a partition this group has no offset for. Default kEarliest,
  // so events published before the subscription are not missed.
  StartFrom start_from = StartFrom::kEarliest;

  // Grow and shrink the worker pool on per-partition lag (off by default).
  // Partitions move between workers cooperatively (the old owner finishes
  // and commits its in-flight batch first), so per-key order and
  // at-least-once hold across a rebalance.
  AutoscaleOptions autoscale;

  // --- failure handling (the retry loop) --------------------------------------
  // Deliveries of one event to this group, first included: after the
  // max_attempts-th transient failure the event is dead-lettered (see
  // dead_letter). Default 5. REQUIRES: 1..1000.
  std::uint32_t max_attempts = 5;

  // Delay before attempt n+1 when the handler returned Outcome::retry()
  // without a delay: exponential, base * 2^(n-1) capped at retry_backoff_max,
  // with "full jitter" (a uniform random delay between 0 and that value, as
  // in AWS's "Exponential Backoff and Jitter") unless `jitter` is false. Other
  // partitions of the worker keep flowing meanwhile; the event's partition
  // (or, with RetryMode::kNonBlocking, its key) waits, so per-key order holds. Defaults 100 ms, 30 s, jitter on.
  // REQUIRES: 0 <= retry_backoff <= retry_backoff_max.
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds retry_backoff_max{30000};
  bool jitter = true;

  // An exception escaping the handler is a transient failure (retried) when
  // true, a permanent one (dead-lettered at once, reason "exception: ...")
  // when false. Default true.
  bool exceptions_are_transient = true;

  // A handler call that takes longer than this counts as a transient failure,
  // whatever it returned (its writes are dropped; the event is retried). A
  // running handler cannot be interrupted: the verdict is taken when it
  // returns. 0 (default): no limit.
  std::chrono::milliseconds handler_timeout{0};

  // What waits while an event is retried. kBlocking (default): its whole
  // partition waits (simplest; the committed offset is always "everything
  // before the failing event"). kNonBlocking: only its key waits - later
  // events with the same key are parked behind it, other keys of the
  // partition flow on, and the committed offset stays at the oldest
  // unfinished event (so a restart redelivers the finished events after it:
  // at-least-once, harmless with dedupe). Per-key order holds in both modes;
  // events without a key share one key (""), so they wait together.
  RetryMode retry_mode = RetryMode::kBlocking;

  // kNonBlocking: most events parked per partition (failing events plus the
  // later events of their keys). When reached, the partition reads no new
  // events until a parked key finishes, so memory stays bounded.
  // Default 10,000. REQUIRES: 1..1,000,000.
  std::uint32_t max_parked = 10000;

  // DLQ depth / age and retry-rate alerts (off by default).
  AlertOptions alerts;

  // Circuit breaker (off by default). A failure is a retry or fail outcome,
  // an exception or a timeout; while open, the group hands out no events
  // (they wait, unacked), and on_breaker hears of every state change.
  BreakerOptions breaker;
  BreakerCallback on_breaker;

  // Where events go that failed permanently or ran out of attempts: true
  // (default) publishes them, with provenance headers (weir.dlq.*), to the
  // group's dead-letter topic "<group>.dlq" (journaled if the source topic
  // is, one partition) and then acks them; false stops the partition at the
  // event instead (it stays unacked; on_failure is told).
  bool dead_letter = true;

  // Called (on the worker thread) when a partition cannot go on normally:
  // the handler failed an event permanently, a stored record is corrupt, or
  // retention deleted events before the group handled them (FailureKind).
  // Default: none; stops are still visible in describe_group.
  FailureCallback on_failure;

  // Journaled topics. Default kJumpToEarliest.
  RetentionGapPolicy on_retention_gap = RetentionGapPolicy::kJumpToEarliest;

  // Journaled topics: 0 (default) commits offsets asynchronously (the journal
  // writer persists them with every group commit, at least every
  // Options::offset_commit_interval); N > 0 makes a worker that handled N
  // events since its last durable offset wait until its offsets are
  // committed, so a crash redelivers at most N events per worker.
  // REQUIRES: <= 1,000,000.
  std::uint32_t offset_commit_events = 0;

  // Journaled topics, per-event handlers: remember the id of every event the
  // group handled (the dedupe store, keyed by group and Message::id()) and
  // skip a redelivered duplicate: it is acked without calling the handler
  // and counted in GroupStatus::duplicates_skipped. The dedupe record, the
  // handler's state writes (StateHandler) and the offset past the event are
  // committed in one LMDB transaction. Default false; a StateHandler turns
  // it on. REQUIRES: a journaled topic, not a BatchHandler.
  bool dedupe = false;

  // How long dedupe records are kept (by the time the event was handled);
  // older ones are purged in the background. A duplicate arriving later than
  // this is handled again. Default 7 days. REQUIRES: >= 1 s.
  std::chrono::seconds dedupe_window{7 * 24 * 3600};

  // --- affects performance -------------------------------------------------
  // Most events handed to the handler at once (batch handler) or handled
  // between two offset advances (single-event handler). Default 256.
  // REQUIRES: 1 <= max_batch <= 65536.
  std::uint32_t max_batch = 256;
};

// Options for Bus::close.
struct CloseOptions {
  // Default kDrain.
  CloseMode mode = CloseMode::kDrain;
  // Longest a drain may take; then it stops at a batch boundary and reports
  // what was left. Default 30 s.
  std::chrono::milliseconds timeout{30000};
};

}  // namespace weir
