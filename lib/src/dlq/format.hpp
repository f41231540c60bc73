// The dead-letter format: the event a group's dead-letter topic
// "<group>.dlq" stores for a failed event (the original's key, payload,
// envelope and free headers, plus provenance headers weir.dlq.*), how a
// listed dead letter is read back from it, and how a redrive rebuilds the
// original event.
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weir/dlq.hpp"
#include "weir/event.hpp"

namespace weir::internal {

// The header a redrive adds: only this group handles the event again.
inline constexpr std::string_view kRedriveGroupHeader = "weir.redrive.group";
// Provenance headers start with this.
inline constexpr std::string_view kDeadLetterHeaderPrefix = "weir.dlq.";

// A redriven dead letter meant for another group: that group handles it,
// this one skips (acks) it.
inline bool redriven_for_other(const Message& m, std::string_view group) noexcept {
  if (m.header_count() == 0) return false;
  const auto target = m.header(kRedriveGroupHeader);
  return target && *target != group;
}

// Why and where an event failed, as the dead letter records it.
struct FailureProvenance {
  std::string_view topic;
  std::string_view group;
  std::string_view reason;
  std::uint32_t attempts = 0;
  std::int64_t first_failure_us = 0;
  std::int64_t last_failure_us = 0;
};

// The dead-letter event of `m` (views into `m` and into this object: keep
// both alive while publishing event()).
class DeadLetterRecord {
 public:
  DeadLetterRecord(const Message& m, const FailureProvenance& p);
  DeadLetterRecord(const DeadLetterRecord&) = delete;
  DeadLetterRecord& operator=(const DeadLetterRecord&) = delete;
  const Event& event() const noexcept { return event_; }

 private:
  std::string attempts_, first_, last_, partition_, offset_, event_time_;
  std::vector<Header> headers_;
  Event event_;
};

// A dead letter as listed and shown, from the event in the dead-letter topic
// (its weir.dlq.* provenance headers decoded).
DeadLetterEvent dead_letter_event(const Message& m);

// The original event of a dead letter, to publish again to its source topic
// for `group` only: envelope attributes back into their fields, free headers
// without the provenance, plus kRedriveGroupHeader (views into `letter` and
// this object).
class RedriveRecord {
 public:
  RedriveRecord(const DeadLetterEvent& letter, std::string_view group);
  RedriveRecord(const RedriveRecord&) = delete;
  RedriveRecord& operator=(const RedriveRecord&) = delete;
  const Event& event() const noexcept { return event_; }

 private:
  std::vector<Header> headers_;
  Event event_;
};

bool matches(const DeadLetter& d, const DeadLetterFilter& f);

}  // namespace weir::internal
