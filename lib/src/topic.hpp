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
#include <string>
#include <vector>

#include "internal/doorbell.hpp"
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
};

// The bus whose worker is running on this thread, if any (handlers may keep
// publishing while their bus drains).
extern thread_local const BusShared* t_worker_of;

class TopicState {
 public:
  static constexpr std::uint32_t kMaxGroups = 64;

  TopicState(std::shared_ptr<BusShared> bus, std::string name, const TopicOptions& options);

  const std::string& name() const noexcept { return name_; }
  const TopicOptions& options() const noexcept { return options_; }
  std::uint32_t partitions() const noexcept { return static_cast<std::uint32_t>(logs_.size()); }
  PartitionLog& log(std::uint32_t p) noexcept { return *logs_[p]; }

  Result<PublishReceipt> publish(const Event& event, const PublishOptions& options);
  BatchPublishResult publish_batch(std::span<const Event> events, const PublishOptions& options,
                                   std::span<PublishReceipt> receipts);

  // Group doorbells: a group takes a slot while subscribed; producers ring
  // the bells of active slots after publishing.
  Result<std::uint32_t> acquire_group_slot();
  void release_group_slot(std::uint32_t slot);
  Doorbell& group_bell(std::uint32_t slot) noexcept { return bells_[slot]; }

  // Closes every partition (later claims fail with kClosed).
  void close_partitions() noexcept;

 private:
  Status admit() const;
  Status validate(const Event& e) const;
  Result<std::uint32_t> route(const Event& e, const PublishOptions& o) const;
  Status claim(std::uint32_t p, std::uint32_t n, const PublishOptions& o, Offset& first);
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
  std::mutex slots_mu_;  // serialises acquire/release of slots
  std::array<Doorbell, kMaxGroups> bells_;
};

// Validates a topic or group name (Kafka's rules). Returns the reason, or
// empty if valid.
std::string name_problem(std::string_view what, std::string_view name);

}  // namespace weir::internal
