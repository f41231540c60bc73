#include "dispatch/alerts.hpp"

#include <algorithm>

namespace weir::internal {

void Alerts::evaluate(std::uint64_t retries) {
  sample_rate(Clock::now(), retries);
  const AlertOptions& a = options_;
  if (!a.on_alert) return;  // kDlqDropped needs no threshold
  const auto now = Clock::now();
  if (now < next_judgement_) return;
  next_judgement_ = now + std::chrono::seconds(1);
  judged_depth_ = false;
  judge_dead_letters();
  judge_dropped();
  if (a.retry_rate > 0) judge_retry_rate(now, retries);
}

void Alerts::sample_rate(Clock::time_point t, std::uint64_t retries) {
  if (!rate_samples_.empty() && t - rate_samples_.back().first < std::chrono::seconds(1)) return;
  // Retry rate for metrics: over the last ~10 s.
  rate_samples_.emplace_back(t, retries);
  while (rate_samples_.size() > 11) rate_samples_.erase(rate_samples_.begin());
  const double span = std::chrono::duration<double>(t - rate_samples_.front().first).count();
  if (span > 0)
    retry_rate_.store(static_cast<double>(rate_samples_.back().second - rate_samples_.front().second) / span,
                      std::memory_order_relaxed);
}

void Alerts::fire(AlertKind kind, double value, double threshold, bool over) {
  bool& raised = raised_[static_cast<int>(kind)];
  if (over == raised) return;
  raised = over;
  try {
    options_.on_alert(Alert{kind, group_, value, threshold, over});
  } catch (...) {
    // An alert sink that throws must not take the worker down.
  }
}

void Alerts::judge_dead_letters() {
  const AlertOptions& a = options_;
  if (!dead_letters_ || (!a.dlq_depth && !a.dlq_oldest_age.count())) return;
  auto d = dead_letters_->depth();
  judged_depth_ = true;
  if (!d) return;
  if (a.dlq_depth)
    fire(AlertKind::kDlqDepth, static_cast<double>(d->count), static_cast<double>(a.dlq_depth),
         d->count >= a.dlq_depth);
  if (a.dlq_oldest_age.count()) {
    const std::int64_t wall_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count();
    const double age_s = d->count ? static_cast<double>(wall_us - d->oldest_failure_us) / 1e6 : 0.0;
    fire(AlertKind::kDlqAge, age_s, static_cast<double>(a.dlq_oldest_age.count()),
         age_s > static_cast<double>(a.dlq_oldest_age.count()));
  }
}

void Alerts::judge_dropped() {
  if (!dead_letters_) return;
  // Memory DLQ at its cap, or a journaled one's retention (which depth()
  // notices): any drop since the last judgement raises it.
  if (!judged_depth_) dead_letters_->depth().status().ignore();
  const std::uint64_t dropped = dead_letters_->dropped();
  fire(AlertKind::kDlqDropped, static_cast<double>(dropped), 0, dropped > dropped_seen_);
  dropped_seen_ = dropped;
}

void Alerts::judge_retry_rate(Clock::time_point now, std::uint64_t retries) {
  const AlertOptions& a = options_;
  // Rate over the whole window: only judged once a window of samples exists.
  retry_samples_.emplace_back(now, retries);
  while (retry_samples_.size() > 2 && now - retry_samples_[1].first >= a.retry_window)
    retry_samples_.erase(retry_samples_.begin());
  const auto& first = retry_samples_.front();
  const double span = std::chrono::duration<double>(now - first.first).count();
  if (span + 0.5 >= static_cast<double>(a.retry_window.count())) {
    const double rate = static_cast<double>(retry_samples_.back().second - first.second) / std::max(span, 1e-3);
    fire(AlertKind::kRetryRate, rate, a.retry_rate, rate > a.retry_rate);
  }
}

}  // namespace weir::internal
