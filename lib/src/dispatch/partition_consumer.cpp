// The partition consumer of blocking mode (RetryMode::kBlocking): read a
// batch at the cursor through the Partition interface (memory or journaled
// alike), hand it to the handler, advance the cursor past what finished, and
// ask for the offset to be persisted as the options say. A failing event
// holds its partition (Attempts in PartitionState::cur) until it passes, is
// dead-lettered, or stops the partition; other partitions flow. An event
// whose delivery time (Event::deliver_at_us) lies ahead holds its partition
// the same way until that time.
//
// serve() wraps one batch of either mode with its metrics and the breaker's
// verdict. Everything here runs on the partition's owning worker.
#include <algorithm>

#include "base/clock.hpp"
#include "dispatch/group.hpp"
#include "dlq/format.hpp"
#include "record/delivery_time.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
// A worker asks the journal to persist offsets after this many events.
constexpr Offset kOffsetCommitEvents = 1000;
}  // namespace

std::uint32_t Group::serve(PartitionState& ps, WorkerContext& w, bool probe) {
  const Offset before = ps.cursor.next.load(std::memory_order_relaxed);  // only we write it
  w.acked_time_us = 0;
  // End-to-end latency: one acked batch in 8 (the first included), so the
  // clock read and the event's time are paid for on those only.
  w.sample_e2e = (w.e2e_batches & 7) == 0 && bus_->metrics_sampling;
  if (ps.head_time_us.load(std::memory_order_relaxed) == 0) note_head_time(ps);  // events arrived since
  const std::uint32_t handled =
      nonblocking() ? serve_nonblocking(ps, w, probe) : serve_events(ps, w, probe);
  // Metrics: relaxed counters and one lock-free histogram sample per batch.
  const Offset after = ps.cursor.next.load(std::memory_order_relaxed);
  if (after > before) {
    // One writer at a time (the owner): a plain add, no locked instruction.
    ps.processed.store(ps.processed.load(std::memory_order_relaxed) + (after - before),
                       std::memory_order_relaxed);
    ++w.e2e_batches;
    if (w.acked_time_us > 0) {
      const std::int64_t now_us = coarse_now_us();  // the clock publish stamps with
      e2e_hist_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(now_us - w.acked_time_us, 0)) * 1000);
    }
  }
  note_head_time(ps);
  ps.waits_for_delivery.store(nonblocking() ? holds_only_scheduled(ps) : ps.held_for_delivery,
                              std::memory_order_relaxed);
  if (nonblocking()) ps.lot_full.store(ps.lot.full(), std::memory_order_relaxed);
  if (ps.sketch_dirty && after >= ps.part->end()) {
    // Caught up: the hot keys of the next backlog start afresh.
    if (ps.sketch_mu.try_lock()) {  // else hot_keys() holds it: clear after the next batch
      ps.sketch.clear();
      ps.sketch_mu.unlock();
      ps.sketch_dirty = false;
    }
  }
  if (breaker_) {
    if (probe && w.ok + w.failed == 0) {
      breaker_->release_probe();  // nothing was handed out: no verdict
    } else {
      breaker_->record(w.ok, w.failed, probe);
    }
    w.ok = w.failed = 0;
  }
  return handled;
}

bool Group::read_failed(PartitionState& ps, Offset at, std::uint32_t attempt, const Status& s, Offset& resume_at) {
  if (s.code() == Code::kDataLoss) {
    stop_partition(ps, at, attempt, s.to_string(), FailureKind::kCorruptRecord);
    return true;
  }
  if (s.code() != Code::kNotFound) {
    // Transient (reader table full, I/O hiccup): try again shortly.
    ps.cur.retry_at = Clock::now() + std::chrono::milliseconds(5);
    return true;
  }
  // Retention deleted events this group had not handled.
  if (options_.on_retention_gap == RetentionGapPolicy::kStop) {
    stop_partition(ps, at, attempt, s.message(), FailureKind::kRetentionGap);
    return true;
  }
  report(ps, at, attempt, s.message(), FailureKind::kRetentionGap);
  resume_at = std::max(ps.part->start(), at);
  return false;
}

void Group::commit_progress(PartitionState& ps, WorkerContext& w, Offset from, Offset to) {
  ps.part->advance(ps.cursor, to);
  if (!journal_) return;
  if (options_.offset_commit_events) {
    w.unsynced += to - from;  // this worker's events since its last durable offset
    if (w.unsynced >= options_.offset_commit_events) {
      w.unsynced = 0;
      ps.nudged_at = to;
      // A failure (journal stalled, closing) leaves the offsets to the next
      // commit: redelivery, never loss. Waits in slices so that stop() does
      // not wait behind a journal that cannot commit (at most 30 s in all).
      const auto give_up = Clock::now() + std::chrono::seconds(30);
      while (stop_mode_.load(std::memory_order_acquire) == kRunning) {
        const Status s = journal_->wait_offsets_durable(std::chrono::milliseconds(100));
        if (s.code() != Code::kDeadlineExceeded || Clock::now() >= give_up) break;
      }
    }
  } else if (to - ps.nudged_at >= kOffsetCommitEvents) {
    ps.nudged_at = to;
    journal_->nudge();
  }
}

