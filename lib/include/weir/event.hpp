// Events as producers hand them in (Event) and as handlers see them (Message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace weir {

// Position of an event in its partition: 0, 1, 2, ... in append order.
using Offset = std::uint64_t;

// A free-form header: name and value are arbitrary bytes.
// Consumers ignore headers they do not know.
struct Header {
  std::string_view name;
  std::string_view value;
};

// An event to publish. Views only: weir copies the bytes during publish, so
// the caller's buffers may be reused as soon as publish returns.
//
// Thread-safety: a plain value.
struct Event {
  // Routing key: same key -> same partition -> per-key order. May be empty
  // (an empty key hashes like Kafka's empty byte array).
  std::string_view key;
  // Payload bytes, opaque to weir.
  std::string_view payload;
  // Extra headers, copied with the event.
  std::span<const Header> headers = {};
  // Event time in microseconds since the Unix epoch; 0 means "now", read
  // from the kernel's coarse clock (tick resolution, 1-4 ms).
  std::int64_t time_us = 0;
};

// Where a published event landed.
struct PublishReceipt {
  std::uint32_t partition = 0;
  Offset offset = 0;
};

// An event as a handler receives it. All views point into weir-owned memory
// and stay valid only until the handler returns: copy what must outlive it.
//
// Thread-safety: read-only; a Message is handed to exactly one worker thread.
// Everything the producer wrote before publish() returned is visible to the
// handler that receives the event.
class Message {
 public:
  std::string_view topic() const noexcept { return topic_; }
  std::uint32_t partition() const noexcept { return partition_; }
  Offset offset() const noexcept { return offset_; }
  std::string_view key() const noexcept { return key_; }
  std::string_view payload() const noexcept { return payload_; }
  // Event time, microseconds since the Unix epoch.
  std::int64_t time_us() const noexcept { return time_us_; }
  // Delivery attempt of this event to this group: 1 on first delivery.
  std::uint32_t attempt() const noexcept { return attempt_; }

  std::size_t header_count() const noexcept { return header_count_; }
  // The i-th header, in publish order. REQUIRES: i < header_count().
  Header header_at(std::size_t i) const noexcept;
  // The value of the first header named `name`, if any.
  std::optional<std::string_view> header(std::string_view name) const noexcept;

  // For weir's internals and tests: builds a view. Not for users.
  struct Parts {
    std::string_view topic;
    std::uint32_t partition;
    Offset offset;
    std::string_view key;
    std::string_view payload;
    std::int64_t time_us;
    const char* headers;  // encoded header block
    std::uint32_t headers_bytes;
    std::uint32_t header_count;
    std::uint32_t attempt;
  };
  Message() = default;
  explicit Message(const Parts& p) noexcept
      : topic_(p.topic), key_(p.key), payload_(p.payload), headers_(p.headers),
        offset_(p.offset), time_us_(p.time_us), partition_(p.partition),
        headers_bytes_(p.headers_bytes), header_count_(p.header_count), attempt_(p.attempt) {}

 private:
  std::string_view topic_;
  std::string_view key_;
  std::string_view payload_;
  const char* headers_ = nullptr;
  Offset offset_ = 0;
  std::int64_t time_us_ = 0;
  std::uint32_t partition_ = 0;
  std::uint32_t headers_bytes_ = 0;
  std::uint32_t header_count_ = 0;
  std::uint32_t attempt_ = 1;
};

}  // namespace weir
