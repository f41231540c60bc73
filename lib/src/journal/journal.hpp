// Journal: the storage engine behind a bus opened on a data directory: one
// LMDB environment (journal/env.hpp, layout in journal/format.hpp) and its
// group-commit writer. It knows nothing of topics, rings or groups: the
// layer above hands it CommitSources (partitions with records waiting),
// OffsetSources (groups whose offsets to persist) and WriteSets (what a
// transactional group's handlers changed).
//
// Who writes LMDB: the writer thread commits record batches, group offsets,
// write sets, retention and dedupe purges. Three writes happen on other
// threads, each in a short synced write transaction of its own (LMDB
// serialises them with the writer): open_topic (catalog and partition
// databases, at topic creation), store_offsets (seek of a stopped group) and
// internal_put (attempt counts of failing events and the dead-letter settled
// ledger; administration, not the per-event path).
//
// Readers (group workers) use short read transactions, one per batch, and
// copy what they read before running handlers, so a slow handler never pins
// pages.
//
// Map growth: on MDB_MAP_FULL the writer aborts the transaction, takes
// resize_mu_ exclusively (read transactions hold it shared), doubles the
// map (up to Options::journal_max_bytes) and retries. resize_mu_ prefers
// the writer: once it waits, new read leases wait behind it, so a full map
// waits only for the leases already open (each is short: one batch copied
// out), never for an endless overlap of leases; hence no thread may take it
// shared while it holds it shared (no nested leases). ENOSPC or the cap make
// the journal "stalled": stalled() is true and error() names the cause,
// nothing acknowledged is touched, and the writer retries every 100 ms, so
// freeing space lets the bus continue.
//
// Faults: every put, commit (and its fsync) and map growth goes through the
// fault seam of journal/fault.hpp, so tests make them fail on purpose.
//
// Thread-safety: all public methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <optional>
#include <span>
#include <vector>

#include <concurrentqueue/concurrentqueue.h>

#include "base/doorbell.hpp"
#include "base/rw_lock.hpp"
#include "base/thread_annotations.hpp"
#include "journal/byte_lists.hpp"
#include "journal/commit_source.hpp"
#include "journal/env.hpp"
#include "journal/flush_debt.hpp"
#include "journal/follow_ups.hpp"
#include "journal/lmdb.hpp"
#include "journal/log_reader.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

// Offsets a group wants persisted; the writer reads them each commit.
class OffsetSource {
 public:
  virtual ~OffsetSource() = default;
  virtual const std::string& group_name() const = 0;
  virtual const std::string& topic_name() const = 0;
  // Current next-offset per partition (acquire loads).
  virtual std::vector<Offset> current_offsets() const = 0;
  // True when the group's offsets travel in its write sets instead (dedupe
  // or state tables): then the writer must not persist current_offsets().
  virtual bool offsets_in_write_sets() const { return false; }
};

// Told by the writer when write sets have been committed.
class TxnSink {
 public:
  virtual ~TxnSink() = default;
  // These write sets of this sink are committed. Called on the writer
  // thread once per commit, seqs in no particular order across the sink's
  // worker threads.
  virtual void committed(std::span<const std::uint64_t> seqs) = 0;
};

// How the writer reaches a sink: the sink clears `sink` (under `mu`) before
// it goes away, so a write set that outlives its group reports to nobody.
struct SinkRef {
  std::mutex mu;
  TxnSink* sink = nullptr;  // GUARDED_BY(mu)
};

// What handling a run of events of one partition of a transactional group
// changes, committed as a unit: state writes, dedupe records, and the
// group's offset past the last event (all in the writer's next group
// commit). A worker submits one per batch it handled.
struct WriteSet {
  std::shared_ptr<SinkRef> sink;
  std::uint64_t seq = 0;           // per sink, unique
  std::string offsets_key;         // Journal::offsets_key(group, topic, partition)
  Offset next = 0;                 // the offset after the last event
  // Dedupe keys and state writes (state key -> value / erase), each list's
  // bytes in one buffer (journal/byte_lists.hpp).
  KeyList dedupe_keys;
  std::int64_t expire_us = 0;      // when the dedupe records may be purged
  StateWrites writes;
  // Events published through State::publish (null if none): appended in
  // the transaction that commits this write set, never in an earlier one.
  std::unique_ptr<FollowUps> follow_ups;
  // Writer thread only: where the follow-ups were placed.
  std::vector<std::pair<CommitSource*, Offset>> placed;
};

