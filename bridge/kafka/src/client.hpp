// librdkafka plumbing shared by the mirror and the inbound group:
// configuration with required and default properties, error translation,
// metadata, and the envelope <-> Kafka header mapping.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/kafka.hpp"

namespace weir::kafka::detail {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// A property the bridge needs with exactly this value: a user value that
// differs (compared case-insensitively) is refused with kInvalidArgument
// naming the property and why.
struct Required {
  std::string name;
  std::string value;
  std::string why;
};

// Builds a librdkafka configuration: `defaults` first, then the user's
// properties untouched, then `required` (after checking the user's value).
// Errors carry librdkafka's own message.
Result<Conf> make_conf(const Config& user, const Config& defaults, const std::vector<Required>& required);

// Creates a client of `type` from `conf` (consumed on success).
Result<Handle> make_client(rd_kafka_type_t type, Conf conf);

// The weir code for a librdkafka error.
Code code_for(rd_kafka_resp_err_t err) noexcept;
// "<what>: <librdkafka's text> (<error name>)" with the matching code.
Status status_for(rd_kafka_resp_err_t err, std::string_view what);
// A delivery error that retrying the same message cannot fix.
bool is_permanent(rd_kafka_resp_err_t err) noexcept;

// The partition count of `topic` as the cluster reports it, retried until
// `timeout` while the cluster is unreachable or the leader unknown.
Result<std::uint32_t> partition_count(rd_kafka_t* rk, const std::string& topic,
                                      std::chrono::milliseconds timeout);

// RFC 3339 UTC with microseconds ("2024-05-01T12:00:00.123456Z") and back.
std::string format_time(std::int64_t time_us);
std::optional<std::int64_t> parse_time(std::string_view text) noexcept;

// Kafka headers for a weir message: every stored header in order, then
// ce_id (the event id, derived ones included), ce_specversion and ce_time
// when the message has none. Returns a new rd_kafka_headers_t.
rd_kafka_headers_t* headers_for(const Message& m);

// A Kafka message turned into a weir Event for the staging topic. Envelope
// headers map to Event fields (first occurrence), ce_time to time_us; an
// envelope header weir would refuse (a second occurrence, an invalid
// traceparent, a non-numeric ce_schemaversion) is kept as a free header
// "weir.kafka.unmapped.<name>". An event without ce_id gets
// "kafka:<topic>/<partition>/<offset>", stable across redeliveries.
class InboundEvent {
 public:
  InboundEvent(const rd_kafka_message_t* msg, std::string_view topic);
  const Event& event() const noexcept { return event_; }

 private:
  Event event_;
  std::deque<std::string> owned_;  // names the views point into (deque: stable addresses)
  std::vector<Header> headers_;
  std::string id_;
  std::string offset_;
  std::string topic_;
};

}  // namespace weir::kafka::detail
