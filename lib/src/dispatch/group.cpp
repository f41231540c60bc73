#include "dispatch/group.hpp"

#include <algorithm>

#include "dlq/format.hpp"
#include "base/clock.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace


Group::Group(std::shared_ptr<TopicState> topic, const SubscribeOptions& options,
             AnyHandler handler, std::uint32_t bell_slot, const BusShared* bus,
             std::chrono::microseconds idle_spin, Journal* journal,
             DeadLetterTarget dead_letters, std::shared_ptr<WorkerPool> pool,
             std::shared_ptr<DedupeScope> dedupe)
    : topic_(std::move(topic)),
      options_(options),
      invoker_(std::move(handler), HandlerInvoker::Rules{options.handler_timeout, options.exceptions_are_transient,
                                                          bus->metrics_sampling}),
      bell_slot_(bell_slot),
      bus_(bus),
      journal_(journal),
      dead_letters_(std::move(dead_letters)),
      breaker_(options.breaker.enabled
                   ? std::make_unique<CircuitBreaker>(options.group, options.breaker, options.on_breaker)
                   : nullptr),
      retry_(RetryPolicy::Backoff{options.max_attempts, options.retry_backoff, options.retry_backoff_max,
                                  options.jitter},
             journal, options.group, topic_->name(), options.retry_mode == RetryMode::kNonBlocking),
      txn_mode_(journal != nullptr &&
                (options.dedupe || invoker_.is_state_handler())),
      overlay_(journal, options.group, topic_->name(), options.dedupe_window, topic_->partitions(),
               std::move(dedupe)),
      alerts_(options.group, options.alerts, dead_letters_.log),
      pool_owner_(pool ? std::move(pool)
                       : std::make_shared<WorkerPool>(options, bus, idle_spin, topic_->group_bell(bell_slot))),
      pool_(pool_owner_.get()) {
  parts_.reserve(topic_->partitions());
  for (std::uint32_t p = 0; p < topic_->partitions(); ++p) {
    parts_.push_back(std::make_unique<PartitionState>(p, &topic_->partition(p), options_.max_parked));
  }
}

Group::~Group() {
  stop(CloseOptions{CloseMode::kStopAtBatch, {}});
  overlay_.detach();  // write sets still queued report to nobody
}

const std::string& Group::topic_name() const { return topic_->name(); }

bool Group::has_events(const PartitionState& ps, bool seq_cst) const noexcept {
  Offset c = ps.cursor.next.load(std::memory_order_relaxed);
  if (nonblocking()) {
    if (ps.lot.full() || ps.lanes.full()) return false;  // full: retries / set-aside events only
    c = ps.read_pos;
  }
  return ps.part->has_events(c, seq_cst);
}

Status Group::start(const std::vector<Offset>& resume) {
  for (auto& ps : parts_) {
    Offset start = options_.start_from == StartFrom::kLatest ? ~Offset{0} : 0;
    const bool resumed = resume.size() == parts_.size() && resume[ps->index] != kUnsetOffset;
    if (resumed) start = resume[ps->index];
    if (parks_copies()) {
      // The ring is gated by ring_hold; cursor is the committed offset only.
      ps->part->attach(ps->ring_hold, start, resumed);
      ps->cursor.next.store(ps->ring_hold.next.load(std::memory_order_relaxed), std::memory_order_release);
    } else {
      ps->part->attach(ps->cursor, start, resumed);
    }
    ps->nudged_at = ps->cursor.next.load(std::memory_order_relaxed);
    ps->cur.attempt = retry_.restore(ps->attempts, ps->index, ps->cursor.next.load(std::memory_order_relaxed));
    ps->read_pos = ps->cursor.next.load(std::memory_order_relaxed);
  }
  if (journal_) journal_->track(this);
  overlay_.attach();
  return pool_->add(*this);
}

