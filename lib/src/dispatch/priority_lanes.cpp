// Priority lanes (TopicOptions::priority_levels > 1) on the non-blocking
// serve path: which events are set aside, and how set-aside events are
// handed out. The queue itself is LaneQueue (dispatch/lanes.hpp); the read
// loop that calls these is nonblocking.cpp.
//
// Order that holds, per group and partition: the events of one key are
// handled in offset order whatever their priorities (an event queues behind
// its key's set-aside or parked events); an event of the top priority whose
// key has nothing waiting is handled as soon as it is read; set-aside keys go
// most urgent first (a key's urgency is that of its most urgent queued event),
// oldest head first within one priority. A set-aside head that fails
// transiently, or waits for its delivery time, moves with the rest of its
// key's queue into the ParkingLot and follows the retry rules from there.
//
// Everything here runs on the partition's owning worker.
#include "base/clock.hpp"
#include "dispatch/group.hpp"
#include "record/delivery_time.hpp"
#include "record/record.hpp"

namespace weir::internal {

void Group::defer(PartitionState& ps, const Message& m) {
  const Offset o = m.offset();
  ps.lanes.defer(m.key(), o, std::min(m.priority(), lanes_ - 1));
  // A restored attempt count (the event failed before a restart) goes with it.
  if (m.attempt() > 1) ps.attempts.restored[o] = m.attempt();
  if (parks_copies()) {
    // Its ring slot is still held (ring_hold has not passed read_pos <= o).
    const PartitionLog& ring = ps.part->ring();
    ps.lanes.keep_record(o, std::string_view(ring.record(o), ring.record_bytes(o)));
  }
}

void Group::lanes_to_lot(PartitionState& ps, const std::string& key, const Attempts& head, bool scheduled) {
  bool first = true;
  for (auto& [o, copy] : ps.lanes.take(key)) {
    if (first) {
      ps.lot.park_head(key, o, head);
    } else {
      ps.lot.park_behind(key, o);
    }
    if (!copy.empty()) ps.lot.keep_record(o, copy);
    first = false;
  }
  if (scheduled) ps.lot.mark_scheduled(key, true);
}

std::uint32_t Group::serve_deferred(PartitionState& ps, WorkerContext& w, std::uint32_t budget,
                                    std::unique_ptr<WriteSet>& ws) {
  using Clock = std::chrono::steady_clock;
  std::uint32_t progress = 0;
  while (budget > 0 && !ps.stopped.load(std::memory_order_relaxed)) {
    // New events may be urgent: once one set-aside event is done, read them
    // first (so an urgent event waits for at most one set-aside handler call).
    if (progress > 0 && ps.part->has_events(ps.read_pos, false)) break;
    const std::string* next = ps.lanes.next();
    if (!next) break;
    const std::string key = *next;
    const Offset off = ps.lanes.head_offset(key);
    Attempts a;
    if (auto r = ps.attempts.restored.find(off); r != ps.attempts.restored.end()) {
      a.attempt = r->second;
      ps.attempts.restored.erase(r);
    }
    Message m;
    const HeldRead got = read_held(ps, ps.lanes.record(off), off, a.attempt, m, w.lane_rb, "set-aside");
    if (got == HeldRead::kStopped) break;
    if (got == HeldRead::kGone) {
      ps.lanes.finish_head(key);
      ++progress;
      continue;
    }
    if (got == HeldRead::kRetrySoon) {  // the key tries again soon, from the parking lot
      a.retry_at = Clock::now() + std::chrono::milliseconds(5);
      lanes_to_lot(ps, key, a, false);
      continue;
    }
    if (const auto at = not_due_until(m)) {  // delayed delivery: the key waits in the lot
      a.retry_at = *at;
      lanes_to_lot(ps, key, a, true);
      continue;
    }
    --budget;
    ++progress;
    switch (handle_one(ps, w, a, m, ws)) {
      case Verdict::kPassed:
        w.note_acked(m.time_us());
        save_attempts(ps, off, 1);
        forget_retry(ps, off);
        ps.lanes.finish_head(key);
        break;
      case Verdict::kLater:  // failed transiently: parked, retried at a.retry_at
        lanes_to_lot(ps, key, a, false);
        break;
      case Verdict::kWait:  // read again at ps.cur.retry_at; only this key waits
        a.retry_at = ps.cur.retry_at;
        ps.cur.retry_at = Clock::time_point{};
        lanes_to_lot(ps, key, a, false);
        break;
      case Verdict::kStopped:
        budget = 0;
        break;
    }
  }
  return progress;
}

}  // namespace weir::internal
