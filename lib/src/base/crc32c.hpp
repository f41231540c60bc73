// CRC-32C (Castagnoli), the checksum of journal records: hardware (SSE4.2)
// when the CPU has it, a table otherwise. Thread-safe (pure function).
#pragma once

#include <cstddef>
#include <cstdint>

namespace weir::internal {

// CRC-32C of `n` bytes at `p`, continuing from `crc` (0 to start).
std::uint32_t crc32c(const void* p, std::size_t n, std::uint32_t crc = 0) noexcept;

}  // namespace weir::internal
