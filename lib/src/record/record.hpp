// The encoded form of one event, as stored in a partition slot.
//
//   RecordHead (24 bytes) | key | payload | header block
//   header block: per header, u32 name_len | u32 value_len | name | value
//
// Envelope attributes the producer set are stored first in the header block,
// under the names of the CloudEvents Kafka protocol binding (ce_id,
// ce_source, ce_type, ce_specversion, content-type, ce_dataschema,
// ce_schemaversion) plus W3C `traceparent`, so a bridge to Kafka passes them
// through as they are. Event::deliver_at_us follows them as the reserved
// header weir_deliver_at (decimal microseconds): records without it (all
// records of earlier versions) are due at once, so the record layout and
// kJournalVersion are unchanged. Event::priority follows the same way as
// weir_priority (decimal, only when > 0): records without it are priority
// 0, and a weir that predates lanes reads it as an ordinary header. Events without envelope attributes store
// nothing extra.
//
// Fields are host-endian and copied with memcpy (records may be unaligned).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "weir/event.hpp"

namespace weir::internal {

struct RecordHead {
  std::int64_t time_us;
  std::uint32_t key_len;
  std::uint32_t payload_len;
  std::uint32_t headers_len;
  std::uint32_t header_count;
};
static_assert(sizeof(RecordHead) == 24, "RecordHead layout is part of the record format");

inline std::size_t headers_bytes(std::span<const Header> headers) noexcept {
  std::size_t n = 0;
  for (const Header& h : headers) n += 8 + h.name.size() + h.value.size();
  return n;
}

// Header names reserved for envelope attributes (defined in the public API).
namespace hdr = weir::envelope_header;

inline bool is_reserved_header(std::string_view name) noexcept {
  return name == hdr::kId || name == hdr::kSource || name == hdr::kType ||
         name == hdr::kSpecVersion || name == hdr::kContentType || name == hdr::kDataSchema ||
         name == hdr::kSchemaVersion || name == hdr::kTraceparent || name == hdr::kDeliverAt ||
         name == hdr::kPriority;
}

// The envelope headers of one event, prepared once per publish.
struct Envelope {
  Header h[10];
  std::uint32_t n = 0;
  std::size_t bytes = 0;
  char version[10];
  char deliver_at[20];
  char priority[10];

