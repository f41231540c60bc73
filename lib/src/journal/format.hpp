// The journal's on-disk layout, shared by the bus's Journal (which writes
// it) and the read-only Inspector (which reads it from another process):
// key names, the stored form of TopicOptions, and the log-reading helpers
// that work on any read transaction.
//
// Thread-safety: free functions; each uses only the transaction it is given
// (one transaction belongs to one thread at a time).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "journal/lmdb.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

struct ReadBatch;

inline constexpr std::string_view kJournalFormat = "weir-journal";
inline constexpr std::uint32_t kJournalVersion = 1;

// TopicOptions as stored in weir.meta under "topic/<name>" (host byte order,
// fixed layout).
struct StoredTopic {
  std::uint32_t layout = 1;
  std::uint32_t partitions;
  std::uint32_t capacity;
  std::uint32_t full_policy;
  std::int64_t block_timeout_ms;
  std::uint32_t max_payload_bytes;
  std::uint32_t max_key_bytes;
  std::uint32_t durability;
  std::uint32_t default_ack;
  std::int64_t retention_age_s;
  std::uint64_t retention_bytes;
  std::uint64_t retention_events;
  std::uint64_t quota_bytes;
};

inline constexpr std::string_view kTopicMetaPrefix = "topic/";

inline std::string topic_meta_key(std::string_view name) {
  return std::string(kTopicMetaPrefix) + std::string(name);
}

inline std::string partition_dbi_name(std::string_view topic, std::uint32_t p) {
  return "p/" + std::string(topic) + "/" + std::to_string(p);
}

inline StoredTopic encode_topic_options(const TopicOptions& o) {
  return StoredTopic{1, o.partitions, o.capacity, static_cast<std::uint32_t>(o.full_policy),
                     o.block_timeout.count(), o.max_payload_bytes, o.max_key_bytes,
                     static_cast<std::uint32_t>(o.durability), static_cast<std::uint32_t>(o.default_ack),
                     o.retention_age.count(), o.retention_bytes, o.retention_events, o.quota_bytes};
}

// The options stored in a "topic/<name>" value; nullopt if malformed.
inline std::optional<TopicOptions> decode_topic_options(std::string_view value) {
  if (value.size() != sizeof(StoredTopic)) return std::nullopt;
  StoredTopic st;
  std::memcpy(&st, value.data(), sizeof st);
  TopicOptions o;
  o.partitions = st.partitions;
  o.capacity = st.capacity;
  o.full_policy = static_cast<FullPolicy>(st.full_policy);
  o.block_timeout = std::chrono::milliseconds(st.block_timeout_ms);
  o.max_payload_bytes = st.max_payload_bytes;
  o.max_key_bytes = st.max_key_bytes;
  o.durability = static_cast<Durability>(st.durability);
  o.default_ack = static_cast<Ack>(st.default_ack);
  o.retention_age = std::chrono::seconds(st.retention_age_s);
  o.retention_bytes = st.retention_bytes;
  o.retention_events = st.retention_events;
  o.quota_bytes = st.quota_bytes;
  return o;
}

// What a partition's log holds: first stored offset, one past the last, and
// the bytes of its record batches.
struct PartitionBounds {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint64_t bytes = 0;
};
// Reads the bounds of the partition log `dbi` (walks every batch for bytes).
Result<PartitionBounds> partition_bounds(MDB_txn* txn, MDB_dbi dbi);

// Reads up to `max` records of a partition log from `from`, below `end`
// (the committed watermark), into `out`. kDataLoss names the bad record's
// location (good records before it are returned first); kNotFound means
// retention deleted `from`.
Status read_log(MDB_txn* txn, MDB_dbi dbi, std::string_view topic, std::uint32_t partition,
                std::uint64_t from, std::uint64_t end, std::uint32_t max, ReadBatch& out);

// First offset below `end` of a partition log whose event time is >=
// time_us (`end` if none).
Result<std::uint64_t> log_offset_for_time(MDB_txn* txn, MDB_dbi dbi, std::string_view topic,
                                          std::uint32_t partition, std::uint64_t end,
                                          std::int64_t time_us);

}  // namespace weir::internal
