// FlushDebt: what the journal writer's commits made visible that is not yet
// known to be on stable storage, and when it is.
//
// The writer commits with Env::MetaFlush::kLater (journal/env.hpp): a
// commit's data pages are flushed, its meta page is written but not flushed.
// The meta page reaches stable storage with the next flush of the file: the
// data flush inside the writer's next commit that wrote pages, or an
// explicit Env::flush (the writer runs one before it sleeps and when it
// stops). So `Ack::kJournal` (survives kill -9) is acknowledged when a
// commit returns, and `Ack::kFsync` (survives power loss) one flush later.
//
// A failed flush (or commit) may have dropped a written meta page from the
// page cache for good while a later flush reports success (see env.hpp).
// Each debt is therefore tagged with Env::flush_failures() as counted
// before the commit that wrote its newest meta page; a flush pays it only
// when no failure was counted since. Otherwise a newer meta page must be
// written first: the writer's next commit (its meta page holds every
// earlier commit) re-tags the debt and takes it over.
//
// Thread-safety: none; the journal writer's thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "journal/commit_source.hpp"

namespace weir::internal {

class FlushDebt {
 public:
  using Ends = std::vector<std::pair<CommitSource*, Offset>>;  // a log and its committed end
  struct Paid {
    Ends logs;                 // now on stable storage up to these ends
    std::uint64_t commit = 0;  // every commit up to this number is (0: none paid)
  };

  // A commit of the writer that wrote pages succeeded. `failures`:
  // Env::flush_failures() just before it; `commit`: its number (growing);
  // `ends`: the committed ends it set. Its data flush ran after the meta
  // page of every earlier commit in the debt was written, so those are paid
  // now unless a failure came between; it joins the debt.
  Paid committed(std::uint64_t failures, std::uint64_t commit, const Ends& ends) {
    Paid paid;
    if (owed_ && failures == tag_) paid = take();
    for (const auto& e : ends) add(e);
    owed_ = true;
    tag_ = failures;
    commit_ = commit;
    return paid;
  }
  // A flush succeeded; `failures`: Env::flush_failures() just before it.
  Paid flushed(std::uint64_t failures) { return owed_ && failures == tag_ ? take() : Paid{}; }

  // Whether any commit waits for a flush.
  bool owed() const noexcept { return owed_; }
  // Whether a flush alone cannot pay it: a failure was counted since the
  // debt's newest meta page was written (write a new one first).
  bool stale(std::uint64_t failures) const noexcept { return owed_ && failures != tag_; }
  // Drops the logs `keep` rejects (drop_topic detached them).
  template <typename Keep>
  void forget_logs(Keep keep) {
    std::erase_if(logs_, [&](const auto& e) { return !keep(e.first); });
  }

 private:
  void add(const std::pair<CommitSource*, Offset>& e) {
    for (auto& l : logs_)
      if (l.first == e.first) {
        l.second = std::max(l.second, e.second);
        return;
      }
    logs_.push_back(e);
  }
  Paid take() {
    Paid p{std::move(logs_), commit_};
    logs_.clear();
    owed_ = false;
    return p;
  }

  Ends logs_;
  bool owed_ = false;
  std::uint64_t tag_ = 0;     // flush failures counted before the newest commit's
  std::uint64_t commit_ = 0;  // the newest commit in the debt
};

}  // namespace weir::internal
