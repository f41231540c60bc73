// The journal's group-commit writer (see journal.hpp): one thread that takes
// what the partitions, groups and write sets hand in, appends it in one
// LMDB transaction per cycle, grows the map when full, applies retention
// between cycles, and wakes those waiting for a cycle.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <unordered_map>

#include "journal/batch.hpp"
#include "journal/format.hpp"
#include "journal/journal.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {

constexpr auto kStalledRetry = std::chrono::milliseconds(100);
constexpr auto kRetentionInterval = std::chrono::milliseconds(100);

}  // namespace

Journal::CycleWait Journal::await_cycle(const std::atomic<std::uint64_t>& counter, std::uint64_t target,
                                        std::chrono::milliseconds timeout) {
  bell_.ring();
  std::unique_lock<std::mutex> lock(commit_mu_);
  const bool woke = commit_cv_.wait_for(lock, timeout, [&] {
    return counter.load(std::memory_order_acquire) >= target || stop_.load(std::memory_order_acquire);
  });
  if (counter.load(std::memory_order_acquire) >= target) return CycleWait::kReached;
  return woke ? CycleWait::kStopped : CycleWait::kTimedOut;
}

Status Journal::wait_cycle(std::uint64_t target, std::chrono::milliseconds timeout) {
  if (stop_.load(std::memory_order_acquire)) return Status::closed("journal is stopped");
  // Tell the writer a cycle is wanted (it re-checks this after announcing
  // itself asleep, so the ring in await_cycle cannot be missed).
  std::uint64_t wanted = cycle_wanted_.load(std::memory_order_relaxed);
  while (wanted < target &&
         !cycle_wanted_.compare_exchange_weak(wanted, target, std::memory_order_seq_cst)) {
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  CycleWait w = await_cycle(cycle_done_, target, timeout);
  if (w == CycleWait::kReached) {
    // Then on stable storage: every commit made so far (the one that
    // persisted the offsets among them) one flush later.
    const std::uint64_t made = commits_made_.load(std::memory_order_acquire);
    want_flush();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    w = await_cycle(flushed_commit_, made, std::max(left, std::chrono::milliseconds(0)));
  }
  switch (w) {
    case CycleWait::kReached:
      return Status::ok();
    case CycleWait::kTimedOut: {
      std::string why = "offsets were not persisted within " + std::to_string(timeout.count()) + " ms";
      if (Status e = error(); !e) why += " (journal: " + e.to_string() + ")";
      return Status::deadline_exceeded(why);
    }
    case CycleWait::kStopped:
      break;
  }
  return Status::closed("journal stopped before the offsets were persisted");
}

Status Journal::wait_cycle_ended(std::uint64_t target, std::chrono::milliseconds timeout) {
  switch (await_cycle(cycle_ended_, target, timeout)) {
    case CycleWait::kReached:
      return Status::ok();
    case CycleWait::kTimedOut:
      return Status::deadline_exceeded("no writer cycle ended within " + std::to_string(timeout.count()) + " ms");
    case CycleWait::kStopped:
      break;
  }
  return Status::closed("the journal writer stopped");
}

void Journal::take_offsets(std::vector<std::pair<std::string, Offset>>& out) {
  MutexLock lock(mu_);
  // The final offsets of untracked groups first: a group tracked again
  // later writes over them.
  for (auto& f : final_offsets_) out.push_back(std::move(f));
  final_offsets_.clear();
  for (OffsetSource* src : sources_) {
    if (src->offsets_in_write_sets()) continue;
    auto now = src->current_offsets();  // acquire loads of the group's cursors
    auto it = std::find_if(persisted_.begin(), persisted_.end(), [&](const auto& e) { return e.first == src; });
    for (std::uint32_t p = 0; p < now.size(); ++p) {
      if (it != persisted_.end() && p < it->second.size() && it->second[p] == now[p]) continue;
      out.emplace_back(offsets_key(src->group_name(), src->topic_name(), p), now[p]);
    }
    if (it == persisted_.end()) {
      persisted_.emplace_back(src, std::move(now));
    } else {
      it->second = std::move(now);
    }
  }
}

Status Journal::put_offset(MDB_txn* txn, std::string_view key, Offset next) {
  char be[8];
  put_be64(be, next);
  MDB_val k = as_val(key), v{8, be};
  if (int rc = lmdb_put(txn, offsets_dbi_, &k, &v, 0)) return lmdb_status(rc, "persist group offsets");
  return Status::ok();
}

Status Journal::append_batches(MDB_txn* txn, std::vector<Work>& work) {
  for (Work& w : work) {
    const JournalLog& log = w.src->journal_log();
    w.stored = 0;
    for (std::uint32_t i = 0; i < w.n;) {
      // Records [i, j): as many as fit in batch_limit_ (at least one).
      std::uint32_t j = i;
      std::size_t bytes = sizeof(BatchHeader);
      for (; j < w.n; ++j) {
        const std::size_t b = kRecordFrame + w.src->record(w.from + j).size();
        if (j > i && bytes + b > batch_limit_) break;
        bytes += b;
      }
      char key[8];
      put_be64(key, w.from + i);
      MDB_val k{8, key}, v{bytes, nullptr};
      if (int rc = lmdb_put(txn, log.dbi(), &k, &v, MDB_RESERVE | MDB_APPEND))
        return lmdb_status(rc, "append to topic '" + log.topic() + "' partition " + std::to_string(log.partition()));
      char* out = static_cast<char*>(v.mv_data);
      BatchHeader h{kBatchMagic, j - i, w.from + i, 0, static_cast<std::uint32_t>(bytes), 0};
      std::size_t pos = sizeof h;
      for (; i < j; ++i) {
        const std::string_view rec = w.src->record(w.from + i);
        h.max_time_us = std::max(h.max_time_us, record_time_us(rec.data()));
        pos += frame_record(out + pos, rec.data(), static_cast<std::uint32_t>(rec.size()));
      }
      seal_batch_header(h);
      std::memcpy(out, &h, sizeof h);
      w.stored += bytes;
    }
  }
  return Status::ok();
}

void Journal::take_cycle(std::uint64_t cycle) {
  Taken t;
  t.cycle = cycle;
  {
    // Bounded intake: at most 65,536 write sets wait in taken_.
    WriteSet* got[256];
    std::size_t n;
    while (taken_ws_ < 65536 && (n = ws_queue_.try_dequeue_bulk(got, 256)) > 0) {
      for (std::size_t i = 0; i < n; ++i) staged_.emplace_back(got[i]);
      taken_ws_ += n;
      ws_taken_.fetch_add(n, std::memory_order_acq_rel);
    }
  }
  // Place follow-ups in write-set order; one that finds a ring full waits
  // (and the write sets behind it), so a group's write sets stay in order.
  while (!staged_.empty()) {
    WriteSet& ws = *staged_.front();
    if (ws.follow_ups && !ws.follow_ups->place(ws.placed)) break;
    t.write_sets.push_back(std::move(staged_.front()));
    staged_.pop_front();
    ws_placed_.fetch_add(1, std::memory_order_seq_cst);
  }
  take_offsets(t.offsets);
  if (t.write_sets.empty() && t.offsets.empty()) return;
  // After the takes above: a handler's publish (claim, a seq_cst CAS on the
  // ring's tail) happens-before its write set's enqueue or its cursor's
  // release store, which happen-before our dequeue or acquire load; so the
  // acquire loads of published_end() below see every such claim. The logs
  // as they are now, not as this cycle began: a topic attached since (and
  // a claim in it) may come before an offset taken above.
  std::vector<CommitSource*> logs;
  {
    MutexLock lock(mu_);
    logs = logs_;
  }
  for (CommitSource* src : logs) {
    const Offset end = src->published_end();
    if (end > src->journal_log().committed()) t.reach.emplace_back(src, end);
  }
  taken_.push_back(std::move(t));
}

std::size_t Journal::fence_appends(std::vector<Work>& work) const {
  // How far each log is committed once this transaction is.
  auto after = [&](CommitSource* src) {
    for (const Work& w : work)
      if (w.src == src) return w.from + w.n;
    return src->journal_log().committed();
  };
  for (;;) {
    // The takes whose records all go in with this commit (or already are):
    // a prefix, since reach only grows from one take to the next. The others
    // wait for a later commit (the limits cut their records, or a producer
    // has not finished writing a slot it claimed).
    std::size_t ready = 0;
    for (const Taken& t : taken_) {
      const bool covered = std::all_of(t.reach.begin(), t.reach.end(),
                                       [&](const auto& r) { return after(r.first) >= r.second; });
      if (!covered) break;
      ++ready;
    }
    // Follow-ups of write sets that do not commit now stay out: cut each
    // log before the first of them (a later take's follow-ups lie at or
    // past every earlier take's reach, so the prefix above stays covered;
    // the loop re-checks that anyway).
    bool cut = false;
    auto fence = [&](const WriteSet& ws) {
      for (const auto& [src, off] : ws.placed)
        for (Work& w : work)
          if (w.src == src && w.from + w.n > off) {
            w.n = static_cast<std::uint32_t>(off > w.from ? off - w.from : 0);
            cut = true;
          }
    };
    for (std::size_t i = ready; i < taken_.size(); ++i)
      for (const auto& ws : taken_[i].write_sets) fence(*ws);
    for (const auto& ws : staged_) fence(*ws);
    if (!cut) return ready;
    // Recompute the bytes of what was cut and drop emptied batches.
    for (Work& w : work) {
      w.bytes = sizeof(BatchHeader);
      for (std::uint32_t i = 0; i < w.n; ++i) w.bytes += kRecordFrame + w.src->record(w.from + i).size();
    }
    work.erase(std::remove_if(work.begin(), work.end(), [](const Work& w) { return w.n == 0; }), work.end());
  }
}

void Journal::forget_detached(const std::vector<CommitSource*>& logs) {
  auto gone = [&](const std::pair<CommitSource*, Offset>& r) {
    return std::find(logs.begin(), logs.end(), r.first) == logs.end();
  };
  for (Taken& t : taken_) {
    std::erase_if(t.reach, gone);
    for (auto& ws : t.write_sets) std::erase_if(ws->placed, gone);
  }
  for (auto& ws : staged_) std::erase_if(ws->placed, gone);
  debt_.forget_logs([&](CommitSource* src) { return std::find(logs.begin(), logs.end(), src) != logs.end(); });
}

std::vector<CommitSource*> Journal::cycle_logs() {
  std::vector<CommitSource*> logs;
  std::uint64_t detached = 0;
  {
    MutexLock lock(mu_);
    logs = logs_;
    detached = detached_;
  }
  if (detached != detached_seen_) {
    forget_detached(logs);
    detached_seen_ = detached;
  }
  return logs;
}

std::size_t Journal::select_work(const std::vector<CommitSource*>& logs, std::size_t budget,
                                 std::vector<Work>& work) const {
  work.clear();
  std::size_t total_bytes = 0;
  for (CommitSource* src : logs) {
    // The writer is the only one moving committed(): it is where appends continue.
    const Offset from = src->journal_log().committed();
    // The oldest take's records go in whole, past the batch limit and the
    // byte budget if need be (at most a ring's worth), so that it, and the
    // follow-ups of its write sets with it, can always commit.
    Offset must = from;
    if (!taken_.empty())
      for (const auto& [log, end] : taken_.front().reach)
        if (log == src) must = std::max(must, end);
    const auto want = static_cast<std::uint32_t>(
        std::max<Offset>(options_.journal_max_batch_events, std::min<Offset>(must - from, ~std::uint32_t{0})));
    const std::uint32_t n = src->ready(from, want);
    if (n == 0) continue;
    std::size_t bytes = sizeof(BatchHeader);
    std::uint32_t take = 0;
    // The first record overall goes in whatever the budget: a commit that
    // finds no room shrinks its budget to one record (commit_once).
    while (take < n && (from + take < must || (take < options_.journal_max_batch_events &&
                                                (total_bytes + bytes < budget || (work.empty() && take == 0))))) {
      bytes += kRecordFrame + src->record(from + take).size();
      ++take;
    }
    if (take == 0) continue;
    work.push_back(Work{src, from, take, bytes});
    total_bytes += bytes;
  }
  return total_bytes;
}

bool Journal::make_room() {
  auto cut = enforce_retention();
  auto purged = purge_dedupe();
  if (!(cut && *cut > 0) && !(purged && *purged > 0)) return false;
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  reuse_freed_pages();
  return true;
}

void Journal::reuse_freed_pages() { (void)bump_meta(nullptr); }

std::size_t Journal::publish_commit(const std::vector<Work>& work, bool wrote, std::uint64_t failures_before) {
  std::size_t events = 0;
  FlushDebt::Ends ends;
  for (const Work& w : work) {
    JournalLog& log = w.src->journal_log();
    log.bytes_.fetch_add(w.stored, std::memory_order_acq_rel);
    // Release: pairs with readers' acquire of committed(); what they then
    // read from LMDB below it is committed.
    log.committed_.store(w.from + w.n, std::memory_order_release);
    w.src->journaled(w.from + w.n);
    ends.emplace_back(w.src, w.from + w.n);
    events += w.n;
  }
  if (wrote) {
    const std::uint64_t made = commits_made_.load(std::memory_order_relaxed) + 1;
    commits_made_.store(made, std::memory_order_release);
    pay(debt_.committed(failures_before, made, ends));
  }
  return events;
}

Result<std::size_t> Journal::commit_once(bool final_pass, std::uint64_t cycle) {
  const std::vector<CommitSource*> logs = cycle_logs();
  // Take write sets and offsets first, then the records: a commit that
  // makes an offset durable holds every event published before it moved.
  take_cycle(cycle);

  std::vector<Work> work;
  std::size_t total_bytes = select_work(logs, txn_budget_, work);
  std::size_t ready_takes = fence_appends(work);
  if (work.empty() && ready_takes == 0 && !final_pass) {
    durable_cycle_ = taken_.empty() ? cycle : taken_.front().cycle - 1;
    return std::size_t{0};
  }

  int room_retries = 0;  // retries because make_room() freed something
  std::uint64_t failures_before = 0;  // Env::flush_failures() before the commit
  for (int grown = 0;;) {
    Status failed;
    {
      std::shared_lock<ResizeMutex> rl(resize_mu_);
      Txn txn;
      if (Status s = txn.begin(env_->get(), 0); !s) return s;
      failed = append_batches(txn.get(), work);
      for (std::size_t i = 0; i < ready_takes && failed.is_ok(); ++i) {
        failed = apply_write_sets(txn.get(), taken_[i].write_sets);
        for (const auto& [key, off] : taken_[i].offsets)
          if (failed.is_ok()) failed = put_offset(txn.get(), key, off);
      }
      if (failed.is_ok()) failed = env_->commit(txn, Env::MetaFlush::kLater, &failures_before);
    }
    if (failed.is_ok()) break;
    // MAP_FULL: grow (at most 8 times a cycle) and retry; at the cap, no
    // room; anything else: report (the caller retries; the takes stay queued).
    bool no_room = false;
    if (is_map_full(failed)) {
      if (at_cap()) {
        failed = full_at_cap();
        no_room = true;
      } else if (grown < 8) {
        ++grown;
        failed = grow_map(total_bytes);
        if (failed.is_ok()) continue;
      }
    } else {
      // LMDB reports a write cut short by a full disk as EIO: say what it is.
      failed = name_full_disk(std::move(failed), dir(), total_bytes, &no_room);
    }
    if (!no_room) return failed;
    // No room (the cap, a full disk): let retention and the dedupe purge
    // delete what they may now rather than at their interval, and retry.
    // If that is not enough (nothing to delete, or the freed pages lie in
    // runs too short for this commit's record batches, which LMDB stores in
    // contiguous pages), commit a smaller part: the rest stays queued for
    // the next cycle. The error is reported only when neither helps. Bounded:
    // at most 4 retries for room made (age limits and dedupe expiry free a
    // little more each time the clock moves), and each shrink halves.
    const bool freed = room_retries < 4 && make_room();
    if (freed && room_retries++ == 0) continue;
    if (total_bytes > 0) {  // a commit of write sets or offsets alone has nothing to shrink
      const std::size_t before = total_bytes;
      txn_budget_ = std::max<std::size_t>(1, before / 2);
      total_bytes = select_work(logs, txn_budget_, work);
      ready_takes = fence_appends(work);
      if (work.empty() && ready_takes == 0) return failed;
      if (total_bytes < before) continue;
    }
    if (freed) continue;
    return failed;
  }
  txn_budget_ = std::min(kMaxTxnBytes, txn_budget_ * 2);

  // Only a commit that wrote pages flushed the file (LMDB skips an empty
  // one); a ready take always writes (write sets and offsets are puts).
  std::size_t total_events = publish_commit(work, !work.empty() || ready_takes > 0, failures_before);
  // One report per sink per commit (each takes the sink's lock once).
  std::unordered_map<SinkRef*, std::vector<std::uint64_t>> by_sink;
  for (std::size_t i = 0; i < ready_takes; ++i) {
    for (const auto& ws : taken_[i].write_sets) by_sink[ws->sink.get()].push_back(ws->seq);
    total_events += taken_[i].write_sets.size();
    taken_ws_ -= taken_[i].write_sets.size();
  }
  for (auto& [ref, seqs] : by_sink) {
    std::lock_guard<std::mutex> lock(ref->mu);
    if (ref->sink) ref->sink->committed(seqs);
  }
  taken_.erase(taken_.begin(), taken_.begin() + static_cast<std::ptrdiff_t>(ready_takes));
  durable_cycle_ = taken_.empty() ? cycle : taken_.front().cycle - 1;
  return total_events;
}

bool Journal::at_cap() const {
  return options_.journal_max_bytes && map_size_ >= options_.journal_max_bytes;
}

Status Journal::full_at_cap() const {
  return Status::resource_exhausted("journal is full: it reached Options::journal_max_bytes = " +
                                    std::to_string(options_.journal_max_bytes) + " bytes");
}

Status Journal::grow_map(std::size_t needed_hint) {
  std::unique_lock<ResizeMutex> wl(resize_mu_);  // no transaction is active now
  // Below the cap (the caller checked at_cap()), so the map does grow.
  std::size_t next = std::max(map_size_ * 2, map_size_ + needed_hint * 2);
  if (options_.journal_max_bytes && next > options_.journal_max_bytes) next = options_.journal_max_bytes;
  int rc = injected_fault(FaultPoint::kGrowMap);
  if (!rc) rc = mdb_env_set_mapsize(env_->get(), next);
  if (rc) return lmdb_status(rc, "grow journal map");
  map_size_ = next;
  return Status::ok();
}

std::size_t Journal::TEST_map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_->get(), &info);
  return info.me_mapsize;
}

