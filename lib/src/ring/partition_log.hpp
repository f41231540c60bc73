// PartitionLog: the in-memory log of one partition — a bounded ring of slots
// that any number of producers append to and any number of readers (one per
// subscribed consumer group) read in place.
//
// Why a ring of our own and not moodycamel ConcurrentQueue here: a partition
// is a log, not a queue. Every group must see every event at the same offset,
// events must be read in place while a handler runs (no copy per group), and
// offsets must follow append order across producers. moodycamel's queue hands
// each item to one consumer, orders only per producer, and owns its storage.
// The log below is an LMAX-Disruptor-style sequenced ring: producers claim
// offsets with one CAS on `tail_` (a batch claims many at once), fill their
// slots, and publish each by a release store of the slot's sequence.
//
// Offsets and slots: offset o lives in slot o & mask. slot.seq == o + 1 means
// "offset o is published and readable". A slot is reused for o + capacity
// only once every registered reader has moved past o (head_ > o).
//
// Memory ordering:
//  * producer: claim (CAS on tail_, seq_cst: it also orders the wake-up
//    handshake with sleeping readers, who re-check end() after announcing
//    themselves) ->
//    writes slot body -> slot.seq.store(o + 1, release).
//    Reader: slot.seq.load(acquire) == o + 1 -> reads slot body.
//    So everything a producer wrote before publish returned is visible to
//    the handler that receives the event.
//  * reader: finishes reading slots < c -> cursor.store(c, release).
//    A producer that finds the ring full calls advance_head(): under
//    gate_mu_ it loads every cursor (acquire) and stores head_ = min (release);
//    producers load head_ (acquire) before reusing a slot. So no slot is
//    overwritten while a reader may still read it, and readers never lock
//    (the Disruptor's "gating sequences", read by the producer).
//  * close: tail_ carries kClosedBit; setting it (fetch_or, acq_rel) makes
//    every later claim fail, so the final tail is exact.
//
// Progress: claim is lock-free (CAS loop) unless the ring is full and the
// policy is to block; publish of a claimed slot is wait-free; reading is
// wait-free; advance_head takes gate_mu_ (only when the ring looks full).
// Thread-safety: all public methods are thread-safe unless marked otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "base/doorbell.hpp"
#include "base/thread_annotations.hpp"
#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir::internal {

// One reader's position in a partition: the next offset it will read.
// Written only by the worker that owns the partition for the group (release);
// read by advance_head under the log's gate mutex (acquire).
struct alignas(64) ReaderCursor {
  std::atomic<Offset> next{0};
};

class PartitionLog {
 public:
  static constexpr std::uint64_t kClosedBit = 1ull << 63;
  // Bytes of a record stored inside the slot itself; larger records go to a
  // per-slot buffer that is kept and reused, so steady-state publishing does
  // not allocate either way.
  static constexpr std::size_t kInlineBytes = 104;

  // A log whose first offset is `start` (a journaled partition continues
  // where its journal ends).
  explicit PartitionLog(std::uint32_t capacity_pow2, Offset start = 0);
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  std::uint32_t capacity() const noexcept { return static_cast<std::uint32_t>(mask_ + 1); }

  // Moves an unused log's first offset to `start` (a journaled partition
  // continues where its journal ends). Only before any claim or reader.
  void restart_at(Offset start) noexcept {
    tail_.store(start, std::memory_order_relaxed);
    head_.store(start, std::memory_order_relaxed);
  }

  enum class ClaimError : std::uint8_t { kNone, kClosed, kFull, kTimedOut };
  // Reserves `n` consecutive offsets (1 <= n <= capacity) and stores the first
  // in `first`. Fails with kClosed; kFull if full and `block` is false;
  // kTimedOut if still full after `timeout`. The fast path reads no clock. Thread-safe.
  ClaimError claim(std::uint32_t n, bool block, std::chrono::nanoseconds timeout, Offset& first);
  // claim() that goes on after close() and never blocks (kFull when the
  // ring has no room): the journal writer placing the follow-ups of a write
  // set, which a closing bus still commits (its handler ran, its input's
  // offset moves with them). Thread-safe.
  ClaimError claim_past_close(std::uint32_t n, Offset& first);

  // Returns storage for the record at claimed offset `o`, of `bytes` bytes.
  // Only the producer that claimed `o` may call this, before publish(o).
  // Records up to kInlineBytes live in the slot; a larger one gets a buffer
  // that the slot keeps for later records (dropped when over 64 KiB, so one
  // huge event does not pin memory for the ring's lifetime).
  char* slot_buffer(Offset o, std::size_t bytes);
  // Makes offset `o` readable. Only its claimer, once.
  void publish(Offset o) noexcept {
    slot(o).seq.store(o + 1, std::memory_order_release);
  }

