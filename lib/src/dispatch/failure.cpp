// The failure loop of a group: handler calls with exception and timeout
// rules, retries with backoff, dead letters, stops and reports.
#include <chrono>

#include "base/clock.hpp"
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
    forget_retry(ps, m.offset());
    return true;
  }
  const RetryDecision d = retry_.on_failure(a, o);
  if (d.kind == RetryDecision::Kind::kRetry) {
    retries_.fetch_add(1, std::memory_order_relaxed);
    save_attempts(ps, m.offset(), a.attempt);
    note_retry(ps, m.offset(), a);
    return false;
  }
  forget_retry(ps, m.offset());
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

void Group::note_retry(PartitionState& ps, Offset offset, const Attempts& a) {
  const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(a.retry_at - Clock::now());
  const std::int64_t due_us = coarse_now_us() + std::max<std::int64_t>(0, wait.count());
  const Offset cursor = ps.cursor.next.load(std::memory_order_relaxed);  // only the owner writes it
  MutexLock lock(ps.retry_mu);
  ps.retry_notes.erase(ps.retry_notes.begin(), ps.retry_notes.lower_bound(cursor));
  ps.retry_notes[offset] = RetryNote{a.attempt, due_us};
  ps.has_retry_notes = true;
}

std::optional<Group::RetryNote> Group::retry_note(std::uint32_t partition, Offset offset) const {
  if (partition >= parts_.size()) return std::nullopt;
  const PartitionState& ps = *parts_[partition];
  // Acquire: pairs with the owner's release stores of the cursor.
  if (offset < ps.cursor.next.load(std::memory_order_acquire)) return std::nullopt;
  MutexLock lock(ps.retry_mu);
  auto it = ps.retry_notes.find(offset);
  if (it == ps.retry_notes.end()) return std::nullopt;
  return it->second;
}

std::int64_t Group::handed_at_us(std::uint32_t partition) const {
  if (partition >= parts_.size()) return 0;
  return parts_[partition]->handed_at_us.load(std::memory_order_relaxed);
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
  auto r = dead_letters_.topic->publish(letter.event(), po);
  // A full memory dead-letter topic (4,096 letters): drop its oldest letter
  // (counted, alerted) rather than stop this partition. A few tries: other
  // workers may take the freed slot first.
  for (int i = 0; !r && r.status().code() == Code::kResourceExhausted && i < 8 && dead_letters_.log->make_room(); ++i)
    r = dead_letters_.topic->publish(letter.event(), po);
  return r.is_ok();
}

}  // namespace weir::internal