void Group::finished_through(PartitionState& ps, Offset next) noexcept {
  ps.cursor.next.store(next, std::memory_order_release);
  if (journal_ && next - ps.nudged_at >= kOffsetCommitEvents) {  // "at least every 1,000 events"
    ps.nudged_at = next;
    journal_->nudge();
  }
}

std::uint32_t Group::serve_txn_batch(PartitionState& ps, WorkerContext& w, std::uint32_t n, bool& decided) {
  const std::vector<Message>& scratch = w.scratch;
  std::uint32_t done = 0;
  std::unique_ptr<WriteSet> ws;  // the batch's changes, one unit for the writer
  const bool pre = n > 1 && prefetch_dedupe(w, std::span<const Message>(scratch.data(), n));
  for (std::uint32_t i = 0; i < n; ++i) {
    if (serve_txn(ps, w, ps.cur, scratch[i], ws, pre ? static_cast<int>(i) : -1) == Verdict::kPassed) {
      ++done;
      continue;
    }
    decided = true;
    break;
  }
  if (ws) {
    journal_->submit(std::move(ws));
    journal_->nudge();
  }
  return done;
}

std::uint32_t Group::serve_events(PartitionState& ps, WorkerContext& w, bool probe) {
  std::vector<Message>& scratch = w.scratch;
  const Offset c = ps.cursor.next.load(std::memory_order_relaxed);  // only we write it
  const std::uint32_t want = probe ? 1 : batch_limit(w);  // half-open: one event decides
  auto read = ps.part->read(c, ps.cur.attempt, std::span<Message>(scratch.data(), want), w.rb);
  if (!read) {
    Offset resume_at = c;
    if (!read_failed(ps, c, ps.cur.attempt, read.status(), resume_at)) {
      ps.cur = Attempts{};
      ps.part->advance(ps.cursor, resume_at);
    }
    return 1;
  }
  std::uint32_t n = *read;
  if (n == 0) return 0;
  // Delayed delivery: the batch ends before the first event not yet due,
  // which holds the partition (as a retry would) until its time.
  ps.held_for_delivery = false;
  std::optional<Clock::time_point> hold;
  for (std::uint32_t i = 0; i < n && !hold; ++i)
    if ((hold = not_due_until(scratch[i]))) n = i;
  if (n == 0) {
    ps.cur.retry_at = *hold;
    ps.held_for_delivery = true;
    return 1;
  }
  ps.handed_end.store(c + n, std::memory_order_relaxed);
  ps.handed_at_us.store(coarse_now_us(), std::memory_order_relaxed);
  if (n == options_.max_batch && ps.part->end() > c + n && bus_->metrics_sampling)  // behind: sample the backlog's keys
    sample_keys(ps, n, [&scratch](std::uint32_t i) { return scratch[i].key(); });
  std::uint32_t done = 0;
  bool decided = false;
  // End-to-end latency is measured from the oldest event of the batch (read
  // now: once the cursor passes it, a memory ring may reuse its slot), so a
  // lagging group's figure shows how long its events waited.
  const std::int64_t oldest_us = w.sample_e2e ? scratch[0].time_us() : 0;

  if (txn_mode_) {
    done = serve_txn_batch(ps, w, n, decided);
  } else if (!invoker_.batch_handler()) {
    for (std::uint32_t i = 0; i < n; ++i) {
      const Message& m = scratch[i];
      if (redriven_for_other(m, options_.group)) {
        ++done;
        continue;
      }
      const Outcome o = call(w, m, nullptr);
      if (o.is_done()) {
        ++done;
        ps.cur = Attempts{};
        finished_through(ps, c + done);
        continue;
      }
      if (apply(ps, ps.cur, m, o)) ++done;
      decided = true;
      break;
    }
  } else {
    // Redriven events for other groups: skip a leading one, stop the batch
    // before a later one.
    std::uint32_t own = 0;
    while (own < n && !redriven_for_other(scratch[own], options_.group)) ++own;
    if (own == 0) {
      ps.part->advance(ps.cursor, c + 1);
      return 1;
    }
    n = own;
    const BatchOutcome bo = invoker_.call_batch(std::span<const Message>(scratch.data(), n));
    w.ok += static_cast<std::uint32_t>(std::min<std::size_t>(bo.done, n));
    if (bo.done < n) ++(bo.rest.is_done() ? w.ok : w.failed);
    done = static_cast<std::uint32_t>(std::min<std::size_t>(bo.done, n));
    if (done > 0) ps.cur = Attempts{};
    if (done < n) {
      if (bo.rest.is_done()) {
        ++done;
        ps.cur = Attempts{};
      } else {
        decided = true;
        if (apply(ps, ps.cur, scratch[done], bo.rest)) ++done;
      }
    }
  }

  if (hold && done == n) {  // everything before the delayed event finished
    ps.cur.retry_at = *hold;
    ps.held_for_delivery = true;
  }
  if (done) {
    if (w.sample_e2e) w.acked_time_us = oldest_us;
    commit_progress(ps, w, c, c + done);
  }
  return done + (decided ? 1 : 0);
}

}  // namespace weir::internal
