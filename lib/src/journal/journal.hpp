// Journal: the LMDB environment behind a bus opened on a data directory.
//
// Layout of the environment (one directory, one data.mdb):
//   DBI "weir.meta"     "format" -> "weir-journal", "version" -> u32,
//                       "topic/<name>" -> encoded TopicOptions
//   DBI "weir.offsets"  "<group>\0<topic>\0" be32(partition) -> be64(next offset)
//   DBI "p/<topic>/<p>" be64(base offset) -> record batch (journal/batch.hpp),
//                       appended with MDB_APPEND (keys only grow)
//
// Threads: one writer thread owns every write transaction (LMDB allows one
// writer): it drains the partition rings of journaled topics, appends one
// record batch per partition per group commit, persists group offsets in the
// same transaction, commits (synced), then publishes the new committed
// watermarks (release) and wakes ack waiters and consumer groups. Readers
// (group workers) use short read transactions, one per batch, and copy what
// they read before running handlers, so a slow handler never pins pages.
//
// Map growth: on MDB_MAP_FULL the writer aborts the transaction, takes
// resize_mu_ exclusively (read transactions hold it shared), doubles the
// map (up to Options::journal_max_bytes) and retries. ENOSPC or the cap make
// the journal "stalled": new publishes fail with kResourceExhausted naming
// the cause, nothing acknowledged is touched, and the writer retries every
// 100 ms, so freeing space lets the bus continue.
//
// Thread-safety: all public methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
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
#include "journal/lmdb.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

class TopicState;
struct BusShared;

// What a worker read from a partition: record bytes copied out of the map.
struct ReadBatch {
  std::vector<char> bytes;
  struct Rec {
    Offset offset;
    std::size_t pos;  // into bytes
    std::uint32_t len;
  };
  std::vector<Rec> recs;
  void clear() {
    bytes.clear();
    recs.clear();
  }
};

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
  std::vector<std::string> dedupe_keys;
  std::int64_t expire_us = 0;      // when the dedupe records may be purged
  std::vector<std::pair<std::string, std::optional<std::string>>> writes;  // state key -> value / erase
};

class Journal {
 public:
  static Result<std::unique_ptr<Journal>> open(const Options& options,
                                               std::shared_ptr<BusShared> bus);
  ~Journal();

  // Topics stored in the journal, with their options.
  Result<std::vector<std::pair<std::string, TopicOptions>>> stored_topics() const;

  // Opens (creating if needed) the partition DBIs of a journaled topic and
  // records its options; makes the writer drain its rings. `start` receives
  // each partition's end offset (where appends continue).
  Status attach_topic(const std::shared_ptr<TopicState>& topic);

  // Group offsets persisted for (group, topic), or empty if none.
  Result<std::vector<Offset>> load_offsets(const std::string& group, const std::string& topic,
                                           std::uint32_t partitions) const;
  // The writer persists `src`'s offsets each commit while tracked; untrack
  // persists them one last time (blocking until committed).
  void track(OffsetSource* src);
  Status untrack(OffsetSource* src);
  // Asks the writer to persist offsets soon (a group moved far).
  void nudge() noexcept { bell_.ring(); }
  // Blocks until a commit that read every offset stored before this call
  // has committed (synchronous offset commit).
  Status wait_offsets_durable(std::chrono::milliseconds timeout);

  // Hands a write set to the writer (taking ownership); it is applied in
  // the next group commit and then reported to its sink. Call nudge() after
  // a run of submits (the writer also looks every offset_commit_interval).
  // Thread-safe.
  void submit(std::unique_ptr<WriteSet> ws);
  // Whether a dedupe record for `key` is stored. Thread-safe.
  Result<bool> dedupe_seen(std::string_view key) const;
  // Writes state values in a transaction of their own (administration, not
  // the handler path). Thread-safe.
  Status state_put(const std::vector<std::pair<std::string, std::string>>& values);
  // A committed state value. Thread-safe.
  Result<std::optional<std::string>> state_get(std::string_view key) const;
  // Keys of the offsets, dedupe and state tables.
  static std::string offsets_key(std::string_view group, std::string_view topic, std::uint32_t p);
  static std::string dedupe_key(std::string_view group, std::string_view event_id);
  static std::string state_key(std::string_view group, std::string_view table, std::string_view key);

  // Reads up to `max` records of `partition` from `from` (below the committed
  // watermark) into `out`. kDataLoss names the bad record's location;
  // kNotFound means retention deleted `from` (the message gives the range).
  Status read(const TopicState& topic, std::uint32_t partition, Offset from, std::uint32_t max,
              ReadBatch& out) const;

