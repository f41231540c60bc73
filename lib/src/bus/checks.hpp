// Validation of the options users pass to Bus::open's callers: topics and
// subscriptions. Errors are kInvalidArgument naming the field and range.
#pragma once

#include <string>
#include <vector>

#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

Status check_topic_options(const TopicOptions& o);
// Whether two topic declarations are the same.
bool same_options(const TopicOptions& a, const TopicOptions& b);
// One field that differs between two declarations: its name and both
// values as text ("4", "reject", "5000 ms").
struct OptionDiff {
  std::string field;
  std::string a;
  std::string b;
};
// Every field of TopicOptions that differs between `a` and `b`, in
// declaration order.
std::vector<OptionDiff> option_diffs(const TopicOptions& a, const TopicOptions& b);
Status check_subscribe_options(const SubscribeOptions& o);

}  // namespace weir::internal
