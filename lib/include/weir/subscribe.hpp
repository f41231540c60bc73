// Subscription options: SubscribeOptions (given to Bus::subscribe) and its
// parts: where a group starts, its retry loop, circuit breaker, alerts and
// autoscaling. Plain aggregates with defaults in the comments, like
// options.hpp: each field says its default and what it REQUIRES; a value
// outside its range is rejected with Code::kInvalidArgument naming the field.
//
// Thread-safety: plain values; copy freely (callbacks are called on worker
// threads, see each).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/consumer.hpp"
#include "weir/event.hpp"

namespace weir {

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
  // Counted in two buckets of half a window each: an outcome counts for
  // between window / 2 and window. Default 10 s. REQUIRES: >= 2 ms.
  std::chrono::milliseconds window{10000};
  // How long it stays open before one probe event is let through
  // (half-open): success closes it, failure opens it again. Default 5 s.
  // REQUIRES: > 0.
  std::chrono::milliseconds cool_down{5000};
};

// A group's worker pool sized by per-partition lag (see
// SubscribeOptions::autoscale). Every `window` the group looks at each
// partition's lag: when in each of `grow_after` windows in a row some
// partition's lag (at least min_lag) rose over the previous window (not
// necessarily the same partition each time), one worker is added;
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
  // Dead letters were dropped unsettled since the last check (value: how
  // many in all; threshold 0): on memory buses because the group's
  // dead-letter topic held 4,096, on journaled ones because its retention
  // (Options::dead_letter_retention_age) deleted them. Raised whenever
  // on_alert is set; cleared after a check (about a second) with no new drop.
  kDlqDropped = 3,
};

struct Alert {
  AlertKind kind{};
  std::string_view group{};
  double value{};    // the measurement
  double threshold{};  // what it crossed
  bool raised{};     // true when crossing up; false when it is back below
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
  AlertCallback on_alert{};
};

// The topics of a group over several topics (the Bus::subscribe overloads
// that take a TopicSet): a list of topic names, a name pattern, or both.
//
//   bus->subscribe(weir::TopicSet{.topics = {"orders", "refunds"}}, {.group = "billing"}, handler);
//   bus->subscribe(weir::TopicSet{.pattern = "shop\\..*"}, {.group = "audit"}, handler);
//
// - `topics`: each must exist when subscribing (kNotFound names the first
//   that does not), no name twice, at most 64.
// - `pattern`: an ECMAScript regular expression (std::regex) that must
//   match a whole topic name ("orders" does not match "orders.eu"; write
//   "orders.*" for that). It is resolved when subscribing and again each
//   time a topic is created later (Bus::create_topic): a new topic that
//   matches is joined at once, read from SubscribeOptions::start_from. A
//   pattern never matches a dead-letter topic (a name ending in ".dlq").
//   With dedupe or a StateHandler it matches journaled topics only (memory
//   topics are left out). It may match no topic yet.
// At least one of the two must be given; both together read the union.
//
// What holds for such a group (one group id over all its topics):
// - Order: per key per topic-partition, as for one topic. Nothing is
//   ordered across topics: events of one key on two topics are handled in
//   no particular order relative to each other (possibly at the same time).
// - Offsets: committed per topic-partition, stored under (group, topic,
//   partition) like a one-topic group's, so they survive restarts per
//   topic, show in `weir groups` per topic-partition and are moved per
//   topic by Bus::seek / `weir seek TOPIC --group G`. A later subscribe
//   with other topics keeps the stored offsets of the topics it still reads.
// - Workers: one pool per group, serving the partitions of all its topics:
//   SubscribeOptions::workers threads in all (capped at the partitions of
//   all its topics; autoscale counts them all), not per topic, and
//   Bus::set_workers resizes that one pool. A topic the pattern takes
//   later joins the running pool (its partitions are assigned after the
//   others'; the pool grows towards the count asked for - `workers` or
//   the last set_workers - if the partitions had capped it). Each
//   partition has one worker at a time, so a worker serving a slow
//   topic-partition delays the other partitions it serves, of any topic,
//   as with several partitions of one topic; give a group more workers
//   (or topics that must not wait for each other their own groups).
// - Retries, the circuit breaker and max_parked apply per topic; the
//   handler is shared and may run for two topics at the same time.
// - Dedupe: one store per group: an event id handled on one of its topics
//   counts as handled on all of them from the moment its handler returns
//   (also before its dedupe record is committed); give distinct ids to
//   distinct events. Two events with one id handed out at the same moment
//   (on two topics, or two partitions) are not serialised: both may reach
//   the handler.
// - State tables (StateHandler): one set per group, shared by its topics. A
//   handler reads the committed values and the uncommitted writes of its own
//   topic's earlier events; writes from events of other topics are seen
//   once committed. As with several partitions, events handled at the same
//   time do not serialise on a state key: keep a key's writers on one
//   topic-partition (key the state by the event key).
// - Dead letters: one dead-letter topic "<group>.dlq" for all its topics
//   (each letter names its source topic: DeadLetter::topic); journaled
//   when the bus has a data directory and the group reads a journaled topic
//   when subscribing (or none yet).
// - Bus::describe_group lists every topic-partition (PartitionStatus::topic);
//   metrics() has one GroupMetrics per topic, each showing the one pool
//   (workers, min/max_workers, rebalances; a partition's `worker` numbers
//   the pool's workers); Bus::locate answers per topic. pause/resume of
//   the whole group act on every topic; Bus::pause_topic / resume_topic
//   act on one topic or topic-partition, and a partition number alone is
//   refused as ambiguous (kInvalidArgument).
// - Close, unsubscribe: the group stops as one (a drain hands out every
//   topic's events up to their ends first), each topic's final offsets
//   persisted per topic-partition.
struct TopicSet {
  std::vector<std::string> topics{};
  std::string pattern{};
};