  // First offset of `partition` whose event time is >= time_us (the end if
  // none). Thread-safe.
  Result<Offset> offset_for_time(const TopicState& topic, std::uint32_t partition,
                                 std::int64_t time_us) const;
  // Persists offsets of a group that is not running (seek). Thread-safe.
  Status store_offsets(const std::string& group, const std::string& topic,
                       const std::vector<std::pair<std::uint32_t, Offset>>& offsets);

  // Writes everything handed in so far and stops the writer. Idempotent.
  void stop();

  // The writer's bell: producers of journaled topics ring it (via the topic's
  // producer-woken slot).
  Doorbell& bell() noexcept { return bell_; }

  // A random id stored when the journal was created: names its logs in
  // derived event ids, so they survive restarts.
  std::uint64_t id() const noexcept { return id_; }

  // For tests: current map size in bytes.
  std::size_t TEST_map_size() const;

 private:
  struct Part;
  Journal(const Options& o, std::shared_ptr<BusShared> bus, MDB_env* env);
  Status init_meta();
  void writer_main();
  // One group commit; returns events committed, or an error.
  Result<std::size_t> commit_once(bool final_pass);
  Status grow_map(std::size_t needed_hint);
  Status wait_cycle(std::uint64_t target, std::chrono::milliseconds timeout);
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
    std::shared_lock<std::shared_mutex> lock_;
    MDB_txn* txn_ = nullptr;
    Status status_;
  };
  mutable std::mutex pool_mu_;
  mutable std::vector<MDB_txn*> read_pool_;  // GUARDED_BY(pool_mu_): reset read txns
  // Deletes batches past the topics' retention limits; returns how many.
  Result<std::size_t> enforce_retention();
  // Deletes expired dedupe records; returns how many.
  Result<std::size_t> purge_dedupe();
  // Applies the write sets taken for this commit into `txn`.
  Status apply_write_sets(MDB_txn* txn);
  // Writes changed group offsets and untracked groups' final offsets into
  // `txn`; `taken` receives the final offsets it took.
  Status persist_offsets(MDB_txn* txn, std::vector<std::pair<std::string, Offset>>& taken);
  // The transaction holding `taken` failed: queue them again.
  void offsets_not_committed(std::vector<std::pair<std::string, Offset>>& taken);

  const Options options_;
  const std::shared_ptr<BusShared> bus_;
  MDB_env* env_;
  MDB_dbi meta_dbi_ = 0;
  MDB_dbi offsets_dbi_ = 0;
  MDB_dbi dedupe_dbi_ = 0;       // dedupe key -> be64(expire_us)
  MDB_dbi dedupe_time_dbi_ = 0;  // be64(expire_us) + dedupe key -> "" (purge order)
  MDB_dbi state_dbi_ = 0;        // group \0 table \0 key -> value
  std::size_t map_size_;  // writer thread (and open) only
  std::uint64_t id_ = 0;  // set by init_meta

  // Read transactions hold it shared; the writer holds it exclusively to
  // resize the map (LMDB forbids a resize while any transaction is active).
  mutable std::shared_mutex resize_mu_;

  mutable std::mutex mu_;  // guards topics_, sources_, persisted_
  std::vector<std::shared_ptr<TopicState>> topics_;
  std::vector<OffsetSource*> sources_;
  // Last persisted offsets per source (to skip unchanged ones).
  std::vector<std::pair<OffsetSource*, std::vector<Offset>>> persisted_;
  std::vector<std::pair<std::string, Offset>> final_offsets_;  // from untrack, not yet written

  // Write sets from group workers: a lock-free MPSC handoff to the writer
  // (moodycamel ConcurrentQueue: many producers, one bulk consumer). The
  // writer moves them to pending_ws_ (writer thread only) until committed.
  moodycamel::ConcurrentQueue<WriteSet*> ws_queue_;
  std::vector<std::unique_ptr<WriteSet>> pending_ws_;
  std::atomic<std::uint64_t> ws_submitted_{0};  // incremented after each enqueue
  std::atomic<std::uint64_t> ws_taken_{0};      // by the writer

  Doorbell bell_;
  std::atomic<bool> stop_{false};
  // Writer cycles: numbered when they start (before reading offsets) and
  // marked done (under commit_mu_) when their transaction committed.
  std::atomic<std::uint64_t> cycle_started_{0};
  std::atomic<std::uint64_t> cycle_done_{0};
  std::atomic<std::uint64_t> cycle_wanted_{0};  // highest cycle a waiter needs
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::thread writer_;
  int lock_fd_ = -1;
};

}  // namespace weir::internal
