// Fault injection at the journal's I/O points, for tests: a test arms a
// fault and the next calls at that point fail with the LMDB/errno code it
// chose, as if LMDB or the kernel had returned it. The points:
//   kPut     every mdb_put of the journal (MDB_MAP_FULL, ENOSPC, EIO ...)
//   kCommit  mdb_txn_commit of a write transaction, before it writes
//   kSync    mdb_txn_commit's fsync of the data pages: LMDB then aborts the
//            transaction before it writes the meta page, so nothing of it
//            is committed (the same outcome as kCommit, named apart so a
//            test says which failure it models)
//   kGrowMap mdb_env_set_mapsize when the writer grows the map
//   kFlush   mdb_env_sync: the flush that puts committed meta pages on
//            stable storage (Env::flush, and Env::commit with
//            MetaFlush::kNow after its commit)
// Compiled in always; unarmed, a point costs one relaxed atomic load.
//
// Thread-safety: every function is thread-safe. Arming is process-wide (all
// journals of the process); the I/O points see it soon after arm_fault
// returns (relaxed flag, no ordering with other memory): tests wait for its
// effect (faults_injected() or the journal's health), not for the call.
#pragma once

#include <atomic>
#include <cstdint>

namespace weir::internal {

enum class FaultPoint : unsigned { kPut, kCommit, kSync, kGrowMap, kFlush };
inline constexpr unsigned kFaultPoints = 5;

namespace fault_detail {
extern std::atomic<bool> armed;
int take(FaultPoint p) noexcept;
}  // namespace fault_detail

// An rc for arm_fault: the call does not fail but waits there until the
// point is disarmed or re-armed, then goes on (a writer held in its cycle).
inline constexpr int kFaultHang = -1;

// The code the I/O at `p` must fail with, or 0 to go on.
inline int injected_fault(FaultPoint p) noexcept {
  if (!fault_detail::armed.load(std::memory_order_relaxed)) return 0;
  return fault_detail::take(p);
}

// The next `times` calls at `p` fail with `rc` (non-zero); times < 0: every
// call until disarmed. Re-arming a point replaces its fault.
void arm_fault(FaultPoint p, int rc, int times = -1) noexcept;
// Clears every point's fault (counts of injected faults stay).
void disarm_faults() noexcept;
// How many calls at `p` failed by injection since the process started.
std::uint64_t faults_injected(FaultPoint p) noexcept;

// Arms a fault for a scope; disarms every point when it ends.
class ScopedFault {
 public:
  ScopedFault(FaultPoint p, int rc, int times = -1) noexcept { arm_fault(p, rc, times); }
  ~ScopedFault() { disarm_faults(); }
  ScopedFault(const ScopedFault&) = delete;
  ScopedFault& operator=(const ScopedFault&) = delete;
};

}  // namespace weir::internal
