// LatencyHistogram: a high-dynamic-range histogram of nanosecond values with
// bounded memory (64 linear sub-buckets per power of two: relative error at
// most 1/64, about 1.6%) covering 1 ns .. 2^44 ns (about 4.9 hours).
//
// Thread-safety: record() and merge() are not thread-safe; use one
// histogram per thread and merge them, or AtomicLatencyHistogram below.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace weir::internal {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;  // 64 sub-buckets
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxExp = 44;

  void record(std::uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  // Coordinated-omission correction: when a value exceeds the expected
  // interval, also record the samples that would have been taken meanwhile.
  void record_corrected(std::uint64_t ns, std::uint64_t interval_ns) noexcept {
    record(ns);
    if (interval_ns == 0) return;
    for (std::uint64_t missing = ns > interval_ns ? ns - interval_ns : 0; missing >= interval_ns;
         missing -= interval_ns)
      record(missing);
  }
  void merge(const LatencyHistogram& o) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  // Adds `n` samples to bucket `i` (see AtomicLatencyHistogram).
  void add_bucket(std::size_t i, std::uint64_t n) noexcept {
    counts_[i] += n;
    total_ += n;
  }
  void note_max(std::uint64_t v) noexcept { max_ = std::max(max_, v); }
  static constexpr std::size_t kBuckets = (kMaxExp + 1) * kSub;
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  // The value at quantile q in [0, 1] (upper edge of its bucket, capped at
  // the maximum seen); 0 when empty.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }

  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int exp = std::min(63 - std::countl_zero(v), kMaxExp + kSubBits - 1);
    const int shift = exp - kSubBits;
    const std::uint64_t sub = (v >> shift) & (kSub - 1);
    return static_cast<std::size_t>((shift + 1) * kSub + static_cast<int>(sub));
  }
  static std::uint64_t upper(std::size_t i) noexcept {
    if (i < kSub) return i;
    const int shift = static_cast<int>(i / kSub) - 1;
    const std::uint64_t sub = i % kSub;
    return ((kSub + sub + 1) << shift) - 1;
  }

 private:

  std::array<std::uint64_t, (kMaxExp + 1) * kSub> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// The same histogram, recorded from several threads at once: each record()
// is one relaxed atomic increment (plus a max update when it grows), no
// lock. snapshot() reads the counts without stopping writers, so it may miss
// samples recorded meanwhile (each count is exact once writers are done).
// Thread-safety: all methods are thread-safe.
class AtomicLatencyHistogram {
 public:
  void record(std::uint64_t ns) noexcept {
    counts_[LatencyHistogram::index(ns)].fetch_add(1, std::memory_order_relaxed);
    std::uint64_t m = max_.load(std::memory_order_relaxed);
    while (ns > m && !max_.compare_exchange_weak(m, ns, std::memory_order_relaxed)) {
    }
  }
  LatencyHistogram snapshot() const noexcept {
    LatencyHistogram h;
    for (std::size_t i = 0; i < counts_.size(); ++i)
      if (const auto n = counts_[i].load(std::memory_order_relaxed)) h.add_bucket(i, n);
    h.note_max(max_.load(std::memory_order_relaxed));
    return h;
  }

 private:
  std::array<std::atomic<std::uint64_t>, LatencyHistogram::kBuckets> counts_{};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace weir::internal
