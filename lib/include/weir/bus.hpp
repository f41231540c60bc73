// Bus: the entry point. Topics, publishing, consumer groups, shutdown.
//
//   auto bus = weir::Bus::open({}).value();
//   bus->create_topic("orders", {.partitions = 8}).ignore();
//   bus->subscribe("orders", {.group = "billing", .workers = 2},
//                  [](const weir::Message& m) { charge(m.payload()); return weir::Outcome::done(); }).ignore();
//   bus->publish("orders", {.key = order_id, .payload = bytes});
//
// Thread-safety: Bus is thread-safe: every method may be called from any
// thread, including from inside a handler (except close(), which a handler
// must not call: it would wait for itself).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/consumer.hpp"
#include "weir/dlq.hpp"
#include "weir/metrics.hpp"
#include "weir/event.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir {

namespace internal {
class BusCore;
class ConsoleServer;
class ControlServer;
class TopicState;
}  // namespace internal

// Outcome of publish_batch: the first `published` events were published, in
// order (they have offsets, and receipts for them are filled); no later
// event was attempted. Whether it completes or stops early, publish_batch
// wakes the groups for every published event and, for an ack level above
// kNone, waits (up to the publish timeout) for them to reach it. So:
// - status ok: all events were published and reached the ack level.
// - published < size: the published events reached the ack level, and
//   status says why event [published] was not published (kInvalidArgument,
//   kResourceExhausted, ...). If they did not reach the ack level in time,
//   status is that error instead (kDeadlineExceeded) and its message ends
//   with why event [published] was not published.
// - published == size and status is an error: all events were published but
//   the ack level was not reached in time (kDeadlineExceeded); they have
//   offsets and will be committed unless the process dies first.
struct [[nodiscard]] BatchPublishResult {
  Status status{};
  std::size_t published = 0;
};

// A handle to one topic for fast publishing (no name lookup per call). Cheap
// to copy; stays valid (publishes fail with kClosed) after the bus closes.
//
// Thread-safety: thread-safe; one handle may be shared by many producers.
class Topic {
 public:
  Topic() = default;

  // Publishes one event. On success the event has an offset and every
  // subscribed group will be handed it. Errors: kInvalidArgument (payload or
  // key over the limit, partition out of range), kResourceExhausted (full,
  // reject policy; or the journal cannot commit: full disk, size cap, I/O
  // error, also reported at once to a publish already waiting for its ack),
  // kDeadlineExceeded (full, block policy timed out; ack not reached in
  // time), kClosed. Thread-safe.
  Result<PublishReceipt> publish(const Event& event, const PublishOptions& options = {}) const;

  // Publishes events in order. Consecutive events bound for the same
  // partition are claimed together (one atomic step), which is much faster
  // than publishing one by one. If `receipts` is non-empty it must be as long
  // as `events`; receipts[i] is filled for each published event. Thread-safe.
  BatchPublishResult publish_batch(std::span<const Event> events,
                                   const PublishOptions& options = {},
                                   std::span<PublishReceipt> receipts = {}) const;

  // Waits until the event of `receipt` reached ack level `level` (for events
  // published with Ack::kNone): kJournal once its group commit is made,
  // kFsync once a flush followed that commit (see Ack). kResourceExhausted
  // at once (within about 50 ms) while the journal cannot commit or flush
  // (a full disk, the Options::journal_max_bytes cap, an I/O error), naming
  // the cause ("... is not committed: journal cannot commit: ..." or, for
  // kFsync, "... is not on stable storage: journal cannot commit: ..."; the
  // event stays queued and is committed and flushed if the journal
  // recovers); kDeadlineExceeded after `timeout` otherwise ("... was not
  // committed within N ms" / "was not on stable storage within N ms");
  // kInvalidArgument on a memory topic for levels above kNone. Thread-safe.
  Status wait_acked(const PublishReceipt& receipt, Ack level,
                    std::chrono::milliseconds timeout) const;
  // Waits until every event of `receipts` reached `level`: commits are in
  // offset order per partition, so it waits for the newest receipt of each
  // partition (up to `timeout` each). Errors as above. Thread-safe.
  Status wait_all_acked(std::span<const PublishReceipt> receipts, Ack level,
                        std::chrono::milliseconds timeout) const;

  // The partition `key` maps to: murmur2(key) & 0x7fffffff mod partitions,
  // identical to Kafka's default partitioner. Thread-safe.
  std::uint32_t partition_for(std::string_view key) const noexcept;

