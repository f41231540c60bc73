#include "ring/partition_log.hpp"

#include <algorithm>

namespace weir::internal {

namespace {
constexpr std::size_t kKeepHeapBytes = 64 * 1024;
constexpr std::chrono::milliseconds kMaxSleep{50};
}  // namespace

PartitionLog::PartitionLog(std::uint32_t capacity_pow2, Offset start)
    : mask_(capacity_pow2 - 1), slots_(new Slot[capacity_pow2]), tail_(start), head_(start) {}

PartitionLog::~PartitionLog() {
  for (std::uint64_t i = 0; i <= mask_; ++i) delete[] slots_[i].heap;
}

PartitionLog::ClaimError PartitionLog::try_claim(std::uint32_t n, bool past_close, std::uint64_t& t, Offset& head,
                                                 Offset& first) {
  const std::uint64_t cap = capacity();
  for (;;) {
    if ((t & kClosedBit) && !past_close) return ClaimError::kClosed;
    const Offset end = t & ~kClosedBit;
    if (end + n > head + cap) {
      head = advance_head();  // readers may have moved on since head_ was set
      if (end + n > head + cap) return ClaimError::kFull;
      continue;
    }
    // seq_cst: besides handing out numbers, this RMW is the producer's half
    // of the wake-up handshake (see TopicState::publish). Visibility of slot
    // contents is carried by slot.seq (release/acquire). t + n keeps the
    // closed bit as it is (offsets stay far below it).
    if (tail_.compare_exchange_weak(t, t + n, std::memory_order_seq_cst, std::memory_order_relaxed)) {
      first = end;
      return ClaimError::kNone;
    }
  }
}

PartitionLog::ClaimError PartitionLog::claim(std::uint32_t n, bool block,
                                             std::chrono::nanoseconds timeout, Offset& first) {
  std::uint64_t t = tail_.load(std::memory_order_relaxed);
  // head_ acquire pairs with the release in advance_head(): the slots we are
  // about to reuse have been fully read.
  Offset head = head_.load(std::memory_order_acquire);
  std::chrono::steady_clock::time_point deadline{};  // computed on first wait
  for (;;) {
    const ClaimError e = try_claim(n, /*past_close=*/false, t, head, first);
    if (e != ClaimError::kFull || !block) return e;
    const auto now = std::chrono::steady_clock::now();
    if (deadline == std::chrono::steady_clock::time_point{}) deadline = now + timeout;
    if (now >= deadline) return ClaimError::kTimedOut;
    const std::uint32_t epoch = space_bell_.prepare();
    t = tail_.load(std::memory_order_relaxed);
    head = advance_head();
    if (!(t & kClosedBit) && t + n > head + capacity()) {
      space_bell_.wait(epoch, std::min<std::chrono::nanoseconds>(deadline - now, kMaxSleep));
    }
    space_bell_.finish();
    t = tail_.load(std::memory_order_relaxed);
    head = head_.load(std::memory_order_acquire);
  }
}

PartitionLog::ClaimError PartitionLog::claim_past_close(std::uint32_t n, Offset& first) {
  std::uint64_t t = tail_.load(std::memory_order_relaxed);
  Offset head = head_.load(std::memory_order_acquire);  // as in claim()
  return try_claim(n, /*past_close=*/true, t, head, first);
}

char* PartitionLog::slot_buffer(Offset o, std::size_t bytes) {
  Slot& s = slot(o);
  s.size = static_cast<std::uint32_t>(bytes);
  if (bytes <= kInlineBytes) {
    if (s.heap_capacity > kKeepHeapBytes) {
      delete[] s.heap;
      s.heap = nullptr;
      s.heap_capacity = 0;
    }
    return s.inline_bytes;
  }
  if (bytes > s.heap_capacity) {
    delete[] s.heap;
    s.heap = new char[bytes];
    s.heap_capacity = static_cast<std::uint32_t>(bytes);
  }
  return s.heap;
}

void PartitionLog::add_reader(ReaderCursor* cursor, Offset start) {
  MutexLock lock(gate_mu_);
  // head_ only moves under gate_mu_, so a start >= head_ stays held for us.
  const Offset lo = head_.load(std::memory_order_relaxed);
  const Offset hi = end();
  cursor->next.store(std::clamp(start, lo, hi), std::memory_order_release);
  readers_.push_back(cursor);
}

void PartitionLog::remove_reader(ReaderCursor* cursor) {
  {
    MutexLock lock(gate_mu_);
    readers_.erase(std::remove(readers_.begin(), readers_.end(), cursor), readers_.end());
  }
  advance_head();
  space_bell_.ring();
}

Offset PartitionLog::advance_head() {
  MutexLock lock(gate_mu_);
  const Offset head = head_.load(std::memory_order_relaxed);
  if (readers_.empty()) return head;  // nobody reads: keep what is held
  Offset low = ~Offset{0};
  for (const ReaderCursor* r : readers_) {
    // Acquire pairs with the reader's release store of its cursor: its reads
    // of the slots below are done.
    low = std::min(low, r->next.load(std::memory_order_acquire));
  }
  if (low <= head) return head;
  head_.store(low, std::memory_order_release);
  return low;
}

Offset PartitionLog::close() noexcept {
  const std::uint64_t t = tail_.fetch_or(kClosedBit, std::memory_order_acq_rel);
  space_bell_.ring();
  return t & ~kClosedBit;
}

}  // namespace weir::internal
