// The encoded form of one event, as stored in a partition slot.
//
//   RecordHead (24 bytes) | key | payload | header block
//   header block: per header, u32 name_len | u32 value_len | name | value
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

inline std::size_t record_size(const Event& e) noexcept {
  return sizeof(RecordHead) + e.key.size() + e.payload.size() + headers_bytes(e.headers);
}

// Writes `e` into `out`, which holds record_size(e) bytes.
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
  p += e.payload.size();
  for (const Header& h : e.headers) {
    const std::uint32_t lens[2] = {static_cast<std::uint32_t>(h.name.size()),
                                   static_cast<std::uint32_t>(h.value.size())};
    std::memcpy(p, lens, sizeof lens);
    p += sizeof lens;
    if (!h.name.empty()) std::memcpy(p, h.name.data(), h.name.size());
    p += h.name.size();
    if (!h.value.empty()) std::memcpy(p, h.value.data(), h.value.size());
    p += h.value.size();
  }
}

// Builds the handler's view of a record written by encode_record.
inline Message decode_record(const char* rec, std::string_view topic, std::uint32_t partition,
                             Offset offset, std::uint32_t attempt) noexcept {
  RecordHead head;
  std::memcpy(&head, rec, sizeof head);
  const char* p = rec + sizeof head;
  Message::Parts parts{topic,
                       partition,
                       offset,
                       std::string_view(p, head.key_len),
                       std::string_view(p + head.key_len, head.payload_len),
                       head.time_us,
                       p + head.key_len + head.payload_len,
                       head.headers_len,
                       head.header_count,
                       attempt};
  return Message(parts);
}

}  // namespace weir::internal
