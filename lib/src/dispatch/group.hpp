// Group: one consumer group's partitions of one topic, and the consumer
// loop over them. A group over several topics (a TopicSet) is one Group
// per topic under the group's name, its members, sharing one WorkerPool.
//
// Ownership: the group's WorkerPool (its own, or the TopicSet's) assigns
// each partition to one worker at a time - moves are cooperative, see
// PartitionState::owner and dispatch/worker_pool.cpp - so per-key order
// holds. Each partition's state (cursor, attempt, retry time, parked keys,
// stop flag) is touched only by its owning worker, except where noted.
//
// Threads: the pool's workers call serve_pass() / has_work() on the
// partitions they own. Shared with other threads:
//  * cursors (ReaderCursor, atomic): written by the owner (release), read by
//    the partition log's advance_head and by status() (acquire).
//  * stop_mode_ (atomic): written by begin_stop() (release), read by the
//    serve path (acquire); drain_target is written before it.
//  * stopped (atomic<bool>) per partition: written by the owner, read by
//    status() and the drain logic.
//
// The group is the partitions, their hand-off and the consumer loop; the
// rules it applies are parts with their own files and contracts:
// WorkerPool (threads, assignment, autoscaling), ParkingLot (non-blocking
// mode), LaneQueue (priority lanes), RetryPolicy (backoff, limit, attempt persistence), HandlerInvoker
// (handler kinds, exception and timeout rules), TxnOverlay (transactional
// write sets), CircuitBreaker, Autoscaler and Alerts.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/thread_annotations.hpp"
#include "dispatch/alerts.hpp"
#include "dispatch/autoscaler.hpp"
#include "dispatch/breaker.hpp"
#include "dispatch/handler_invoker.hpp"
#include "dispatch/lanes.hpp"
#include "dispatch/parking_lot.hpp"
#include "dispatch/retry_policy.hpp"
#include "dispatch/txn_overlay.hpp"
#include "dispatch/worker_pool.hpp"
#include "dlq/log.hpp"
#include "journal/format.hpp"
#include "journal/journal.hpp"
#include "metrics/histogram.hpp"
#include "metrics/key_sketch.hpp"
#include "topic/topic.hpp"
#include "weir/bus.hpp"

namespace weir::internal {

// On a journaled topic the group reads the journal (`journal` non-null):
// workers copy each batch out of a short LMDB read transaction, the journal
// writer wakes them after commits, and persists their offsets (the group is
// an OffsetSource) so a restart resumes where they were.
//
// Transactional groups (dedupe on, or a StateHandler): every event the
// handler finishes becomes a WriteSet (state writes, dedupe record, offset
// past the event) submitted to the journal writer, which commits it in its
// next group commit; the group's persisted offsets come only from committed
// write sets. Until then the writes stay in the group's TxnOverlay, so later
// events read them (read-your-writes) and a redelivered duplicate is
// recognised before its record is committed.
//
// One worker thread's working set, passed down its serve() calls (never
// shared): the batch it reads into and the tallies that feed the breaker and
// latency sampling.
struct WorkerContext {
  std::vector<Message> scratch;  // the batch handed out (max_batch views)
  ReadBatch rb;                  // journaled reads are copied here
  ReadBatch lane_rb;             // re-reads of set-aside events (priority lanes), so `scratch` stays valid
  std::uint32_t ok = 0, failed = 0;  // handler outcomes in the current serve()
  std::int64_t acked_time_us = 0;    // publish time of the oldest event acked in a sampled serve() (end-to-end latency)
  bool sample_e2e = false;           // this serve() samples end-to-end latency
  // A sampled serve() acked an event published at `time_us`: keeps the oldest.
  void note_acked(std::int64_t time_us) noexcept {
    if (sample_e2e && (acked_time_us == 0 || time_us < acked_time_us)) acked_time_us = time_us;
  }
  std::uint32_t calls = 0;           // handler calls (handler latency: one in 16)
  std::uint32_t e2e_batches = 0;     // acked batches (end-to-end latency: one in 8)
  std::uint64_t unsynced = 0;        // events since this worker's last durable offset
  // Transactional groups: the batch's dedupe keys and whether each was
  // handled before the batch started (Group::prefetch_dedupe).
  std::vector<std::string> dkeys;
  std::vector<std::uint64_t> dhashes;  // their overlay hashes (TxnOverlay::seen_many)
  std::vector<char> dseen;
  std::uint64_t dgeneration = 0;  // TxnOverlay::seen_many's generation
  // Scratch reused across events (no allocation once large enough): the
  // dedupe key of an event not prefetched, one handler call's state writes
  // and the state key being built (transactional.cpp).
  std::string dkey;
  StateWrites state_writes;
  std::string state_key;
};

// Where a group's dead letters go: its dead-letter topic (published to) and
// log (depth for metrics and alerts). Both null when dead-lettering is off.
struct DeadLetterTarget {
  std::shared_ptr<TopicState> topic;
  std::shared_ptr<DeadLetterLog> log;
};

class Outbox;

class Group final : public OffsetSource {
 public:
  using AnyHandler = HandlerInvoker::AnyHandler;

