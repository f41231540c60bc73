// DeadLetterLog: one group's dead letters: the events of its dead-letter
// topic "<group>.dlq" (read through the topic's partition) minus those
// already settled (redriven or purged). Settlement is kept in the journal
// (settled_key records in weir.internal, journal/format.hpp) for journaled
// topics, and mirrored in this object for both kinds (the only record for
// memory topics), so the bus keeps one DeadLetterLog per group for its
// lifetime and every settlement goes through it.
//
// Depth and age are maintained, not scanned: `low_` is the oldest offset not
// settled (everything below it is settled or gone), `settled_above_` the
// settled offsets past it, and `base_ = low_ + |settled_above_|`, so the
// unsettled count is readable_end() - base_: two atomic loads. The age is the
// last-failure time of the letter at `low_`, read once per value of `low_`
// (one letter, not a scan). Neither a scrape nor the alert check takes a
// lock that a publish takes, so a scrape never blocks publishing.
//
// A journaled dead-letter topic has a retention (Options::
// dead_letter_retention_age, alterable): once the partition's start passes
// low_, depth() moves low_ up to it, so deleted letters stop counting.
//
// A memory dead-letter topic is a ring that nothing else need read, so the
// log is its reader: its cursor stays at `low_`, and settling the oldest
// letters frees their slots. When the ring is full, make_room() drops the
// oldest letter (settled as "dropped", counted in dropped()) so the group
// can store the new one and its source partition goes on.
//
// Thread-safety: thread-safe. mu_ serialises settlements (held for set
// updates only, never across journal I/O); depth() takes age_mu_, and mu_
// only to read the one oldest letter when it changed (lock order: age_mu_,
// then mu_).
#pragma once

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "dlq/format.hpp"
#include "journal/journal.hpp"
#include "log/partition.hpp"
#include "base/thread_annotations.hpp"

namespace weir::internal {

// Unsettled dead letters: how many, and the last-failure time of the oldest
// (0 if none, or if it is not readable yet).
struct DlqDepth {
  std::uint64_t count = 0;
  std::int64_t oldest_failure_us = 0;
};

class DeadLetterLog {
 public:
  // `journal`: where settlement is kept; null for a memory dead-letter topic.
  // A journaled log reads its ledger once, here (one pass over the letters).
  DeadLetterLog(std::string group, Partition& partition, Journal* journal);

  const std::string& group() const noexcept { return group_; }
  // Calls fn for each unsettled dead letter matching `f`, oldest first,
  // until fn returns false.
  Status for_each(const DeadLetterFilter& f, const std::function<bool(const DeadLetterEvent&)>& fn) const;
  // Unsettled dead letters matching `f`, oldest first, at most `limit`.
  Result<std::vector<DeadLetterEvent>> select(const DeadLetterFilter& f, std::size_t limit) const;
  // O(1): two counter loads, plus one letter read when the oldest changed.
  // Letters the dead-letter topic's retention deleted unsettled are dropped
  // from the count here (and counted in dropped()).
  Result<DlqDepth> depth();
  // Marks dead letters settled (`how`: "redriven" or "purged"). Offsets
  // already settled are ignored.
  Status settle(const std::vector<Offset>& offsets, std::string_view how);
  // Memory topics: drops the oldest unsettled letter, if it is fully
  // written, to free its slot; false if nothing could be dropped (a
  // journaled topic, an empty log, or the oldest still being written).
  bool make_room();
  // Letters make_room() dropped, and (journaled) letters retention deleted
  // before they were settled, as depth() noticed. Relaxed: a statistic.
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  ~DeadLetterLog();
  DeadLetterLog(const DeadLetterLog&) = delete;
  DeadLetterLog& operator=(const DeadLetterLog&) = delete;

 private:
  bool settled(Offset o) const REQUIRES(mu_);
  // Adds `offs` to the settled ones and moves low_ past a settled prefix.
  void note_settled(const std::vector<Offset>& offs) REQUIRES(mu_);
  // Retention moved the partition's start to `start`, past low_: forgets
  // the letters below it, counting the unsettled ones as dropped.
  void note_retained(Offset start);

  const std::string group_;
  Partition& part_;
  Journal* const journal_;
  mutable Mutex mu_;
  std::set<Offset> settled_above_ GUARDED_BY(mu_);  // settled offsets > low_
  // Written under mu_ (release), read without it (acquire): base_ only grows,
  // and is stored after low_, so a reader never counts a settled letter as
  // unsettled for longer than the store takes.
  std::atomic<Offset> low_{0};
  std::atomic<std::uint64_t> base_{0};
  // The age cache: last-failure time of the letter at `aged_offset_`.
  // Memory topics: this log's reader position in the ring, kept at low_
  // (stored under mu_ by Partition::advance, release; read by the ring's
  // advance_head, acquire).
  ReaderCursor cursor_;
  std::atomic<std::uint64_t> dropped_{0};
  mutable Mutex age_mu_;
  mutable Offset aged_offset_ GUARDED_BY(age_mu_) = ~Offset{0};
  mutable std::int64_t aged_us_ GUARDED_BY(age_mu_) = 0;
};

}  // namespace weir::internal
