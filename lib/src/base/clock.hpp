// The wall clock events are stamped with.
#pragma once

#include <ctime>
#include <cstdint>

namespace weir::internal {

// Microseconds since the epoch from the coarse real-time clock: read from
// memory the kernel updates each tick (a few ns, versus tens for the precise
// clock on some VMs), so it has tick resolution (1-4 ms), like Kafka's
// millisecond timestamps. Publish stamps events with it; end-to-end latency
// is measured against it too, so both ends have the same resolution.
inline std::int64_t coarse_now_us() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace weir::internal