  // `pool`: the pool of a group over several topics (the slot's bell is
  // the pool's); null gives the group a pool of its own, sleeping on the
  // slot's bell. A shared pool must outlive the group. `dedupe`: the
  // DedupeScope of a group over several topics (null: one of its own).
  Group(std::shared_ptr<TopicState> topic, const SubscribeOptions& options, AnyHandler handler,
        std::uint32_t bell_slot, const BusShared* bus, std::chrono::microseconds idle_spin,
        Journal* journal, DeadLetterTarget dead_letters, std::shared_ptr<WorkerPool> pool = nullptr,
        std::shared_ptr<DedupeScope> dedupe = nullptr);
  ~Group() override;

  // OffsetSource
  const std::string& group_name() const override { return options_.group; }
  const std::string& topic_name() const override;
  std::vector<Offset> current_offsets() const override { return offsets(); }
  bool offsets_in_write_sets() const override { return txn_mode_; }

  // Registers the group's cursors (at `resume` offsets where given, else
  // per start_from) and hands the partitions to the pool, which starts
  // workers as needed. Not thread-safe (called once); kFailedPrecondition
  // if the pool is stopping.
  Status start(const std::vector<Offset>& resume);

  // Stops the pool's workers as `options` says (a shared pool: for every
  // member at once, the first member's stop deciding), joins them, and
  // unregisters the cursors. Idempotent. Must not run on a worker of the pool.
  CloseReport stop(const CloseOptions& options);

  // True when every partition is handled up to its end (or stopped by a
  // permanent failure, or paused). Thread-safe.
  bool caught_up() const;

  GroupStatus status() const;              // Thread-safe.
  GroupMetrics metrics() const;            // Thread-safe.
  std::vector<HotKey> hot_keys(std::uint32_t partition, std::size_t k) const;  // Thread-safe.
  // An event of `partition` waiting for another attempt (Bus::locate):
  // the attempt it will be on and when it is due (system clock, us).
  struct RetryNote {
    std::uint32_t attempt = 0;
    std::int64_t next_try_us = 0;
  };
  // The retry the event at `offset` waits for, if it failed and waits now
  // (nullopt once the cursor passed it or it finished). Thread-safe.
  std::optional<RetryNote> retry_note(std::uint32_t partition, Offset offset) const;
  // When the partition's current batch was handed to the handler (system
  // clock, us; 0 before the first). Thread-safe; relaxed: approximate.
  std::int64_t handed_at_us(std::uint32_t partition) const;
  // Bus::pause / resume (all partitions when `partition` is empty). Thread-safe.
  void set_paused(std::optional<std::uint32_t> partition, bool paused);
  // Bus::set_workers: resizes the pool (shared: for every member). Thread-safe;
  // kFailedPrecondition once stopping.
  Status set_workers(std::uint32_t n) { return pool_->set_workers(n); }
  std::vector<Offset> offsets() const;     // Thread-safe.
  const std::string& name() const noexcept { return options_.group; }
  const std::shared_ptr<TopicState>& topic() const noexcept { return topic_; }
  std::uint32_t bell_slot() const noexcept { return bell_slot_; }
  // True if the calling thread is one of this group's workers.
  bool on_worker_thread() const noexcept { return pool_->on_worker_thread(); }

