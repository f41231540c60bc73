// ReaderBells: the wake-up fan-out from a topic's producers (or its journal
// writer) to the consumer groups reading it.
//
// A group takes a slot (one Doorbell) while subscribed. Groups that read
// the rings in place are woken by producers: after a claim, a producer asks
// sleeping() which bells have a sleeper and, once its events are published,
// wake()s exactly those. Groups that read the journal are woken by the
// journal writer after each commit (ring_journal_readers()). When the
// topic's only ring reader is the journal writer, producers wake the
// writer's bell instead (set_producer_target). A group whose one worker
// pool serves several topics gives each topic's slot the pool's own bell
// (acquire's `shared`), so one sleeping worker hears all of them.
//
// Memory ordering: sleeping() must be read after the producer's seq_cst
// claim CAS, which orders it against a sleeper's seq_cst re-check of the
// ring's end (Doorbell protocol). The slot masks are read relaxed: a group
// that just subscribed has not slept yet, so missing it is harmless. A
// slot's bell pointer is stored (release) by acquire/release and loaded
// (acquire) by bell(); a shared bell must outlive this object, because a
// producer may still wake it after the slot was released (BellArena keeps
// them for the bus's lifetime: a late wake is spurious, never a use after
// free).
//
// Thread-safety: all methods are thread-safe; acquire/release take a mutex.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

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

  ReaderBells() {
    for (std::size_t i = 0; i < kMaxGroups; ++i) use_[i].store(&bells_[i], std::memory_order_relaxed);
  }

  // Takes a slot for a group; `by_journal`: the journal writer (not
  // producers) wakes it; `shared`: the bell the group sleeps on, when not
  // the slot's own (see above). kResourceExhausted when all 64 are taken.
  Result<std::uint32_t> acquire(bool by_journal, const std::string& topic, Doorbell* shared = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::uint64_t used = active_.load(std::memory_order_relaxed) | journal_.load(std::memory_order_relaxed);
    if (used == ~std::uint64_t{0})
      return Status::resource_exhausted("topic '" + topic + "' already has " + std::to_string(kMaxGroups) +
                                        " groups subscribed");
    const auto slot = static_cast<std::uint32_t>(std::countr_one(used));
    use_[slot].store(shared ? shared : &bells_[slot], std::memory_order_release);
    (by_journal ? journal_ : active_).fetch_or(std::uint64_t{1} << slot, std::memory_order_relaxed);
    return slot;
  }
  void release(std::uint32_t slot) {
    std::lock_guard<std::mutex> lock(mu_);
    active_.fetch_and(~(std::uint64_t{1} << slot), std::memory_order_relaxed);
    journal_.fetch_and(~(std::uint64_t{1} << slot), std::memory_order_relaxed);
    use_[slot].store(&bells_[slot], std::memory_order_release);
  }
  Doorbell& bell(std::uint32_t slot) const noexcept { return *use_[slot].load(std::memory_order_acquire); }

  // Producer side: which readers sleep (call right after the claim CAS).
  std::uint64_t sleeping() const noexcept {
    if (target_) return target_->has_sleepers() ? kTargetBit : 0;
    std::uint64_t active = active_.load(std::memory_order_relaxed);
    std::uint64_t out = 0;
    while (active) {
      const int i = std::countr_zero(active);
      if (bell(static_cast<std::uint32_t>(i)).has_sleepers()) out |= std::uint64_t{1} << i;
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
      bell(static_cast<std::uint32_t>(std::countr_zero(mask))).wake();
      mask &= mask - 1;
    }
  }
  // Journal writer side, after a commit: wakes the groups reading the journal.
  void ring_journal_readers() noexcept {
    std::uint64_t mask = journal_.load(std::memory_order_relaxed);
    while (mask) {
      bell(static_cast<std::uint32_t>(std::countr_zero(mask))).ring();
      mask &= mask - 1;
    }
  }
  // Wakes every group (close).
  void ring_all() noexcept {
    for (std::uint32_t i = 0; i < kMaxGroups; ++i) bell(i).ring();
  }

 private:
  std::atomic<std::uint64_t> active_{0};   // bit i: slot i woken by producers
  std::atomic<std::uint64_t> journal_{0};  // bit i: slot i woken by the journal writer
  std::mutex mu_;                          // serialises acquire/release
  std::array<Doorbell, kMaxGroups> bells_;
  std::array<std::atomic<Doorbell*>, kMaxGroups> use_;  // slot i's bell: &bells_[i] or a shared one
  Doorbell* target_ = nullptr;
};

// Doorbells shared by several topics' slots (a group's worker pool over
// several topics), kept until the arena goes away: the bus's shared state
// owns one, so they outlive every topic that may ring them. A bell given
// back is reused by a later pool; a producer's late wake of it is then
// only spurious. Thread-safe (its mutex).
class BellArena {
 public:
  Doorbell* take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      Doorbell* b = free_.back();
      free_.pop_back();
      return b;
    }
    return &all_.emplace_back();
  }
  void give_back(Doorbell* b) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(b);
  }

 private:
  std::mutex mu_;
  std::deque<Doorbell> all_;     // never shrinks: addresses stay valid
  std::vector<Doorbell*> free_;
};

}  // namespace weir::internal
