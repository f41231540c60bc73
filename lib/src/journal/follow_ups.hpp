// FollowUps: events a transactional handler published through
// State::publish, carried by its write set (journal/journal.hpp). The
// journal writer places them into their partitions' rings when it takes the
// write set and appends them in the same LMDB transaction that commits the
// write set (state writes, dedupe records, the group's offset): they become
// readable, and durable, together with it or not at all.
//
// Implemented above the journal (dispatch/outbox.hpp), which knows topics.
// Thread-safety: built by one group worker, then handed to the writer
// thread with the write set (the submit/take handoff orders the two).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "journal/commit_source.hpp"

namespace weir::internal {

class FollowUps {
 public:
  virtual ~FollowUps() = default;
  // Places the events not placed yet into their rings without blocking,
  // all events of one partition in one claim, and appends (log, offset) of
  // each placed event to `placed`. Returns false while a partition has no
  // room: call again in a later cycle (what was placed stays placed, and
  // its records wait for the write set). Events for a topic deleted since
  // they were published are dropped with it (the write set commits
  // without them). Writer thread only.
  virtual bool place(std::vector<std::pair<CommitSource*, Offset>>& placed) = 0;
};

}  // namespace weir::internal
