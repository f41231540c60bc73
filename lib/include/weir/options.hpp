// Options structs of the bus, topics, publishes and close: plain aggregates
// with defaults in the comments. The subscription options (SubscribeOptions
// and its parts) are in weir/subscribe.hpp, included here.
//
// Each field says its default and what it REQUIRES; a value outside its range
// is rejected with Code::kInvalidArgument naming the field, never clamped
// silently. Fields are grouped by "affects behaviour" and "affects
// performance".
//
// Designated initializers work for every options struct and for Event:
// `{.group = "billing", .workers = 2}`. C++20 requires the designators in
// declaration order (`{.workers = 2, .group = "billing"}` does not compile),
// so name fields in the order they appear here. Every field has a default
// member initializer, so fields left out take their defaults and g++'s
// -Wmissing-field-initializers (in -Wextra) stays quiet.
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
#include "weir/subscribe.hpp"

namespace weir {

// Where the web console listens (Options::console).
struct ConsoleOptions {
  // Serve it. Default false.
  bool enabled = false;
  // Loopback by default; binding another address exposes the read-only
  // views to that network (changing actions still need the token).
  // REQUIRES: an IPv4 or IPv6 address.
  std::string bind_address = "127.0.0.1";
  // 0 (default): a free port, shown by `weir console-url DIR`.
  std::uint16_t port = 0;
};

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
  // missing one, or a weir journal of a version this build reads (an
  // empty LMDB environment, left by a first open killed before its first
  // commit, counts as empty; any other LMDB data is refused with
  // kFailedPrecondition "not a weir journal" and its databases are not
  // written to: only weir's lock file, weir.lock, may be left beside them).
  std::string data_dir{};

  // Largest size the journal may grow to, in bytes; past it publishes fail
  // with kResourceExhausted. 0 (default): grow until the disk is full, which
  // gives kResourceExhausted "disk full: ..." (publishes waiting for their
  // ack included, at once, not at their timeout). Before failing, a commit
  // that finds no room lets retention delete what the topics' limits allow
  // (at once, not at its interval) and goes in smaller parts, so topics
  // whose retention keeps well under the cap go on taking events at it. On
  // a full disk that may not help (see the README): set a cap below the
  // disk's free space where retention is to keep the bus going.
  // REQUIRES: 0 or >= journal_initial_map_bytes (64 MiB unless changed; lower
  // both for a small cap). Bus::open fails with kInvalidArgument otherwise.
  std::size_t journal_max_bytes = 0;

  // Partitions of all journaled topics together (LMDB named databases).
  // Default 1024. REQUIRES: 1..32768.
  std::uint32_t journal_max_partitions = 1024;

  // How often the journal writer persists groups' offsets when nothing else
  // is committed; a group that handled 1,000 events since its last persisted
  // offset asks for a commit at once. Default 50 ms. REQUIRES: 1 ms..10 s.
  std::chrono::milliseconds offset_commit_interval{50};

  // retention_age given to each dead-letter topic "<group>.dlq" this bus
  // creates for a journaled topic's group (a memory one holds 4,096 letters
  // instead): letters dead-lettered longer ago than this are deleted by the
  // journal's retention, redriven or not (counted in
  // GroupMetrics::dlq_dropped while the bus runs). Counted from when each
  // letter was written (its record time; the failed event's own time stays
  // in DeadLetter::time_us). A dead-letter topic that already exists keeps
  // what it has; change one with Bus::alter_topic("<group>.dlq",
  // {.retention_age = ...}) (`weir alter-topic DIR G.dlq --retention-age
  // P30D`; 0: keep forever). Default 7 days (Kafka's default retention).
  // REQUIRES: >= 0 (0: no limit).
  std::chrono::seconds dead_letter_retention_age{7 * 24 * 3600};

  // --- affects performance -------------------------------------------------
  // How long an idle worker spins, checking for new events, before it parks
  // on a futex. Spinning trades CPU for wake-up latency. Default 20 us.
  // REQUIRES: 0 <= idle_spin <= 10 ms.
  std::chrono::microseconds idle_spin{20};

