// The worker pool of a group (one topic or several): the worker loop,
// starting and retiring workers, the assignment of partitions to workers,
// and lag-driven autoscaling. What a worker does with a partition it owns
// is its Group's (Group::serve_pass, Group::has_work).
//
// A move of partition i from worker A to worker B, after the target changed:
//   1. A, between two batches, sees the new epoch; i % target != A. It
//      waits until its write sets for the partition are committed
//      (transactional groups: their offsets must not arrive after B's),
//      then stores owner = -1 (release) and rings the pool's bell.
//   2. B, also between batches, finds i % target == B and owner == -1, and
//      takes it with a CAS (acquire): it sees A's cursor, retry and parked
//      state, and starts at A's committed position.
// Between 1 and 2 nobody serves the partition, so no two threads ever
// handle it at once, and B starts exactly where A's acknowledged work ended.
#include "dispatch/worker_pool.hpp"

#include <algorithm>

#include "dispatch/group.hpp"

namespace weir::internal {

namespace {
thread_local const WorkerPool* t_current_pool = nullptr;

// Tells the core we are spinning (frees pipeline resources for the sibling
// hyperthread and slows the poll rate on the contended line).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}
constexpr std::chrono::milliseconds kMaxPark{50};
using Clock = std::chrono::steady_clock;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
}  // namespace

struct WorkerPool::Share {
  Group* group;
  std::vector<Group::PartitionState*> parts;  // in partition order
};

WorkerPool::WorkerPool(const SubscribeOptions& options, const BusShared* bus, std::chrono::microseconds idle_spin,
                       Doorbell& bell)
    : options_(options),
      bus_(bus),
      idle_spin_(idle_spin),
      bell_(bell),
      requested_(options.workers),
      autoscaler_(options.autoscale, options.autoscale.enabled ? options.autoscale.min_workers : 1,
                  options.autoscale.enabled && options.autoscale.max_workers ? options.autoscale.max_workers
                                                                            : ~std::uint32_t{0}) {}

WorkerPool::~WorkerPool() { stop(CloseMode::kStopAtBatch, Clock::now()); }

bool WorkerPool::on_worker_thread() const noexcept { return t_current_pool == this; }

std::vector<Group*> WorkerPool::members() const {
  MutexLock lock(members_mu_);
  return members_;
}

std::uint32_t WorkerPool::min_workers() const {
  MutexLock lock(members_mu_);
  if (partitions_ == 0) return 0;
  return options_.autoscale.enabled ? std::min(options_.autoscale.min_workers, partitions_) : 1;
}

std::uint32_t WorkerPool::max_workers() const {
  MutexLock lock(members_mu_);
  return options_.autoscale.enabled && options_.autoscale.max_workers
             ? std::min(options_.autoscale.max_workers, partitions_)
             : partitions_;
}

std::uint32_t WorkerPool::clamp_locked(std::uint32_t requested) const {
  const std::uint32_t lo = min_workers(), hi = max_workers();
  return hi == 0 ? 0 : std::clamp(requested, lo, hi);
}

void WorkerPool::retarget_locked(std::uint32_t n, bool moves) {
  spawn_workers(n);
  std::int64_t none = 0;
  if (moves) rebalance_started_ns_.compare_exchange_strong(none, steady_ns(), std::memory_order_relaxed);
  target_workers_.store(n, std::memory_order_release);
  assign_epoch_.fetch_add(1, std::memory_order_acq_rel);
  bell_.ring();
}

Status WorkerPool::add(Group& member) {
  MutexLock lock(scale_mu_);
  if (scaling_closed_)
    return Status::failed_precondition("group '" + options_.group + "' is stopping; it cannot take more topics");
  bool first = false;
  {
    MutexLock m(members_mu_);
    first = partitions_ == 0;
    members_.push_back(&member);
    partitions_ += static_cast<std::uint32_t>(member.parts_.size());
  }
  // Even at the same size the workers must look again: the new partitions
  // need owners. A rebalance (metrics) only when partitions had owners.
  retarget_locked(clamp_locked(requested_), !first);
  return Status::ok();
}

void WorkerPool::spawn_workers(std::uint32_t n) {
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

Status WorkerPool::set_workers(std::uint32_t n) {
  if (n == 0) return Status::invalid_argument("a group needs at least 1 worker");
  MutexLock lock(scale_mu_);
  if (scaling_closed_)
    return Status::failed_precondition("group '" + options_.group + "' is stopping; its pool cannot change");
  requested_ = n;
  n = clamp_locked(n);
  if (n == target_workers_.load(std::memory_order_relaxed)) return Status::ok();
  retarget_locked(n, true);
  return Status::ok();
}

bool WorkerPool::rebalance(std::uint32_t w, Mine& mine, bool& pending) {
  const std::uint32_t n = target_workers_.load(std::memory_order_acquire);
  const std::vector<Group*> groups = members();
  const int me = static_cast<int>(w);
  pending = false;
  bool took = false;
  std::uint32_t base = 0;
  for (Group* g : groups) {
    auto share = std::find_if(mine.begin(), mine.end(), [g](const Share& s) { return s.group == g; });
    if (share == mine.end()) share = mine.insert(mine.end(), Share{g, {}});
    for (auto& up : g->parts_) {
      Group::PartitionState& ps = *up;
      const bool want = n != 0 && (base + ps.index) % n == w;
      const int own = ps.owner.load(std::memory_order_acquire);
      if (own == me && !want) {
        g->release_partition(ps);
        share->parts.erase(std::find(share->parts.begin(), share->parts.end(), &ps));
      } else if (own != me && want) {
        int expected = -1;
        if (ps.owner.compare_exchange_strong(expected, me, std::memory_order_acq_rel)) {
          share->parts.push_back(&ps);
          took = true;
        } else {
          pending = true;  // its old owner is finishing a batch
        }
      }
    }
    std::sort(share->parts.begin(), share->parts.end(), [](auto* a, auto* b) { return a->index < b->index; });
    base += static_cast<std::uint32_t>(g->parts_.size());
  }
  std::erase_if(mine, [](const Share& s) { return s.parts.empty(); });
  if (took && !pending) {
    // Done if every partition now sits with its assigned worker.
    bool settled = true;
    base = 0;
    for (Group* g : groups) {
      for (const auto& up : g->parts_)
        if (up->owner.load(std::memory_order_acquire) != static_cast<int>((base + up->index) % n)) settled = false;
      base += static_cast<std::uint32_t>(g->parts_.size());
    }
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

void WorkerPool::autoscale(const std::vector<Group*>& groups) {
  if (!autoscaler_.due(Clock::now())) return;
  std::vector<std::uint64_t> lags;
  for (const Group* g : groups) {
    for (const auto& ps : g->parts_) {
      const Offset c = ps->cursor.next.load(std::memory_order_acquire);
      const Offset end = ps->part->end();
      lags.push_back(end > c ? end - c : 0);
    }
  }
  if (auto n = autoscaler_.decide(lags, target_workers_.load(std::memory_order_relaxed))) set_workers(*n).ignore();
}

void WorkerPool::worker_main(std::uint32_t w) {
  t_worker_of = bus_;
  t_current_pool = this;
  Mine mine;
  std::vector<Group*> groups;  // worker 0: every member (alerts, autoscaling)
  std::uint64_t seen_epoch = ~std::uint64_t{0};
  bool pending = false;  // a partition assigned to me is still with its old owner
  WorkerContext w_ctx;
  w_ctx.scratch.resize(options_.max_batch);

  auto ready = [&](int mode, Clock::time_point& next_retry, bool parking) {
    for (Share& s : mine)
      if (s.group->has_work(s.parts, mode, next_retry, parking)) return true;
    return false;
  };

  for (;;) {
    const int mode = stop_mode_.load(std::memory_order_acquire);
    if (mode == Group::kStopNow) break;
    // Between batches: follow the assignment (cooperative rebalance).
    if (pending || assign_epoch_.load(std::memory_order_acquire) != seen_epoch) {
      seen_epoch = assign_epoch_.load(std::memory_order_acquire);
      if (w == 0) groups = members();
      if (rebalance(w, mine, pending)) {
        MutexLock lock(scale_mu_);
        if (w >= target_workers_.load(std::memory_order_acquire)) {
          alive_[w] = 0;  // retired: set_workers joins this thread before reusing its slot
          break;
        }
        seen_epoch = ~std::uint64_t{0};  // the target grew again meanwhile
        continue;
      }
    }
    std::uint32_t progress = 0;
    bool all_finished = !pending;
    bool any_retry_pending = false;
    for (Share& s : mine) {
      progress += s.group->serve_pass(s.parts, w_ctx, mode, all_finished, any_retry_pending);
      if (stop_mode_.load(std::memory_order_acquire) == Group::kStopNow) break;
    }
    if (mode == Group::kDrain && all_finished) break;
    if (w == 0) {
      for (Group* g : groups) g->between_batches();
      if (options_.autoscale.enabled) autoscale(groups);
    }
    if (progress) continue;

    // Idle: spin briefly, then park on the pool's doorbell.
    Clock::time_point next_retry = Clock::time_point::max();
    const auto spin_until = Clock::now() + idle_spin_;
    bool found = false;
    // Read the clock only every 64 polls: on VMs it can cost more than a poll.
    for (unsigned polls = 0; !found && ((polls & 63) != 0 || Clock::now() < spin_until); ++polls) {
      found = ready(mode, next_retry, false) || stop_mode_.load(std::memory_order_acquire) != mode ||
              assign_epoch_.load(std::memory_order_relaxed) != seen_epoch;
      // After the first polls, give the core away between polls: a producer
      // that shares it may be preempted mid-publish, holding the very slot
      // we wait for.
      if (polls < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    if (found) continue;
    const std::uint32_t epoch = bell_.prepare();
    next_retry = Clock::time_point::max();
    if (!ready(mode, next_retry, true) && stop_mode_.load(std::memory_order_acquire) == mode &&
        assign_epoch_.load(std::memory_order_acquire) == seen_epoch) {
      auto sleep = std::chrono::nanoseconds(kMaxPark);
      if (any_retry_pending || next_retry != Clock::time_point::max())
        sleep = std::min(sleep, std::chrono::duration_cast<std::chrono::nanoseconds>(next_retry - Clock::now()));
      // Waiting for a partition's old owner: look again soon (it rings the
      // bell when it lets go, but may do so before we prepared).
      if (pending) sleep = std::min<std::chrono::nanoseconds>(sleep, std::chrono::milliseconds(1));
      bell_.wait(epoch, sleep);
    }
    bell_.finish();
  }

  std::lock_guard<std::mutex> lock(exit_mu_);
  if (--live_workers_ == 0) exit_cv_.notify_all();
}

bool WorkerPool::stop(CloseMode mode, Clock::time_point deadline) {
  MutexLock once(stop_mu_);
  if (stopped_) return stop_timed_out_;
  stopped_ = true;
  {
    MutexLock lock(scale_mu_);
    scaling_closed_ = true;  // the pool keeps its size and members from here
  }
  const std::vector<Group*> groups = members();
  // Each member's mode (and drain ends) before the pool's: a worker that
  // sees the pool's mode sees its members'.
  for (Group* g : groups) g->begin_stop(mode);
  stop_mode_.store(mode == CloseMode::kDrain ? Group::kDrain : Group::kStopNow, std::memory_order_release);
  bell_.ring();
  bool timed_out = false;
  {
    std::unique_lock<std::mutex> lock(exit_mu_);
    // Workers park for at most kMaxPark, so re-ringing on each wake-up is
    // enough to reach them even if a ring is missed.
    while (live_workers_ > 0) {
      if (mode == CloseMode::kDrain && Clock::now() >= deadline &&
          stop_mode_.load(std::memory_order_relaxed) != Group::kStopNow) {
        timed_out = true;
        for (Group* g : groups) g->begin_stop(CloseMode::kStopAtBatch);
        stop_mode_.store(Group::kStopNow, std::memory_order_release);
      }
      exit_cv_.wait_for(lock, std::chrono::milliseconds(10));
      bell_.ring();
    }
  }
  {
    MutexLock lock(scale_mu_);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }
  stop_timed_out_ = timed_out;
  return timed_out;
}

}  // namespace weir::internal
