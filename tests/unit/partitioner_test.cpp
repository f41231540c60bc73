#include <gtest/gtest.h>

#include <string>

#include "weir/partitioner.hpp"

namespace weir {
namespace {

// Expected values are those of Kafka's Utils.murmur2 (its own unit tests).
TEST(Murmur2, MatchesKafka) {
  const std::pair<const char*, std::int32_t> cases[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
      {"1", -1993445489},
      {"12", 126087238},
      {"123", -267702483},
      {"1234", -1614185708},
      {"12345", -1188365604},
  };
  for (const auto& [key, want] : cases) EXPECT_EQ(murmur2(key), want) << key;
}

TEST(Murmur2, PartitionIsPositiveHashModN) {
  // Kafka: toPositive(murmur2(key)) % numPartitions.
  EXPECT_EQ(partition_for_key("21", 7), static_cast<std::uint32_t>(-973932308 & 0x7fffffff) % 7);
  EXPECT_EQ(partition_for_key("abc", 1), 0u);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(partition_for_key(std::to_string(i), 13), 13u);
}

TEST(Murmur2, BinaryKeysWithZeros) {
  const std::string k("\0\x01\xff", 3);
  EXPECT_EQ(murmur2(k), murmur2(std::string_view(k.data(), 3)));
  EXPECT_NE(murmur2(k), murmur2(std::string_view(k.data(), 2)));
}

}  // namespace
}  // namespace weir
