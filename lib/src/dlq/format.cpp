#include "dlq/format.hpp"

#include <charconv>
#include <cstring>

#include "record/record.hpp"

namespace weir::internal {

namespace {

template <typename T>
T number(std::optional<std::string_view> v) {
  T out{};
  if (v) std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

}  // namespace

DeadLetterEvent dead_letter_event(const Message& m) {
  DeadLetterEvent e;
  DeadLetter& d = e.letter;
  d.dlq_offset = m.offset();
  d.id = std::string(m.id());
  d.key = std::string(m.key());
  d.type = std::string(m.type());
  d.reason = std::string(m.header("weir.dlq.reason").value_or(""));
  d.attempts = number<std::uint32_t>(m.header("weir.dlq.attempts"));
  d.first_failure_us = number<std::int64_t>(m.header("weir.dlq.first_failure_us"));
  d.last_failure_us = number<std::int64_t>(m.header("weir.dlq.last_failure_us"));
  d.topic = std::string(m.header("weir.dlq.topic").value_or(""));
  d.partition = number<std::uint32_t>(m.header("weir.dlq.partition"));
  d.offset = number<Offset>(m.header("weir.dlq.offset"));
  d.payload_bytes = m.payload().size();
  // The event's own time; letters written before the header existed carry
  // it as their record time.
  d.time_us = m.header("weir.dlq.event_time_us") ? number<std::int64_t>(m.header("weir.dlq.event_time_us"))
                                                  : m.time_us();
  e.payload = std::string(m.payload());
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const Header h = m.header_at(i);
    e.headers.emplace_back(std::string(h.name), std::string(h.value));
  }
  return e;
}

bool matches(const DeadLetter& d, const DeadLetterFilter& f) {
  if (f.dlq_offset && *f.dlq_offset != d.dlq_offset) return false;
  if (f.key && *f.key != d.key) return false;
  if (f.type && *f.type != d.type) return false;
  if (f.reason_contains && d.reason.find(*f.reason_contains) == std::string::npos) return false;
  if (f.failed_from_us && d.last_failure_us < f.failed_from_us) return false;
  if (f.failed_to_us && d.last_failure_us >= f.failed_to_us) return false;
  return true;
}

DeadLetterRecord::DeadLetterRecord(const Message& m, const FailureProvenance& p)
    : attempts_(std::to_string(p.attempts)),
      first_(std::to_string(p.first_failure_us)),
      last_(std::to_string(p.last_failure_us)),
      partition_(std::to_string(m.partition())),
      offset_(std::to_string(m.offset())),
      event_time_(std::to_string(m.time_us())) {
  // The original's free headers, then provenance under stable names.
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const Header h = m.header_at(i);
    if (!is_reserved_header(h.name) && h.name.substr(0, kDeadLetterHeaderPrefix.size()) != kDeadLetterHeaderPrefix)
      headers_.push_back(h);
  }
  headers_.push_back({"weir.dlq.reason", p.reason});
  headers_.push_back({"weir.dlq.attempts", attempts_});
  headers_.push_back({"weir.dlq.first_failure_us", first_});
  headers_.push_back({"weir.dlq.last_failure_us", last_});
  headers_.push_back({"weir.dlq.topic", p.topic});
  headers_.push_back({"weir.dlq.partition", partition_});
  headers_.push_back({"weir.dlq.offset", offset_});
  headers_.push_back({"weir.dlq.group", p.group});
  headers_.push_back({"weir.dlq.event_time_us", event_time_});
  event_.key = m.key();
  event_.payload = m.payload();
  event_.headers = headers_;
  // The letter's record time is when it was dead-lettered, so the
  // dead-letter topic's retention_age counts from then (an old event that
  // failed just now is not deleted at once); the event's own time travels in
  // weir.dlq.event_time_us and comes back on redrive.
  event_.time_us = p.last_failure_us;
  event_.id = m.id();  // materialised: a redriven event keeps its id
  event_.source = m.source();
  event_.type = m.type();
  event_.content_type = m.content_type();
  event_.dataschema = m.dataschema();
  event_.schema_version = m.schema_version();
  event_.traceparent = m.traceparent();
}

RedriveRecord::RedriveRecord(const DeadLetterEvent& e, std::string_view group) {
  std::string_view version;
  for (const auto& [name, value] : e.headers) {
    if (name == hdr::kSource) event_.source = value;
    else if (name == hdr::kContentType) event_.content_type = value;
    else if (name == hdr::kDataSchema) event_.dataschema = value;
    else if (name == hdr::kTraceparent) event_.traceparent = value;
    else if (name == hdr::kSchemaVersion) version = value;
    else if (!is_reserved_header(name) && name.rfind(kDeadLetterHeaderPrefix, 0) != 0 && name != kRedriveGroupHeader)
      headers_.push_back({name, value});
  }
  headers_.push_back({kRedriveGroupHeader, group});
  event_.key = e.letter.key;
  event_.payload = e.payload;
  event_.headers = headers_;
  event_.time_us = e.letter.time_us;
  event_.id = e.letter.id;
  event_.type = e.letter.type;
  for (char c : version) event_.schema_version = event_.schema_version * 10 + static_cast<std::uint32_t>(c - '0');
}

}  // namespace weir::internal