  const std::string& name() const noexcept;
  std::uint32_t partitions() const noexcept;
  bool valid() const noexcept { return state_ != nullptr; }

 private:
  friend class Bus;
  explicit Topic(std::shared_ptr<internal::TopicState> s) : state_(std::move(s)) {}
  std::shared_ptr<internal::TopicState> state_;
};

// One partition as seen by one group.
struct PartitionStatus {
  std::string topic{};  // the partition's topic (a group may read several)
  std::uint32_t partition = 0;
  Offset committed = 0;  // next offset the group will handle
  Offset end = 0;        // next offset a publish will get
  Offset lag = 0;        // end - committed
  bool stopped = false;  // a handler failed an event permanently here
  // RetryMode::kNonBlocking: events waiting behind failing keys (the failing
  // events included). `committed` is the oldest of them when non-zero.
  std::uint64_t parked = 0;
};

// A group's offsets and lag (Bus::describe_group), every partition of every
// topic it reads, sorted by topic then partition.
struct GroupStatus {
  std::string group{};
  // The topic of a group over one topic; empty for a group subscribed with
  // a TopicSet (see `topics`).
  std::string topic{};
  // Every topic the group reads now, sorted (one for a one-topic group; a
  // TopicSet group's pattern adds topics created later).
  std::vector<std::string> topics{};
  std::vector<PartitionStatus> partitions{};
  // Redelivered events the dedupe store recognised and skipped.
  std::uint64_t duplicates_skipped = 0;
  // Circuit breaker (kClosed when the group has none) and times it opened.
  BreakerState breaker = BreakerState::kClosed;
  std::uint64_t breaker_trips = 0;
};

// One field Bus::alter_topic changed, with its old and new value as text
// (durations in ms or s as the field's unit, enums by name).
struct TopicChange {
  std::string field{};  // the TopicOptions field name, e.g. "retention_age"
  std::string from{};
  std::string to{};
  // false: in force now; true: stored, in force from the next start.
  bool at_next_start = false;
};

// What Bus::delete_topic removed.
struct TopicDeletion {
  std::uint32_t partitions = 0;  // partitions dropped (with all their events)
  std::uint64_t events = 0;      // events they held (end - start, summed)
  // Groups whose offsets on the topic (and attempt counts of its failing
  // events) were removed; their dead letters from it stay in <group>.dlq.
  std::vector<std::string> groups{};
};

// What Bus::delete_group removed.
struct GroupDeletion {
  std::uint64_t offsets = 0;         // stored committed offsets (journaled topics)
  std::uint64_t dedupe_records = 0;  // processed event ids (SubscribeOptions::dedupe)
  // State-table values, attempt counts of failing events and the
  // dead-letter settled ledger.
  std::uint64_t state_values = 0;
  // Its dead-letter topic "<group>.dlq" was deleted, with this many events.
  bool dead_letter_topic = false;
  std::uint64_t dead_letters = 0;
  // Offsets a memory topic's group left behind when it unsubscribed.
  bool remembered_offsets = false;
};

// Which event(s) Bus::locate looks for: by id (every partition is
// searched) or by key (the key's partition under the current partition
// count). Exactly one of the two.
struct EventRef {
  std::string id{};
  std::string key{};
};