void Journal::writer_main() {
  auto next_retention = std::chrono::steady_clock::now();
  bool flush_failing = false;  // the last flush_owed failed
  bool last_ok = true;         // the last commit_once succeeded
  // Flushes what is owed; false (error set, after the stalled retry's
  // pause) when that failed.
  auto flush = [&] {
    if (Status f = flush_owed(); !f) {
      set_error(f);
      flush_failing = true;
      const std::uint32_t e = bell_.prepare();
      bell_.wait(e, kStalledRetry);
      bell_.finish();
      return false;
    }
    if (flush_failing) set_error(Status::ok());
    flush_failing = false;
    return true;
  };
  while (true) {
    const bool stopping = stop_.load(std::memory_order_acquire);
    // seq_cst RMW then a seq_cst fence, before commit_once reads the
    // cursors (acquire loads): see wait_offsets_durable().
    const std::uint64_t cycle = cycle_started_.fetch_add(1, std::memory_order_seq_cst) + 1;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    auto r = commit_once(stopping, cycle);
    last_ok = r.is_ok();
    // A commit that succeeds does not clear a failed flush: that clears
    // when a flush succeeds (flush_owed below).
    if (!r || !flush_failing) set_error(r ? Status::ok() : r.status());
    {
      std::lock_guard<std::mutex> lock(commit_mu_);
      // Not `cycle` itself while an older take waits for its records.
      if (r) cycle_done_.store(durable_cycle_, std::memory_order_release);
      cycle_ended_.store(cycle, std::memory_order_release);  // committed or not: drop_topic
    }
    commit_cv_.notify_all();
    if (!r) {
      if (stopping) break;  // give up: what is unwritten was never acknowledged
      const std::uint32_t e = bell_.prepare();
      bell_.wait(e, kStalledRetry);
      bell_.finish();
      continue;
    }
    // Retention and the dedupe purge run on their interval even while every
    // cycle commits something: a busy topic must not keep another topic's
    // limits from cutting, nor expired dedupe records from going.
    bool more_cleanup = false;
    if (!stopping && std::chrono::steady_clock::now() >= next_retention) {
      auto cut = enforce_retention();
      if (!cut) set_error(cut.status());
      auto purged = purge_dedupe();
      if (!purged) set_error(purged.status());
      // Come back soon while either may have more to delete (each pass is
      // bounded); otherwise after the interval.
      more_cleanup = (cut && *cut > 0) || (purged && *purged > 0);
      next_retention = std::chrono::steady_clock::now() +
                       (more_cleanup ? std::chrono::milliseconds(0) : kRetentionInterval);
    }
    // An fsync ack or a synchronous offset commit waits: flush now rather
    // than with the next commit (which would hold this commit's acks for a
    // whole cycle while producers' windows stay full, or a retention
    // backlog's passes go first). Without one, the next commit's data
    // flush pays for this one.
    if (debt_.owed() && health_->take_flush_request() && !flush()) continue;
    if (*r > 0 || more_cleanup) continue;  // more may be waiting
    if (stopping) break;
    // Nothing more to commit now: put what the last commits left unflushed
    // on stable storage before sleeping; on failure retry as a stalled
    // commit does.
    if (!flush()) continue;
    const std::uint32_t e = bell_.prepare();
    bool work = false;
    {
      MutexLock lock(mu_);
      for (CommitSource* src : logs_) {
        if (work) break;
        work = src->pending(src->journal_log().committed());
      }
      work = work || !final_offsets_.empty() ||
             ws_submitted_.load(std::memory_order_seq_cst) > ws_taken_.load(std::memory_order_acquire) ||
             cycle_wanted_.load(std::memory_order_seq_cst) > cycle_done_.load(std::memory_order_acquire);
    }
    if (!work && !stop_.load(std::memory_order_acquire))
      bell_.wait(e, options_.offset_commit_interval);
    bell_.finish();
  }
  // The last commits' meta page (the bus is closing: a power loss after
  // close must not undo what it acknowledged at kJournal either). A flush
  // that fails again is the close's error; one that succeeds clears an
  // earlier flush failure, unless the last commit failed.
  if (Status f = flush_owed(); !f || (flush_failing && last_ok)) set_error(f);
  {
    std::lock_guard<std::mutex> lock(commit_mu_);  // waiters see stop_ and leave
  }
  commit_cv_.notify_all();
}

void Journal::stop() {
  if (stop_.exchange(true, std::memory_order_acq_rel)) {
    if (writer_.joinable()) writer_.join();
    return;
  }
  bell_.ring();
  if (writer_.joinable()) writer_.join();
}

}  // namespace weir::internal
