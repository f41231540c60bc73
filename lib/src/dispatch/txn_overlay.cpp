#include "dispatch/txn_overlay.hpp"

#include <algorithm>

#include "journal/format.hpp"

namespace weir::internal {

namespace {
// At most this many write sets wait for the writer (a lower bound, 64 or
// 256, did not pay in s1: see docs/performance.md).
constexpr std::uint64_t kMaxUncommitted = 4096;
// Idle entries kept for reuse (about 100 bytes each plus their buffers);
// past this, committed entries are freed.
constexpr std::size_t kMaxIdleEntries = 65536;
}  // namespace

void DedupeScope::join(const TxnOverlay* o) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (std::find(members_.begin(), members_.end(), o) != members_.end()) return;
  members_.push_back(o);
  members_n_.store(members_.size(), std::memory_order_relaxed);
}

void DedupeScope::leave(const TxnOverlay* o) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  members_.erase(std::remove(members_.begin(), members_.end(), o), members_.end());
  members_n_.store(members_.size(), std::memory_order_relaxed);
}

void DedupeScope::find_in_others(const TxnOverlay* self, std::span<const std::string> keys,
                                 std::span<const std::uint64_t> hashes, std::span<char> seen) const {
  if (!has_others()) return;
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const TxnOverlay* o : members_)
    if (o != self) o->mark_held(keys, hashes, seen);
}

bool DedupeScope::others_hold(const TxnOverlay* self, std::string_view key, std::uint64_t hash) const {
  if (!has_others()) return false;
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const TxnOverlay* o : members_)
    if (o != self && o->holds(key, hash)) return true;
  return false;
}

TxnOverlay::TxnOverlay(Journal* journal, std::string group, std::string topic, std::chrono::seconds dedupe_window,
                       std::uint32_t partitions, std::shared_ptr<DedupeScope> scope)
    : journal_(journal),
      group_(std::move(group)),
      topic_(std::move(topic)),
      dedupe_window_(dedupe_window),
      scope_(scope ? std::move(scope) : std::make_shared<DedupeScope>()),
      partition_uncommitted_(partitions, 0) {}

TxnOverlay::~TxnOverlay() {
  scope_->leave(this);
  table_.for_each([](Entry* e) { delete e; });
  for (Entry* e : free_) delete e;
}

void TxnOverlay::attach() {
  {
    std::lock_guard<std::mutex> lock(sink_ref_->mu);
    sink_ref_->sink = this;
  }
  scope_->join(this);
}

void TxnOverlay::detach() {
  scope_->leave(this);
  std::lock_guard<std::mutex> lock(sink_ref_->mu);
  sink_ref_->sink = nullptr;
}

bool TxnOverlay::holds(std::string_view key, std::uint64_t hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.find(key, hash) != nullptr;
}

void TxnOverlay::mark_held(std::span<const std::string> keys, std::span<const std::uint64_t> hashes,
                           std::span<char> seen) const {
  // Every key's slot is prefetched before the first probe, so a batch's
  // cache misses overlap instead of coming one after another.
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < keys.size(); ++i) table_.prefetch(hashes[i]);
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (!seen[i] && !keys[i].empty() && table_.find(keys[i], hashes[i])) seen[i] = 1;
}

std::optional<std::optional<std::string>> TxnOverlay::get(std::string_view key) const {
  const std::uint64_t h = KeyTable<Entry>::hash_of(key);  // outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* e = table_.find(key, h);
  if (!e) return std::nullopt;
  if (e->erased) return std::optional<std::string>{};
  return std::optional<std::string>(e->value);
}

Result<bool> TxnOverlay::seen(std::string_view dedupe_key) const {
  const std::uint64_t h = KeyTable<Entry>::hash_of(dedupe_key);
  // The overlays before the journal: a record committed after one was
  // looked at is in the journal by the time it is read.
  if (holds(dedupe_key, h) || scope_->others_hold(this, dedupe_key, h)) return true;
  return journal_->dedupe_seen(dedupe_key);
}

Status TxnOverlay::seen_many(std::span<const std::string> keys, std::span<std::uint64_t> hashes,
                             std::span<char> seen, std::uint64_t& generation) const {
  // Hashes outside the lock.
  for (std::size_t i = 0; i < keys.size(); ++i) hashes[i] = KeyTable<Entry>::hash_of(keys[i]);
  generation = scope_->generation();  // before any overlay is looked at
  mark_held(keys, hashes, seen);
  scope_->find_in_others(this, keys, hashes, seen);
  // After the overlays: a record committed before `generation` left its
  // overlay only after it was in the journal, so one of the two reads finds
  // it; one committed later changes the generation (in_overlay).
  return journal_->dedupe_seen_many(keys, seen);
}

