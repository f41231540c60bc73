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
// Version 2 moved the internal records (attempt counts, the dead-letter
// settled ledger) out of weir.state into weir.internal; an owner opening a
// version-1 journal moves them in its first transaction (journal/migrate).
inline constexpr std::uint32_t kJournalVersion = 2;

// Named databases of the environment:
//   weir.meta         "format" -> "weir-journal", "version" -> u32, "id" -> u64,
//                     "topic/<name>" -> StoredTopic
//   weir.offsets      offsets_key(group, topic, partition) -> be64(next offset)
//   weir.dedupe       dedupe_key(group, id) -> be64(expire_us)
//   weir.dedupe.time  be64(expire_us) + dedupe key -> "" (purge order)
//   weir.state        state_key(group, table, key) -> value (users' state tables only)
//   weir.internal     internal_key(group, kind, rest) -> value: weir's own
//                     per-group records, which no user name reaches (a user
//                     group "billing.attempts" has its state in weir.state)
//   p/<topic>/<p>     be64(base offset) -> record batch (journal/batch.hpp)
inline constexpr const char* kMetaDbi = "weir.meta";
inline constexpr const char* kOffsetsDbi = "weir.offsets";
inline constexpr const char* kDedupeDbi = "weir.dedupe";
inline constexpr const char* kDedupeTimeDbi = "weir.dedupe.time";
inline constexpr const char* kStateDbi = "weir.state";
inline constexpr const char* kInternalDbi = "weir.internal";
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
// The same keys written into `out` (replacing its contents), so a reused
// string allocates nothing once it is large enough.
void dedupe_key_into(std::string& out, std::string_view group, std::string_view event_id);
void state_key_into(std::string& out, std::string_view group, std::string_view table, std::string_view key);

// Internal records: "<group>\0<kind>\0<rest>" in weir.internal, so one
// prefix "<group>\0" holds everything weir keeps for a group.
std::string internal_key(std::string_view group, std::string_view kind, std::string_view rest);

// Attempt records (RetryPolicy writes them, Bus::locate reads them): one
// value per partition under attempts_key(group, topic, partition) =
// internal_key(group, "attempts", "<topic>\0" be32(partition)). Value:
// kAttemptsBigEndian, then (be64 offset, be32 attempt) pairs; the older
// host-order form without the leading byte is read too.
inline constexpr std::string_view kAttemptsKind = "attempts";
inline constexpr char kAttemptsBigEndian = 'B';
std::string attempts_key(std::string_view group, std::string_view topic, std::uint32_t partition);
// The prefix of every attempts_key of (group, topic).
std::string attempts_prefix(std::string_view group, std::string_view topic);
void append_attempt(std::string& record, std::uint64_t offset, std::uint32_t attempt);
// The (offset, attempt) pairs in stored order; empty for a malformed value.
std::vector<std::pair<std::uint64_t, std::uint32_t>> decode_attempts(std::string_view value);

// The settlement record of a journaled dead letter (DeadLetterLog writes
// it): internal_key(group, "dlq.settled", be64(offset in "<group>.dlq"))
// -> "redriven" or "purged".
inline constexpr std::string_view kSettledKind = "dlq.settled";
std::string settled_key(std::string_view group, std::uint64_t dlq_offset);
// The prefix of every settled_key of `group`.
std::string settled_prefix(std::string_view group);

// An internal key taken apart; nullopt if it is not one of the kinds above.
struct InternalKey {
  std::string group;
  std::string_view kind;    // kAttemptsKind or kSettledKind
  std::string topic;        // attempts: the source topic
  std::uint32_t partition = 0;  // attempts
  std::uint64_t offset = 0;     // settled: the dead letter's offset
};
std::optional<InternalKey> parse_internal_key(std::string_view key);

// Version 1 kept internal records in weir.state under pseudo-groups:
// attempts as state_key("<group>.attempts", topic, be32(partition)),
// settlements as state_key("<group>.dlq", "settled", be64(offset)).
// v1_settled_key is that key (a read-only reader of a version-1 journal
// looks there); v1_internal_key returns the version-2 key of a weir.state
// entry that has the exact shape of a version-1 internal record (key and
// value), or nullopt for a user's state value.
std::string v1_settled_key(std::string_view group, std::uint64_t dlq_offset);
std::optional<std::string> v1_internal_key(std::string_view state_key, std::string_view value);

// TopicOptions as stored in weir.meta under "topic/<name>" (host byte order,
// fixed layout). `layout`: its low byte is 1 (this layout); bits 8..15 hold
// TopicOptions::priority_levels - 1 (0 for a topic without lanes, so such
// a topic's value is what weir stored before lanes existed; a weir that
// predates lanes never reads `layout`, so it still opens the topic).
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
  const std::uint32_t layout = 1u | ((o.priority_levels > 0 ? o.priority_levels - 1 : 0) & 0xffu) << 8;
  return StoredTopic{layout, o.partitions, o.capacity, static_cast<std::uint32_t>(o.full_policy),
                     o.block_timeout.count(), o.max_payload_bytes, o.max_key_bytes,
                     static_cast<std::uint32_t>(o.durability), static_cast<std::uint32_t>(o.default_ack),
                     o.retention_age.count(), o.retention_bytes, o.retention_events, o.quota_bytes};
}

// The options stored in a "topic/<name>" value; nullopt if malformed (the
// wrong size, or a partition count outside 1..kMaxTopicPartitions, which
// create_topic never stores: a damaged count must not send readers after
// billions of partition logs).
inline std::optional<TopicOptions> decode_topic_options(std::string_view value) {
  if (value.size() != sizeof(StoredTopic)) return std::nullopt;
  StoredTopic st;
  std::memcpy(&st, value.data(), sizeof st);
  if (st.partitions < 1 || st.partitions > kMaxTopicPartitions) return std::nullopt;
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
  o.priority_levels = ((st.layout >> 8) & 0xffu) + 1;
  return o;
}

}  // namespace weir::internal
