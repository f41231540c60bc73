// CRC-32C (Castagnoli), the checksum of journal records: hardware when the
// CPU has it (SSE4.2 `crc32`, three interleaved streams joined with PCLMUL
// where that is present too), a table otherwise. All three give the same
// values (the journal format depends on it). Thread-safe (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>

namespace weir::internal {

// CRC-32C of `n` bytes at `p`, continuing from `crc` (0 to start).
std::uint32_t crc32c(const void* p, std::size_t n, std::uint32_t crc = 0) noexcept;

// The same value by the one-stream loop (hardware `crc32` when present, else
// the table): the reference the interleaved version is tested and measured
// against.
std::uint32_t crc32c_serial(const void* p, std::size_t n, std::uint32_t crc = 0) noexcept;

// The same value by the byte-at-a-time table, on any CPU.
std::uint32_t crc32c_portable(const void* p, std::size_t n, std::uint32_t crc = 0) noexcept;

}  // namespace weir::internal
