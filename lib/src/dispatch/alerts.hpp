// Alerts: a group's retry rate and its alert conditions (dead-letter depth,
// age of the oldest dead letter, dead letters dropped at a memory DLQ's cap,
// sustained retry rate), evaluated between batches by worker 0.
//
// evaluate() samples the group's retry counter about once a second (the
// retry rate for metrics, over the last ~10 s) and, when AlertOptions has a
// sink, judges each condition that has a threshold (kDlqDropped needs
// none) at most once a second. An alert fires when its condition starts to
// hold (raised) and again when it stops (cleared); a throwing sink is
// ignored. The retry-rate alert is only
// judged once a whole retry_window of samples exists.
//
// Thread-safety: evaluate() runs on one thread at a time (worker 0);
// retry_rate() is thread-safe (a relaxed atomic, written by evaluate()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dlq/log.hpp"
#include "weir/subscribe.hpp"

namespace weir::internal {

class Alerts {
 public:
  using Clock = std::chrono::steady_clock;

  // `dead_letters`: the group's dead-letter log (null when dead-lettering
  // is off: the depth and age conditions are never judged).
  Alerts(std::string group, const AlertOptions& options, std::shared_ptr<DeadLetterLog> dead_letters)
      : group_(std::move(group)), options_(options), dead_letters_(std::move(dead_letters)) {}

  // `retries`: the group's retry counter now. Worker 0 only.
  void evaluate(std::uint64_t retries);

  // Retries per second over the last ~10 s. Thread-safe.
  double retry_rate() const noexcept { return retry_rate_.load(std::memory_order_relaxed); }

 private:
  using Samples = std::vector<std::pair<Clock::time_point, std::uint64_t>>;
  void sample_rate(Clock::time_point t, std::uint64_t retries);
  void judge_dead_letters();
  void judge_retry_rate(Clock::time_point now, std::uint64_t retries);
  void judge_dropped();
  void fire(AlertKind kind, double value, double threshold, bool over);

  const std::string group_;
  const AlertOptions options_;
  const std::shared_ptr<DeadLetterLog> dead_letters_;
  std::atomic<double> retry_rate_{0};
  // Worker 0 only:
  Samples rate_samples_;   // for retry_rate()
  Samples retry_samples_;  // for the retry-rate alert
  bool raised_[4] = {false, false, false, false};  // by AlertKind
  std::uint64_t dropped_seen_ = 0;  // dead letters dropped at the last judgement
  bool judged_depth_ = false;       // judge_dead_letters() read the depth in this judgement
  Clock::time_point next_judgement_{};
};

}  // namespace weir::internal
