// Events as producers hand them in (Event) and as handlers see them (Message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weir {

// Position of an event in its partition: 0, 1, 2, ... in append order.
using Offset = std::uint64_t;

namespace internal {
struct MessageAccess;
// The fields of a Message view, as the library decodes them from a record.
struct MessageParts {
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
  std::uint64_t origin;  // identifies the log, for derived ids
};
}  // namespace internal

// Header names under which envelope attributes are stored: the CloudEvents
// Kafka protocol binding's, plus W3C trace context. Reserved: a publish with
// a free header of one of these names is refused.
namespace envelope_header {
inline constexpr std::string_view kId = "ce_id";
inline constexpr std::string_view kSource = "ce_source";
inline constexpr std::string_view kType = "ce_type";
inline constexpr std::string_view kSpecVersion = "ce_specversion";
inline constexpr std::string_view kContentType = "content-type";
inline constexpr std::string_view kDataSchema = "ce_dataschema";
inline constexpr std::string_view kSchemaVersion = "ce_schemaversion";
inline constexpr std::string_view kTraceparent = "traceparent";
// Event::deliver_at_us as decimal microseconds since the Unix epoch (weir's
// own attribute, not a CloudEvents one).
inline constexpr std::string_view kDeliverAt = "weir_deliver_at";
// Event::priority as a decimal (weir's own attribute; absent means 0).
inline constexpr std::string_view kPriority = "weir_priority";
}  // namespace envelope_header

// The furthest in the future Event::deliver_at_us may lie at publish: 366
// days. A later time is refused (kInvalidArgument): it is far more likely a
// unit mistake (nanoseconds, milliseconds) than a plan.
inline constexpr std::int64_t kMaxDeliveryDelayUs = 366LL * 24 * 3600 * 1000000;

// Most priority levels a topic may have (TopicOptions::priority_levels);
// Event::priority is below the topic's level count.
inline constexpr std::uint32_t kMaxPriorityLevels = 8;

// A free-form header: name and value are arbitrary bytes.
// Consumers ignore headers they do not know.
struct Header {
  std::string_view name{};
  std::string_view value{};
};

// An event to publish. Views only: weir copies the bytes during publish, so
// the caller's buffers may be reused as soon as publish returns.
//
// Thread-safety: a plain value.
struct Event {
  // Routing key: same key -> same partition -> per-key order. May be empty
  // (an empty key hashes like Kafka's empty byte array).
  std::string_view key{};
  // Payload bytes, opaque to weir.
  std::string_view payload{};
  // Extra headers, copied with the event.
  std::span<const Header> headers = {};
  // Event time in microseconds since the Unix epoch; 0 means "now", read
  // from the kernel's coarse clock (tick resolution, 1-4 ms).
  std::int64_t time_us = 0;

  // Delayed delivery: no group's handler receives the event before this
  // time (microseconds since the Unix epoch, judged against the consuming
  // process's system clock); 0 (default) or a past time: at once. The time
  // is stored with the event (the reserved header weir_deliver_at), so a
  // journaled topic keeps it across restarts. While it waits, the event
  // holds back what a retry would: the later events of its key
  // (RetryMode::kNonBlocking) or its whole partition (kBlocking), so
  // per-key order holds. REQUIRES: 0 <= deliver_at_us <= now +
  // kMaxDeliveryDelayUs (else publish returns kInvalidArgument).
  std::int64_t deliver_at_us = 0;

  // Priority lane (TopicOptions::priority_levels): 0 (default, the lowest)
  // .. priority_levels - 1 (the most urgent). Under a backlog, a group with
  // RetryMode::kNonBlocking hands out higher-priority events first, while
  // the events of one key stay in publish order whatever their priorities
  // (README "Priority lanes"). Stored with the event (the reserved header
  // weir_priority, only when > 0), so a journaled topic keeps it across
  // restarts; records without it are priority 0. REQUIRES: priority <
  // the topic's priority_levels (else publish returns kInvalidArgument
  // naming the topic's levels).
  std::uint32_t priority = 0;

