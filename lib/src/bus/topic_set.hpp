// TopicSetGroup: a consumer group subscribed to several topics (a
// TopicSet: a list of names and/or a pattern), kept by BusCore under the
// group's name.
//
// It is one Group (dispatch/) per topic, its members, all with the group's
// name and options and one shared handler and dead-letter target, so each
// topic's offsets and retries are exactly those of a one-topic group and
// stored under (group, topic, partition); and one WorkerPool serving every
// member's partitions, sized by the group's worker count, sleeping on one
// bell from BusShared::pool_bells that each member's topic slot rings; and
// one DedupeScope over the members' overlays, so an id handled on one topic
// is a duplicate on the others before its record is committed. The set adds
// the pattern, which create_topic consults to join topics created
// later: a new member joins the running pool.
//
// Lifetime: members stop the pool (the first member's stop stops it for
// all) and go before it; the bell goes back to the arena last.
//
// Thread-safety: not thread-safe; BusCore touches it only under its mu_,
// or after taking it out of its map (each member Group and the pool are
// thread-safe as usual).
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
  // A pool over `arena`'s bell, no members yet.
  TopicSetGroup(const SubscribeOptions& o, const BusShared& bus, std::chrono::microseconds idle_spin,
                BellArena& arena)
      : options(o), arena_(arena), bell_(arena.take()),
        pool(std::make_shared<WorkerPool>(o, &bus, idle_spin, *bell_)) {}
  ~TopicSetGroup() {
    members.clear();  // stops the pool first (the bus stopped it already, normally)
    pool.reset();
    arena_.give_back(bell_);
  }
  TopicSetGroup(const TopicSetGroup&) = delete;
  TopicSetGroup& operator=(const TopicSetGroup&) = delete;

  SubscribeOptions options;
  Group::AnyHandler handler;       // copied into each member
  std::vector<std::string> listed;  // TopicSet::topics, as given
  std::string pattern_text;         // TopicSet::pattern, as given
  std::optional<std::regex> pattern;
  DeadLetterTarget dead_letters;  // shared by the members

 private:
  BellArena& arena_;
  Doorbell* const bell_;

 public:
  // The group's workers, over every member (each member holds it too).
  std::shared_ptr<WorkerPool> pool;
  // The members' overlays, whose dedupe records each member's checks see
  // (an id handled on one topic counts as handled on all).
  std::shared_ptr<DedupeScope> dedupe = std::make_shared<DedupeScope>();
  // By topic name; shared so that BusCore::metrics() walks a copy.
  std::map<std::string, std::shared_ptr<Group>, std::less<>> members;

  // The members, in topic order.
  std::vector<Group*> groups() const;

  // Dedupe or state tables: only journaled topics can be read.
  bool transactional() const noexcept;
  // Does the pattern take topic `t` (a whole-name match, not a dead-letter
  // topic, journaled when transactional)?
  bool pattern_takes(const TopicState& t) const;
  // "'a', 'b' and pattern 'p'": what the group reads, for messages.
  std::string describe() const;
  bool on_worker_thread() const noexcept { return pool->on_worker_thread(); }
  // Every member's partitions (PartitionStatus::topic set), sorted by topic.
  GroupStatus status() const;
};

}  // namespace weir::internal
