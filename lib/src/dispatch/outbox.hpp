// Outbox: the events one transactional handler call published through
// State::publish, and then the events of a whole write set (the journal's
// FollowUps, placed and committed by the journal writer with the write set).
//
// Ids: an event published without an id gets "<input id>/<n>", n = 1, 2, ...
// in the order of the handler call's publishes, so a redelivered input (whose
// earlier handling never committed) publishes the same ids again.
//
// Thread-safety: not thread-safe. Filled by one group worker inside a
// handler call; moved into a WriteSet, then used by the journal writer only
// (Journal::submit hands it over).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "journal/follow_ups.hpp"
#include "topic/topic.hpp"

namespace weir::internal {

class Outbox final : public FollowUps {
 public:
  // Encodes `e` for `topic` (found through `bus`) as the n-th publish of the
  // handler call for `input_id`. Errors: kNotFound (no such topic),
  // kInvalidArgument (a memory topic, an invalid event), kResourceExhausted
  // (more events for one partition than a quarter of its ring).
  Status add(const BusShared& bus, std::string_view input_id, std::string_view topic, const Event& e);
  bool empty() const noexcept { return runs_.empty(); }
  // Moves `other`'s events behind ours.
  void append(Outbox&& other);
  // Whether `other`'s events fit behind ours (a partition's events are
  // placed in one claim: at most half its ring).
  bool fits(const Outbox& other) const;

  bool place(std::vector<std::pair<CommitSource*, Offset>>& placed) override;

 private:
  // The events of one partition, in publish order.
  struct Run {
    std::shared_ptr<TopicState> topic;
    std::uint32_t partition = 0;
    std::vector<std::string> records;
    bool placed = false;
  };
  Run& run_for(const std::shared_ptr<TopicState>& t, std::uint32_t p);
  std::vector<Run> runs_;
  std::uint32_t published_ = 0;  // publishes of the current handler call (id suffix)
};

}  // namespace weir::internal
