// WorkerPool: the worker threads of one consumer group, serving the
// partitions of every topic the group reads.
//
// A group over one topic has a pool of its own; a group over several topics
// (Bus::subscribe with a TopicSet) is one Group per topic - its members,
// each with its own partitions, offsets, retries and write sets - and one
// pool serving them all, sized by the group's worker count.
//
// Assignment: the members' partitions are numbered in the order the
// members joined (member k's partition p is base_k + p, base_k the
// partitions of the members before it), and number i belongs to worker
// i % workers. A member that joins later (a topic a pattern takes) is
// numbered after the others, so nothing already assigned moves unless the
// pool grows. Partitions move cooperatively (Group::PartitionState::owner,
// see scaling.cpp), so one thread at a time handles a partition and per-key
// order holds per topic-partition.
//
// Threads: the workers, started by add() and set_workers(), joined by
// stop(). Each sleeps on the pool's one Doorbell, which every member's
// topic slot rings (ReaderBells::acquire's `shared` when the pool serves
// several topics; the slot's own bell for a one-topic group).
//
// Thread-safety: public methods are thread-safe.
//  * target_workers_ is stored (release) before assign_epoch_ is bumped;
//    workers load the epoch (acquire), then the target and the members.
//  * members_ (members_mu_): appended by add(), copied by a worker when the
//    epoch moved. Members are never removed while the pool runs; each must
//    outlive the pool's stop().
//  * threads_, alive_, requested_, scaling_closed_: scale_mu_.
//  * stop_mode_: stop() stores each member's mode first, then the pool's
//    (release); workers load it (acquire) between batches.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "base/doorbell.hpp"
#include "base/thread_annotations.hpp"
#include "dispatch/autoscaler.hpp"
#include "metrics/histogram.hpp"
#include "topic/topic.hpp"
#include "weir/subscribe.hpp"

namespace weir::internal {

class Group;

class WorkerPool {
 public:
  // Sized by options.workers (and autoscale) capped at the members'
  // partitions; workers sleep on `bell`, which must outlive the pool.
  WorkerPool(const SubscribeOptions& options, const BusShared* bus, std::chrono::microseconds idle_spin,
             Doorbell& bell);
  ~WorkerPool();  // stop(kStopAtBatch) if stop() did not run

  // Adds a member whose cursors are registered (Group::start): its
  // partitions are numbered after the others', the pool grows to what the
  // new partition count allows, and workers take them over. kFailedPrecondition once stopping.
  Status add(Group& member);

  // Bus::set_workers: n clamped to [min_workers, max_workers].
  // kInvalidArgument for 0, kFailedPrecondition once stopping.
  Status set_workers(std::uint32_t n);

  // Stops the workers: kDrain lets each member's partitions drain to the
  // ends stop() found (Group::begin_stop), turning into a stop at the batch
  // when `deadline` passes; kStopAtBatch ends after the current batches.
  // Joins them. Idempotent: a later call returns the first one's result.
  // Returns true if a drain ran out of time.
  bool stop(CloseMode mode, std::chrono::steady_clock::time_point deadline);

  // True if the calling thread is one of this pool's workers.
  bool on_worker_thread() const noexcept;

  Doorbell& bell() noexcept { return bell_; }
  std::uint32_t workers() const noexcept { return target_workers_.load(std::memory_order_relaxed); }
  std::uint32_t min_workers() const;
  std::uint32_t max_workers() const;
  std::uint64_t rebalances() const noexcept { return rebalances_.load(std::memory_order_relaxed); }
  const AtomicLatencyHistogram& rebalance_durations() const noexcept { return rebalance_hist_; }

 private:
  // A worker's partitions of one member (worker_pool.cpp).
  struct Share;
  using Mine = std::vector<Share>;

  void worker_main(std::uint32_t w);
  // Worker w's view of the assignment: releases partitions no longer its
  // own (after its last batch), takes those handed to it. Returns true if w
  // should retire (beyond the target and owning nothing). `pending`: a
  // partition is assigned to w but its old owner has not released it yet.
  bool rebalance(std::uint32_t w, Mine& mine, bool& pending);
  // Starts worker threads up to `n`. Caller holds scale_mu_.
  void spawn_workers(std::uint32_t n) REQUIRES(scale_mu_);
  // The target for `requested` workers over the members' partitions.
  std::uint32_t clamp_locked(std::uint32_t requested) const REQUIRES(scale_mu_);
  // Publishes target `n` and wakes the workers to follow it; `moves`:
  // partitions with owners may move (timed as a rebalance). Caller holds scale_mu_.
  void retarget_locked(std::uint32_t n, bool moves) REQUIRES(scale_mu_);
  // Autoscaling (worker 0): every autoscale.window, applies its decision.
  void autoscale(const std::vector<Group*>& members);
  std::vector<Group*> members() const;

  const SubscribeOptions options_;
  const BusShared* const bus_;
  const std::chrono::microseconds idle_spin_;
  Doorbell& bell_;

  mutable Mutex members_mu_;
  std::vector<Group*> members_ GUARDED_BY(members_mu_);
  std::uint32_t partitions_ GUARDED_BY(members_mu_) = 0;  // the members' partitions

  std::atomic<std::uint32_t> target_workers_{0};
  std::atomic<std::uint64_t> assign_epoch_{0};
  mutable Mutex scale_mu_;
  std::vector<std::thread> threads_ GUARDED_BY(scale_mu_);
  std::vector<char> alive_ GUARDED_BY(scale_mu_);  // thread w runs
  std::uint32_t requested_ GUARDED_BY(scale_mu_);  // workers asked for (options, set_workers)
  bool scaling_closed_ GUARDED_BY(scale_mu_) = false;  // stop() began
  // Rebalances: start time (steady ns) of the one in progress, 0 if none.
  std::atomic<std::int64_t> rebalance_started_ns_{0};
  std::atomic<std::uint64_t> rebalances_{0};
  AtomicLatencyHistogram rebalance_hist_;
  Autoscaler autoscaler_;  // worker 0 only
  std::atomic<int> stop_mode_{0};  // Group::StopMode
  Mutex stop_mu_;  // held through stop(): a second caller waits for the first
  bool stopped_ GUARDED_BY(stop_mu_) = false;
  bool stop_timed_out_ GUARDED_BY(stop_mu_) = false;  // the first stop()'s result

  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  std::uint32_t live_workers_ = 0;  // guarded by exit_mu_ (std::mutex: exit_cv_ waits on it)
};

}  // namespace weir::internal