  // --- Envelope: CloudEvents attributes (all optional) ----------------------
  // Stored as headers under the CloudEvents Kafka binding's names (ce_id,
  // ce_source, ce_type, ce_specversion "1.0", content-type, ce_dataschema,
  // ce_schemaversion, traceparent); those header names are reserved.
  //
  // The event's id and idempotency key: source + id identify an event, and
  // consumers' dedupe stores key on it. Empty: the event gets a UUIDv7 derived
  // from its time and its place in the log (Message::id), stable for the
  // event's life; give your own (e.g. new_event_id(), or a business key such
  // as "order-42/charge") when a retried publish must keep its id.
  std::string_view id{};
  std::string_view source{};    // CloudEvents "source": who emitted it (a URI-reference)
  std::string_view type{};      // CloudEvents "type", e.g. "com.shop.order.placed"
  std::string_view content_type{};  // CloudEvents "datacontenttype", e.g. "application/json"
  std::string_view dataschema{};  // CloudEvents "dataschema" (a URI)
  std::uint32_t schema_version = 0;  // version of `type`'s payload schema; 0 = unversioned
  // W3C trace context, "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>";
  // validated at publish (kInvalidArgument if malformed), handed to handlers.
  std::string_view traceparent{};
};

// A fresh UUIDv7 (RFC 9562) in canonical text form: 48-bit Unix milliseconds,
// then a per-thread counter and random bits, so ids generated by one thread
// sort in generation order and ids from different threads do not collide.
// Thread-safe.
std::string new_event_id();

// Whether `tp` is a valid W3C traceparent (version 00 exactly; later
// versions: the 00 fields then optional "-..." extensions). Thread-safe.
bool is_valid_traceparent(std::string_view tp) noexcept;

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
  // Event::deliver_at_us as published (0: none). A handler sees the event
  // only once the system clock has reached it.
  std::int64_t deliver_at_us() const noexcept;
  // Event::priority as published (0: none given, or a record written before
  // priority lanes existed).
  std::uint32_t priority() const noexcept;

  // Envelope (see Event). Empty views / 0 where the producer set none.
  // id() is never empty: a producer-given id, or a UUIDv7 derived from the
  // event's time and its (log, partition, offset), identical on every
  // delivery and, for journaled topics, across restarts.
  std::string_view id() const noexcept;
  std::string_view source() const noexcept { return header(envelope_header::kSource).value_or(""); }
  std::string_view type() const noexcept { return header(envelope_header::kType).value_or(""); }
  std::string_view spec_version() const noexcept { return header(envelope_header::kSpecVersion).value_or(""); }
  std::string_view content_type() const noexcept { return header(envelope_header::kContentType).value_or(""); }
  std::string_view dataschema() const noexcept { return header(envelope_header::kDataSchema).value_or(""); }
  std::uint32_t schema_version() const noexcept;
  std::string_view traceparent() const noexcept { return header(envelope_header::kTraceparent).value_or(""); }

  std::size_t header_count() const noexcept { return header_count_; }
  // The i-th header, in publish order. REQUIRES: i < header_count().
  Header header_at(std::size_t i) const noexcept;
  // The value of the first header named `name`, if any.
  // Both walk the header block within its stored length: a stored record
  // whose header block does not match its length and count is kDataLoss on
  // read and never reaches a handler, and no walk reads past the block.
  std::optional<std::string_view> header(std::string_view name) const noexcept;

  Message() = default;

 private:
  // Messages are built by the library only (internal::MessageAccess).
  friend struct internal::MessageAccess;
  explicit Message(const internal::MessageParts& p) noexcept
      : topic_(p.topic), key_(p.key), payload_(p.payload), headers_(p.headers),
        offset_(p.offset), time_us_(p.time_us), partition_(p.partition),
        headers_bytes_(p.headers_bytes), header_count_(p.header_count), attempt_(p.attempt),
        origin_(p.origin) {}

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
  std::uint64_t origin_ = 0;
  // The derived id, formatted by id() on first use (id_ready_ says so). Not
  // zeroed per Message: a group decodes every event it reads into a
  // Message, and 36 bytes of zeroes per event were a third of that store.
  // unsigned char: copying a Message copies these bytes even when unset.
  mutable bool id_ready_ = false;
  mutable unsigned char derived_id_[36];
};

}  // namespace weir