void Group::note_head_time(PartitionState& ps) const {
  if (journal_) return;  // metrics() reads the journal instead
  // Memory topics: the publish time of the oldest unacknowledged event (its
  // slot stays ours while the cursor is on it; a parked one's copy, when
  // ring_hold gates the ring instead).
  const Offset c = ps.cursor.next.load(std::memory_order_relaxed);
  const std::string* copy = ps.lot.record(c);
  if (!copy) copy = ps.lanes.record(c);
  const std::int64_t head = copy ? record_time_us(copy->data()) : ps.part->time_at(c);
  if (head != ps.head_time_us.load(std::memory_order_relaxed)) ps.head_time_us.store(head, std::memory_order_relaxed);
}

bool Group::partition_finished(const PartitionState& ps, int mode) const {
  if (ps.stopped.load(std::memory_order_relaxed)) return true;
  // A paused partition hands nothing out; a drain leaves it as it is.
  if (ps.paused.load(std::memory_order_relaxed)) return true;
  if (mode != kDrain) return false;
  if (ps.cursor.next.load(std::memory_order_relaxed) >= ps.drain_target) return true;
  // A drain does not wait for events whose delivery time lies ahead (they,
  // and what waits behind them, stay unhandled). Owner-only fields: every
  // caller is the partition's owner.
  if (ps.held_for_delivery) return true;
  // A lot full of scheduled heads takes no more events until one is due:
  // what lies past read_pos then waits behind them as well.
  return nonblocking() && (ps.read_pos >= ps.drain_target || ps.lot.full()) && holds_only_scheduled(ps);
}

// Something to do now on one of `mine`? After bell.prepare() the check
// must be a seq_cst load (`parking`): it is our half of the handshake with
// the producer's claim CAS (see Doorbell). Lowers next_retry to the
// earliest retry or breaker reopening it saw.
bool Group::has_work(const std::vector<PartitionState*>& mine, int mode, Clock::time_point& next_retry,
                     bool parking) const {
  if (breaker_) {  // an open breaker hands out nothing until its cool-down ends
    const auto reopen = breaker_->reopen_at();
    if (reopen != Clock::time_point{}) {
      next_retry = std::min(next_retry, reopen);
      if (Clock::now() < reopen) return false;
    }
  }
  for (PartitionState* ps : mine) {
    if (partition_finished(*ps, mode)) continue;
    if (ps->cur.retry_at != Clock::time_point{}) {
      next_retry = std::min(next_retry, ps->cur.retry_at);
      if (Clock::now() < ps->cur.retry_at) continue;
      return true;
    }
    if (const auto due = ps->lot.next_due()) {  // a parked key's retry (kNonBlocking)
      next_retry = std::min(next_retry, *due);
      if (Clock::now() >= *due) return true;
    }
    if (!ps->lanes.empty()) return true;  // set-aside events of priority lanes
    // What is polled while spinning, and what the seq_cst re-check reads:
    // Partition::has_events.
    if (has_events(*ps, parking)) return true;
  }
  return false;
}

std::uint32_t Group::serve_pass(const std::vector<PartitionState*>& mine, WorkerContext& w, int mode,
                                bool& all_finished, bool& retry_pending) {
  std::uint32_t progress = 0;
  for (PartitionState* ps : mine) {
    if (ps->paused.load(std::memory_order_relaxed)) note_head_time(*ps);  // its lag keeps ageing
    if (partition_finished(*ps, mode)) continue;
    all_finished = false;
    if (ps->cur.retry_at != Clock::time_point{}) {
      if (Clock::now() < ps->cur.retry_at) {
        retry_pending = true;
        continue;
      }
      ps->cur.retry_at = Clock::time_point{};
    }
    bool probe = false;
    if (breaker_ && !breaker_->allow(probe)) {
      retry_pending = true;  // sleep bounded, until the cool-down ends
      continue;
    }
    progress += serve(*ps, w, probe);
    if (stop_mode_.load(std::memory_order_acquire) == kStopNow) break;
  }
  return progress;
}

