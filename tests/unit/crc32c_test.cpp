// CRC-32C (base/crc32c.hpp): the interleaved hardware version gives exactly
// the serial loop's and the portable table's values (journals written by
// either must verify), on every length 0..1024 at every alignment 0..15,
// random longer buffers (several 3-stream rounds), and continued CRCs.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/crc32c.hpp"

namespace weir::internal {
namespace {

std::vector<unsigned char> random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

TEST(Crc32c, KnownValues) {
  // RFC 3720 (iSCSI) B.4 test vectors and the classic "123456789" check.
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
  const std::vector<unsigned char> zeros(32, 0), ones(32, 0xff);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8a9136aau);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62a8ab43u);
  std::vector<unsigned char> inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
    dec[static_cast<std::size_t>(i)] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(crc32c(inc.data(), inc.size()), 0x46dd794eu);
  EXPECT_EQ(crc32c(dec.data(), dec.size()), 0x113fdb5cu);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, EveryLengthAndAlignmentMatchesTheSerialLoop) {
  const auto buf = random_bytes(1024 + 16, 17);
  for (std::size_t align = 0; align < 16; ++align) {
    for (std::size_t n = 0; n <= 1024; ++n) {
      const unsigned char* p = buf.data() + align;
      const std::uint32_t want = crc32c_portable(p, n);
      ASSERT_EQ(crc32c(p, n), want) << "length " << n << " alignment " << align;
      ASSERT_EQ(crc32c_serial(p, n), want) << "length " << n << " alignment " << align;
    }
  }
}

TEST(Crc32c, RandomLongBuffersMatchTheSerialLoop) {
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    const std::size_t n = rng() % 40000;  // up to several rounds of the longest block
    const std::size_t align = rng() % 64;
    const auto buf = random_bytes(n + align, static_cast<std::uint32_t>(rng()));
    const std::uint32_t seed = (i % 2 != 0) ? static_cast<std::uint32_t>(rng()) : 0;
    ASSERT_EQ(crc32c(buf.data() + align, n, seed), crc32c_serial(buf.data() + align, n, seed))
        << "length " << n << " alignment " << align << " seed " << seed;
    if (n < 8192) {
      ASSERT_EQ(crc32c(buf.data() + align, n, seed), crc32c_portable(buf.data() + align, n, seed))
          << "length " << n;
    }
  }
}

TEST(Crc32c, ContinuingEqualsOneCall) {
  const auto buf = random_bytes(5000, 7);
  const std::uint32_t whole = crc32c(buf.data(), buf.size());
  for (std::size_t cut : {0u, 1u, 7u, 8u, 71u, 72u, 144u, 1000u, 4999u, 5000u})
    EXPECT_EQ(crc32c(buf.data() + cut, buf.size() - cut, crc32c(buf.data(), cut)), whole) << "cut " << cut;
}

TEST(Crc32c, AFlippedBitChangesIt) {
  auto buf = random_bytes(144, 3);  // a d1 record's frame: len + 140-byte record
  const std::uint32_t before = crc32c(buf.data(), buf.size());
  for (std::size_t bit = 0; bit < buf.size() * 8; ++bit) {
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    ASSERT_NE(crc32c(buf.data(), buf.size()), before) << "bit " << bit;
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace weir::internal