// Options for one consumer group, given to Bus::subscribe.
// See SubscribeOptions::retry_mode.
enum class RetryMode { kBlocking, kNonBlocking };

struct SubscribeOptions {
  // --- affects behaviour ---------------------------------------------------
  // Group name: unique within the bus. REQUIRES: same rules as topic names.
  std::string group{};

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
  AutoscaleOptions autoscale{};

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
  // events until a parked key finishes, so memory stays bounded. On a memory
  // topic parked events are copied out of the ring (at most max_parked
  // records held per partition), so the ring's capacity does not bound them
  // and other keys flow on while a key waits.
  // Priority lanes (TopicOptions::priority_levels > 1) use the same bound
  // for the lower-priority events a partition sets aside while it looks
  // ahead for urgent ones: a partition looks at most max_parked events past
  // its oldest unhandled one (memory topics keep a copy of each), so an
  // urgent event keeps its latency while the backlog is within that window.
  // Default 10,000. REQUIRES: 1..1,000,000.
  std::uint32_t max_parked = 10000;

  // DLQ depth / age and retry-rate alerts (off by default).
  AlertOptions alerts{};

  // Circuit breaker (off by default). A failure is a retry or fail outcome,
  // an exception or a timeout; while open, the group hands out no events
  // (they wait, unacked), and on_breaker hears of every state change.
  BreakerOptions breaker{};
  BreakerCallback on_breaker{};

  // Where events go that failed permanently or ran out of attempts: true
  // (default) publishes them, with provenance headers (weir.dlq.*), to the
  // group's dead-letter topic "<group>.dlq" (journaled if the source topic
  // is, one partition) and then acks them; false stops the partition at the
  // event instead (it stays unacked; on_failure is told). A memory
  // dead-letter topic holds 4,096 letters: past that the oldest is dropped
  // (GroupMetrics::dlq_dropped, AlertKind::kDlqDropped), never the source
  // stopped.
  bool dead_letter = true;

  // Called (on the worker thread) when a partition cannot go on normally:
  // the handler failed an event permanently, a stored record is corrupt, or
  // retention deleted events before the group handled them (FailureKind).
  // Default: none; stops are still visible in describe_group.
  FailureCallback on_failure{};

  // Journaled topics. Default kJumpToEarliest.
  RetentionGapPolicy on_retention_gap = RetentionGapPolicy::kJumpToEarliest;

  // Journaled topics: 0 (default) commits offsets asynchronously (the journal
  // writer persists them with every group commit, at least every
  // Options::offset_commit_interval and every 1,000 events; an event's
  // offset is committable as soon as its handler returns); N > 0 makes a
  // worker that handled N events since its last durable offset wait until
  // its offsets are committed and flushed to stable storage (a power loss
  // keeps them), and hands it at most that many at once (a
  // batch handler's batches are capped at N, below max_batch), so a crash
  // redelivers at most N events per worker. Transactional groups (dedupe,
  // StateHandler) persist offsets only with committed write sets, one per
  // batch. REQUIRES: <= 1,000,000.
  std::uint32_t offset_commit_events = 0;

  // Journaled topics, per-event handlers: remember the id of every event the
  // group handled (the dedupe store, keyed by group and Message::id()) and
  // skip a redelivered duplicate: it is acked without calling the handler
  // and counted in GroupStatus::duplicates_skipped. An id counts as handled
  // once its handler returned done; two events with one id handed out at
  // the same moment (on two partitions) may both reach the handler. The
  // dedupe record, the handler's state writes (StateHandler) and the offset
  // past the event are committed in one LMDB transaction. Default false; a
  // StateHandler turns it on. REQUIRES: a journaled topic, not a
  // BatchHandler.
  bool dedupe = false;

  // How long dedupe records are kept (by the time the event was handled);
  // older ones are purged in the background. A duplicate arriving later than
  // this is handled again. Default 7 days. REQUIRES: >= 1 s.
  std::chrono::seconds dedupe_window{7 * 24 * 3600};

  // --- affects performance -------------------------------------------------
  // Most events handed to the handler at once (batch handler) or read from
  // the partition at once (single-event handler: the offset still advances
  // after each event). Default 256.
  // REQUIRES: 1 <= max_batch <= 65536.
  std::uint32_t max_batch = 256;
};

}  // namespace weir
