// The worker pool of a group: starting and retiring workers, cooperative
// partition moves, pause/resume, and lag-driven autoscaling.
//
// A move of partition p from worker A to worker B, after the target changed:
//   1. A, between two batches, sees the new epoch; p % target != A. It
//      waits until its write sets for p are committed (transactional groups:
//      their offsets must not arrive after B's), then stores owner = -1
//      (release) and rings the group's bell.
//   2. B, also between batches, finds p % target == B and owner == -1, and
//      takes it with a CAS (acquire): it sees A's cursor, retry and parked
//      state, and starts at A's committed position.
// Between 1 and 2 nobody serves p, so no two threads ever handle it at
// once, and B starts exactly where A's acknowledged work ended.
#include <algorithm>

#include "dispatch/group.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
}  // namespace

void Group::spawn_workers(std::uint32_t n) {
  if (threads_.size() < n) {
    threads_.resize(n);
    alive_.resize(n, 0);
  }
  for (std::uint32_t w = 0; w < n; ++w) {
    if (alive_[w]) continue;
    // A retired worker of this slot has left its loop; wait for its exit.
    if (threads_[w].joinable()) threads_[w].join();
    alive_[w] = 1;
    {
      std::lock_guard<std::mutex> lock(exit_mu_);
      ++live_workers_;
    }
    threads_[w] = std::thread([this, w] { worker_main(w); });
  }
}

Status Group::set_workers(std::uint32_t n) {
  if (n == 0) return Status::invalid_argument("a group needs at least 1 worker");
  n = std::clamp(n, min_workers_, max_workers_);
  std::lock_guard<std::mutex> lock(scale_mu_);
  if (scaling_closed_)
    return Status::failed_precondition("group '" + options_.group + "' is stopping; its pool cannot change");
  if (n == target_workers_.load(std::memory_order_relaxed)) return Status::ok();
  spawn_workers(n);
  std::int64_t none = 0;
  rebalance_started_ns_.compare_exchange_strong(none, steady_ns(), std::memory_order_relaxed);
  target_workers_.store(n, std::memory_order_release);
  assign_epoch_.fetch_add(1, std::memory_order_acq_rel);
  topic_->group_bell(bell_slot_).ring();
  return Status::ok();
}

void Group::release_partition(PartitionState& ps) {
  if (txn_mode_) {
    // Our write sets for this partition must be committed before another
    // worker's (which could otherwise overtake them in the writer's queue).
    overlay_.wait_committed(ps.index, std::chrono::seconds(30));
  }
  ps.owner.store(-1, std::memory_order_release);
  topic_->group_bell(bell_slot_).ring();
}

bool Group::rebalance(std::uint32_t w, std::vector<PartitionState*>& mine, bool& pending) {
  const std::uint32_t n = target_workers_.load(std::memory_order_acquire);
  const int me = static_cast<int>(w);
  pending = false;
  bool took = false;
  for (auto& up : parts_) {
    PartitionState& ps = *up;
    const bool want = ps.index % n == w;
    const int own = ps.owner.load(std::memory_order_acquire);
    if (own == me && !want) {
      release_partition(ps);
      mine.erase(std::find(mine.begin(), mine.end(), &ps));
    } else if (own != me && want) {
      int expected = -1;
      if (ps.owner.compare_exchange_strong(expected, me, std::memory_order_acq_rel)) {
        mine.push_back(&ps);
        took = true;
      } else {
        pending = true;  // its old owner is finishing a batch
      }
    }
  }
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->index < b->index; });
  if (took && !pending) {
    // Done if every partition now sits with its assigned worker.
    bool settled = true;
    for (const auto& up : parts_)
      if (up->owner.load(std::memory_order_acquire) != static_cast<int>(up->index % n)) settled = false;
    std::int64_t started = rebalance_started_ns_.load(std::memory_order_relaxed);
    const std::int64_t began = started;
    if (settled && started != 0 &&
        rebalance_started_ns_.compare_exchange_strong(started, 0, std::memory_order_relaxed)) {
      rebalance_hist_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(steady_ns() - began, 0)));
      rebalances_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return w >= n && mine.empty();
}

void Group::set_paused(std::optional<std::uint32_t> partition, bool paused) {
  for (auto& ps : parts_)
    if (!partition || ps->index == *partition) ps->paused.store(paused, std::memory_order_relaxed);
  topic_->group_bell(bell_slot_).ring();
}

void Group::autoscale() {
  if (!autoscaler_.due(Clock::now())) return;
  std::vector<std::uint64_t> lags;
  lags.reserve(parts_.size());
  for (const auto& ps : parts_) {
    const Offset c = ps->cursor.next.load(std::memory_order_acquire);
    const Offset end = ps->part->end();
    lags.push_back(end > c ? end - c : 0);
  }
  if (auto n = autoscaler_.decide(lags, target_workers_.load(std::memory_order_relaxed))) set_workers(*n).ignore();
}

}  // namespace weir::internal
