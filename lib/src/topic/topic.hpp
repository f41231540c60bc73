// TopicState: one topic's partitions and the doorbells of its groups.
//
// Thread-safety: publish paths are thread-safe and lock-free (see
// PartitionLog); group-slot bookkeeping takes `slots_mu_` (subscribe and
// unsubscribe only). A TopicState outlives the Bus when a Topic handle
// holds it; publishes through it then fail with kClosed.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/doorbell.hpp"
#include "ring/partition_log.hpp"
#include "weir/bus.hpp"

namespace weir::internal {

// State every topic of one bus shares with the bus.
struct BusShared {
  // Set once close() begins: publishes from threads that are not this bus's
  // workers fail from then on. Relaxed loads suffice: a publish that misses
  // the flag either claims before the partitions close (and is drained) or
  // fails on the closed bit.
  std::atomic<bool> closing{false};

  // Set by the journal writer while commits fail (disk full, journal at its
  // size cap, I/O error); new publishes to journaled topics are refused with
  // the cause. Cleared by the first commit that succeeds.
  std::atomic<bool> journal_stalled{false};
  // Random per bus instance: names memory logs in derived event ids.
  const std::uint64_t instance_id = random_id();
  void set_journal_error(const Status& s);
  static std::uint64_t random_id();
  Status journal_error() const;

 private:
  mutable std::mutex error_mu_;
  Status journal_error_;  // GUARDED_BY(error_mu_)
};

// The bus whose worker is running on this thread, if any (handlers may keep
// publishing while their bus drains).
extern thread_local const BusShared* t_worker_of;

class TopicState {
 public:
  static constexpr std::uint32_t kMaxGroups = 64;

  // Journal state of one partition of a journaled topic.
  struct JournalPart {
    unsigned dbi = 0;  // LMDB MDB_dbi of the partition's log
    // First offset still stored, and the bytes stored: written by the
    // journal writer (appends, retention) with release, read with acquire.
    std::atomic<Offset> start{0};
    std::atomic<std::uint64_t> bytes{0};
    // One past the last offset committed to LMDB. Written by the journal
    // writer after the commit (release); read by ack waiters and group
    // workers (acquire): what they then read from LMDB is committed.
    std::atomic<Offset> committed{0};
    // The journal writer's position in the partition ring (a ring reader).
    ReaderCursor writer;
  };

  TopicState(std::shared_ptr<BusShared> bus, std::string name, const TopicOptions& options);

  const std::string& name() const noexcept { return name_; }
  const TopicOptions& options() const noexcept { return options_; }
  std::uint32_t partitions() const noexcept { return static_cast<std::uint32_t>(logs_.size()); }
  PartitionLog& log(std::uint32_t p) noexcept { return *logs_[p]; }

  bool journaled() const noexcept { return options_.durability == Durability::kJournaled; }
  // Names this topic's log in derived event ids: the bus instance for memory
  // topics, the journal (persistent) for journaled ones. Set before use.
  std::uint64_t origin() const noexcept { return origin_; }
  void set_origin(std::uint64_t o) noexcept { origin_ = o; }
  // Journaled topics: called by the journal once per partition before the
  // topic is used; the ring restarts at `end`, and the writer becomes a
  // reader of it.
  void attach_journal_partition(std::uint32_t p, unsigned dbi, Offset start, Offset end,
                                std::uint64_t bytes);
  void set_writer_bell(Doorbell* bell) noexcept { writer_bell_ = bell; }
  JournalPart& journal_part(std::uint32_t p) noexcept { return *jparts_[p]; }
  const JournalPart& journal_part(std::uint32_t p) const noexcept { return *jparts_[p]; }
  // After a commit: wakes ack waiters and the groups reading the journal.
  void notify_committed() noexcept;
  // Journal bytes of all partitions (committed). Thread-safe.
  std::uint64_t stored_bytes() const noexcept;
  // Waits until offset `off` of partition `p` is committed, up to `timeout`.
  Status wait_committed(std::uint32_t p, Offset off, std::chrono::milliseconds timeout) const;

  Result<PublishReceipt> publish(const Event& event, const PublishOptions& options);
  BatchPublishResult publish_batch(std::span<const Event> events, const PublishOptions& options,
                                   std::span<PublishReceipt> receipts);

  // Group doorbells: a group takes a slot while subscribed; producers ring
  // the bells of active slots after publishing.
  // `by_journal`: the group reads the journal, so the journal writer (not
  // producers) wakes it after each commit.
  Result<std::uint32_t> acquire_group_slot(bool by_journal);
  void release_group_slot(std::uint32_t slot);
  Doorbell& group_bell(std::uint32_t slot) noexcept { return bells_[slot]; }

  // Closes every partition (later claims fail with kClosed).
  void close_partitions() noexcept;

  // Dead-letter topics of memory buses: offsets redriven or purged (the
  // journal keeps this ledger for journaled ones). Thread-safe.
  bool memory_settled(Offset o) const {
    std::lock_guard<std::mutex> lock(settled_mu_);
    return settled_.count(o) != 0;
  }
  void memory_settle(const std::vector<Offset>& offs) {
    std::lock_guard<std::mutex> lock(settled_mu_);
    settled_.insert(offs.begin(), offs.end());
  }

 private:
  Status admit() const;
  Status validate(const Event& e) const;
  Result<std::uint32_t> route(const Event& e, const PublishOptions& o) const;
  Status claim(std::uint32_t p, std::uint32_t n, const PublishOptions& o, Offset& first);
  Result<Ack> ack_level(const PublishOptions& o) const;
  Status check_quota(const PublishOptions& o) const;
  std::chrono::milliseconds timeout_of(const PublishOptions& o) const noexcept {
    return o.timeout.count() >= 0 ? o.timeout : options_.block_timeout;
  }
  // Bells of subscribed groups with a sleeping worker. Read right after a
  // claim (whose seq_cst CAS orders it against the sleepers' re-check of
  // end()); wake_readers(mask) once the events are published.
  std::uint64_t sleeping_readers() const noexcept;
  void wake_readers(std::uint64_t mask) noexcept;

  const std::shared_ptr<BusShared> bus_;
  const std::string name_;
  const TopicOptions options_;
  std::vector<std::unique_ptr<PartitionLog>> logs_;

  // Bit i set while group slot i is subscribed. Producers load it relaxed: a
  // group that just subscribed has not slept yet, so missing it is harmless.
  std::atomic<std::uint64_t> active_slots_{0};
  // Bit i set while group slot i reads the journal (woken by the writer).
  std::atomic<std::uint64_t> journal_slots_{0};
  std::mutex slots_mu_;  // serialises acquire/release of slots
  std::array<Doorbell, kMaxGroups> bells_;

  std::vector<std::unique_ptr<JournalPart>> jparts_;  // journaled topics only
  Doorbell* writer_bell_ = nullptr;  // the journal writer's; set before use
  std::uint64_t origin_ = 0;
  mutable std::mutex settled_mu_;
  std::set<Offset> settled_;  // GUARDED_BY(settled_mu_)
  mutable Doorbell commit_bell_;     // ack waiters sleep here
};

// A group offset that was never set (start per SubscribeOptions::start_from).
constexpr Offset kUnsetOffset = ~Offset{0} - 1;

// Validates a topic or group name (Kafka's rules). Returns the reason, or
// empty if valid.
std::string name_problem(std::string_view what, std::string_view name);

}  // namespace weir::internal
