// Reading and settling a group's dead-letter topic.
//
// A dead letter is "settled" once redriven or purged; settled offsets are
// kept in the journal (state table "settled" of pseudo-group "<group>.dlq")
// for journaled topics, or in memory (by the caller) for memory ones.
//
// Thread-safety: functions are thread-safe given a live topic and journal.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "journal/journal.hpp"
#include "topic/topic.hpp"
#include "weir/dlq.hpp"

namespace weir::internal {

// The header a redrive adds: only this group handles the event again.
inline constexpr std::string_view kRedriveGroupHeader = "weir.redrive.group";

// A redriven dead letter meant for another group: that group handles it,
// this one skips (acks) it.
inline bool redriven_for_other(const Message& m, std::string_view group) noexcept {
  if (m.header_count() == 0) return false;
  const auto target = m.header(kRedriveGroupHeader);
  return target && *target != group;
}

// A dead letter as listed and shown, from the event in the dead-letter topic
// (its weir.dlq.* provenance headers decoded).
DeadLetterEvent dead_letter_event(const Message& m);

// Calls fn(event) for each dead letter in `dlq` from its first stored offset
// to its end, oldest first, until fn returns false.
Status for_each_dead_letter(TopicState& dlq, Journal* journal,
                            const std::function<bool(const DeadLetterEvent&)>& fn);

bool matches(const DeadLetter& d, const DeadLetterFilter& f);

// Settled ledger helpers for journaled DLQs.
std::string settled_key(std::string_view group, Offset dlq_offset);

// Whether a dead letter was redriven or purged; marks some as such.
bool is_settled(std::string_view group, const TopicState& dlq, Journal* journal, Offset o);
Status settle(std::string_view group, TopicState& dlq, Journal* journal, const std::vector<Offset>& offs,
              std::string_view how);

// Unsettled dead letters of `group`: how many, and the last-failure time of
// the oldest (0 if none). Reads the whole dead-letter log.
struct DlqDepth {
  std::uint64_t count = 0;
  std::int64_t oldest_failure_us = 0;
};
Result<DlqDepth> dlq_depth(std::string_view group, TopicState& dlq, Journal* journal);

}  // namespace weir::internal