  // Initial LMDB map size; the map doubles whenever it fills (LMDB reports
  // MDB_MAP_FULL), so this only saves early resizes. Default 64 MiB.
  // REQUIRES: >= 1 MiB.
  std::size_t journal_initial_map_bytes = 64u << 20;

  // Most events of one partition in one group commit. (The commit stores
  // them as record batches of at most what fits inside an LMDB leaf page,
  // 2022 bytes with 4 KiB pages; a bigger event is a batch of its own.)
  // Default 65536. REQUIRES: 1..1048576.
  std::uint32_t journal_max_batch_events = 65536;

  // LMDB reader slots: one per group worker plus tools reading the directory.
  // Default 512. REQUIRES: 8..65536.
  std::uint32_t journal_max_readers = 512;

  // Sampled metrics of every group: the hot-key sketch fed while a group is
  // behind, handler latency (one call in 64) and end-to-end latency (one
  // batch in 8). false turns the sampling off (hot_keys() stays empty and
  // the sampled histograms stay at zero; counters, lag and offsets are still
  // kept), e.g. to measure what the sampling costs. Default true.
  bool metrics_sampling = true;

  // --- live operations -------------------------------------------------------
  // Serve the control endpoint (weir/control.hpp): a Unix domain socket
  // "weir.sock" in data_dir, mode 0600, through which `weir` changes a
  // directory while this process owns it (produce, consume --group, seek,
  // dlq redrive/purge, alter-topic, delete-topic, delete-group, pause,
  // resume, set-workers). Ignored without
  // data_dir. Default true. In crash terms: the socket holds no data, so
  // this changes nothing about what survives kill -9 or power loss; after a
  // crash the socket file stays behind, unused, until the next bus opening
  // the directory replaces it. Off, changing `weir` verbs refuse while this
  // process runs ("in use by another process").
  bool control_socket = true;

  // The web console (weir/control.hpp): one page over HTTP showing topics,
  // groups with per-partition lag and skew, breakers, retry rates and dead
  // letters, with redrive, purge, pause, resume and set-workers. Off by
  // default. REQUIRES data_dir when enabled: each start writes a fresh
  // access token, mode 0600, to <data_dir>/weir.console (`weir console-url
  // DIR` prints the URL with it); changing actions need it. In crash terms
  // like control_socket: it holds no data; a crash leaves the token file
  // behind, unusable, until the next start replaces it.
  ConsoleOptions console{};
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
  // it survives kill -9 of the process. The commit's data pages are flushed
  // (fdatasync) and its meta page is written but not yet flushed, so a power
  // loss or kernel crash before the next flush may undo that last commit
  // (the journal stays consistent: it opens at the commit before). The
  // next commit's data flush covers it, or the journal writer's flush
  // before it goes idle.
  kJournal = 1,
  // Returns once it is on stable storage: it survives power loss. A flush
  // must follow the commit holding the event: the journal writer runs one
  // right after its next commit once an fsync ack waits (otherwise the next
  // commit's data flush, or the writer's flush before it goes idle, covers
  // it). So while commits follow each other, a stream acknowledged at
  // kJournal costs one flush per group commit and one acknowledged at
  // kFsync two (an idle writer flushes once more before it sleeps either
  // way), and an fsync ack arrives one flush after the journal ack.
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

// The ranges create_topic and alter_topic accept (TopicOptions below).
inline constexpr std::uint32_t kMaxTopicPartitions = 4096;
inline constexpr std::uint32_t kMinTopicCapacity = 16;
inline constexpr std::uint32_t kMaxTopicCapacity = 1u << 24;
inline constexpr std::uint32_t kMaxPayloadBytesLimit = 64u << 20;  // max_payload_bytes: 1..this
inline constexpr std::uint32_t kMaxKeyBytesLimit = 64u << 10;      // max_key_bytes: 0..this

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
  // Retention deletes a partition's oldest record batches (each a run of
  // consecutive events within a leaf page's share, about 2 KB with 4 KiB
  // pages, or one bigger event; journals written before this bound hold one
  // batch per partition per commit) while any limit is exceeded; the
  // journal writer does it in
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

