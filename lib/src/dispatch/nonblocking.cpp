// RetryMode::kNonBlocking: the serve path over each partition's ParkingLot.
//
// A partition's owner reads new events at read_pos. An event whose key has
// a failing event parked is parked behind it (in offset order); any other
// event goes to the handler. An event that fails transiently parks its key:
// it becomes the key's head, retried at its backoff time while the rest of
// the partition flows. When a head finishes (done, or dead-lettered) the
// key's next parked event becomes due at once; an empty key is unparked.
//
// The committed offset (the cursor: what the journal persists, and what a
// later subscribe resumes from) is the oldest parked offset, or read_pos when nothing
// is parked: "offsets commit only up to the oldest unfinished event". It
// only grows: parked offsets are all below read_pos, new ones are added at
// read_pos, and removing one can only raise the minimum. A journaled parked
// event is held as its offset and read again, in its own short read
// transaction, when it is retried. A memory one is copied out of its ring
// slot when parked (ParkingLot::keep_record), and the ring is gated
// by ring_hold at read_pos, not by the cursor: so the ring bounds only the
// events not read yet, and max_parked bounds the parked ones, as documented.
//
// An event whose delivery time (Event::deliver_at_us) lies ahead is parked
// the same way, as its key's head, due at that time (ParkingLot's
// "scheduled" heads): only its key waits.
//
// Priority lanes (TopicOptions::priority_levels > 1): events below the top
// priority, and events of keys that already have some, are set aside in
// the partition's LaneQueue and handed out most urgent first once nothing
// more can be read (dispatch/priority_lanes.cpp); the committed offset is
// also at most the oldest set-aside one.
//
// Everything here runs on the partition's owning worker.
#include <algorithm>

#include "base/clock.hpp"
#include "dispatch/group.hpp"
#include "dlq/format.hpp"
#include "record/delivery_time.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

void Group::keep_parked_copy(PartitionState& ps, Offset offset) {
  if (!parks_copies()) return;
  const PartitionLog& ring = ps.part->ring();
  ps.lot.keep_record(offset, std::string_view(ring.record(offset), ring.record_bytes(offset)));
}

Group::HeldRead Group::read_held(PartitionState& ps, const std::string* copy, Offset off, std::uint32_t attempt,
                                 Message& m, ReadBatch& rb, std::string_view what) {
  if (copy) {
    m = decode_record(copy->data(), topic_->name(), ps.index, off, attempt, ps.part->origin());
    return HeldRead::kRead;
  }
  const Result<std::uint32_t> got = ps.part->read(off, attempt, std::span<Message>(&m, 1), rb);
  if (got && *got > 0) return HeldRead::kRead;
  const Status s = got ? Status::ok() : got.status();
  if (s.code() == Code::kDataLoss) {
    stop_partition(ps, off, attempt, s.to_string(), FailureKind::kCorruptRecord);
    return HeldRead::kStopped;
  }
  if (s.code() == Code::kNotFound || s.is_ok()) {
    const std::string why = s ? std::string(what) + " event removed by retention" : s.message();
    // The group's RetentionGapPolicy holds for held events as for the
    // partition's next one: kStop stops the partition here.
    if (options_.on_retention_gap == RetentionGapPolicy::kStop) {
      stop_partition(ps, off, attempt, why, FailureKind::kRetentionGap);
      return HeldRead::kStopped;
    }
    report(ps, off, attempt, why, FailureKind::kRetentionGap);
    return HeldRead::kGone;
  }
  return HeldRead::kRetrySoon;
}

void Group::finish_head(PartitionState& ps, const std::string& key) {
  const ParkingLot::Finished f = ps.lot.finish_head(key);
  save_attempts(ps, f.done, 1);
  forget_retry(ps, f.done);
  // The key's next event goes on at the attempt a restart left it at.
  if (!f.next) return;
  if (auto r = ps.attempts.restored.find(*f.next); r != ps.attempts.restored.end()) {
    ps.lot.head(key).attempt = r->second;
    ps.attempts.restored.erase(r);
  }
}

Group::Verdict Group::handle_one(PartitionState& ps, WorkerContext& w, Attempts& a, const Message& m,
                                 std::unique_ptr<WriteSet>& ws) {
  if (txn_mode_) return serve_txn(ps, w, a, m, ws);
  if (redriven_for_other(m, options_.group)) return Verdict::kPassed;
  Outcome o = Outcome::done();
  if (invoker_.batch_handler()) {
    const BatchOutcome bo = invoker_.call_batch(std::span<const Message>(&m, 1));
    if (bo.done == 0) o = bo.rest;
    ++(o.is_done() ? w.ok : w.failed);
  } else {
    o = call(w, m, nullptr);
  }
  if (apply(ps, a, m, o)) return Verdict::kPassed;
  return ps.stopped.load(std::memory_order_relaxed) ? Verdict::kStopped : Verdict::kLater;
}