void Group::begin_stop(CloseMode mode) {
  if (mode == CloseMode::kDrain) {
    for (auto& ps : parts_) ps->drain_target = ps->part->end();
    stop_mode_.store(kDrain, std::memory_order_release);
  } else {
    stop_mode_.store(kStopNow, std::memory_order_release);
  }
}

CloseReport Group::stop(const CloseOptions& options) {
  {
    MutexLock lock(stop_mu_);
    if (stopped_) return {};
    stopped_ = true;
  }
  CloseReport report;
  // Everything below, the journal's confirmations included, ends by here.
  const auto deadline = Clock::now() + options.timeout;
  auto left = [&deadline] {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()),
                    std::chrono::milliseconds(0));
  };
  report.timed_out = pool_->stop(options.mode, deadline);
  if (journal_) {
    if (txn_mode_) {
      // Every write set must be committed before the group goes away (the
      // writer reports commits back to it).
      const std::uint64_t waiting = overlay_.wait_committed(std::nullopt, left());
      if (waiting != 0 && report.journal_status.is_ok())
        report.journal_status = Status::deadline_exceeded(
            std::to_string(waiting) + " handled events of group '" + options_.group +
            "' were not persisted within CloseOptions::timeout (" + std::to_string(options.timeout.count()) +
            " ms); they will be handed again after a restart" +
            (journal_->error() ? std::string() : " (journal: " + journal_->error().to_string() + ")"));
    }
    if (Status s = journal_->untrack(this, left()); !s && report.journal_status.is_ok())
      report.journal_status = Status(s.code(), "final offsets of group '" + options_.group + "' on topic '" +
                                                   topic_->name() + "' were not persisted: " + s.message() +
                                                   "; events handled since its last persisted offsets will be "
                                                   "handed again after a restart");
  }
  for (auto& ps : parts_) {
    ps->part->detach(parks_copies() ? ps->ring_hold : ps->cursor);
    const Offset c = ps->cursor.next.load(std::memory_order_acquire);
    const Offset end = ps->part->end();
    report.undelivered += end > c ? end - c : 0;
  }
  return report;
}

bool Group::caught_up() const {
  for (const auto& ps : parts_) {
    // As in partition_finished(): a stopped or paused partition is left as it is.
    if (ps->stopped.load(std::memory_order_relaxed) || ps->paused.load(std::memory_order_relaxed)) continue;
    if (ps->cursor.next.load(std::memory_order_acquire) >= ps->part->end()) continue;
    // Events whose delivery time lies ahead do not count as work left (a
    // close does not wait for them); in non-blocking mode everything must
    // have been read (handed_end is read_pos there), or the parking lot be
    // full of them, so that nothing more can be read until one is due.
    if (ps->waits_for_delivery.load(std::memory_order_relaxed) &&
        (!nonblocking() || ps->lot_full.load(std::memory_order_relaxed) ||
         ps->handed_end.load(std::memory_order_relaxed) >= ps->part->end()))
      continue;
    return false;
  }
  return true;
}

GroupStatus Group::status() const {
  GroupStatus s;
  s.group = options_.group;
  s.topic = topic_->name();
  s.topics = {topic_->name()};
  for (const auto& ps : parts_) {
    PartitionStatus p;
    p.topic = topic_->name();
    p.partition = ps->index;
    p.committed = ps->cursor.next.load(std::memory_order_acquire);
    p.end = ps->part->end();
    p.lag = p.end > p.committed ? p.end - p.committed : 0;
    p.stopped = ps->stopped.load(std::memory_order_relaxed);
    p.parked = ps->parked_count.load(std::memory_order_relaxed);
    s.partitions.push_back(p);
  }
  s.duplicates_skipped = duplicates_.load(std::memory_order_relaxed);
  if (breaker_) {
    s.breaker = breaker_->state();
    s.breaker_trips = breaker_->trips();
  }
  return s;
}

std::vector<Offset> Group::offsets() const {
  std::vector<Offset> out;
  for (const auto& ps : parts_) out.push_back(ps->cursor.next.load(std::memory_order_acquire));
  return out;
}

}  // namespace weir::internal
