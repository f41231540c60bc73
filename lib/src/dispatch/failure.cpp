// The failure loop of a group: handler calls with exception and timeout
// rules, retries with backoff, dead letters, stops and reports.
#include <chrono>

#include "dispatch/group.hpp"
#include "dlq/log.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

void Group::stop_partition(PartitionState& ps, Offset at, std::uint32_t attempt,
                           std::string_view reason, FailureKind kind) {
  ps.stopped.store(true, std::memory_order_relaxed);
  report(ps, at, attempt, reason, kind);
}

void Group::report(const PartitionState& ps, Offset at, std::uint32_t attempt,
                   std::string_view reason, FailureKind kind) const {
  if (!options_.on_failure) return;
  FailureReport r{options_.group, topic_->name(), ps.index, at, attempt, reason, kind};
  try {
    options_.on_failure(r);
  } catch (...) {
    // A throwing callback must not take the worker down; the stop is still
    // visible through describe_group.
  }
}

Outcome Group::call(WorkerContext& w, const Message& m, State* state) {
  // Handler latency: one call in 64 (the first included): two clock reads
  // per sample, which for a handler of a few ns is most of its cost.
  const bool sampled = (w.calls++ & 63) == 0 && bus_->metrics_sampling;
  Outcome o = invoker_.call(m, state, sampled);
  ++(o.is_done() ? w.ok : w.failed);
  return o;
}

bool Group::apply(PartitionState& ps, Attempts& a, const Message& m, const Outcome& o) {
  if (o.kind() == Outcome::Kind::kDone) {
    a.succeeded();
    return true;
  }
  const RetryDecision d = retry_.on_failure(a, o);
  if (d.kind == RetryDecision::Kind::kRetry) {
    retries_.fetch_add(1, std::memory_order_relaxed);
    save_attempts(ps, m.offset(), a.attempt);
    return false;
  }
  if (!dead_letters_.topic) {
    stop_partition(ps, m.offset(), m.attempt(), d.reason, FailureKind::kHandler);
    return false;
  }
  if (!dead_letter(m, a, d.reason)) {
    // Could not store it (DLQ full, journal stalled): keep the event and try
    // the dead-letter write again shortly. Nothing is dropped.
    a.retry_at = Clock::now() + std::chrono::milliseconds(100);
    return false;
  }
  report(ps, m.offset(), m.attempt(), d.reason, FailureKind::kDeadLettered);
  a.succeeded();
  return true;
}

bool Group::dead_letter(const Message& m, const Attempts& a, std::string_view reason) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const DeadLetterRecord letter(m, FailureProvenance{topic_->name(), options_.group, reason, m.attempt(),
                                                     a.first_failure_us, now});
  PublishOptions po;
  po.timeout = std::chrono::milliseconds(1000);
  if (dead_letters_.topic->journaled()) po.ack = Ack::kJournal;  // stored before the source is acked
  return dead_letters_.topic->publish(letter.event(), po).is_ok();
}

void Group::monitor() {
  const auto t = Clock::now();
  if (rate_samples_.empty() || t - rate_samples_.back().first >= std::chrono::seconds(1)) {
    // Retry rate for metrics: over the last ~10 s.
    rate_samples_.emplace_back(t, retries_.load(std::memory_order_relaxed));
    while (rate_samples_.size() > 11) rate_samples_.erase(rate_samples_.begin());
    const double span = std::chrono::duration<double>(t - rate_samples_.front().first).count();
    if (span > 0)
      retry_rate_.store(static_cast<double>(rate_samples_.back().second - rate_samples_.front().second) / span,
                        std::memory_order_relaxed);
  }
  const AlertOptions& a = options_.alerts;
  if (!a.on_alert || (!a.dlq_depth && !a.dlq_oldest_age.count() && a.retry_rate <= 0)) return;
  const auto now = Clock::now();
  if (now < next_monitor_) return;
  next_monitor_ = now + std::chrono::seconds(1);
  auto fire = [&](AlertKind kind, double value, double threshold, bool over) {
    bool& raised = alert_raised_[static_cast<int>(kind)];
    if (over == raised) return;
    raised = over;
    try {
      a.on_alert(Alert{kind, options_.group, value, threshold, over});
    } catch (...) {
      // An alert sink that throws must not take the worker down.
    }
  };
  if (dead_letters_.log && (a.dlq_depth || a.dlq_oldest_age.count())) {
    auto d = dead_letters_.log->depth();
    if (d) {
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
  }
  if (a.retry_rate > 0) {
    // Rate over the whole window: only judged once a window of samples exists.
    retry_samples_.emplace_back(now, retries_.load(std::memory_order_relaxed));
    while (retry_samples_.size() > 2 && now - retry_samples_[1].first >= a.retry_window)
      retry_samples_.erase(retry_samples_.begin());
    const auto& first = retry_samples_.front();
    const double span = std::chrono::duration<double>(now - first.first).count();
    if (span + 0.5 >= static_cast<double>(a.retry_window.count())) {
      const double rate = static_cast<double>(retry_samples_.back().second - first.second) / std::max(span, 1e-3);
      fire(AlertKind::kRetryRate, rate, a.retry_rate, rate > a.retry_rate);
    }
  }
}

}  // namespace weir::internal
