// Where to start reading or seeking: earliest, latest, an offset, or a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::cli {

struct Position {
  enum class Kind { kEarliest, kLatest, kOffset, kTime };
  Kind kind = Kind::kEarliest;
  std::uint64_t offset = 0;  // kOffset
  std::int64_t time_us = 0;  // kTime: first event whose time is >= this
};

// "earliest", "latest", a decimal offset, an ISO-8601 time
// (2026-11-27T10:00:00Z, 2026-11-27T10:00:00.250+01:00) or "@" and Unix
// milliseconds (@1795773600000). nullopt if it is none of these.
std::optional<Position> parse_position(std::string_view s);
// Just the time forms; nullopt otherwise.
std::optional<std::int64_t> parse_time_us(std::string_view s);

// An ISO-8601 duration ([-]PnDTnHnMnS, each part optional, seconds may
// have a fraction) in microseconds, its sign dropped; nullopt if malformed.
std::optional<std::int64_t> parse_duration_us(std::string_view s);

// For CLI11's check(): empty if `s` parses, else the reason.
std::string position_problem(const std::string& s);
std::string time_problem(const std::string& s);

}  // namespace weir::cli