// Whether the journal can commit, shared with the partitions that report it
// to producers (they may outlive the Journal in a Topic handle), and their
// request for a flush (fsync-ack waiters; see Journal::want_flush).
// Thread-safety: thread-safe; stalled() is a lock-free acquire load; the
// flush request is a relaxed flag (a hint).
class JournalHealth {
 public:
  // const: the partitions hold a const view (they report health, and ask).
  void want_flush() const noexcept { flush_wanted_.store(true, std::memory_order_relaxed); }
  // Whether a flush was asked for since the last call (clears the request).
  bool take_flush_request() noexcept {
    return flush_wanted_.load(std::memory_order_relaxed) && flush_wanted_.exchange(false, std::memory_order_relaxed);
  }

  bool stalled() const noexcept { return stalled_.load(std::memory_order_acquire); }
  Status error() const {
    MutexLock lock(mu_);
    return error_;
  }
  // The writer's verdict on its last attempt (ok clears a stall).
  void set(const Status& s) {
    if (s.is_ok() && !stalled()) return;
    MutexLock lock(mu_);
    error_ = s;
    stalled_.store(!s.is_ok(), std::memory_order_release);
  }

 private:
  std::atomic<bool> stalled_{false};
  mutable std::atomic<bool> flush_wanted_{false};
  mutable Mutex mu_;
  Status error_ GUARDED_BY(mu_);
};

// What Journal::drop_group removed: records counted per kind.
struct DroppedGroup {
  std::uint64_t offsets = 0;         // committed offsets (one per topic partition)
  std::uint64_t dedupe_records = 0;  // processed event ids
  std::uint64_t state_values = 0;    // state tables, attempt counts, settled dead letters
};

class Journal {
 public:
  static Result<std::unique_ptr<Journal>> open(const Options& options);
  ~Journal();

  // Topics stored in the journal, with their options.
  Result<std::vector<std::pair<std::string, TopicOptions>>> stored_topics() const;

  // Records a journaled topic's options and opens (creating if needed) its
  // partition databases; returns each partition's JournalLog, with its
  // bounds as stored (appends continue at committed()).
  Result<std::vector<std::unique_ptr<JournalLog>>> open_topic(std::string_view topic,
                                                              const TopicOptions& options);
  // The writer appends from `src` (and applies its retention) from now on.
  void attach(CommitSource* src);

