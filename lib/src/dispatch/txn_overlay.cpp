#include "dispatch/txn_overlay.hpp"

#include "journal/format.hpp"

namespace weir::internal {

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
  return it->second.first;
}

Result<bool> TxnOverlay::seen(const std::string& dedupe_key) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (overlay_.count(dedupe_key) != 0) return true;
  }
  return journal_->dedupe_seen(dedupe_key);
}

void TxnOverlay::add(std::uint32_t partition, Offset next, std::string dedupe_key, Writes&& writes,
                     std::unique_ptr<WriteSet>& ws) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!ws) {
    // Bound what waits for the writer: at most 4,096 uncommitted batches.
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return uncommitted_ < 4096; });
    ws = std::make_unique<WriteSet>();
    ws->sink = sink_ref_;
    ws->seq = ++next_seq_;
    ws_partition_[ws->seq] = partition;
    ++partition_uncommitted_[partition];
    ws->offsets_key = offsets_key(group_, topic_, partition);
    ws->expire_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        (std::chrono::system_clock::now() + dedupe_window_).time_since_epoch())
                        .count();
    ++uncommitted_;
  }
  ws->next = next;
  if (writes.empty() && dedupe_key.empty()) return;
  auto& keys = keys_[ws->seq];
  for (auto& [k, v] : writes) {
    overlay_[k] = {v, ws->seq};
    keys.push_back(k);
    ws->writes.emplace_back(std::move(k), std::move(v));
  }
  if (!dedupe_key.empty()) {
    overlay_[dedupe_key] = {std::string(), ws->seq};
    keys.push_back(dedupe_key);
    ws->dedupe_keys.push_back(std::move(dedupe_key));
  }
}

void TxnOverlay::committed(std::span<const std::uint64_t> seqs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::uint64_t seq : seqs) {
      if (auto wp = ws_partition_.find(seq); wp != ws_partition_.end()) {
        --partition_uncommitted_[wp->second];
        ws_partition_.erase(wp);
      }
      auto it = keys_.find(seq);
      if (it != keys_.end()) {
        for (const auto& k : it->second) {
          auto o = overlay_.find(k);
          // A later write set may have overwritten the key: keep that one.
          if (o != overlay_.end() && o->second.second == seq) overlay_.erase(o);
        }
        keys_.erase(it);
      }
    }
    uncommitted_ -= seqs.size();
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