std::uint32_t Group::serve_due_heads(PartitionState& ps, WorkerContext& w, std::uint32_t& budget,
                                     std::unique_ptr<WriteSet>& ws) {
  std::uint32_t progress = 0;
  // Parked keys whose head is due, oldest due first.
  const auto now = Clock::now();
  while (budget > 0 && !ps.stopped.load(std::memory_order_relaxed)) {
    const std::optional<std::string> due = ps.lot.pop_due(now);
    if (!due) break;
    const std::string& key = *due;
    Attempts& head = ps.lot.head(key);
    const Offset off = ps.lot.head_offset(key);
    // A journaled event is read again in its own short read transaction;
    // a memory one comes from its copy (which finish_head drops).
    Message m;
    const HeldRead got = read_held(ps, ps.lot.record(off), off, head.attempt, m, w.rb, "parked");
    if (got == HeldRead::kStopped) break;
    if (got == HeldRead::kGone) {
      finish_head(ps, key);
      ++progress;
      continue;
    }
    if (got == HeldRead::kRetrySoon) {
      ps.lot.schedule(key, now + std::chrono::milliseconds(5));
      continue;
    }
    if (const auto at = not_due_until(m)) {  // delayed delivery: not yet
      ps.lot.mark_scheduled(key, true);
      ps.lot.schedule(key, *at);
      continue;
    }
    ps.lot.mark_scheduled(key, false);
    --budget;
    ++progress;
    switch (handle_one(ps, w, head, m, ws)) {
      case Verdict::kPassed:
        w.note_acked(m.time_us());
        finish_head(ps, key);
        break;
      case Verdict::kLater:
        ps.lot.schedule(key, head.retry_at);
        break;
      case Verdict::kWait:
        ps.lot.schedule(key, ps.cur.retry_at);
        ps.cur.retry_at = Clock::time_point{};  // only this key waits
        break;
      case Verdict::kStopped:
        budget = 0;
        break;
    }
  }

  return progress;
}

std::uint32_t Group::serve_new(PartitionState& ps, WorkerContext& w, std::uint32_t n,
                               std::unique_ptr<WriteSet>& ws) {
  std::vector<Message>& scratch = w.scratch;
  const bool batches = invoker_.batch_handler() != nullptr;
  std::uint32_t i = 0;
  while (i < n && !ps.stopped.load(std::memory_order_relaxed)) {
    const Message& m = scratch[i];
    const std::string_view key = m.key();
    if (ps.lot.is_parked(key)) {
      // Behind its key's failing event. A full parking lot stops reading here.
      if (ps.lot.full()) break;
      ps.lot.park_behind(key, m.offset());
      keep_parked_copy(ps, m.offset());
      ++i;
      continue;
    }
    if (lanes_ > 1 && ps.lanes.holds(key)) {
      // Behind its key's set-aside events (priority lanes), whatever its
      // priority. A full lane queue stops reading here.
      if (ps.lanes.full()) break;
      defer(ps, m);
      ++i;
      continue;
    }
    if (const auto at = not_due_until(m)) {
      // Delayed delivery: the key's head until its time, as a failing event
      // would be; a full parking lot stops reading here.
      if (ps.lot.full()) break;
      Attempts a;
      a.attempt = m.attempt();
      a.retry_at = *at;
      ps.lot.park_head(key, m.offset(), a);
      ps.lot.mark_scheduled(std::string(key), true);
      keep_parked_copy(ps, m.offset());
      ++i;
      continue;
    }
    if (lane_defers(ps, m)) {  // below the top priority: set aside while urgent ones are looked for
      if (ps.lanes.full()) break;
      defer(ps, m);
      ++i;
      continue;
    }
    if (batches && !txn_mode_) {
      // The run of events from i whose keys are not parked, cut before an
      // event redriven for another group (skipped on its own).
      if (redriven_for_other(m, options_.group)) {
        ++i;
        continue;
      }
      std::uint32_t j = i + 1;
      while (j < n && !redriven_for_other(scratch[j], options_.group) &&
             !ps.lot.is_parked(scratch[j].key()) && !not_due_until(scratch[j]) && !lane_defers(ps, scratch[j]))
        ++j;
      const BatchOutcome bo = invoker_.call_batch(std::span<const Message>(scratch.data() + i, j - i));
      const std::uint32_t ok = static_cast<std::uint32_t>(std::min<std::size_t>(bo.done, j - i));
      w.ok += ok;
      i += ok;
      // End-to-end latency: from the oldest event acknowledged in this serve().
      if (ok) w.note_acked(scratch[i - ok].time_us());
      if (i == j) continue;
      ++(bo.rest.is_done() ? w.ok : w.failed);
      Attempts a;
      a.attempt = scratch[i].attempt();
      if (!apply(ps, a, scratch[i], bo.rest) && !ps.stopped.load(std::memory_order_relaxed)) {
        ps.lot.park_head(scratch[i].key(), scratch[i].offset(), a);
        keep_parked_copy(ps, scratch[i].offset());
      }
      if (ps.stopped.load(std::memory_order_relaxed)) break;
      ++i;  // the rest of the run is looked at again: its keys may be parked now
      continue;
    }
    Attempts a;
    a.attempt = m.attempt();
    const Verdict v = handle_one(ps, w, a, m, ws);
    if (v == Verdict::kWait || v == Verdict::kStopped) break;  // this event is read again / never
    if (v == Verdict::kLater) {
      ps.lot.park_head(key, m.offset(), a);
      keep_parked_copy(ps, m.offset());
    }
    if (v == Verdict::kPassed) w.note_acked(m.time_us());
    // Nothing parked: everything before m is finished, so its offset is
    // committable now (with parked keys the oldest parked offset holds the
    // cursor, moved at the end of serve_nonblocking).
    if (v == Verdict::kPassed && !txn_mode_ && ps.lot.empty() && ps.lanes.empty()) finished_through(ps, m.offset() + 1);
    ++i;
  }
  return i;
}

