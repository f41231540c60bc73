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
#include <utility>
#include <vector>

#include "journal/lmdb.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

inline constexpr std::string_view kJournalFormat = "weir-journal";
inline constexpr std::uint32_t kJournalVersion = 1;

// Named databases of the environment:
//   weir.meta         "format" -> "weir-journal", "version" -> u32, "id" -> u64,
//                     "topic/<name>" -> StoredTopic
//   weir.offsets      offsets_key(group, topic, partition) -> be64(next offset)
//   weir.dedupe       dedupe_key(group, id) -> be64(expire_us)
//   weir.dedupe.time  be64(expire_us) + dedupe key -> "" (purge order)
//   weir.state        state_key(group, table, key) -> value
//   p/<topic>/<p>     be64(base offset) -> record batch (journal/batch.hpp)
inline constexpr const char* kMetaDbi = "weir.meta";
inline constexpr const char* kOffsetsDbi = "weir.offsets";
inline constexpr const char* kDedupeDbi = "weir.dedupe";
inline constexpr const char* kDedupeTimeDbi = "weir.dedupe.time";
inline constexpr const char* kStateDbi = "weir.state";
// Named databases besides the partition logs (with room to spare).
inline constexpr std::uint32_t kInternalDbis = 8;
inline constexpr std::string_view kMetaFormatKey = "format";
inline constexpr std::string_view kMetaVersionKey = "version";
inline constexpr std::string_view kMetaIdKey = "id";

// Key encoders, and the decoder of offsets keys.
// "<group>\0<topic>\0" be32(partition)
std::string offsets_key(std::string_view group, std::string_view topic, std::uint32_t p);
struct OffsetsKey {
  std::string group;
  std::string topic;
  std::uint32_t partition = 0;
};
std::optional<OffsetsKey> parse_offsets_key(std::string_view k);
// "<group>\0<id>"; an id too long for LMDB's key limit is kept as a prefix
// plus a 128-bit digest of the whole id.
std::string dedupe_key(std::string_view group, std::string_view event_id);
// "<group>\0<table>\0<key>"
std::string state_key(std::string_view group, std::string_view table, std::string_view key);

// Attempt records (RetryPolicy writes them, Bus::locate reads them): one
// state value per partition under attempts_key(group, topic, partition) =
// state_key("<group>.attempts", topic, be32(partition)). Value:
// kAttemptsBigEndian, then (be64 offset, be32 attempt) pairs; the older
// host-order form without the leading byte is read too.
inline constexpr char kAttemptsBigEndian = 'B';
std::string attempts_key(std::string_view group, std::string_view topic, std::uint32_t partition);
void append_attempt(std::string& record, std::uint64_t offset, std::uint32_t attempt);
// The (offset, attempt) pairs in stored order; empty for a malformed value.
std::vector<std::pair<std::uint64_t, std::uint32_t>> decode_attempts(std::string_view value);

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

}  // namespace weir::internal