  // How many consecutive published offsets, starting at `from`, are
  // readable (at most `max`). Thread-safe; wait-free.
  std::uint32_t readable(Offset from, std::uint32_t max) const noexcept {
    std::uint32_t n = 0;
    while (n < max && slot(from + n).seq.load(std::memory_order_acquire) == from + n + 1) ++n;
    return n;
  }
  // Whether offset `o` is published (acquire: its record is visible once
  // this returns true). readable(o, 1) without the loop. Wait-free.
  bool published(Offset o) const noexcept {
    return slot(o).seq.load(std::memory_order_acquire) == o + 1;
  }
  // A hint that the reader will soon read offset `o` (its slot's first
  // line). Any offset: a slot no producer has reached yet is only warmed
  // early (the reader then checks its sequence as always). No effect on
  // results.
  void prefetch(Offset o) const noexcept { __builtin_prefetch(&slot(o), 0, 3); }
  // A hint that a producer will soon write offset `o`'s slot. No effect on
  // results.
  void prefetch_for_write(Offset o) const noexcept { __builtin_prefetch(&slot(o), 1, 3); }
  // The record at a readable offset. Valid until the reader moves past it.
  const char* record(Offset o) const noexcept {
    const Slot& s = slot(o);
    return s.size <= kInlineBytes ? s.inline_bytes : s.heap;
  }
  std::uint32_t record_bytes(Offset o) const noexcept { return slot(o).size; }

  // Registers a reader. Its cursor is set to `start` clamped into
  // [head, end]: kEarliest gives head, kLatest gives end. Thread-safe.
  void add_reader(ReaderCursor* cursor, Offset start);
  // Unregisters a reader; frees the slots only it was holding. Thread-safe.
  void remove_reader(ReaderCursor* cursor);
  // Recomputes head_ from the readers' cursors. Producers call it when the
  // ring looks full (so readers never take a lock on their hot path); readers
  // call it when they unregister. Returns the new head. Thread-safe.
  Offset advance_head();
  // Called by a reader after it stored a new cursor: wakes producers that
  // sleep waiting for space (they recompute head_ themselves).
  void reader_advanced() noexcept { space_bell_.ring(); }

  // Sets the closed bit: every later claim fails with kClosed. Returns the
  // final end offset. Idempotent. Thread-safe.
  Offset close() noexcept;
  bool closed() const noexcept { return tail_.load(std::memory_order_acquire) & kClosedBit; }

  // Next offset to be claimed (events claimed so far). Thread-safe.
  Offset end() const noexcept { return tail_.load(std::memory_order_acquire) & ~kClosedBit; }
  // end() as a seq_cst load: a reader's re-check after Doorbell::prepare().
  Offset end_seq_cst() const noexcept {
    return tail_.load(std::memory_order_seq_cst) & ~kClosedBit;
  }
  // Lowest offset still held. Thread-safe.
  Offset head() const noexcept { return head_.load(std::memory_order_acquire); }

  // Producers blocked on a full ring sleep here; readers ring it.
  Doorbell& space_bell() noexcept { return space_bell_; }

 private:
  // The claim without waiting, shared by claim() and claim_past_close():
  // kNone (`first` set), kFull (no room, head_ recomputed), or kClosed
  // unless `past_close`. `t` and `head` hold the caller's last loads of
  // tail_ and head_ and are updated.
  ClaimError try_claim(std::uint32_t n, bool past_close, std::uint64_t& t, Offset& head, Offset& first);

  struct alignas(64) Slot {
    std::atomic<std::uint64_t> seq{0};  // offset + 1 once published
    std::uint32_t size = 0;             // record bytes
    std::uint32_t heap_capacity = 0;    // bytes allocated at `heap`
    char* heap = nullptr;               // used when size > kInlineBytes
    char inline_bytes[kInlineBytes];
  };
  static_assert(sizeof(Slot) == 128, "a slot is two cache lines");

  Slot& slot(Offset o) noexcept { return slots_[o & mask_]; }
  const Slot& slot(Offset o) const noexcept { return slots_[o & mask_]; }

  const std::uint64_t mask_;
  std::unique_ptr<Slot[]> slots_;

  alignas(64) std::atomic<std::uint64_t> tail_;  // next offset to claim | kClosedBit
  alignas(64) std::atomic<Offset> head_;         // every reader is at or past head_

  Doorbell space_bell_;

  Mutex gate_mu_;
  std::vector<ReaderCursor*> readers_ GUARDED_BY(gate_mu_);
};

}  // namespace weir::internal
