// CircuitBreaker: stops a group from calling a failing dependency.
//
// closed     handler outcomes are counted over a sliding window (two half-
//            window buckets); when at least min_calls outcomes were seen
//            and failures / calls >= failure_ratio, the breaker opens.
// open       no event is handed to the handler (events wait in the journal
//            or ring: no retry storm) until cool_down has passed.
// half-open  one worker hands one event (the probe); success closes the
//            breaker, failure opens it again for another cool_down.
//
// Thread-safety: thread-safe (a mutex; only groups with a breaker pay it).
// State changes are reported through the callback, outside the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/thread_annotations.hpp"
#include "weir/subscribe.hpp"

namespace weir::internal {

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;

  CircuitBreaker(std::string group, const BreakerOptions& o, BreakerCallback cb)
      : group_(std::move(group)), o_(o), cb_(std::move(cb)) {}

  // May a worker hand out events now? `probe` is set when this call took
  // the half-open probe (hand exactly one event, then record()).
  bool allow(bool& probe) {
    probe = false;
    BreakerState from, to;
    {
      MutexLock lock(mu_);
      if (state_ == BreakerState::kClosed) return true;
      if (state_ == BreakerState::kOpen) {
        if (Clock::now() < open_until_) return false;
        from = state_;
        state_ = to = BreakerState::kHalfOpen;
      } else {
        if (probe_out_) return false;
        from = to = state_;
      }
      probe_out_ = true;
      probe = true;
    }
    if (from != to) notify(from, to);
    return true;
  }

  // A probe was taken but no event was there to try: give it back.
  void release_probe() {
    MutexLock lock(mu_);
    probe_out_ = false;
  }

  // When an open breaker will let a probe through (for sleeping workers).
  Clock::time_point reopen_at() const {
    MutexLock lock(mu_);
    return state_ == BreakerState::kOpen ? open_until_ : Clock::time_point{};
  }

  void record(std::uint32_t successes, std::uint32_t failures, bool probe) {
    BreakerState from, to;
    {
      MutexLock lock(mu_);
      from = state_;
      if (probe) {
        probe_out_ = false;
        if (failures) {
          trip();
        } else {
          state_ = BreakerState::kClosed;
          cur_ = prev_ = Bucket{};
          bucket_start_ = Clock::now();
        }
      } else if (state_ == BreakerState::kClosed) {
        rotate();
        cur_.calls += successes + failures;
        cur_.failures += failures;
        const std::uint64_t calls = cur_.calls + prev_.calls;
        const std::uint64_t failed = cur_.failures + prev_.failures;
        if (calls >= o_.min_calls && static_cast<double>(failed) >= o_.failure_ratio * static_cast<double>(calls))
          trip();
      }
      to = state_;
    }
    if (from != to) notify(from, to);
  }

  BreakerState state() const {
    MutexLock lock(mu_);
    return state_;
  }
  std::uint64_t trips() const {
    MutexLock lock(mu_);
    return trips_;
  }

 private:
  struct Bucket {
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
  };

  void trip() REQUIRES(mu_) {
    state_ = BreakerState::kOpen;
    open_until_ = Clock::now() + o_.cool_down;
    ++trips_;
    cur_ = prev_ = Bucket{};
  }
  void rotate() REQUIRES(mu_) {  // buckets of half a window each
    const auto now = Clock::now();
    const auto half = o_.window / 2;
    if (bucket_start_ == Clock::time_point{}) bucket_start_ = now;
    while (now - bucket_start_ >= half) {
      prev_ = cur_;
      cur_ = Bucket{};
      bucket_start_ += half;
      if (now - bucket_start_ >= 2 * half) {  // idle for a whole window
        prev_ = Bucket{};
        bucket_start_ = now;
      }
    }
  }
  void notify(BreakerState from, BreakerState to) {
    if (!cb_) return;
    try {
      cb_(group_, from, to);
    } catch (...) {
      // A throwing observer must not break the group.
    }
  }

  const std::string group_;
  const BreakerOptions o_;
  const BreakerCallback cb_;
  mutable Mutex mu_;
  BreakerState state_ GUARDED_BY(mu_) = BreakerState::kClosed;
  Clock::time_point open_until_ GUARDED_BY(mu_) = {};
  Clock::time_point bucket_start_ GUARDED_BY(mu_) = {};
  Bucket cur_ GUARDED_BY(mu_), prev_ GUARDED_BY(mu_);
  bool probe_out_ GUARDED_BY(mu_) = false;
  std::uint64_t trips_ GUARDED_BY(mu_) = 0;
};

}  // namespace weir::internal
