// Random identifiers (bus instances, new journals).
#pragma once

#include <cstdint>
#include <random>

namespace weir::internal {

// 64 bits from the system's random device. Thread-safe (a device per call).
inline std::uint64_t random_u64() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

}  // namespace weir::internal