  // Group offsets persisted for (group, topic), or empty if none.
  Result<std::vector<Offset>> load_offsets(const std::string& group, const std::string& topic,
                                           std::uint32_t partitions) const;
  // Groups with offsets persisted for `topic`, sorted.
  Result<std::vector<std::string>> groups_of(std::string_view topic) const;
  // The writer persists `src`'s offsets each commit while tracked; untrack
  // persists them one last time, blocking until committed or `timeout`
  // (kDeadlineExceeded, naming the journal's error if it has one; the
  // offsets stay queued, so a later commit, such as stop()'s last one,
  // still writes them).
  void track(OffsetSource* src);
  Status untrack(OffsetSource* src, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Asks the writer to persist offsets soon (a group moved far).
  void nudge() noexcept { bell_.ring(); }
  // Blocks until a commit that read every offset stored before this call
  // has committed and is on stable storage (synchronous offset commit).
  Status wait_offsets_durable(std::chrono::milliseconds timeout);

  // Asks the writer to flush right after its next commit: an fsync ack or
  // a synchronous offset commit waits (JournaledPartition::wait_durable).
  // A hint: without it the writer's next commit, or its flush before it
  // sleeps, flushes anyway. Thread-safe (a relaxed store).
  void want_flush() noexcept { health_->want_flush(); }

  // Hands a write set to the writer (taking ownership); it is applied in
  // the next group commit and then reported to its sink. Call nudge() after
  // a run of submits (the writer also looks every offset_commit_interval).
  // Thread-safe.
  void submit(std::unique_ptr<WriteSet> ws);
  // Write sets submitted so far, and those whose follow-ups the writer has
  // placed in their topics' rings so far (seq_cst loads; both only grow).
  // A close that drains reads placed, finds every group caught up, then
  // sees both still equal to it: every write set of an event handled before
  // the check had its follow-ups in their rings before it (a submit
  // happens-before the handler's cursor moves). Thread-safe.
  std::uint64_t write_sets_submitted() const noexcept { return ws_submitted_.load(std::memory_order_seq_cst); }
  std::uint64_t write_sets_placed() const noexcept { return ws_placed_.load(std::memory_order_seq_cst); }
  // Whether a dedupe record for `key` is stored. Thread-safe.
  Result<bool> dedupe_seen(std::string_view key) const;
  // dedupe_seen for many keys in one read transaction: sets seen[i] (which
  // must have keys.size() elements) for each stored keys[i]; entries already
  // true are not looked up. Thread-safe.
  Status dedupe_seen_many(std::span<const std::string> keys, std::span<char> seen) const;
  // A committed value of a users' state table (key: state_key). Thread-safe.
  Result<std::optional<std::string>> state_get(std::string_view key) const;
  // Writes internal records (keys: attempts_key, settled_key of
  // journal/format.hpp) in a synced transaction of their own
  // (administration, not the handler path). Thread-safe.
  Status internal_put(const std::vector<std::pair<std::string, std::string>>& values);
  // A committed internal record. Thread-safe.
  Result<std::optional<std::string>> internal_get(std::string_view key) const;

  // Reads up to `max` records of `log` from `from` (below its committed
  // watermark) into `out`. kDataLoss names the bad record's location;
  // kNotFound means retention deleted `from` (the message gives the range),
  // or drop_topic dropped the log ("was deleted").
  Status read(const JournalLog& log, Offset from, std::uint32_t max, ReadBatch& out) const;

  // First offset of `log` whose event time is >= time_us (the end if
  // none). kNotFound if drop_topic dropped the log. Thread-safe.
  Result<Offset> offset_for_time(const JournalLog& log, std::int64_t time_us) const;
  // Persists offsets of a group that is not running (seek). Thread-safe.
  Status store_offsets(const std::string& group, const std::string& topic,
                       const std::vector<std::pair<std::uint32_t, Offset>>& offsets);

  // --- lifecycle (journal/lifecycle.cpp); each in a synced transaction ---
  // Rewrites a topic's catalog entry (alter_topic): the next start opens it
  // with these options. Partitions it adds are created now, empty.
  // Thread-safe.
  Status store_topic_options(std::string_view topic, const TopicOptions& options);
  // Deletes a topic: detaches its partitions from the writer (waiting for
  // the writer's current cycle to end), then drops its partition
  // databases, its catalog entry, and the offsets and attempt records of
  // `groups` on it; when it is the dead-letter topic of group
  // `dead_letter_group` (non-empty), that group's settled ledger too (its
  // keys are offsets in this topic, which a new topic of the name would
  // reuse). The caller has closed the partitions, and no group reads them;
  // a read or offset_for_time on one of its logs after the detach (a
  // caller that found the topic before the delete) waits for none and
  // gets kNotFound, never a closed handle or a newer topic's log.
  // Thread-safe.
  Status drop_topic(std::string_view topic, std::uint32_t partitions, const std::vector<std::string>& groups,
                    std::string_view dead_letter_group);
  // Deletes everything stored under a group's name: its offsets on every
  // topic, its dedupe records, state tables, attempt counts and dead-letter
  // settled ledger (not its dead-letter topic: drop_topic that). The group
  // is not running. Thread-safe.
  Result<DroppedGroup> drop_group(std::string_view group);

  // Writes everything handed in so far and stops the writer. Idempotent.
  void stop();

  // Events published to journaled topics and not (yet) written, per topic
  // that has any, sorted by topic; after stop() with error() set, these
  // were never acknowledged and are lost with the process. Thread-safe.
  std::vector<std::pair<std::string, std::uint64_t>> unwritten_events() const;

  // The writer's bell: producers of journaled topics ring it after
  // publishing (Doorbell protocol; the writer re-checks CommitSource::pending).
  Doorbell& bell() noexcept { return bell_; }

  // True while commits fail (disk full, size cap, I/O error); error() names
  // the cause (ok once a commit succeeds again). Thread-safe.
  bool stalled() const noexcept { return health_->stalled(); }
  Status error() const { return health_->error(); }
  const std::shared_ptr<const JournalHealth> health() const noexcept { return health_; }

  // A random id stored when the journal was created: names its logs in
  // derived event ids, so they survive restarts.
  std::uint64_t id() const noexcept { return id_; }
  const std::string& dir() const noexcept { return env_->dir(); }

  // What a read of a log drop_topic dropped gets.
  static Status dropped(const JournalLog& log) {
    return Status::not_found("topic '" + log.topic() + "' was deleted (partition " + std::to_string(log.partition()) +
                             " is no longer stored)");
  }

  // The map-growth lock (resize_mu_): writer-preferring, see the file comment.
  using ResizeMutex = WriterPreferringSharedMutex;

  // For tests: current map size in bytes.
  std::size_t TEST_map_size() const;

 private:
  struct Part;
  Journal(const Options& o, std::unique_ptr<Env> env);
  Status init_meta();
  void set_error(const Status& s) { health_->set(s); }
  void writer_main();
  // Records of one source for one commit.
  struct Work {
    CommitSource* src;
    Offset from;
    std::uint32_t n;
    std::size_t bytes;       // estimate for the commit's budget: one batch header
    std::size_t stored = 0;  // set by append_batches: the bytes of its batches
  };
  // Appends each source's records in `txn` as record batches of at most
  // batch_limit_ bytes (a record bigger than that alone), and sets each
  // Work's `stored`.
  Status append_batches(MDB_txn* txn, std::vector<Work>& work);
  // One group commit (cycle `cycle`); returns events and write sets
  // committed, or an error. Sets durable_cycle_.
  Result<std::size_t> commit_once(bool final_pass, std::uint64_t cycle);
  // Chooses each log's records for one commit, within `budget` bytes but
  // always the oldest take's records whole and at least one record;
  // returns the bytes chosen.
  std::size_t select_work(const std::vector<CommitSource*>& logs, std::size_t budget, std::vector<Work>& work) const;
  // Grows the map (doubling, at most to the cap). REQUIRES: !at_cap().
  Status grow_map(std::size_t needed_hint);
  // Whether the map reached Options::journal_max_bytes (writer thread), and
  // the error that says so.
  bool at_cap() const;
  Status full_at_cap() const;
  // At the cap or on a full disk: retention and the dedupe purge, ahead of
  // their interval, then reuse_freed_pages(). Returns whether they deleted
  // anything (writer thread, no transaction open).
  bool make_room();
  // One small transaction (the format version rewritten with its own
  // value): LMDB reuses the pages a transaction freed only from the second
  // transaction after it, so without this the commit that follows a delete
  // could not use the space the delete freed. Its failure is harmless (the
  // next commit that succeeds does the same). REQUIRES: resize_mu_ held
  // shared, no write transaction open.
  void reuse_freed_pages();
  // Rings the writer and waits, under commit_mu_, until `counter`
  // (cycle_done_ or cycle_ended_) reaches `target`, the journal stops, or
  // `timeout` passes.
  enum class CycleWait { kReached, kTimedOut, kStopped };
  CycleWait await_cycle(const std::atomic<std::uint64_t>& counter, std::uint64_t target,
                        std::chrono::milliseconds timeout);
  Status wait_cycle(std::uint64_t target, std::chrono::milliseconds timeout);
  // Waits until writer cycle `target` ended, committed or failed (a stalled
  // journal's cycles end too: drop_topic needs only that no cycle still
  // holds what it detached, not a commit, which at the size cap waits for
  // the space the drop frees).
  Status wait_cycle_ended(std::uint64_t target, std::chrono::milliseconds timeout);
  // After a commit: each log's new committed end (watermark, ring slots
  // freed, ack waiters and readers woken) and, when the commit wrote pages
  // (`wrote`: so its data flush ran), its entry in the flush debt, paying
  // the commits before it. Returns the events committed.
  std::size_t publish_commit(const std::vector<Work>& work, bool wrote, std::uint64_t failures_before);
  // Publishes what a flush put on stable storage: the logs' flushed()
  // watermarks (waking their fsync-ack waiters) and flushed_commit_.
  void pay(const FlushDebt::Paid& paid);
  // Flushes what the writer's last commits left unflushed (a new meta page
  // first when a failure since makes the debt's stale). Writer thread, no
  // transaction open.
  Status flush_owed();
  // Commits a transaction that only rewrites the format version: a new
  // meta page (MetaFlush::kLater). REQUIRES: resize_mu_ held shared, no
  // write transaction open.
  Status bump_meta(std::uint64_t* failures_before);
  // Stores one group offset (key from offsets_key) in `txn`.
  Status put_offset(MDB_txn* txn, std::string_view key, Offset next);

  // A read transaction from the pool, renewed, with resize_mu_ held shared:
  // mdb_txn_begin allocates and clears per-DBI arrays (tens of KiB with many
  // partitions), so hot readers reuse reset handles instead (LMDB's
  // reset/renew), returned to the pool when the lease ends.
  class ReadLease {
   public:
    explicit ReadLease(const Journal& j);
    ~ReadLease();
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    MDB_txn* txn() const noexcept { return txn_; }
    const Status& status() const noexcept { return status_; }

   private:
    const Journal& j_;
    std::shared_lock<ResizeMutex> lock_;
    MDB_txn* txn_ = nullptr;
    Status status_;
  };
  mutable Mutex pool_mu_;
  mutable std::vector<MDB_txn*> read_pool_ GUARDED_BY(pool_mu_);  // reset read txns
  // Deletes batches past the topics' retention limits; returns how many.
  Result<std::size_t> enforce_retention();
  // Deletes expired dedupe records; returns how many.
  Result<std::size_t> purge_dedupe();
  // What one writer cycle took to persist (write sets, group offsets) and
  // how far each partition's log must be committed before it may be: the
  // producers' claimed end (CommitSource::published_end) read after taking
  // them. So an offset or a write set is never durable before an event its
  // handler published (with any ack level) before handing it in.
  struct Taken {
    std::uint64_t cycle = 0;
    std::vector<std::pair<CommitSource*, Offset>> reach;  // only logs with records not yet committed
    std::vector<std::unique_ptr<WriteSet>> write_sets;
    std::vector<std::pair<std::string, Offset>> offsets;  // offsets key -> next offset, in order
  };
  // Cuts `work` so that no follow-up of a write set that does not commit
  // with it goes in; returns how many takes (from the front) commit with it.
  std::size_t fence_appends(std::vector<Work>& work) const;
  // Drops every mention of a log no longer in `logs` (drop_topic detached
  // it) from the takes and staged write sets: its records never commit, so
  // a reach naming it would hold its take (and every later one) forever,
  // and its source may be freed once the cycle after the detach is done.
  void forget_detached(const std::vector<CommitSource*>& logs);
  // The logs a writer cycle works on (a copy of logs_), after
  // forget_detached when drop_topic detached some since the last cycle.
  std::vector<CommitSource*> cycle_logs() EXCLUDES(mu_);
  // Takes write sets and changed group offsets into a new Taken (if any).
  void take_cycle(std::uint64_t cycle) EXCLUDES(mu_);
  // Applies `ws` into `txn`.
  Status apply_write_sets(MDB_txn* txn, const std::vector<std::unique_ptr<WriteSet>>& ws);
  // Appends the group offsets that changed since the last take, and the
  // final offsets of untracked groups, to `out`.
  void take_offsets(std::vector<std::pair<std::string, Offset>>& out) EXCLUDES(mu_);

  const Options options_;
  const std::unique_ptr<Env> env_;
  MDB_dbi meta_dbi_ = 0;
  MDB_dbi offsets_dbi_ = 0;
  MDB_dbi dedupe_dbi_ = 0;       // dedupe key -> be64(expire_us)
  MDB_dbi dedupe_time_dbi_ = 0;  // be64(expire_us) + dedupe key -> "" (purge order)
  MDB_dbi state_dbi_ = 0;        // group \0 table \0 key -> value (users' state tables)
  MDB_dbi internal_dbi_ = 0;     // internal_key(group, kind, rest) -> value
  std::size_t map_size_;  // writer thread (and open) only
  // The most bytes of one record batch: what LMDB keeps inside a leaf page
  // (inline_value_limit for the environment's page size; set by open).
  // Bigger values would go to overflow pages, which LMDB mallocs for each
  // commit and frees after it (it keeps only single pages for reuse), so the
  // writer would fault fresh memory in on every commit; leaf pages come from
  // LMDB's reuse list, and MDB_APPEND fills them in order.
  std::size_t batch_limit_ = 0;
  std::uint64_t id_ = 0;  // set by init_meta

  // Read transactions hold it shared; the writer holds it exclusively to
  // resize the map (LMDB forbids a resize while any transaction is active).
  mutable ResizeMutex resize_mu_;

  const std::shared_ptr<JournalHealth> health_ = std::make_shared<JournalHealth>();

  mutable Mutex mu_;
  std::vector<CommitSource*> logs_ GUARDED_BY(mu_);
  std::uint64_t detached_ GUARDED_BY(mu_) = 0;  // drop_topic's removals from logs_ so far
  std::vector<OffsetSource*> sources_ GUARDED_BY(mu_);
  // Last persisted offsets per source (to skip unchanged ones).
  std::vector<std::pair<OffsetSource*, std::vector<Offset>>> persisted_ GUARDED_BY(mu_);
  // From untrack, not yet written.
  std::vector<std::pair<std::string, Offset>> final_offsets_ GUARDED_BY(mu_);
  // The partition logs' bounds found by the open check (Env::take_log_bounds),
  // by database name: open_topic takes a log's entry instead of walking
  // every batch through the map (one page fault per leaf page), and
  // drop_topic forgets the topic's, so only a log not written since open
  // uses one.
  std::map<std::string, PartitionBounds> open_bounds_ GUARDED_BY(mu_);

  // Write sets from group workers: a lock-free MPSC handoff to the writer
  // (moodycamel ConcurrentQueue: many producers, one bulk consumer; an
  // enqueue happens-before the dequeue that takes it). The writer moves
  // them into taken_ until committed.
  moodycamel::ConcurrentQueue<WriteSet*> ws_queue_;
  // Writer thread only: cycles' takes not yet committed, oldest first. They
  // commit in order: a later take's reach is never below an earlier one's.
  std::deque<Taken> taken_;
  // Writer thread only: write sets dequeued but not yet taken, waiting (in
  // order) for room in a ring for their follow-ups.
  std::deque<std::unique_ptr<WriteSet>> staged_;
  std::size_t taken_ws_ = 0;         // write sets in staged_ and taken_ (bounds the intake)
  std::uint64_t detached_seen_ = 0;  // detached_ when forget_detached last ran
  std::uint64_t durable_cycle_ = 0;  // every take of cycles <= this committed
  // Writer thread only: the writer's commits not yet known to be on stable
  // storage.
  FlushDebt debt_;
  // Writer thread only: the most bytes of records one commit takes. Halved
  // (down to one record) while a commit finds no room (the cap, a full
  // disk) that retention cannot make, doubled back after each commit that
  // succeeds.
  static constexpr std::size_t kMaxTxnBytes = 64u << 20;
  std::size_t txn_budget_ = kMaxTxnBytes;
  std::atomic<std::uint64_t> ws_submitted_{0};  // incremented after each enqueue
  std::atomic<std::uint64_t> ws_taken_{0};      // by the writer
  // By the writer (seq_cst), after a write set's follow-ups are in their
  // rings (or it had none): see write_sets_placed().
  std::atomic<std::uint64_t> ws_placed_{0};

  Doorbell bell_;
  std::atomic<bool> stop_{false};
  // Writer cycles: numbered when they start (before reading offsets),
  // marked done (under commit_mu_) when their transaction committed, and
  // ended (under commit_mu_) when commit_once returned, committed or not.
  std::atomic<std::uint64_t> cycle_started_{0};
  std::atomic<std::uint64_t> cycle_done_{0};
  std::atomic<std::uint64_t> cycle_ended_{0};
  std::atomic<std::uint64_t> cycle_wanted_{0};  // highest cycle a waiter needs
  // The writer's commits that wrote pages, numbered from 1 (incremented
  // before the cycle's cycle_done_ store), and the highest number known to
  // be on stable storage (stored under commit_mu_). Release stores by the
  // writer, acquire loads by waiters.
  std::atomic<std::uint64_t> commits_made_{0};
  std::atomic<std::uint64_t> flushed_commit_{0};
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::thread writer_;
};

}  // namespace weir::internal
