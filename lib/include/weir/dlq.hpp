// Dead-letter administration: list, inspect, redrive and purge the events a
// group dead-lettered (its topic "<group>.dlq").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/event.hpp"

namespace weir {

// One dead letter as listed: where it came from and why it is here.
struct DeadLetter {
  Offset dlq_offset = 0;  // its offset in "<group>.dlq": names it in show/redrive/purge
  std::string id{};     // the original event id (kept on redrive)
  std::string key{};
  std::string type{};
  std::string reason{};   // weir.dlq.reason: see Outcome (consumer.hpp) for its forms
  std::uint32_t attempts = 0;
  std::int64_t first_failure_us = 0;
  std::int64_t last_failure_us = 0;
  std::string topic{};    // where it failed
  std::uint32_t partition = 0;
  Offset offset = 0;
  std::size_t payload_bytes = 0;
  std::int64_t time_us = 0;  // the event's own time
};

// The whole event, for inspection.
struct DeadLetterEvent {
  DeadLetter letter{};
  std::string payload{};
  std::vector<std::pair<std::string, std::string>> headers{};  // all, provenance included
};

// Which dead letters an operation applies to; unset fields match everything.
// Dead letters already redriven or purged never match.
struct DeadLetterFilter {
  std::optional<Offset> dlq_offset{};         // exactly this one
  std::optional<std::string> key{};           // equal
  std::optional<std::string> type{};          // equal
  std::optional<std::string> reason_contains{}; // substring of weir.dlq.reason
  std::int64_t failed_from_us = 0;            // last failure time >= this (0: no bound)
  std::int64_t failed_to_us = 0;              // last failure time < this (0: no bound)
};

struct RedriveOptions {
  // Report what would move, move nothing. Default false.
  bool dry_run = false;
  // At most this many events per second (0: no limit), so a dependency that
  // just recovered is not flooded. Default 1000.
  double max_per_second = 1000;
  // Most events to move in this call. Default: all that match.
  std::size_t limit = ~std::size_t{0};
};

struct RedriveReport {
  std::size_t matched = 0;  // dead letters the filter selected
  std::size_t moved = 0;    // republished (0 in a dry run)
  std::vector<DeadLetter> letters{};  // the ones that matched (moved unless dry_run)
};

}  // namespace weir
