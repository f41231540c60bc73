#include "base/crc32c.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace weir::internal {

namespace {

constexpr std::uint32_t kPoly = 0x82f63b78;  // reflected Castagnoli polynomial

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

std::uint32_t crc_table(const unsigned char* p, std::size_t n, std::uint32_t c) noexcept {
  for (std::size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc_sse42(const unsigned char* p, std::size_t n,
                                                           std::uint32_t c) noexcept {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(c64);
  while (n--) c = _mm_crc32_u8(c, *p++);
  return c;
}

// --- three interleaved streams ------------------------------------------------
//
// The `crc32` instruction has a latency of 3 cycles and a throughput of one
// per cycle, so the serial loop above runs at a third of what the unit can
// do. crc_3way splits a buffer into three blocks of L bytes, runs one
// `crc32` chain per block side by side (starting the second and third from
// 0), and joins them: with the CRC register being M(x) * x^32 mod P
// (reflected bit order), the register after A|B is
//   shift(crc(A), |B|) xor crc_from_0(B),   shift(c, L) = c * x^(8L) mod P,
// so crc(A|B|C) = shift(a, 2L) xor shift(b, L) xor c.
//
// shift(c, L) with one carry-less multiply and one `crc32`: clmul of two
// reflected 32-bit values, read as a reflected 64-bit value, is c(x)k(x)x;
// crc32_u64(0, v) is v(x) * x^32 mod P; so with k = x^(8L - 33) mod P the
// pair gives c * x^(8L) mod P.

// a(x) * b(x) mod P, both reflected (bit 31 is x^0).
constexpr std::uint32_t mul_mod_p(std::uint32_t a, std::uint32_t b) {
  std::uint32_t p = 0;
  for (std::uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) p ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^n mod P, reflected.
constexpr std::uint32_t x_pow_mod_p(std::uint64_t n) {
  std::uint32_t result = 1u << 31;  // x^0
  std::uint32_t sq = 1u << 30;      // x^1, squared per bit of n
  for (; n != 0; n >>= 1) {
    if (n & 1) result = mul_mod_p(result, sq);
    sq = mul_mod_p(sq, sq);
  }
  return result;
}

// The longest block one round of crc_3way handles; longer buffers take
// several rounds.
constexpr std::size_t kMaxBlock = 2048;
constexpr std::size_t kShiftSteps = 2 * kMaxBlock / 8;  // shifts by 8 .. 2 * kMaxBlock bytes

// kShift[i] = x^(8 * 8(i + 1) - 33) mod P: the constant that shifts by 8(i + 1) bytes.
constexpr std::array<std::uint32_t, kShiftSteps> make_shift_table() {
  std::array<std::uint32_t, kShiftSteps> t{};
  std::uint32_t k = x_pow_mod_p(64 - 33);
  const std::uint32_t step = x_pow_mod_p(64);
  for (std::size_t i = 0; i < kShiftSteps; ++i) {
    t[i] = k;
    k = mul_mod_p(k, step);
  }
  return t;
}
constexpr auto kShift = make_shift_table();
static_assert(kShift[0] == 1u << 0, "x^31 is the reflected value 1: the table's first entry");

// Buffers shorter than this take the serial loop: the join (two multiplies
// and two `crc32`s) costs about what the interleaving saves on ~64 bytes.
constexpr std::size_t kMin3Way = 72;

__attribute__((target("sse4.2,pclmul"))) inline std::uint64_t shift_by(std::uint32_t c, std::uint32_t k) {
  const __m128i prod = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(c)),
                                            _mm_cvtsi32_si128(static_cast<int>(k)), 0x00);
  return _mm_crc32_u64(0, static_cast<std::uint64_t>(_mm_cvtsi128_si64(prod)));
}

__attribute__((target("sse4.2,pclmul"))) std::uint32_t crc_3way(const unsigned char* p, std::size_t n,
                                                                std::uint32_t c) noexcept {
  while (n >= kMin3Way) {
    const std::size_t len = std::min(n / 24 * 8, kMaxBlock);  // per stream, a multiple of 8
    std::uint64_t a = c, b = 0, d = 0;
    const unsigned char* const end = p + len;
    for (; p != end; p += 8) {
      std::uint64_t va, vb, vd;
      std::memcpy(&va, p, 8);
      std::memcpy(&vb, p + len, 8);
      std::memcpy(&vd, p + 2 * len, 8);
      a = _mm_crc32_u64(a, va);
      b = _mm_crc32_u64(b, vb);
      d = _mm_crc32_u64(d, vd);
    }
    const std::size_t step = len / 8 - 1;  // kShift index of a shift by len bytes
    c = static_cast<std::uint32_t>(shift_by(static_cast<std::uint32_t>(a), kShift[2 * step + 1]) ^
                                   shift_by(static_cast<std::uint32_t>(b), kShift[step]) ^ d);
    p += 2 * len;
    n -= 3 * len;
  }
  return crc_sse42(p, n, c);
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
const bool kHaveClmul = kHaveSse42 && __builtin_cpu_supports("pclmul");
#endif

}  // namespace

std::uint32_t crc32c(const void* p, std::size_t n, std::uint32_t crc) noexcept {
  const auto* b = static_cast<const unsigned char*>(p);
  std::uint32_t c = ~crc;
#if defined(__x86_64__)
  if (kHaveClmul) return ~crc_3way(b, n, c);
  if (kHaveSse42) return ~crc_sse42(b, n, c);
#endif
  return ~crc_table(b, n, c);
}

std::uint32_t crc32c_serial(const void* p, std::size_t n, std::uint32_t crc) noexcept {
  const auto* b = static_cast<const unsigned char*>(p);
#if defined(__x86_64__)
  if (kHaveSse42) return ~crc_sse42(b, n, ~crc);
#endif
  return ~crc_table(b, n, ~crc);
}

std::uint32_t crc32c_portable(const void* p, std::size_t n, std::uint32_t crc) noexcept {
  return ~crc_table(static_cast<const unsigned char*>(p), n, ~crc);
}

}  // namespace weir::internal
