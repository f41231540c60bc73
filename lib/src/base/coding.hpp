// Big-endian integer coding: keys whose byte order is their numeric order
// (LMDB compares keys byte-wise), and fixed-width on-disk fields.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace weir::internal {

inline void put_be64(char* out, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline std::uint64_t get_be64(const char* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}
inline void put_be32(char* out, std::uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline std::uint32_t get_be32(const char* in) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

}  // namespace weir::internal