 private:
  friend class WorkerPool;  // owns the workers; reads the hand-off state
  enum StopMode : int { kRunning = 0, kDrain = 1, kStopNow = 2 };

  // What became of one event handed to the handler.
  enum class Verdict {
    kPassed,   // finished: done, skipped, or dead-lettered
    kLater,    // retry at Attempts::retry_at
    kStopped,  // the partition stopped (permanent failure, no dead letters)
    kWait,     // not handled: the partition waits (cur.retry_at), then reads it again
  };

  struct PartitionState {
    PartitionState(std::uint32_t i, Partition* p, std::size_t max_parked)
        : index(i), part(p), lot(max_parked), lanes(max_parked) {}
    const std::uint32_t index;
    Partition* const part;
    ReaderCursor cursor;
    Attempts cur;                                      // owner only
    // Blocking mode, owner only: cur.retry_at is the delivery time of the
    // event at the cursor (Event::deliver_at_us), not a retry.
    bool held_for_delivery = false;
    Offset nudged_at = 0;                              // owner only: last offset-commit nudge
    std::atomic<bool> stopped{false};
    Offset drain_target = 0;  // written before stop_mode_ (release)

    // RetryMode::kNonBlocking, owner only. The cursor (what is committed)
    // is the oldest parked offset, or read_pos when nothing is parked.
    Offset read_pos = 0;                                   // next offset to read
    ParkingLot lot;                                        // parked keys and their due heads
    // Priority lanes: lower-priority events set aside while the owner
    // looks ahead for urgent ones (dispatch/lanes.hpp). The cursor is also
    // at most its oldest offset.
    LaneQueue lanes;
    AttemptLedger attempts;                    // failing heads' attempt counts (persisted)
    // Memory topics (parks_copies()): the lot keeps a copy of each parked
    // event's record, so the ring's reader is `ring_hold`, kept at read_pos
    // by the owner (release store, paired with the ring's advance_head), and
    // the ring bounds only unread events, max_parked the parked ones.
    ReaderCursor ring_hold;
    std::atomic<std::uint64_t> parked_count{0};  // for status(); relaxed
    // Written by the owner after each serve() (relaxed), read by
    // caught_up(): all that is left unhandled of what was read waits for a
    // delivery time (Event::deliver_at_us) - the held cursor event and what
    // follows it (blocking), or scheduled heads and their keys (non-blocking).
    std::atomic<bool> waits_for_delivery{false};
    // Written with it (non-blocking): the parking lot is full, so the reader
    // takes nothing past handed_end until a parked key moves on.
    std::atomic<bool> lot_full{false};

    // Ownership: the worker serving it, -1 while it is handed over. The old
    // owner stores -1 (release) after its last batch; the new one takes it
    // with a CAS (acquire), so everything above passes between them.
    std::atomic<int> owner{-1};
    std::atomic<bool> paused{false};  // Bus::pause; read by the owner (relaxed)

    // Metrics, written by the owner (relaxed), read by metrics().
    std::atomic<std::uint64_t> processed{0};    // events acknowledged
    std::atomic<Offset> handed_end{0};          // end of what the handler was handed
    std::atomic<std::int64_t> handed_at_us{0};  // when it was handed (system clock)
    std::atomic<std::int64_t> head_time_us{0};  // memory: publish time of the event at the cursor
    // Hot keys of the backlog (sampled while behind). The owner takes the
    // mutex with try_lock once per full batch (skipping the sample when
    // hot_keys() holds it); hot_keys() takes it.
    mutable Mutex sketch_mu;
    KeySketch sketch GUARDED_BY(sketch_mu);
    bool sketch_dirty = false;   // owner only

    // Failing events waiting for another attempt, by offset, for
    // retry_note(): written by the owner (note_retry / forget_retry), read
    // by any thread under retry_mu. At most one entry in blocking mode, one
    // per parked head in non-blocking mode. `has_retry_notes` (owner only)
    // spares the done path the mutex while nothing waits.
    mutable Mutex retry_mu;
    std::map<Offset, RetryNote> retry_notes GUARDED_BY(retry_mu);
    bool has_retry_notes = false;             // owner only
  };

