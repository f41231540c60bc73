// The one name rule: topics, groups and the names derived from them
// (dead-letter topics "<group>.dlq") follow Kafka's: 1..249 characters of
// [A-Za-z0-9._-], not "." or "..".
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace weir::internal {

inline constexpr std::size_t kMaxNameBytes = 249;

// The reason `name` is not a valid `what` ("topic", "group") name, or empty
// if it is valid.
std::string name_problem(std::string_view what, std::string_view name);

}  // namespace weir::internal
