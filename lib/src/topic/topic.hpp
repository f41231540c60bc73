// TopicState: one topic: route, validate, claim, write, wake. It owns its
// partitions (log/partition.hpp), whatever their storage, and the wake-up
// fan-out to its groups (ring/bells.hpp).
//
// Thread-safety: publish paths are thread-safe and lock-free (see
// PartitionLog); group-slot bookkeeping takes the bells' mutex (subscribe
// and unsubscribe only). A TopicState outlives the Bus when a Topic handle
// holds it; publishes through it then fail with kClosed.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/doorbell.hpp"
#include "base/random.hpp"
#include "base/thread_annotations.hpp"
#include "log/partition.hpp"
#include "ring/bells.hpp"
#include "weir/bus.hpp"

namespace weir::internal {

class TopicState;

// State every topic of one bus shares with the bus.
struct BusShared {
  // Set once close() begins: publishes from threads that are not this bus's
  // workers fail from then on. Relaxed loads suffice: a publish that misses
  // the flag either claims before the partitions close (and is drained) or
  // fails on the closed bit.
  std::atomic<bool> closing{false};
  // Random per bus instance: names memory logs in derived event ids.
  const std::uint64_t instance_id = random_u64();
  // Options::metrics_sampling; set by Bus::open before any group exists,
  // read-only afterwards (so plain reads suffice).
  bool metrics_sampling = true;
  // The bus's topic by name (State::publish). Set by the bus before any
  // group exists, read-only afterwards (plain reads); called only by group
  // workers, which stop before the bus goes away.
  std::function<Result<std::shared_ptr<TopicState>>(std::string_view)> find_topic;
  // Bells of worker pools that serve several topics (ReaderBells::acquire's
  // `shared`): every topic holds this struct, so they outlive its producers.
  BellArena pool_bells;
};

// The bus whose worker is running on this thread, if any (handlers may keep
// publishing while their bus drains).
extern thread_local const BusShared* t_worker_of;

class TopicState {
 public:
  static constexpr std::uint32_t kMaxGroups = ReaderBells::kMaxGroups;

  // A topic whose partitions come from `storage` (memory, or opened in the
  // journal).
  static Result<std::shared_ptr<TopicState>> create(std::shared_ptr<BusShared> bus, std::string name,
                                                    const TopicOptions& options, Storage& storage);

  const std::string& name() const noexcept { return name_; }
  // The topic's options as declared (and stored in the journal's catalog):
  // after an alter, fields that change at the next start already show
  // their new values here. Thread-safe.
  TopicOptions options() const;
  // The options in force now: partitions, capacity and size limits as
  // opened, the live fields as last altered. Thread-safe.
  TopicOptions running_options() const;
  // Takes `declared` as the new declared options and applies its live
  // fields at once (full_policy, block_timeout, default_ack, quota_bytes,
  // retention). The caller checked that nothing else differs from what
  // runs, or that it is stored for the next start. Thread-safe.
  void apply_live(const TopicOptions& declared);
  std::uint32_t partitions() const noexcept { return static_cast<std::uint32_t>(parts_.size()); }
  Partition& partition(std::uint32_t p) noexcept { return *parts_[p]; }
  const Partition& partition(std::uint32_t p) const noexcept { return *parts_[p]; }
  // For reporting and option checks only: behaviour lives in the partitions.
  bool journaled() const noexcept { return options_.durability == Durability::kJournaled; }
  // Stored bytes of all partitions. Thread-safe.
  std::uint64_t stored_bytes() const noexcept;
  // Waits until offset `off` of partition `p` reached ack `level`, up to
  // `timeout`.
  Status wait_acked(std::uint32_t p, Offset off, Ack level, std::chrono::milliseconds timeout) const {
    return parts_[p]->wait_durable(off, level, timeout);
  }

  Result<PublishReceipt> publish(const Event& event, const PublishOptions& options);
  BatchPublishResult publish_batch(std::span<const Event> events, const PublishOptions& options,
                                   std::span<PublishReceipt> receipts);

