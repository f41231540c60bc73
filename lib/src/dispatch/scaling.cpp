// A group's side of its worker pool (dispatch/worker_pool.cpp moves
// partitions between workers): giving a partition up, and pause/resume.
#include "dispatch/group.hpp"

namespace weir::internal {

void Group::release_partition(PartitionState& ps) {
  if (txn_mode_) {
    // Our write sets for this partition must be committed before another
    // worker's (which could otherwise overtake them in the writer's queue).
    overlay_.wait_committed(ps.index, std::chrono::seconds(30));
  }
  ps.owner.store(-1, std::memory_order_release);
  topic_->group_bell(bell_slot_).ring();
}

void Group::set_paused(std::optional<std::uint32_t> partition, bool paused) {
  for (auto& ps : parts_)
    if (!partition || ps->index == *partition) ps->paused.store(paused, std::memory_order_relaxed);
  topic_->group_bell(bell_slot_).ring();
}

}  // namespace weir::internal