  // --- for the pool's workers (dispatch/worker_pool.cpp) ---
  // One turn of a worker over `mine` (its partitions of this group): each
  // not finished, waiting or refused by the breaker is served once. Clears
  // all_finished when some partition is not finished, sets retry_pending
  // when one waits for a time. Returns the progress made.
  std::uint32_t serve_pass(const std::vector<PartitionState*>& mine, WorkerContext& w, int mode,
                           bool& all_finished, bool& retry_pending);
  // The stop mode the pool asks for (kDrain: the drain ends are each
  // partition's end now); the pool's workers see it before its own.
  void begin_stop(CloseMode mode);
  // Worker 0, between batches: alerts and the retry rate.
  void between_batches() { alerts_.evaluate(retries_.load(std::memory_order_relaxed)); }
  bool has_work(const std::vector<PartitionState*>& mine, int mode,
                std::chrono::steady_clock::time_point& next_retry, bool parking) const;
  // Gives `ps` up (its owner, between batches, when the pool moved it):
  // waits for its write sets to commit, then owner = -1 (release).
  void release_partition(PartitionState& ps);
  // Metrics sampling of one serve() (owner).
  // Feeds one key in 8 of a full batch, at most 16 per batch (key_at(i):
  // the i-th event's key), to the partition's hot-key sketch; skipped if
  // hot_keys() holds it.
  template <typename KeyAt>
  void sample_keys(PartitionState& ps, std::uint32_t n, KeyAt&& key_at) {
    if (!ps.sketch_mu.try_lock()) return;
    const std::uint32_t stride = std::max<std::uint32_t>(8, n / 16);
    for (std::uint32_t i = 0; i < n; i += stride) ps.sketch.add(key_at(i));
    ps.sketch_mu.unlock();
    ps.sketch_dirty = true;
  }
  // Handles one batch of `ps` (one event when `probe`: the breaker's
  // half-open probe) and reports the handler outcomes to the breaker.
  std::uint32_t serve(PartitionState& ps, WorkerContext& w, bool probe);
  // Handles one batch of `ps`; returns events handled (or 1 on a retry/fail
  // decision, so the worker counts it as progress).
  std::uint32_t serve_events(PartitionState& ps, WorkerContext& w, bool probe);
  // serve_events' transactional batch: the first n events of w.scratch
  // through serve_txn, their write set submitted as one unit. Returns the
  // events that passed; sets `decided` when one did not.
  std::uint32_t serve_txn_batch(PartitionState& ps, WorkerContext& w, std::uint32_t n, bool& decided);
  // Transactional handling of one event, adding what it changed to `ws`
  // (the batch's write set); true if it is done (handled or a skipped
  // duplicate), false if the outcome was retry/fail (applied).
  // `pre`: the event's index in w.dkeys / w.dseen when prefetch_dedupe()
  // looked its dedupe key up (-1: look it up here).
  Verdict serve_txn(PartitionState& ps, WorkerContext& w, Attempts& a, const Message& m, std::unique_ptr<WriteSet>& ws,
                    int pre = -1);
  // Looks the dedupe keys of `batch` up in one overlay lock and one read
  // transaction (into w.dkeys / w.dseen); false if the journal could not be
  // read (serve_txn then looks each up itself).
  bool prefetch_dedupe(WorkerContext& w, std::span<const Message> batch);
  // Whether the batch's event `i` was handled, from the prefetch (looked up
  // again, from `i` on, when a commit was reported since).
  Result<bool> prefetched_seen(WorkerContext& w, std::size_t i);
  // Hands `ws` in early when `next`'s follow-ups would not fit in it.
  void attach_follow_ups(const Outbox& next, std::unique_ptr<WriteSet>& ws);
  // RetryMode::kNonBlocking: due retries of parked keys, then new events.
  std::uint32_t serve_nonblocking(PartitionState& ps, WorkerContext& w, bool probe);
  // Parked keys whose head is due, oldest first, within `budget` (spent).
  std::uint32_t serve_due_heads(PartitionState& ps, WorkerContext& w, std::uint32_t& budget,
                                std::unique_ptr<WriteSet>& ws);
  // The first n events in w.scratch (new, from read_pos): handled, or
  // parked behind their key. Returns how many were taken (read_pos moves by it).
  std::uint32_t serve_new(PartitionState& ps, WorkerContext& w, std::uint32_t n, std::unique_ptr<WriteSet>& ws);
  // Priority lanes (dispatch/priority_lanes.cpp). Whether `m`, just read,
  // is set aside rather than handled now: it is below the top priority, or
  // its key already has events set aside.
  bool lane_defers(const PartitionState& ps, const Message& m) const {
    return lanes_ > 1 && (m.priority() + 1 < lanes_ || ps.lanes.holds(m.key()));
  }
  // Sets `m` aside (REQUIRES: lane_defers, !ps.lanes.full()).
  void defer(PartitionState& ps, const Message& m);
  // Hands out set-aside events, most urgent key first, within `budget`.
  std::uint32_t serve_deferred(PartitionState& ps, WorkerContext& w, std::uint32_t budget,
                               std::unique_ptr<WriteSet>& ws);
  // Moves `key`'s set-aside queue into the parking lot, its head as the
  // key's parked head (`head`; `scheduled`: it waits for its delivery time).
  void lanes_to_lot(PartitionState& ps, const std::string& key, const Attempts& head, bool scheduled);
  // What reading a held event again gave (read_held).
  enum class HeldRead {
    kRead,       // `m` holds the event
    kStopped,    // the record is corrupt, or retention deleted it under
                 // RetentionGapPolicy::kStop: the partition stopped
    kGone,       // retention deleted it while it waited (kJumpToEarliest):
                 // reported, the key goes on
    kRetrySoon,  // a transient read error: the key tries again soon
  };
  // Reads a held (`what`: "parked" or "set-aside") event at `off` again:
  // from its record copy `copy` (memory topics), else from the partition
  // into `rb`; stops the partition or reports the gap as HeldRead says.
  HeldRead read_held(PartitionState& ps, const std::string* copy, Offset off, std::uint32_t attempt, Message& m,
                     ReadBatch& rb, std::string_view what);
  // One event through the handler (any kind) with the retry rules.
  Verdict handle_one(PartitionState& ps, WorkerContext& w, Attempts& a, const Message& m, std::unique_ptr<WriteSet>& ws);
  // The parked key's head finished: the next event of the key becomes due.
  void finish_head(PartitionState& ps, const std::string& key);
  // A read of `ps` at `at` failed: stops the partition (corrupt record),
  // schedules a retry (transient) and returns true; or reports a retention
  // gap and returns false with `resume_at` where reading goes on.
  bool read_failed(PartitionState& ps, Offset at, std::uint32_t attempt, const Status& s, Offset& resume_at);
  // Everything of `ps` below `to` is finished (it was at `from`): advances
  // the cursor and asks for the offset to be persisted as options say.
  void commit_progress(PartitionState& ps, WorkerContext& w, Offset from, Offset to);
  // Within a batch, per event: a handler returned and everything of `ps`
  // below `next` is finished, so the offset is committable now rather than
  // at the end of the batch (a slow handler's offsets move with it; the
  // journal writer persists them every offset_commit_interval). Owner only.
  // The store is release: it pairs with the journal writer's acquire load
  // (current_offsets) and, on a memory ring, with advance_head()'s acquire,
  // so our reads of the event's slot are finished before it is reused; the
  // caller reads nothing of events below `next` afterwards. Producers
  // waiting for ring space are woken by commit_progress at the batch's end.
  void finished_through(PartitionState& ps, Offset next) noexcept;
  // Most events one serve() takes: max_batch, or, with offset_commit_events
  // = N on a journaled topic, what keeps this worker's events since its last
  // durable offset at N or below (so a crash redelivers at most N).
  std::uint32_t batch_limit(const WorkerContext& w) const noexcept {
    const std::uint64_t n = options_.offset_commit_events;
    if (!journal_ || n == 0) return options_.max_batch;
    const std::uint64_t room = n - std::min<std::uint64_t>(w.unsynced, n - 1);  // >= 1
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(options_.max_batch, room));
  }
  // The event at `offset` waits for attempt `a.attempt` at `a.retry_at`
  // (owner); drops notes the cursor passed.
  void note_retry(PartitionState& ps, Offset offset, const Attempts& a);
  // The event at `offset` no longer waits for a retry (owner).
  void forget_retry(PartitionState& ps, Offset offset) {
    if (!ps.has_retry_notes) return;
    MutexLock lock(ps.retry_mu);
    ps.retry_notes.erase(offset);
    ps.has_retry_notes = !ps.retry_notes.empty();
  }
  // Persists the attempt count of a failing event (1: it no longer fails).
  void save_attempts(PartitionState& ps, Offset offset, std::uint32_t attempt) {
    retry_.save(ps.attempts, ps.index, offset, attempt);
  }
  bool nonblocking() const noexcept { return options_.retry_mode == RetryMode::kNonBlocking; }
  // Non-blocking on a memory topic: parked events are copied out of the ring.
  bool parks_copies() const noexcept { return nonblocking() && !journal_; }
  // Memory topics: gives the lot a copy of the just-parked event at `offset`
  // (its slot is still held: ring_hold has not passed read_pos <= offset).
  void keep_parked_copy(PartitionState& ps, Offset offset);
  // Events of `ps` this worker could handle now (journal: committed ones).
  bool has_events(const PartitionState& ps, bool seq_cst) const noexcept;
  void stop_partition(PartitionState& ps, Offset at, std::uint32_t attempt, std::string_view reason,
                      FailureKind kind);
  void report(const PartitionState& ps, Offset at, std::uint32_t attempt, std::string_view reason,
              FailureKind kind) const;
  // Applies a verdict on the event at `offset`; true if the cursor may pass
  // (the event was dead-lettered).
  bool apply(PartitionState& ps, Attempts& a, const Message& m, const Outcome& o);
  // One event through the invoker; samples its latency one call in 64 and
  // tallies the outcome for the breaker.
  Outcome call(WorkerContext& w, const Message& m, State* state);
  // Moves `m` to the dead-letter topic; true once it is safely there.
  bool dead_letter(const Message& m, const Attempts& a, std::string_view reason);
  bool partition_finished(const PartitionState& ps, int mode) const;
  // Non-blocking: what the partition holds back is only scheduled heads
  // (delayed events) and the keys queued behind them; nothing is due before
  // a delivery time. Owner only.
  static bool holds_only_scheduled(const PartitionState& ps) {
    return !ps.lot.empty() && ps.lot.only_scheduled() && ps.lanes.empty();
  }
  // Memory topics: records the publish time of the event at the cursor (owner).
  void note_head_time(PartitionState& ps) const;