// Where one event stands for one consumer group (Bus::locate). The states,
// checked in this order:
// - kDeadLettered: the group dead-lettered it and the letter is neither
//   redriven nor purged (reason, attempts, when, dlq_offset).
// - kDone: the group's committed offset is past it.
// - kScheduled: its delivery time (Event::deliver_at_us) lies ahead:
//   `scheduled_us`; no handler has seen it.
// - kRetrying: it failed and waits for another attempt (`attempt` is the
//   try it is on, 2 = the first retry; `next_try_us` when that try is due).
//   Known for a running group on any topic, and for journaled topics, whose
//   attempt counts are stored, also while the group is not running (then
//   `next_try_us` is 0: the try comes when the group runs again).
// - kParked: non-blocking retries: it waits behind the failing (or
//   scheduled) event of its key at `parked_behind`.
// - kInFlight: handed to the group's worker `worker` (with its batch, at
//   `in_flight_since_us`), not yet acknowledged.
// - kNotYetReached: the group has `ahead` events of the partition to handle
//   before it (it may be paused or stopped: see those flags).
// Without a running group (offline, or unsubscribed) the states come from
// what is stored: dead-lettered, done, scheduled, retrying (when it
// resumes) or not yet reached.
struct EventLocation {
  enum class State : std::uint8_t { kDone, kInFlight, kRetrying, kParked, kDeadLettered, kNotYetReached, kScheduled };
  State state = State::kNotYetReached;
  std::string topic{};
  std::uint32_t partition = 0;
  Offset offset = 0;
  std::string id{};
  std::string key{};
  std::int64_t time_us = 0;
  // The group's next offset on the partition; nullopt when it has none
  // stored (it starts where SubscribeOptions::start_from says).
  std::optional<Offset> committed{};
  std::uint64_t ahead = 0;        // kNotYetReached: offset - committed
  std::uint32_t attempt = 0;      // kRetrying; kDeadLettered: attempts made
  // kRetrying: when the next attempt is due (system clock, us since the
  // epoch); 0 when the group is not running.
  std::int64_t next_try_us = 0;
  Offset parked_behind = 0;       // kParked
  std::int64_t scheduled_us = 0;  // kScheduled: delivery time (microseconds since the epoch)
  int worker = -1;                // kInFlight: the worker owning the partition
  // kInFlight: when that worker was handed the event (with its batch;
  // system clock, us since the epoch, coarse: 1-4 ms ticks).
  std::int64_t in_flight_since_us = 0;
  std::string reason{};           // kDeadLettered
  std::int64_t dead_lettered_us = 0;
  Offset dlq_offset = 0;
  bool group_running = false;  // subscribed in this bus
  bool paused = false;         // Bus::pause on this partition
  bool stopped = false;        // stopped by a permanent failure
};

// "done", "in_flight", "retrying", "parked", "dead_lettered",
// "not_yet_reached", "scheduled".
std::string_view state_name(EventLocation::State s) noexcept;

// One EventLocation as a JSON object (one line, no newline): the form of
// `weir status --json` rows and of the control protocol's "location"
// objects (docs/control-protocol.md). Fields: topic, partition, offset, id,
// key (or key_b64 when not UTF-8), time_us, state (state_name), committed
// (null when none is stored), ahead, attempt, next_try_us, parked_behind,
// scheduled_us, worker, in_flight_since_us, reason, dead_lettered_us, dlq_offset,
// group_running, paused, stopped. Thread-safe (pure function).
std::string to_json(const EventLocation& location);

// What close() left behind.
struct CloseReport {
  // Events not acknowledged, summed over groups and partitions: end minus
  // the group's committed offset at close. The committed offset stays at
  // the oldest unfinished event, so behind a waiting one (a delayed event,
  // a pending retry) of a kNonBlocking group this also counts events of
  // other keys that were already handled (they are handed again after a
  // restart: at-least-once). A memory topic's are gone after close.
  std::uint64_t undelivered = 0;
  // True if a drain hit its timeout and fell back to stopping at a batch.
  bool timed_out = false;
  // Journaled topics: why the groups' final offsets or the last events could
  // not be written to the journal (ok if they were). What was not written is
  // redelivered (offsets) or was never acknowledged (events) after a restart.
  // close(): when the journal's last commit failed, the message gives its
  // cause, then what was not persisted: "the final offsets of group 'g'"
  // for each group whose offsets were not confirmed, and "N events
  // published to topic 't' (never acknowledged)" per topic ("1 event").
  // unsubscribe(): kDeadlineExceeded if the journal did not confirm the
  // group's final offsets within CloseOptions::timeout (still queued: the
  // next commit writes them).
  Status journal_status{};
};

class Bus {
 public:
  // Opens a bus; with Options::data_dir, opens (or creates) its journal and
  // restores the journaled topics stored there. Errors: kInvalidArgument for
  // out-of-range options and for a data_dir that exists but is not a
  // directory; kFailedPrecondition for a directory that holds
  // something else, a newer journal format, one another bus owns, or one an
  // Inspector of this process has open (LMDB allows one handle per process);
  // kDataLoss for an unreadable or damaged journal (data.mdb is checked page
  // by page before LMDB maps it: a truncated file, a damaged meta or B-tree
  // page, a batch header or a gap in a partition's offsets; the message
  // names where, see weir/recovery.hpp and README "Recovery");
  // kIoError for file-system failures.
  static Result<std::unique_ptr<Bus>> open(const Options& options);