std::optional<bool> TxnOverlay::in_overlay(std::string_view dedupe_key, std::uint64_t hash,
                                           std::uint64_t generation) const {
  if (holds(dedupe_key, hash) || scope_->others_hold(this, dedupe_key, hash)) return true;
  // After the lookups: a record erased before one of them counted a commit.
  if (scope_->generation() != generation) return std::nullopt;
  return false;
}

void TxnOverlay::enter(std::string_view key, std::optional<std::string_view> value, std::uint64_t seq, Pending& p) {
  const std::uint64_t h = KeyTable<Entry>::hash_of(key);
  Entry* e = table_.find(key, h);
  if (!e) {
    if (free_.empty()) {
      e = new Entry;
    } else {
      e = free_.back();
      free_.pop_back();
    }
    e->key.assign(key);  // a reused entry's buffer: no allocation if it fits
    e->hash = h;
    e->refs = 0;
    e->seq = 0;
    table_.insert(e);
  }
  e->erased = !value;
  if (value) e->value.assign(*value);
  if (e->refs == 0 || e->seq != seq) {  // first write of this key by this write set
    ++e->refs;
    p.entries.push_back(e);
  }
  e->seq = seq;
}

void TxnOverlay::add(std::uint32_t partition, Offset next, std::string_view dedupe_key, const StateWrites& writes,
                     std::unique_ptr<WriteSet>& ws) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!ws) {
    // Bound what waits for the writer: at most kMaxUncommitted batches.
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return uncommitted_ < kMaxUncommitted; });
    ws = std::make_unique<WriteSet>();
    ws->sink = sink_ref_;
    ws->seq = ++next_seq_;
    pending_[ws->seq].partition = partition;
    ++partition_uncommitted_[partition];
    ws->offsets_key = offsets_key(group_, topic_, partition);
    ws->expire_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        (std::chrono::system_clock::now() + dedupe_window_).time_since_epoch())
                        .count();
    ++uncommitted_;
  }
  ws->next = next;
  if (writes.empty() && dedupe_key.empty()) return;
  Pending& p = pending_[ws->seq];
  for (std::size_t i = 0; i < writes.size(); ++i) {
    enter(writes.key(i), writes.value(i), ws->seq, p);
    ws->writes.put(writes.key(i), writes.value(i));
  }
  if (!dedupe_key.empty()) {
    enter(dedupe_key, std::string_view(), ws->seq, p);
    ws->dedupe_keys.push_back(dedupe_key);
  }
}

void TxnOverlay::committed(std::span<const std::uint64_t> seqs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::uint64_t seq : seqs) {
      auto it = pending_.find(seq);
      if (it == pending_.end()) continue;
      --partition_uncommitted_[it->second.partition];
      // The entries were last touched by the workers: load them, and then
      // their slots, a few ahead of the one being erased.
      const std::vector<Entry*>& entries = it->second.entries;
      constexpr std::size_t kAhead = 8;
      for (std::size_t i = 0; i < std::min(kAhead, entries.size()); ++i) __builtin_prefetch(entries[i]);
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i + kAhead < entries.size()) __builtin_prefetch(entries[i + kAhead]);
        if (i + kAhead / 2 < entries.size()) table_.prefetch(entries[i + kAhead / 2]->hash);
        Entry* const e = entries[i];
        // The entry leaves once every write set that wrote it is committed:
        // its newest value is then in the journal.
        if (--e->refs != 0) continue;
        table_.erase(e);
        if (free_.size() < kMaxIdleEntries) {
          free_.push_back(e);
        } else {
          delete e;
        }
      }
      pending_.erase(it);
    }
    uncommitted_ -= seqs.size();
    scope_->count_commit();  // after the erases, under mu_ (DedupeScope)
  }
  cv_.notify_all();
}

std::uint64_t TxnOverlay::wait_committed(std::optional<std::uint32_t> partition, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto left = [&] { return partition ? partition_uncommitted_[*partition] : uncommitted_; };
  cv_.wait_for(lock, timeout, [&] {
    journal_->nudge();
    return left() == 0;
  });
  return left();
}

}  // namespace weir::internal