  const std::shared_ptr<TopicState> topic_;
  const SubscribeOptions options_;
  HandlerInvoker invoker_;  // the handler and its call rules
  const std::uint32_t bell_slot_;
  const BusShared* const bus_;
  Journal* const journal_;  // null for memory topics
  const DeadLetterTarget dead_letters_;  // empty when dead_letter is off
  const std::unique_ptr<CircuitBreaker> breaker_;   // null unless options.breaker.enabled
  const RetryPolicy retry_;  // backoff, attempt limit, attempt persistence

  const bool txn_mode_;     // dedupe or a StateHandler (journaled only)

  TxnOverlay overlay_;      // transactional groups' uncommitted write sets
  // Retries of every worker (relaxed); alerts and the retry rate are
  // judged from it by worker 0.
  std::atomic<std::uint64_t> retries_{0};
  Alerts alerts_;  // worker 0 only, but retry_rate()
  std::atomic<std::uint64_t> duplicates_{0};

  std::vector<std::unique_ptr<PartitionState>> parts_;

  // Latency samples (any worker; lock-free).
  AtomicLatencyHistogram e2e_hist_;
  std::atomic<int> stop_mode_{kRunning};

  // The group's pool: its own, or a TopicSet group's, shared so that it
  // outlives every member (BusCore::metrics() may hold a member after its
  // TopicSet group is gone).
  std::shared_ptr<WorkerPool> pool_owner_;
  WorkerPool* const pool_;  // pool_owner_.get()

  Mutex stop_mu_;
  bool stopped_ GUARDED_BY(stop_mu_) = false;  // stop() ran

  // Priority levels this group serves by (TopicOptions::priority_levels in
  // RetryMode::kNonBlocking; 1 - offset order - otherwise). Fixed.
  const std::uint32_t lanes_ =
      options_.retry_mode == RetryMode::kNonBlocking ? topic_->options().priority_levels : 1;
};

}  // namespace weir::internal
