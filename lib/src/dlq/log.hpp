// DeadLetterLog: one group's dead letters: the events of its dead-letter
// topic "<group>.dlq" (read through the topic's partition) minus those
// already settled (redriven or purged). Settlement is kept in the journal
// (state table "settled" of pseudo-group "<group>.dlq") for journaled
// topics and in this object for memory ones, so the bus keeps one
// DeadLetterLog per group for its lifetime.
//
// Thread-safety: thread-safe (the memory ledger takes a mutex; reads go
// through the partition's thread-safe for_each and the journal).
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/thread_annotations.hpp"
#include "dlq/format.hpp"
#include "journal/journal.hpp"
#include "log/partition.hpp"

namespace weir::internal {

// Unsettled dead letters: how many, and the last-failure time of the oldest
// (0 if none).
struct DlqDepth {
  std::uint64_t count = 0;
  std::int64_t oldest_failure_us = 0;
};

class DeadLetterLog {
 public:
  // `journal`: where settlement is kept; null for a memory dead-letter topic.
  DeadLetterLog(std::string group, Partition& partition, Journal* journal)
      : group_(std::move(group)), part_(partition), journal_(journal) {}

  const std::string& group() const noexcept { return group_; }
  // Calls fn for each unsettled dead letter matching `f`, oldest first,
  // until fn returns false.
  Status for_each(const DeadLetterFilter& f, const std::function<bool(const DeadLetterEvent&)>& fn) const;
  // Unsettled dead letters matching `f`, oldest first, at most `limit`.
  Result<std::vector<DeadLetterEvent>> select(const DeadLetterFilter& f, std::size_t limit) const;
  Result<DlqDepth> depth() const;
  // Marks dead letters settled (`how`: "redriven" or "purged").
  Status settle(const std::vector<Offset>& offsets, std::string_view how);

 private:
  bool settled(Offset o) const;

  const std::string group_;
  Partition& part_;
  Journal* const journal_;
  mutable Mutex mu_;
  std::set<Offset> settled_ GUARDED_BY(mu_);  // memory topics only
};

}  // namespace weir::internal
