// Partition: one partition of a topic as producers and consumer groups use
// it, whatever its storage. Callers never branch on the storage kind.
//
//   MemoryPartition     the ring is the log: groups read events in place in
//                       their slots; a slot is reused once every group's
//                       cursor passed it (log/memory_partition.hpp).
//   JournaledPartition  the ring hands events to the journal writer, which
//                       appends them to LMDB; groups read the journal
//                       (log/journaled_partition.hpp).
//
// Producers use ring() directly (claim, write, publish: the lock-free path
// of ring/partition_log.hpp) and then ask writable()/wait_durable().
// Readers (one ReaderCursor per group) attach, read, advance and detach.
//
// Thread-safety: producer methods are thread-safe; reader methods for one
// cursor are called by the worker owning that partition for the group
// (attach/detach by subscribe/unsubscribe); metrics methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/doorbell.hpp"
#include "journal/commit_source.hpp"
#include "journal/log_reader.hpp"
#include "ring/bells.hpp"
#include "ring/partition_log.hpp"
#include "weir/event.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

class Partition {
 public:
  Partition(const std::string& topic, std::uint32_t index, std::uint32_t capacity_pow2, std::uint64_t origin)
      : topic_(topic), index_(index), origin_(origin), ring_(capacity_pow2) {}
  virtual ~Partition() = default;
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  const std::string& topic() const noexcept { return topic_; }
  std::uint32_t index() const noexcept { return index_; }
  // Names this partition's log in derived event ids (see Message::id).
  std::uint64_t origin() const noexcept { return origin_; }
  // Where producers append: claim, write, publish.
  PartitionLog& ring() noexcept { return ring_; }
  const PartitionLog& ring() const noexcept { return ring_; }
  // Next offset a publish gets.
  Offset end() const noexcept { return ring_.end(); }

  // The journal writer's source for this partition (journaled), or null
  // (memory): where State::publish's follow-ups are appended from.
  virtual CommitSource* commit_source() noexcept { return nullptr; }

  // --- metrics and seek ----------------------------------------------------
  // First offset still held (memory: the oldest not yet released by every
  // group; journaled: the first retention kept).
  virtual Offset start() const noexcept = 0;
  // One past the last event a group can read now (journaled: committed).
  virtual Offset readable_end() const noexcept = 0;
  // Stored bytes (journaled; 0 for memory).
  virtual std::uint64_t bytes() const noexcept = 0;
  // First offset whose event time is >= time_us (end() if none).
  virtual Result<Offset> offset_for_time(std::int64_t time_us) = 0;
  // Calls fn for every held event from `from` on, oldest first, until fn
  // returns false (dead-letter iteration). Memory events are pinned while
  // fn runs. Thread-safe.
  virtual Status for_each(Offset from, const std::function<bool(const Message&)>& fn) = 0;

  // --- producers -------------------------------------------------------------
  // Whether publishes may go on (a stalled journal refuses them with the
  // cause). Thread-safe.
  virtual Status writable() const = 0;
  // Waits until offset `off` reached ack `level` (journaled: kJournal
  // committed, kFsync on stable storage), up to `timeout`. Thread-safe.
  virtual Status wait_durable(Offset off, Ack level, std::chrono::milliseconds timeout) const = 0;

  // --- readers -----------------------------------------------------------------
  // Sets `cursor` to where a group starts: `from` clamped into what is held
  // (a `resumed` stored offset below a journaled partition's start is kept,
  // so the first read reports the retention gap). Memory partitions register
  // the cursor as a gating reader.
  virtual void attach(ReaderCursor& cursor, Offset from, bool resumed) = 0;
  virtual void detach(ReaderCursor& cursor) = 0;
  // Whether events past `from` can be read now. `seq_cst`: the reader's
  // re-check after Doorbell::prepare (its half of the wake-up handshake).
  virtual bool has_events(Offset from, bool seq_cst) const noexcept = 0;
  // Reads up to out.size() consecutive events from `from` into `out` (the
  // first gets attempt `first_attempt`, the rest 1) and returns how many.
  // The views stay valid until the next read into `scratch` and until the
  // cursor passes them. kDataLoss names a corrupt record (events before it
  // come first); kNotFound: retention deleted `from`.
  virtual Result<std::uint32_t> read(Offset from, std::uint32_t first_attempt, std::span<Message> out,
                                     ReadBatch& scratch) = 0;
  // The group finished everything below `to`: stores the cursor (release:
  // the group's reads of those events happen before producers reuse their
  // slots, or before the journal writer persists the offset) and lets
  // producers waiting for space go on.
  virtual void advance(ReaderCursor& cursor, Offset to) noexcept = 0;
  // Event time of a held offset at or past the caller's cursor (0 if not
  // readable). Owner only.
  virtual std::int64_t time_at(Offset o) = 0;

  // New retention limits (journaled partitions; memory ones have none).
  // The journal writer applies them from its next retention pass.
  // Thread-safe.
  virtual void set_retention(std::chrono::seconds /*age*/, std::uint64_t /*bytes*/,
                             std::uint64_t /*events*/) noexcept {}

 private:
  const std::string topic_;
  const std::uint32_t index_;
  const std::uint64_t origin_;
  PartitionLog ring_;
};

// Where a topic's partitions come from: MemoryStorage or JournalStorage
// (log/storage.hpp). `readers` and `commits` are the topic's wake-up
// targets: the group bells and the bell ack/quota waiters sleep on.
struct TopicWakeups {
  ReaderBells& readers;
  Doorbell& commits;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual Result<std::vector<std::unique_ptr<Partition>>> open_partitions(const std::string& topic,
                                                                          const TopicOptions& options,
                                                                          TopicWakeups wakeups) = 0;
};

}  // namespace weir::internal
