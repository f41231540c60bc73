// Transactional groups: state tables, the dedupe check and write sets
// (see the Group class comment).
#include <chrono>
#include <random>

#include "dispatch/group.hpp"
#include "dlq/format.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

// State as one event's handler sees it: its own writes, then the group's
// uncommitted writes, then the journal.
class StateImpl final : public State {
 public:
  StateImpl(const Group& g, const std::string& group, Journal& j) : g_(g), group_(group), j_(j) {}

  Result<std::optional<std::string>> get(std::string_view table, std::string_view key) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    for (auto it = writes_.rbegin(); it != writes_.rend(); ++it)
      if (it->first == *k) return it->second;
    if (auto o = g_.overlay_get(*k)) return *o;
    return j_.state_get(*k);
  }
  Status put(std::string_view table, std::string_view key, std::string_view value) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    if (value.size() > (64u << 20))
      return Status::invalid_argument("state value of " + std::to_string(value.size()) + " bytes exceeds 64 MiB");
    writes_.emplace_back(std::move(k).value(), std::string(value));
    return Status::ok();
  }
  Status erase(std::string_view table, std::string_view key) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    writes_.emplace_back(std::move(k).value(), std::nullopt);
    return Status::ok();
  }
  std::vector<std::pair<std::string, std::optional<std::string>>>& writes() { return writes_; }

 private:
  Result<std::string> key_of(std::string_view table, std::string_view key) const {
    if (table.empty() || table.size() > 64)
      return Status::invalid_argument("state table name must be 1..64 characters");
    for (char c : table)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
            c == '_' || c == '-'))
        return Status::invalid_argument("state table '" + std::string(table) +
                                        "' has a character outside [A-Za-z0-9._-]");
    if (group_.size() + table.size() + key.size() + 2 > 500)
      return Status::invalid_argument("state key of " + std::to_string(key.size()) +
                                      " bytes is too long for table '" + std::string(table) +
                                      "' (group, table and key must fit in 500 bytes)");
    return state_key(group_, table, key);
  }

  const Group& g_;
  const std::string& group_;
  Journal& j_;
  std::vector<std::pair<std::string, std::optional<std::string>>> writes_;
};

std::optional<std::optional<std::string>> Group::overlay_get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(overlay_mu_);
  auto it = overlay_.find(key);
  if (it == overlay_.end()) return std::nullopt;
  return it->second.first;
}

Group::Verdict Group::serve_txn(PartitionState& ps, WorkerContext& w, Attempts& a, const Message& m,
                               std::unique_ptr<WriteSet>& ws) {
  if (redriven_for_other(m, options_.group)) {
    add_to_write_set(ps, m, {}, {}, ws);
    return Verdict::kPassed;
  }
  std::string dkey;
  if (options_.dedupe || invoker_.is_state_handler()) {
    dkey = dedupe_key(options_.group, m.id());
    bool seen;
    {
      std::lock_guard<std::mutex> lock(overlay_mu_);
      seen = overlay_.count(dkey) != 0;
    }
    if (!seen) {
      auto stored = journal_->dedupe_seen(dkey);
      if (!stored) {
        ps.cur.retry_at = Clock::now() + std::chrono::milliseconds(5);  // transient: read again soon
        return Verdict::kWait;
      }
      seen = *stored;
    }
    if (seen) {
      // A redelivered duplicate: ack it (its offset moves on) without
      // calling the handler.
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      add_to_write_set(ps, m, {}, {}, ws);
      return Verdict::kPassed;
    }
  }
  StateImpl state(*this, options_.group, *journal_);
  const Outcome o = call(w, m, &state);
  if (!o.is_done()) {
    // Retry or fail: the event's writes are dropped. Dead-lettered: its
    // offset still moves on with the batch (no dedupe record, so a redrive
    // of the same id is handled).
    if (!apply(ps, a, m, o)) return ps.stopped.load(std::memory_order_relaxed) ? Verdict::kStopped : Verdict::kLater;
    add_to_write_set(ps, m, {}, {}, ws);
    return Verdict::kPassed;
  }
  a.succeeded();
  add_to_write_set(ps, m, std::move(dkey), std::move(state.writes()), ws);
  return Verdict::kPassed;
}

void Group::add_to_write_set(PartitionState& ps, const Message& m, std::string dedupe_key,
                             std::vector<std::pair<std::string, std::optional<std::string>>>&& writes,
                             std::unique_ptr<WriteSet>& ws) {
  std::unique_lock<std::mutex> lock(overlay_mu_);
  if (!ws) {
    // Bound what waits for the writer: at most 4,096 uncommitted batches.
    overlay_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return uncommitted_ < 4096; });
    ws = std::make_unique<WriteSet>();
    ws->sink = sink_ref_;
    ws->seq = ++next_seq_;
    ws_partition_[ws->seq] = ps.index;
    ++ps.uncommitted_ws;
    ws->offsets_key = offsets_key(options_.group, topic_->name(), ps.index);
    ws->expire_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        (std::chrono::system_clock::now() + options_.dedupe_window).time_since_epoch())
                        .count();
    ++uncommitted_;
  }
  ws->next = m.offset() + 1;
  if (writes.empty() && dedupe_key.empty()) return;
  auto& keys = overlay_keys_[ws->seq];
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

void Group::committed(std::span<const std::uint64_t> seqs) {
  {
    std::lock_guard<std::mutex> lock(overlay_mu_);
    for (const std::uint64_t seq : seqs) {
      if (auto wp = ws_partition_.find(seq); wp != ws_partition_.end()) {
        --parts_[wp->second]->uncommitted_ws;
        ws_partition_.erase(wp);
      }
      auto it = overlay_keys_.find(seq);
      if (it != overlay_keys_.end()) {
        for (const auto& k : it->second) {
          auto o = overlay_.find(k);
          // A later write set may have overwritten the key: keep that one.
          if (o != overlay_.end() && o->second.second == seq) overlay_.erase(o);
        }
        overlay_keys_.erase(it);
      }
    }
    uncommitted_ -= seqs.size();
  }
  overlay_cv_.notify_all();
}

}  // namespace weir::internal