  // --- priority lanes ----------------------------------------------------------
  // Number of priority levels (lanes) of the topic: events carry
  // Event::priority 0 .. priority_levels - 1, higher is more urgent. With
  // more than one level, a group with RetryMode::kNonBlocking hands out, per
  // partition, the waiting events of the highest priority first; the events
  // of one key are still handled in publish order (an urgent event overtakes
  // only other keys' events). RetryMode::kBlocking groups handle the topic in
  // offset order. Fixed at creation; stored with a journaled topic.
  // Default 1 (no lanes). REQUIRES: 1 <= priority_levels <= kMaxPriorityLevels.
  std::uint32_t priority_levels = 1;
};

// What Bus::alter_topic changes: a field left empty keeps its value.
// When each change takes effect:
// - live (at once, in the running bus, and stored for later starts):
//   full_policy, block_timeout, default_ack, and on journaled topics
//   retention_age, retention_bytes, retention_events, quota_bytes;
// - at the next start (journaled topics: stored in the journal's catalog,
//   the running bus keeps the old value): partitions (grow only), capacity,
//   max_payload_bytes, max_key_bytes. Growing partitions maps keys
//   differently from then on (murmur2 mod N, as Kafka documents for its
//   partition increase): events of one key published before and after the
//   change may sit in different partitions, so per-key order holds only
//   among events published under the same count.
// - never: durability; fewer partitions; and on a memory topic the
//   next-start fields (it is not stored; create it anew instead) and
//   retention_*, quota_bytes (they apply to journaled topics). Asking for
//   one is kInvalidArgument naming each such field.
struct TopicChanges {
  std::optional<std::uint32_t> partitions{};
  std::optional<std::uint32_t> capacity{};
  std::optional<FullPolicy> full_policy{};
  std::optional<std::chrono::milliseconds> block_timeout{};
  std::optional<std::uint32_t> max_payload_bytes{};
  std::optional<std::uint32_t> max_key_bytes{};
  std::optional<Durability> durability{};
  std::optional<Ack> default_ack{};
  std::optional<std::chrono::seconds> retention_age{};
  std::optional<std::uint64_t> retention_bytes{};
  std::optional<std::uint64_t> retention_events{};
  std::optional<std::uint64_t> quota_bytes{};
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
  std::optional<Ack> ack{};
};

// Where Bus::seek moves a group.
struct SeekTo {
  enum class Kind : std::uint8_t { kEarliest, kLatest, kOffset, kTime };
  Kind kind = Kind::kEarliest;
  Offset offset = 0;        // kOffset
  std::int64_t time_us = 0;  // kTime: first event whose time is >= this
  // Bus::seek of a group that has never consumed the topic (not subscribed,
  // no offsets remembered or stored for it) fails with kNotFound naming the
  // known groups, so that a typo does not create a group. true: create it
  // at the target instead (positioning a new group before it subscribes).
  // Default false.
  bool create_group = false;

  static SeekTo earliest() { return {Kind::kEarliest}; }
  static SeekTo latest() { return {Kind::kLatest}; }
  static SeekTo to_offset(Offset o) { return {Kind::kOffset, o}; }
  static SeekTo to_time(std::int64_t us) { return {Kind::kTime, 0, us}; }
  // This target, with create_group set.
  SeekTo creating_group() const {
    SeekTo t = *this;
    t.create_group = true;
    return t;
  }
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

// Options for Bus::close.
struct CloseOptions {
  // Default kDrain.
  CloseMode mode = CloseMode::kDrain;
  // Longest a drain may take; then it stops at a batch boundary and reports
  // what was left. Also bounds the wait for the journal to confirm the
  // groups' final offsets (close() and unsubscribe() end by it even when the
  // journal cannot commit; CloseReport::journal_status says what was not
  // persisted). Default 30 s.
  std::chrono::milliseconds timeout{30000};
};

}  // namespace weir
