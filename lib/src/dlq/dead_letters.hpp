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
#include "topic.hpp"
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

// Calls fn(event) for each dead letter in `dlq` from its first stored offset
// to its end, oldest first, until fn returns false.
Status for_each_dead_letter(TopicState& dlq, Journal* journal,
                            const std::function<bool(const DeadLetterEvent&)>& fn);

bool matches(const DeadLetter& d, const DeadLetterFilter& f);

// Settled ledger helpers for journaled DLQs.
std::string settled_key(std::string_view group, Offset dlq_offset);

}  // namespace weir::internal
