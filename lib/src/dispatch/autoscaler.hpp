// Autoscaler: lag-driven sizing of a group's worker pool.
//
// Once per `window` the group hands it every partition's lag. A window is
// rising when some partition with at least `min_lag` events of lag has more
// than in the previous window, and idle when no partition has `min_lag`.
// After `grow_after` rising windows in a row the pool grows by one worker
// (up to `max`); after `shrink_after` idle windows in a row it shrinks by
// one (down to `min`). The decision is a value; the group applies it.
//
// Thread-safety: not thread-safe; used by worker 0 only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "weir/subscribe.hpp"

namespace weir::internal {

class Autoscaler {
 public:
  using Clock = std::chrono::steady_clock;

  Autoscaler(const AutoscaleOptions& options, std::uint32_t min_workers, std::uint32_t max_workers)
      : options_(options), min_(min_workers), max_(max_workers) {}

  // True once per window: the caller then gathers lags and calls decide().
  bool due(Clock::time_point now) {
    if (now < next_check_) return false;
    next_check_ = now + options_.window;
    return true;
  }

  // One window's lags (by partition) with `workers` the pool's target now:
  // the new target, or nullopt to keep it.
  std::optional<std::uint32_t> decide(std::span<const std::uint64_t> lags, std::uint32_t workers);

 private:
  const AutoscaleOptions options_;
  const std::uint32_t min_, max_;
  std::vector<std::uint64_t> prev_lag_;
  std::uint32_t rising_windows_ = 0, idle_windows_ = 0;
  Clock::time_point next_check_{};
};

}  // namespace weir::internal
