// JournaledPartition: the ring hands events to the journal writer, which
// appends them to LMDB; groups read the journal (see log/partition.hpp).
// It owns the journal's state of this partition (JournalLog: database and
// watermarks) and the writer's cursor in the ring, and it is the writer's
// CommitSource for it.
//
// Wake-ups: after each commit the writer calls journaled(), which frees the
// ring slots, rings the topic's commit bell (ack waiters) and the bells of
// the groups reading it. Producers wake the writer (ReaderBells target).
//
// Thread-safety: as Partition; CommitSource methods run on the writer thread.
#pragma once

#include <memory>

#include "journal/journal.hpp"
#include "log/partition.hpp"

namespace weir::internal {

class JournaledPartition final : public Partition, public CommitSource {
 public:
  JournaledPartition(Journal& journal, std::unique_ptr<JournalLog> log, const TopicOptions& options,
                     std::uint32_t capacity_pow2, TopicWakeups wakeups);

  Offset start() const noexcept override { return log_->start(); }
  Offset readable_end() const noexcept override { return log_->committed(); }
  std::uint64_t bytes() const noexcept override { return log_->bytes(); }
  Result<Offset> offset_for_time(std::int64_t time_us) override { return journal_.offset_for_time(*log_, time_us); }
  Status for_each(Offset from, const std::function<bool(const Message&)>& fn) override;

  Status writable() const override;
  Status wait_durable(Offset off, Ack level, std::chrono::milliseconds timeout) const override;

  void attach(ReaderCursor& cursor, Offset from, bool resumed) override;
  void detach(ReaderCursor&) override {}
  bool has_events(Offset from, bool) const noexcept override { return log_->committed() > from; }
  Result<std::uint32_t> read(Offset from, std::uint32_t first_attempt, std::span<Message> out,
                             ReadBatch& scratch) override;
  void advance(ReaderCursor& cursor, Offset to) noexcept override {
    // Release pairs with the journal writer's acquire when it persists
    // offsets (OffsetSource::current_offsets).
    cursor.next.store(to, std::memory_order_release);
  }
  std::int64_t time_at(Offset o) override;

  CommitSource* commit_source() noexcept override { return this; }

  // CommitSource (writer thread)
  JournalLog& journal_log() noexcept override { return *log_; }
  std::uint32_t ready(Offset from, std::uint32_t max) const noexcept override {
    return ring().readable(from, std::min(max, ring().capacity()));
  }
  std::string_view record(Offset o) const noexcept override {
    return std::string_view(ring().record(o), ring().record_bytes(o));
  }
  Offset published_end() const noexcept override { return ring().end(); }
  bool pending(Offset from) const noexcept override { return ring().end_seq_cst() > from; }
  void journaled(Offset end) noexcept override;
  void flushed() noexcept override { commits_.ring(); }  // fsync-ack waiters
  RetentionLimits retention() const noexcept override {
    return {std::chrono::seconds(retention_age_s_.load(std::memory_order_relaxed)),
            retention_bytes_.load(std::memory_order_relaxed), retention_events_.load(std::memory_order_relaxed)};
  }
  void set_retention(std::chrono::seconds age, std::uint64_t bytes, std::uint64_t events) noexcept override {
    retention_age_s_.store(age.count(), std::memory_order_relaxed);
    retention_bytes_.store(bytes, std::memory_order_relaxed);
    retention_events_.store(events, std::memory_order_relaxed);
  }
  void retained() noexcept override { commits_.ring(); }

 private:
  Journal& journal_;
  const std::shared_ptr<const JournalHealth> health_;  // outlives the journal in Topic handles
  const std::unique_ptr<JournalLog> log_;
  // Retention limits: set by alter_topic, read by the writer's retention
  // pass. Relaxed: each limit is read on its own, and a pass that sees an
  // old value only deletes by it once more (as it would have a moment ago).
  std::atomic<std::int64_t> retention_age_s_;
  std::atomic<std::uint64_t> retention_bytes_;
  std::atomic<std::uint64_t> retention_events_;
  ReaderBells& readers_;
  Doorbell& commits_;
  ReaderCursor writer_;  // the journal writer's position in the ring
};

}  // namespace weir::internal
