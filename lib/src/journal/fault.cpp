#include "journal/fault.hpp"

#include <chrono>
#include <thread>

namespace weir::internal {

namespace {

// Per point: the code to fail with (0: none) and how many more calls fail
// (< 0: all). rc is stored after remaining (release) and loaded first
// (acquire), so a call that sees a code sees its count.
struct Point {
  std::atomic<int> rc{0};
  std::atomic<int> remaining{0};
  std::atomic<std::uint64_t> injected{0};
};
Point points[kFaultPoints];

Point& at(FaultPoint p) noexcept { return points[static_cast<unsigned>(p)]; }

}  // namespace

namespace fault_detail {

std::atomic<bool> armed{false};

int take(FaultPoint p) noexcept {
  Point& pt = at(p);
  const int rc = pt.rc.load(std::memory_order_acquire);
  if (rc == 0) return 0;
  int left = pt.remaining.load(std::memory_order_relaxed);
  while (left >= 0) {
    if (left == 0) return 0;
    if (pt.remaining.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) break;
  }
  pt.injected.fetch_add(1, std::memory_order_relaxed);
  if (rc == kFaultHang) {
    // Holds the caller here until the point is disarmed or re-armed.
    while (pt.rc.load(std::memory_order_acquire) == kFaultHang) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 0;
  }
  return rc;
}

}  // namespace fault_detail

void arm_fault(FaultPoint p, int rc, int times) noexcept {
  Point& pt = at(p);
  pt.remaining.store(times < 0 ? -1 : times, std::memory_order_relaxed);
  pt.rc.store(rc, std::memory_order_release);
  fault_detail::armed.store(true, std::memory_order_relaxed);
}

void disarm_faults() noexcept {
  for (Point& pt : points) pt.rc.store(0, std::memory_order_release);
  fault_detail::armed.store(false, std::memory_order_relaxed);
}

std::uint64_t faults_injected(FaultPoint p) noexcept { return at(p).injected.load(std::memory_order_relaxed); }

}  // namespace weir::internal
