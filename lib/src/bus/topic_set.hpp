// TopicSetGroup: a consumer group subscribed to several topics (a
// TopicSet: a list of names and/or a pattern), kept by BusCore under the
// group's name.
//
// It is one Group (dispatch/) per topic, all with the group's name and
// options and one shared handler and dead-letter target, so each topic's
// offsets, retries and workers are exactly those of a one-topic group and
// stored under (group, topic, partition). The set adds the pattern, which
// create_topic consults to join topics created later.
//
// Thread-safety: not thread-safe; BusCore touches it only under its mu_
// (each member Group is thread-safe as usual).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "dispatch/group.hpp"
#include "weir/bus.hpp"

namespace weir::internal {

struct TopicSetGroup {
  SubscribeOptions options;
  Group::AnyHandler handler;       // copied into each member
  std::vector<std::string> listed;  // TopicSet::topics, as given
  std::string pattern_text;         // TopicSet::pattern, as given
  std::optional<std::regex> pattern;
  DeadLetterTarget dead_letters;  // shared by the members
  std::map<std::string, std::unique_ptr<Group>, std::less<>> members;  // by topic name

  // Dedupe or state tables: only journaled topics can be read.
  bool transactional() const noexcept;
  // Does the pattern take topic `t` (a whole-name match, not a dead-letter
  // topic, journaled when transactional)?
  bool pattern_takes(const TopicState& t) const;
  // "'a', 'b' and pattern 'p'": what the group reads, for messages.
  std::string describe() const;
  bool on_worker_thread() const noexcept;
  // Every member's partitions (PartitionStatus::topic set), sorted by topic.
  GroupStatus status() const;
};

}  // namespace weir::internal
