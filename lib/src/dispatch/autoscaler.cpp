#include "dispatch/autoscaler.hpp"

namespace weir::internal {

std::optional<std::uint32_t> Autoscaler::decide(std::span<const std::uint64_t> lags, std::uint32_t workers) {
  bool rising = false, idle = true;
  prev_lag_.resize(lags.size(), 0);
  for (std::size_t p = 0; p < lags.size(); ++p) {
    if (lags[p] >= options_.min_lag) {
      idle = false;
      if (lags[p] > prev_lag_[p]) rising = true;
    }
    prev_lag_[p] = lags[p];
  }
  rising_windows_ = rising ? rising_windows_ + 1 : 0;
  idle_windows_ = idle ? idle_windows_ + 1 : 0;
  if (rising_windows_ >= options_.grow_after && workers < max_) {
    rising_windows_ = 0;
    return workers + 1;
  }
  if (idle_windows_ >= options_.shrink_after && workers > min_) {
    idle_windows_ = 0;
    return workers - 1;
  }
  return std::nullopt;
}

}  // namespace weir::internal