  // Transactional publishing (State::publish). follow_up validates `e`,
  // gives it `derived_id` when it has no id of its own, routes it by key
  // and encodes its record: (partition, record). place appends encoded
  // records to partition `p` in one claim without blocking (the journal
  // writer's thread): the first offset, or kResourceExhausted while the
  // ring has no room, kClosed once the topic was deleted. A topic closed
  // because the bus closes still takes them: the write set they belong to
  // commits in the journal's last pass. Thread-safe.
  Result<std::pair<std::uint32_t, std::string>> follow_up(const Event& e, std::string_view derived_id) const;
  Result<Offset> place(std::uint32_t p, std::span<const std::string> records);

  // Group doorbells: a group takes a slot while subscribed; `by_journal`:
  // the journal writer (not producers) wakes it; `shared`: the bell it
  // sleeps on when not the slot's own, from BusShared::pool_bells (see
  // ReaderBells).
  Result<std::uint32_t> acquire_group_slot(bool by_journal, Doorbell* shared = nullptr) {
    return readers_.acquire(by_journal, name_, shared);
  }
  void release_group_slot(std::uint32_t slot) { readers_.release(slot); }
  Doorbell& group_bell(std::uint32_t slot) noexcept { return readers_.bell(slot); }

  // Closes every partition (later claims fail with kClosed; place() goes
  // on unless `deleted`: the topic is being deleted).
  void close_partitions(bool deleted = false) noexcept;

  // Dead-letter topics of memory buses: offsets redriven or purged (the
  // journal keeps this ledger for journaled ones). Thread-safe.
  bool memory_settled(Offset o) const {
    MutexLock lock(settled_mu_);
    return settled_.count(o) != 0;
  }
  void memory_settle(const std::vector<Offset>& offs) {
    MutexLock lock(settled_mu_);
    settled_.insert(offs.begin(), offs.end());
  }

 private:
  TopicState(std::shared_ptr<BusShared> bus, std::string name, const TopicOptions& options);
  Status admit() const;
  Status validate(const Event& e) const;
  Result<std::uint32_t> route(const Event& e, const PublishOptions& o) const;
  Status claim(std::uint32_t p, std::uint32_t n, const PublishOptions& o, Offset& first);
  Result<Ack> ack_level(const PublishOptions& o) const;
  Status check_quota(const PublishOptions& o) const;
  // Whether the topic's journal bytes reached its quota_bytes (never with
  // no quota), and the error text saying so (bytes held, the quota).
  bool at_quota() const noexcept;
  std::string quota_message() const;
  std::chrono::milliseconds timeout_of(const PublishOptions& o) const noexcept {
    return o.timeout.count() >= 0 ? o.timeout
                                  : std::chrono::milliseconds(block_timeout_ms_.load(std::memory_order_relaxed));
  }

  const std::shared_ptr<BusShared> bus_;
  const std::string name_;
  // As opened: partitions, capacity, size limits and durability are read
  // from here (they change only at the next start).
  const TopicOptions options_;
  mutable Mutex declared_mu_;
  TopicOptions declared_ GUARDED_BY(declared_mu_);
  // The live-alterable fields read on the publish path. Relaxed: each is
  // one value read on its own; a publish racing an alter sees the old or
  // the new value, and nothing else is published through them.
  std::atomic<FullPolicy> full_policy_;
  std::atomic<std::int64_t> block_timeout_ms_;
  std::atomic<Ack> default_ack_;
  std::atomic<std::uint64_t> quota_bytes_;
  // Set (release) by close_partitions(true) before the rings close; place()
  // reads it (acquire) to refuse a deleted topic.
  std::atomic<bool> deleted_{false};
  ReaderBells readers_;
  mutable Doorbell commit_bell_;  // ack and quota waiters sleep here
  std::vector<std::unique_ptr<Partition>> parts_;  // set once by create()
  mutable Mutex settled_mu_;
  std::set<Offset> settled_ GUARDED_BY(settled_mu_);
};

}  // namespace weir::internal
