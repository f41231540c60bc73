// The journal writer's flushes (see journal/flush_debt.hpp and the
// "Commits" comment of journal/env.hpp): paying the flush debt, flushing
// what is owed, and the meta-page-only transaction both use.
#include <mutex>
#include <shared_mutex>

#include "journal/journal.hpp"

namespace weir::internal {

void Journal::pay(const FlushDebt::Paid& paid) {
  if (paid.commit == 0) return;
  for (const auto& [src, end] : paid.logs) {
    // Release: pairs with fsync-ack waiters' acquire of flushed().
    src->journal_log().flushed_.store(end, std::memory_order_release);
    src->flushed();
  }
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    flushed_commit_.store(paid.commit, std::memory_order_release);
  }
  commit_cv_.notify_all();
}

Status Journal::flush_owed() {
  // A commit or flush that fails meanwhile (another thread's) makes the
  // debt stale again: retry a few times, then report it.
  for (int attempt = 0; debt_.owed(); ++attempt) {
    if (attempt == 3) return Status::io_error("journal flush: flushes of other commits kept failing meanwhile");
    if (debt_.stale(env_->flush_failures())) {
      // A commit or flush failed since the debt's newest meta page was
      // written, which may have dropped it: write a newer one (it holds
      // every earlier commit), then flush that.
      std::uint64_t failures = 0;
      auto bump = [&] {
        std::shared_lock<ResizeMutex> rl(resize_mu_);
        return bump_meta(&failures);
      };
      Status s = bump();
      // A full map grows here too (no group commit may come to grow it).
      if (is_map_full(s) && !at_cap() && (s = grow_map(0)).is_ok()) s = bump();
      if (!s) return s;
      pay(debt_.committed(failures, commits_made_.load(std::memory_order_relaxed), {}));
    }
    std::uint64_t failures = 0;
    if (Status s = env_->flush(&failures); !s) return s;
    pay(debt_.flushed(failures));
  }
  return Status::ok();
}

Status Journal::bump_meta(std::uint64_t* failures_before) {
  Txn bump;
  if (Status s = bump.begin(env_->get(), 0); !s) return s;
  if (Status s = write_version(bump.get(), meta_dbi_); !s) return s;
  return env_->commit(bump, Env::MetaFlush::kLater, failures_before);
}

}  // namespace weir::internal
