// The hot-key sketch of one group partition: Space-Saving (Metwally et al.)
// over 64-bit key hashes. At most kKeys counters; a key not among them
// replaces the smallest, inheriting its count as its possible overcount.
//
// Keys are found by their hash (a scan of 64 contiguous uint64s, no string
// compares); the key text is kept beside the counter for reports only. Two
// keys with the same 64-bit hash share a counter (a chance of about n^2 /
// 2^65 for n keys sampled: negligible).
//
// Thread-safety: none; the owner of the partition serialises access (the
// group takes the partition's sketch mutex).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/metrics.hpp"

namespace weir::internal {

class KeySketch {
 public:
  static constexpr std::size_t kKeys = 64;

  void add(std::string_view key) {
    const std::uint64_t h = std::hash<std::string_view>{}(key);
    for (std::size_t i = 0; i < size_; ++i)
      if (hash_[i] == h) {
        ++count_[i];
        return;
      }
    std::size_t at = size_;
    if (size_ < kKeys) {
      ++size_;
      error_[at] = 0;
      count_[at] = 1;
    } else {
      at = 0;
      for (std::size_t i = 1; i < kKeys; ++i)
        if (count_[i] < count_[at]) at = i;
      error_[at] = count_[at];
      ++count_[at];
    }
    hash_[at] = h;
    key_[at].assign(key);
  }

  void clear() { size_ = 0; }
  bool empty() const { return size_ == 0; }

  // The counters, unordered.
  std::vector<HotKey> snapshot() const {
    std::vector<HotKey> out;
    out.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) out.push_back(HotKey{key_[i], count_[i], error_[i]});
    return out;
  }

 private:
  std::size_t size_ = 0;
  std::array<std::uint64_t, kKeys> hash_{};
  std::array<std::uint64_t, kKeys> count_{};
  std::array<std::uint64_t, kKeys> error_{};
  std::array<std::string, kKeys> key_;
};

}  // namespace weir::internal
