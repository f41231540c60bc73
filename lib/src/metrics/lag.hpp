// The lag and skew rule, in one place: Bus::metrics() (and so Prometheus),
// the Inspector (`weir groups`, `weir stats`) and `weir top` all judge a
// group's partitions with these functions, so one state reads the same
// everywhere. Documented for users in metrics.hpp (GroupPartitionMetrics).
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace weir::internal {

// Events a group has not acknowledged on a partition: end - max(committed,
// start), never negative; events retention deleted do not count. A group
// with no offset yet stands at `start`.
inline std::uint64_t group_lag(std::uint64_t end, std::optional<std::uint64_t> committed,
                               std::uint64_t start) noexcept {
  const std::uint64_t from = std::max(committed.value_or(start), start);
  return end > from ? end - from : 0;
}

// A partition is skewed when its lag is more than kSkewFactor times the
// median lag of the group's partitions on the topic (the mean of the two
// middle lags for an even count) and at least kSkewMinLag events (a handful
// of events is never skew). Lags [0, 0, 100]: median 0, so 100 is skewed.
inline constexpr std::uint64_t kSkewFactor = 5;
inline constexpr std::uint64_t kSkewMinLag = 10;

// skewed[i] for lags[i], by the rule above.
inline std::vector<bool> skewed_partitions(std::span<const std::uint64_t> lags) {
  std::vector<bool> out(lags.size(), false);
  if (lags.empty()) return out;
  std::vector<std::uint64_t> sorted(lags.begin(), lags.end());
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  // Twice the median, in integers: exact for odd and even counts.
  const std::uint64_t twice_median = n % 2 ? 2 * sorted[n / 2] : sorted[n / 2 - 1] + sorted[n / 2];
  for (std::size_t i = 0; i < n; ++i)
    out[i] = lags[i] >= kSkewMinLag && 2 * lags[i] > kSkewFactor * twice_median;
  return out;
}

}  // namespace weir::internal