  // Closes with CloseMode::kDrain if close() was not called, and releases
  // the data directory (another Bus may open it only after this).
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Creates a topic. Names: 1..249 characters of [A-Za-z0-9._-] (Kafka's
  // rule). Creating an existing topic with identical options succeeds (a
  // declaration; journaled topics are declared again after each restart);
  // with different options it is kAlreadyExists, naming each differing
  // field with the stored and the given value, and pointing to alter_topic.
  // A journaled topic needs a bus opened with Options::data_dir. A new
  // topic matching the pattern of a subscribed TopicSet group is joined by
  // that group before this returns; if it cannot be (64 groups on the
  // topic), the topic stays created and the error names the group.
  // Thread-safe.
  Status create_topic(std::string_view name, const TopicOptions& options);

  // Changes a topic's options (see TopicChanges for which fields change at
  // once, which at the next start, and which never). Returns each changed
  // field (none if every given value equals the current one). Values are
  // checked as create_topic checks them. Errors: kNotFound (topic),
  // kInvalidArgument (bad topic name), kClosed (bus closed),
  // kInvalidArgument naming every field that cannot change (durability; a
  // partition count below the current one; partitions, capacity or size
  // limits of a memory topic; retention or quota of a memory topic) or is
  // out of range; kIoError from the journal. Thread-safe.
  Result<std::vector<TopicChange>> alter_topic(std::string_view name, const TopicChanges& changes);

  // The options of a topic as declared (after alter_topic, including the
  // values that apply from the next start); kNotFound if none. Thread-safe.
  Result<TopicOptions> topic_options(std::string_view name) const;

  // Deletes a topic and everything stored for it: its partitions with their
  // events, its journal catalog entry, every group's committed offsets on
  // it and the attempt counts of its failing events. Dead letters that came
  // from it stay in their groups' "<group>.dlq" topics (a redrive of one
  // then fails with kNotFound). Topic handles to it fail with kClosed from
  // then on. A dead-letter topic "<group>.dlq" may be deleted like any
  // other: its letters go with it, and so does the group's settled ledger
  // (which letters were redriven or purged: it names offsets in that
  // topic), so a later "<group>.dlq" starts with every letter unsettled;
  // like delete_group, this is refused while the group is subscribed.
  // While the deletion of a journaled topic runs (it waits for the journal
  // writer's current cycle to end, committed or failed, up to 30 s; a
  // memory topic is removed at once),
  // create_topic, subscribe and dead-lettering to the name fail with
  // kFailedPrecondition "topic '<name>' is being deleted"; topic(), seek
  // and alter_topic by name already answer kNotFound. Errors: kNotFound
  // (topic), kInvalidArgument (bad topic name), kClosed (bus closed),
  // kFailedPrecondition while a group is subscribed to it (or it is the
  // dead-letter topic of a subscribed group), naming the groups, or while
  // it is being deleted; kDeadlineExceeded (or the journal's error) "topic
  // '<name>' is gone from the running bus, but the journal kept it" when
  // the journal could not drop it (the writer ended no cycle within 30 s,
  // or the drop's commit failed): it is back at the next start. At the
  // journal's size cap (Options::journal_max_bytes), a deletion goes
  // through and the space it frees lets the stalled commits of other
  // topics go on. Thread-safe.
  Result<TopicDeletion> delete_topic(std::string_view name);

  // Deletes a consumer group: its committed offsets on every topic, its
  // dedupe records, state tables, attempt counts, dead-letter settled
  // ledger, and its dead-letter topic "<group>.dlq" with every dead letter
  // in it. A group subscribed again later starts as new
  // (SubscribeOptions::start_from). Errors: kFailedPrecondition while it is
  // subscribed (unsubscribe first), or while another subscribed group reads
  // "<group>.dlq" (checked before anything is removed: a refused call
  // leaves the group whole); kNotFound when nothing is stored under
  // the name (naming the known groups); kInvalidArgument (bad name);
  // kClosed (bus closed). Thread-safe.
  Result<GroupDeletion> delete_group(std::string_view group);

  // A publishing handle for an existing topic; kNotFound if none. Thread-safe.
  Result<Topic> topic(std::string_view name) const;

  // Names of all topics, sorted. Thread-safe.
  std::vector<std::string> topics() const;

  // Convenience: topic(name) then publish. Thread-safe.
  Result<PublishReceipt> publish(std::string_view topic, const Event& event,
                                 const PublishOptions& options = {});
  BatchPublishResult publish_batch(std::string_view topic, std::span<const Event> events,
                                   const PublishOptions& options = {},
                                   std::span<PublishReceipt> receipts = {});

  // Starts consumer group options.group on `topic`: its workers begin
  // handing events to `handler`. A group name may be subscribed once at a
  // time (kAlreadyExists otherwise). A group that unsubscribed and subscribes
  // again resumes from where it stopped, if the partition still holds that
  // offset; on a journaled topic its offsets are persisted in the journal
  // and survive restarts (at-least-once: what was handled after the last
  // persisted offset is handed again after a crash). Errors: kInvalidArgument (bad name, null handler, options out of
  // range), kNotFound (topic), kAlreadyExists, kResourceExhausted (more than
  // 64 groups on one topic), kClosed. Thread-safe.
  Status subscribe(std::string_view topic, const SubscribeOptions& options, Handler handler);
  Status subscribe(std::string_view topic, const SubscribeOptions& options, BatchHandler handler);
  // A handler with transactional state tables (see State); implies
  // SubscribeOptions::dedupe. kInvalidArgument on a memory topic.
  Status subscribe(std::string_view topic, const SubscribeOptions& options, StateHandler handler);

  // Starts consumer group options.group on several topics: the topics of
  // `topics` (a list, a pattern, or both; see TopicSet for what holds
  // across topics), each read with `options` and `handler` as the
  // one-topic subscribe reads its topic, all served by one worker pool of
  // options.workers threads. A topic created later that matches the
  // pattern is joined by create_topic, into the running pool. Unsubscribe,
  // describe_group, pause/resume, set_workers and close act on all its
  // topics (pause_topic / resume_topic on one). Errors as
  // the one-topic subscribe, and kInvalidArgument for an empty TopicSet, a
  // name listed twice, more than 64 names, a pattern that is not a valid
  // regular expression (naming it and why), a listed memory topic with
  // dedupe or a StateHandler; kNotFound naming the first listed topic that
  // does not exist (also when a pattern is given). Thread-safe.
  Status subscribe(const TopicSet& topics, const SubscribeOptions& options, Handler handler);
  Status subscribe(const TopicSet& topics, const SubscribeOptions& options, BatchHandler handler);
  Status subscribe(const TopicSet& topics, const SubscribeOptions& options, StateHandler handler);

  // Stops a group: with kDrain its workers first handle what is already
  // published (bounded by timeout), with kStopAtBatch they stop after their
  // current batch. Its offsets are kept for a later subscribe. kNotFound if
  // no such group. Must not be called from the group's own handler.
  // Thread-safe.
  Result<CloseReport> unsubscribe(std::string_view group, const CloseOptions& options = {});

  // Moves group `group`'s offsets on `topic` (one partition, or all when
  // `partition` is empty) to the earliest or latest retained event, an
  // offset, or the first event at or after a time. The group must not be
  // subscribed (kFailedPrecondition otherwise: unsubscribe it first). On a
  // journaled topic the new offsets are persisted at once. Errors:
  // kNotFound (topic), kInvalidArgument (partition or offset out of range,
  // naming the valid range; an invalid group or topic name), kNotFound
  // (a group that never consumed the topic, naming the known groups, unless
  // `to.create_group`). Thread-safe.
  Status seek(std::string_view group, std::string_view topic, const SeekTo& to,
              std::optional<std::uint32_t> partition = std::nullopt);

  // --- Dead letters (see dlq.hpp) ---------------------------------------------
  // Dead letters of `group` not yet redriven or purged, oldest first, at most
  // `limit`. kNotFound if the group never had a dead-letter topic.
  Result<std::vector<DeadLetter>> dlq_list(std::string_view group, const DeadLetterFilter& filter = {},
                                           std::size_t limit = 1000) const;
  // One dead letter in full. kNotFound if there is none at that offset.
  Result<DeadLetterEvent> dlq_show(std::string_view group, Offset dlq_offset) const;
  // Republishes matching dead letters to their source topic for `group`
  // only (other groups of the topic skip them), keeping key, payload,
  // headers and id, so the group's dedupe store still protects side
  // effects; marks them redriven. Rate-limited; dry_run reports only.
  Result<RedriveReport> dlq_redrive(std::string_view group, const DeadLetterFilter& filter = {},
                                    const RedriveOptions& options = {});
  // Marks matching dead letters purged (they stop being listed); returns how
  // many. The events stay in the log until its retention removes them.
  Result<std::size_t> dlq_purge(std::string_view group, const DeadLetterFilter& filter = {});

  // Where the events matching `ref` on `topic` stand for `group` (see
  // EventLocation), oldest first, at most `limit`. Reads the topic's
  // retained events (a scan: for operators and tools, not the hot path).
  // Errors: kInvalidArgument (names; neither or both of id and key),
  // kNotFound (topic; a group that never consumed the topic, naming the
  // known groups). An event retention deleted is not found (empty result).
  // Thread-safe.
  Result<std::vector<EventLocation>> locate(std::string_view group, std::string_view topic, const EventRef& ref,
                                            std::size_t limit = 100);

  // The committed value of `key` in state table `table` of group `group`
  // (journaled topics; see State), or nullopt. For inspection and tools: it
  // does not see writes not yet committed. Thread-safe.
  Result<std::optional<std::string>> read_state(std::string_view group, std::string_view table,
                                                std::string_view key) const;

  // Offsets and lag of a group per partition. Thread-safe.
  Result<GroupStatus> describe_group(std::string_view group) const;

  // --- Operations (see metrics.hpp) -------------------------------------------
  // A snapshot of every topic and group: offsets, lag (events and seconds),
  // in-flight, processed, retries, DLQ depth and age, skew, rebalances,
  // handler and end-to-end latency percentiles. Costs no lock on the publish
  // or dispatch paths; its own cost grows with topics, partitions and groups,
  // never with dead letters (DLQ depth and age are maintained counters).
  // Thread-safe.
  Result<MetricsSnapshot> metrics() const;
  // The dominant keys among events of `partition` that `group` handled while
  // it was behind (sampled since the partition last caught up), most
  // frequent first, at most `k`. Errors: kNotFound (group),
  // kInvalidArgument (partition). Thread-safe.
  Result<std::vector<HotKey>> hot_keys(std::string_view group, std::uint32_t partition,
                                       std::size_t k = 10) const;
  // Pauses a group (all partitions, or one): its workers stop handing out
  // events of it after their current batch (events wait, unacknowledged;
  // retries pending stay pending). resume() undoes it. Errors: kNotFound,
  // kInvalidArgument (partition). Thread-safe.
  Status pause(std::string_view group, std::optional<std::uint32_t> partition = std::nullopt);
  Status resume(std::string_view group, std::optional<std::uint32_t> partition = std::nullopt);
  // pause / resume of one topic of a group (all its partitions, or one):
  // for a group over several topics (TopicSet), where a partition number
  // alone is ambiguous; a one-topic group takes its own topic. The group's
  // other topics keep flowing. Errors: kNotFound (group, or a topic the
  // group does not read, naming what it reads), kInvalidArgument
  // (partition). Thread-safe.
  Status pause_topic(std::string_view group, std::string_view topic,
                     std::optional<std::uint32_t> partition = std::nullopt);
  Status resume_topic(std::string_view group, std::string_view topic,
                      std::optional<std::uint32_t> partition = std::nullopt);
  // Sets a group's worker count now (clamped to its partition count - of
  // all its topics for a TopicSet group, whose one pool serves them all;
  // remembered when its pattern took no topic yet; within
  // [min_workers, max_workers] when it autoscales). Partitions move
  // cooperatively: the old owner finishes and commits its in-flight batch
  // before the new owner starts, so per-key order and at-least-once hold.
  // Errors: kNotFound, kInvalidArgument (0 workers). Thread-safe.
  Status set_workers(std::string_view group, std::uint32_t workers);

  // Stops the bus: publishes from outside handlers fail with kClosed at once;
  // then every group drains (or stops at a batch boundary) and every worker
  // thread is joined. Idempotent: a second call returns an empty report.
  // Returns within CloseOptions::timeout (plus the handler calls running at
  // its end, which cannot be interrupted), also when the journal cannot
  // commit (disk full, I/O error): then CloseReport::journal_status names
  // the cause and what was not persisted. Thread-safe. From a handler it
  // fails with kFailedPrecondition (it would wait for itself).
  Result<CloseReport> close(const CloseOptions& options = {});

 private:
  explicit Bus(std::unique_ptr<internal::BusCore> core);
  std::unique_ptr<internal::BusCore> core_;
  // The control endpoint (Options::control_socket), null without one; set
  // once in open(), before the Bus is shared.
  std::unique_ptr<internal::ControlServer> control_;
  std::unique_ptr<internal::ConsoleServer> console_;  // Options::console, likewise
};

}  // namespace weir