std::uint32_t Group::serve_nonblocking(PartitionState& ps, WorkerContext& w, bool probe) {
  std::uint32_t budget = probe ? 1 : batch_limit(w);
  std::unique_ptr<WriteSet> ws;
  const Offset committed_before = ps.cursor.next.load(std::memory_order_relaxed);
  std::uint32_t progress = serve_due_heads(ps, w, budget, ws);

  // 2. New events, from read_pos.
  const Offset rp = ps.read_pos;
  std::uint32_t n = 0;
  if (budget > 0 && !ps.stopped.load(std::memory_order_relaxed) &&
      !ps.lot.full()) {
    // Restored attempt counts are applied below, per event.
    auto got = ps.part->read(rp, 1, std::span<Message>(w.scratch.data(), budget), w.rb);
    if (!got) {
      Offset resume_at = rp;
      if (!read_failed(ps, rp, 1, got.status(), resume_at)) ps.read_pos = resume_at;
      ++progress;
    } else {
      n = *got;
    }
  }
  for (std::uint32_t i = 0; i < n && !ps.attempts.restored.empty(); ++i) {
    auto r = ps.attempts.restored.find(rp + i);
    if (r == ps.attempts.restored.end()) continue;
    MessageAccess::set_attempt(w.scratch[i], r->second);
    ps.attempts.restored.erase(r);
  }
  progress += n;
  if (n > 0) ps.handed_at_us.store(coarse_now_us(), std::memory_order_relaxed);
  const std::uint32_t i = serve_new(ps, w, n, ws);
  ps.read_pos = std::max(ps.read_pos, rp + i);
  // Events that failed before a restart and have now passed at once: forget
  // their stored attempt counts.
  for (auto it = ps.attempts.failing.lower_bound(rp); it != ps.attempts.failing.end() && it->first < rp + i;) {
    const Offset o = it->first;
    ++it;
    if (!ps.lot.contains(o) && !ps.lanes.contains(o)) save_attempts(ps, o, 1);
  }
  if (i < n) {
    // Unread restored attempts must survive for the next read of these events.
    for (std::uint32_t k = i; k < n; ++k)
      if (w.scratch[k].attempt() > 1) ps.attempts.restored[rp + k] = w.scratch[k].attempt();
  }

  // Priority lanes: set-aside events go once nothing more can be read now,
  // or once the lane queue or the parking lot is full (reading stopped;
  // dispatch/priority_lanes.cpp).
  if (!ps.lanes.empty() && budget > 0 && !(probe && n > 0) &&
      (ps.lanes.full() || ps.lot.full() || !ps.part->has_events(ps.read_pos, false)))
    progress += serve_deferred(ps, w, budget, ws);

  // What is committed: everything before the oldest unfinished event.
  Offset commit = ps.lot.empty() ? ps.read_pos : std::min(ps.lot.oldest(), ps.read_pos);
  if (!ps.lanes.empty()) commit = std::min(commit, ps.lanes.oldest());
  ps.parked_count.store(ps.lot.size(), std::memory_order_relaxed);
  ps.handed_end.store(ps.read_pos, std::memory_order_relaxed);
  if (n > 0 && n == options_.max_batch && ps.part->end() > rp + n && bus_->metrics_sampling)  // behind: sample
    sample_keys(ps, n, [&w](std::uint32_t k) { return w.scratch[k].key(); });
  if (ws) {
    ws->next = commit;
    journal_->submit(std::move(ws));
    journal_->nudge();
  }
  if (commit > committed_before) commit_progress(ps, w, committed_before, commit);
  // Memory: everything below read_pos is handled or copied; free its slots
  // (release: our reads of them happen before a producer reuses them).
  if (parks_copies() && ps.read_pos > ps.ring_hold.next.load(std::memory_order_relaxed))
    ps.part->advance(ps.ring_hold, ps.read_pos);
  return progress;
}

}  // namespace weir::internal
