// libFuzzer target: the `weir` tool's position, time and duration parsers
// (tools/weir/positions.hpp), which read whatever a user typed. They must
// return nullopt or a value, never crash or overflow (UBSan), and agree
// with each other.
#include <string>
#include <string_view>

#include "positions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weir::cli;
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const auto pos = parse_position(s);
  const auto time = parse_time_us(s);
  (void)parse_duration_us(s);
  // A time is a position of kind kTime with the same value.
  if (time && (!pos || pos->kind != Position::Kind::kTime || pos->time_us != *time)) __builtin_trap();
  if (pos && pos->kind == Position::Kind::kTime && !time) __builtin_trap();
  // The CLI11 checks say "no problem" exactly when the parser accepts.
  const std::string str(s);
  if (position_problem(str).empty() != pos.has_value()) __builtin_trap();
  if (time_problem(str).empty() != time.has_value()) __builtin_trap();
  return 0;
}
