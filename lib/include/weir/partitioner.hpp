// Kafka-compatible key partitioning.
#pragma once

#include <cstdint>
#include <string_view>

namespace weir {

// Kafka's murmur2 (seed 0x9747b28c) over `key`, as
// org.apache.kafka.common.utils.Utils.murmur2 computes it. Thread-safe.
std::int32_t murmur2(std::string_view key) noexcept;

// The partition Kafka's default partitioner picks for a non-null key:
// (murmur2(key) & 0x7fffffff) % partitions. REQUIRES: partitions > 0.
inline std::uint32_t partition_for_key(std::string_view key, std::uint32_t partitions) noexcept {
  return static_cast<std::uint32_t>(murmur2(key) & 0x7fffffff) % partitions;
}

}  // namespace weir
