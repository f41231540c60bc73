// What the journal engine knows of a partition log, and what it asks of the
// layer above it.
//
// JournalLog: the journal's state of one partition of a journaled topic: its
// LMDB database and its watermarks. The journal writer is its only writer;
// everybody else reads the watermarks. Created by Journal::open_topic and
// owned by the partition (log/journaled_partition.hpp).
//
// CommitSource: where the writer's group commits take records from (the
// partition's ring of published, not yet journaled events) and whom it tells
// that they are durable. Implemented by the journaled partition.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/thread_annotations.hpp"
#include "weir/event.hpp"

namespace weir::internal {

// A group offset that was never stored (the group starts per
// SubscribeOptions::start_from).
constexpr Offset kUnsetOffset = ~Offset{0} - 1;

class JournalLog {
 public:
  JournalLog(std::string topic, std::uint32_t partition, unsigned dbi, Offset start, Offset end,
             std::uint64_t bytes)
      : topic_(std::move(topic)), partition_(partition), dbi_(dbi), start_(start), committed_(end),
        flushed_(end), bytes_(bytes) {}
  JournalLog(const JournalLog&) = delete;
  JournalLog& operator=(const JournalLog&) = delete;

  const std::string& topic() const noexcept { return topic_; }
  std::uint32_t partition() const noexcept { return partition_; }
  unsigned dbi() const noexcept { return dbi_; }  // LMDB MDB_dbi of the partition's log

  // Watermarks. Written by the journal writer after its transaction
  // committed (release); read by ack waiters, group workers, metrics and
  // seek (acquire): what a reader then reads from LMDB below committed() is
  // committed, and start() is the first offset retention kept.
  // committed(): in LMDB (survives a crash of the process; Ack::kJournal);
  // flushed() <= committed(): on stable storage too (survives a power loss;
  // Ack::kFsync), moved one flush after the commit (journal/flush_debt.hpp).
  Offset start() const noexcept { return start_.load(std::memory_order_acquire); }
  Offset committed() const noexcept { return committed_.load(std::memory_order_acquire); }
  Offset flushed() const noexcept { return flushed_.load(std::memory_order_acquire); }
  std::uint64_t bytes() const noexcept { return bytes_.load(std::memory_order_acquire); }

 private:
  friend class Journal;  // the writer moves the watermarks; drop_topic retires the log
  const std::string topic_;
  const std::uint32_t partition_;
  const unsigned dbi_;
  // Readers outside the writer (Journal::read, offset_for_time: workers,
  // seek, locate, live tails that found the topic before a delete_topic)
  // hold gate_ shared across their use of dbi_; Journal::drop_topic takes it
  // exclusively to set dropped_ before LMDB closes the handle, whose slot a
  // topic created later may reuse. So no read runs on a closed handle or
  // reads another topic's log: after the drop they get kNotFound.
  mutable SharedMutex gate_;
  bool dropped_ GUARDED_BY(gate_) = false;
  std::atomic<Offset> start_;
  std::atomic<Offset> committed_;  // one past the last offset committed to LMDB
  std::atomic<Offset> flushed_;    // one past the last offset on stable storage
  std::atomic<std::uint64_t> bytes_;
};

// Retention limits of a topic (0: no limit). See TopicOptions.
struct RetentionLimits {
  std::chrono::seconds age{0};
  std::uint64_t bytes = 0;
  std::uint64_t events = 0;
  bool any() const noexcept { return age.count() || bytes || events; }
};

// Every method is called on the journal writer's thread only.
class CommitSource {
 public:
  virtual ~CommitSource() = default;
  virtual JournalLog& journal_log() noexcept = 0;
  // How many consecutive records from `from` (the log's committed end) are
  // published and waiting, at most `max`.
  virtual std::uint32_t ready(Offset from, std::uint32_t max) const noexcept = 0;
  // The encoded record at a ready offset (valid until journaled()).
  virtual std::string_view record(Offset o) const noexcept = 0;
  // One past the last offset producers have claimed (filled or not yet): an
  // acquire load. Everything published before a write set was handed in or
  // an offset was advanced lies below the value read after taking them
  // (see Journal::commit_once).
  virtual Offset published_end() const noexcept = 0;
  // Whether anything waits past `from`: the writer's re-check before it
  // sleeps (a seq_cst load, its half of the producers' wake-up handshake).
  virtual bool pending(Offset from) const noexcept = 0;
  // The writer committed records up to `end` and published the watermark:
  // free what is journaled, wake ack waiters and readers.
  virtual void journaled(Offset end) noexcept = 0;
  // The writer moved the log's flushed() watermark: wake fsync-ack waiters.
  virtual void flushed() noexcept = 0;
  virtual RetentionLimits retention() const noexcept = 0;
  // Retention moved start() (wake quota waiters).
  virtual void retained() noexcept = 0;
};

}  // namespace weir::internal
