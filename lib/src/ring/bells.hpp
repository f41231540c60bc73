// ReaderBells: the wake-up fan-out from a topic's producers (or its journal
// writer) to the consumer groups reading it.
//
// A group takes a slot (one Doorbell) while subscribed. Groups that read
// the rings in place are woken by producers: after a claim, a producer asks
// sleeping() which bells have a sleeper and, once its events are published,
// wake()s exactly those. Groups that read the journal are woken by the
// journal writer after each commit (ring_journal_readers()). When the
// topic's only ring reader is the journal writer, producers wake the
// writer's bell instead (set_producer_target).
//
// Memory ordering: sleeping() must be read after the producer's seq_cst
// claim CAS, which orders it against a sleeper's seq_cst re-check of the
// ring's end (Doorbell protocol). The slot masks are read relaxed: a group
// that just subscribed has not slept yet, so missing it is harmless.
//
// Thread-safety: all methods are thread-safe; acquire/release take a mutex.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <mutex>
#include <string>

#include "base/doorbell.hpp"
#include "weir/status.hpp"

namespace weir::internal {

class ReaderBells {
 public:
  static constexpr std::uint32_t kMaxGroups = 64;
  // sleeping() result when the producer target (the journal writer) sleeps.
  static constexpr std::uint64_t kTargetBit = 1;

  // Producers of this topic wake `bell` (the journal writer's) instead of
  // group bells. Set before the topic is published to.
  void set_producer_target(Doorbell* bell) noexcept { target_ = bell; }

  // Takes a slot for a group; `by_journal`: the journal writer (not
  // producers) wakes it. kResourceExhausted when all 64 are taken.
  Result<std::uint32_t> acquire(bool by_journal, const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::uint64_t used = active_.load(std::memory_order_relaxed) | journal_.load(std::memory_order_relaxed);
    if (used == ~std::uint64_t{0})
      return Status::resource_exhausted("topic '" + topic + "' already has " + std::to_string(kMaxGroups) +
                                        " groups subscribed");
    const auto slot = static_cast<std::uint32_t>(std::countr_one(used));
    (by_journal ? journal_ : active_).fetch_or(std::uint64_t{1} << slot, std::memory_order_relaxed);
    return slot;
  }
  void release(std::uint32_t slot) {
    std::lock_guard<std::mutex> lock(mu_);
    active_.fetch_and(~(std::uint64_t{1} << slot), std::memory_order_relaxed);
    journal_.fetch_and(~(std::uint64_t{1} << slot), std::memory_order_relaxed);
  }
  Doorbell& bell(std::uint32_t slot) noexcept { return bells_[slot]; }

  // Producer side: which readers sleep (call right after the claim CAS).
  std::uint64_t sleeping() const noexcept {
    if (target_) return target_->has_sleepers() ? kTargetBit : 0;
    std::uint64_t active = active_.load(std::memory_order_relaxed);
    std::uint64_t out = 0;
    while (active) {
      const int i = std::countr_zero(active);
      if (bells_[static_cast<std::size_t>(i)].has_sleepers()) out |= std::uint64_t{1} << i;
      active &= active - 1;
    }
    return out;
  }
  // Producer side: wakes the readers sleeping() reported, once published.
  void wake(std::uint64_t mask) noexcept {
    if (target_) {
      if (mask) target_->wake();
      return;
    }
    while (mask) {
      bells_[static_cast<std::size_t>(std::countr_zero(mask))].wake();
      mask &= mask - 1;
    }
  }
  // Journal writer side, after a commit: wakes the groups reading the journal.
  void ring_journal_readers() noexcept {
    std::uint64_t mask = journal_.load(std::memory_order_relaxed);
    while (mask) {
      bells_[static_cast<std::size_t>(std::countr_zero(mask))].ring();
      mask &= mask - 1;
    }
  }
  // Wakes every group (close).
  void ring_all() noexcept {
    for (auto& b : bells_) b.ring();
  }

 private:
  std::atomic<std::uint64_t> active_{0};   // bit i: slot i woken by producers
  std::atomic<std::uint64_t> journal_{0};  // bit i: slot i woken by the journal writer
  std::mutex mu_;                          // serialises acquire/release
  std::array<Doorbell, kMaxGroups> bells_;
  Doorbell* target_ = nullptr;
};

}  // namespace weir::internal