  bool empty() const noexcept { return n == 0; }
};

inline bool has_envelope(const Event& e) noexcept {
  return !e.id.empty() || !e.source.empty() || !e.type.empty() || !e.content_type.empty() ||
         !e.dataschema.empty() || e.schema_version != 0 || !e.traceparent.empty() || e.deliver_at_us != 0 ||
         e.priority != 0;
}

inline void make_envelope(const Event& e, Envelope& env) noexcept {
  env.n = 0;
  env.bytes = 0;
  auto add = [&](std::string_view name, std::string_view value) {
    env.h[env.n++] = Header{name, value};
    env.bytes += 8 + name.size() + value.size();
  };
  if (!e.id.empty()) add(hdr::kId, e.id);
  if (!e.source.empty()) add(hdr::kSource, e.source);
  if (!e.type.empty()) add(hdr::kType, e.type);
  if (env.n) add(hdr::kSpecVersion, "1.0");
  if (!e.content_type.empty()) add(hdr::kContentType, e.content_type);
  if (!e.dataschema.empty()) add(hdr::kDataSchema, e.dataschema);
  // Decimal digits of v > 0 into out; returns them.
  auto decimal = [](std::uint64_t v, char* out) {
    char digits[20];
    int len = 0;
    for (; v; v /= 10) digits[len++] = static_cast<char>('0' + v % 10);
    for (int i = 0; i < len; ++i) out[i] = digits[len - 1 - i];
    return std::string_view(out, static_cast<std::size_t>(len));
  };
  if (e.schema_version) add(hdr::kSchemaVersion, decimal(e.schema_version, env.version));
  if (!e.traceparent.empty()) add(hdr::kTraceparent, e.traceparent);
  // Not a CloudEvents attribute: after them, and it brings no specversion.
  if (e.deliver_at_us > 0)
    add(hdr::kDeliverAt, decimal(static_cast<std::uint64_t>(e.deliver_at_us), env.deliver_at));
  if (e.priority > 0) add(hdr::kPriority, decimal(e.priority, env.priority));
}

inline std::size_t record_size(const Event& e, const Envelope& env) noexcept {
  return sizeof(RecordHead) + e.key.size() + e.payload.size() + env.bytes + headers_bytes(e.headers);
}
inline std::size_t record_size(const Event& e) noexcept {
  return sizeof(RecordHead) + e.key.size() + e.payload.size() + headers_bytes(e.headers);
}

inline char* encode_headers(std::span<const Header> headers, char* p) noexcept {
  for (const Header& h : headers) {
    const std::uint32_t lens[2] = {static_cast<std::uint32_t>(h.name.size()),
                                   static_cast<std::uint32_t>(h.value.size())};
    std::memcpy(p, lens, sizeof lens);
    p += sizeof lens;
    if (!h.name.empty()) std::memcpy(p, h.name.data(), h.name.size());
    p += h.name.size();
    if (!h.value.empty()) std::memcpy(p, h.value.data(), h.value.size());
    p += h.value.size();
  }
  return p;
}

// Writes `e` with its prepared envelope into `out`, which holds
// record_size(e, env) bytes.
inline void encode_record(const Event& e, const Envelope& env, std::int64_t time_us, char* out) noexcept {
  RecordHead head{time_us, static_cast<std::uint32_t>(e.key.size()),
                  static_cast<std::uint32_t>(e.payload.size()),
                  static_cast<std::uint32_t>(env.bytes + headers_bytes(e.headers)),
                  static_cast<std::uint32_t>(env.n + e.headers.size())};
  std::memcpy(out, &head, sizeof head);
  char* p = out + sizeof head;
  if (!e.key.empty()) std::memcpy(p, e.key.data(), e.key.size());
  p += e.key.size();
  if (!e.payload.empty()) std::memcpy(p, e.payload.data(), e.payload.size());
  p += e.payload.size();
  p = encode_headers(std::span<const Header>(env.h, env.n), p);
  encode_headers(e.headers, p);
}

// Writes `e` (no envelope) into `out`, which holds record_size(e) bytes.
inline void encode_record(const Event& e, std::int64_t time_us, char* out) noexcept {
  RecordHead head{time_us, static_cast<std::uint32_t>(e.key.size()),
                  static_cast<std::uint32_t>(e.payload.size()),
                  static_cast<std::uint32_t>(headers_bytes(e.headers)),
                  static_cast<std::uint32_t>(e.headers.size())};
  std::memcpy(out, &head, sizeof head);
  char* p = out + sizeof head;
  // memcpy with a null source is undefined even for 0 bytes, hence the checks.
  if (!e.key.empty()) std::memcpy(p, e.key.data(), e.key.size());
  p += e.key.size();
  if (!e.payload.empty()) std::memcpy(p, e.payload.data(), e.payload.size());
  if (e.headers.empty()) return;
  encode_headers(e.headers, p + e.payload.size());
}

// The library's access to Message internals.
struct MessageAccess {
  static Message make(const MessageParts& p) noexcept { return Message(p); }
  static void set_attempt(Message& m, std::uint32_t attempt) noexcept { m.attempt_ = attempt; }
};

// Whether a header block of `len` bytes at `block` holds exactly `count`
// entries (u32 name_len | u32 value_len | name | value) that fill it. The
// one check of a stored record's header block: scan_batch (every journal
// read: groups, dead letters, the Inspector and verify) rejects a record
// that fails it, so a Message never walks a block that lies. Pure function.
inline bool header_block_valid(const char* block, std::uint64_t len, std::uint64_t count) noexcept {
  std::uint64_t seen = 0;
  while (len > 0) {
    if (len < 8 || seen == count) return false;
    std::uint32_t lens[2];
    std::memcpy(lens, block, sizeof lens);
    const std::uint64_t n = 8ull + lens[0] + lens[1];
    if (n > len) return false;
    block += n;
    len -= n;
    ++seen;
  }
  return seen == count;
}

// The publish time stored in a record (microseconds since the epoch).
inline std::int64_t record_time_us(const char* rec) noexcept {
  RecordHead head;
  std::memcpy(&head, rec, sizeof head);
  return head.time_us;
}

// Builds the handler's view of a record written by encode_record.
inline Message decode_record(const char* rec, std::string_view topic, std::uint32_t partition,
                             Offset offset, std::uint32_t attempt, std::uint64_t origin = 0) noexcept {
  RecordHead head;
  std::memcpy(&head, rec, sizeof head);
  const char* p = rec + sizeof head;
  MessageParts parts{topic,
                       partition,
                       offset,
                       std::string_view(p, head.key_len),
                       std::string_view(p + head.key_len, head.payload_len),
                       head.time_us,
                       p + head.key_len + head.payload_len,
                       head.headers_len,
                       head.header_count,
                       attempt,
                       origin};
  return MessageAccess::make(parts);
}

}  // namespace weir::internal
