// Validation of the options users pass to Bus::open's callers: topics and
// subscriptions. Errors are kInvalidArgument naming the field and range.
#pragma once

#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::internal {

Status check_topic_options(const TopicOptions& o);
// Whether two topic declarations are the same.
bool same_options(const TopicOptions& a, const TopicOptions& b);
Status check_subscribe_options(const SubscribeOptions& o);

}  // namespace weir::internal
