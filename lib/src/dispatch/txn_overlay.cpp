#include "dispatch/txn_overlay.hpp"

#include "journal/format.hpp"

namespace weir::internal {

namespace {
// At most this many write sets wait for the writer (a lower bound, 64 or
// 256, did not pay in s1: see docs/performance.md).
constexpr std::uint64_t kMaxUncommitted = 4096;
}  // namespace

TxnOverlay::TxnOverlay(Journal* journal, std::string group, std::string topic, std::chrono::seconds dedupe_window,
                       std::uint32_t partitions)
    : journal_(journal),
      group_(std::move(group)),
      topic_(std::move(topic)),
      dedupe_window_(dedupe_window),
      partition_uncommitted_(partitions, 0) {}

void TxnOverlay::attach() {
  std::lock_guard<std::mutex> lock(sink_ref_->mu);
  sink_ref_->sink = this;
}

void TxnOverlay::detach() {
  std::lock_guard<std::mutex> lock(sink_ref_->mu);
  sink_ref_->sink = nullptr;
}

std::optional<std::optional<std::string>> TxnOverlay::get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = overlay_.find(key);
  if (it == overlay_.end()) return std::nullopt;
  return it->second.value;
}

Result<bool> TxnOverlay::seen(const std::string& dedupe_key) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (overlay_.count(dedupe_key) != 0) return true;
  }
  return journal_->dedupe_seen(dedupe_key);
}

Status TxnOverlay::seen_many(std::span<const std::string> keys, std::span<char> seen,
                             std::uint64_t& generation) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = commits_;
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (!keys[i].empty() && overlay_.count(keys[i]) != 0) seen[i] = 1;
  }
  // After the overlay: a record committed before `generation` left the
  // overlay only after it was in the journal, so one of the two reads finds
  // it; one committed later changes the generation (in_overlay).
  return journal_->dedupe_seen_many(keys, seen);
}

std::optional<bool> TxnOverlay::in_overlay(const std::string& dedupe_key, std::uint64_t generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (overlay_.count(dedupe_key) != 0) return true;
  if (commits_ != generation) return std::nullopt;
  return false;
}

void TxnOverlay::enter(const std::string& key, std::optional<std::string> value, std::uint64_t seq, Pending& p) {
  auto [it, fresh] = overlay_.try_emplace(key);
  Entry& e = it->second;
  e.value = std::move(value);
  if (fresh || e.seq != seq) {  // first write of this key by this write set
    ++e.refs;
    p.entries.push_back(&*it);
  }
  e.seq = seq;
}

void TxnOverlay::add(std::uint32_t partition, Offset next, std::string dedupe_key, Writes&& writes,
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
  for (auto& [k, v] : writes) {
    enter(k, v, ws->seq, p);
    ws->writes.emplace_back(std::move(k), std::move(v));
  }
  if (!dedupe_key.empty()) {
    enter(dedupe_key, std::string(), ws->seq, p);
    ws->dedupe_keys.push_back(std::move(dedupe_key));
  }
}

void TxnOverlay::committed(std::span<const std::uint64_t> seqs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::uint64_t seq : seqs) {
      auto it = pending_.find(seq);
      if (it == pending_.end()) continue;
      --partition_uncommitted_[it->second.partition];
      for (Map::value_type* e : it->second.entries) {
        // The entry leaves once every write set that wrote it is committed:
        // its newest value is then in the journal.
        if (--e->second.refs == 0) overlay_.erase(overlay_.find(e->first));
      }
      pending_.erase(it);
    }
    uncommitted_ -= seqs.size();
    ++commits_;
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
