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
  StateImpl(const TxnOverlay& overlay, const std::string& group, Journal& j) : overlay_(overlay), group_(group), j_(j) {}

  Result<std::optional<std::string>> get(std::string_view table, std::string_view key) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    for (auto it = writes_.rbegin(); it != writes_.rend(); ++it)
      if (it->first == *k) return it->second;
    if (auto o = overlay_.get(*k)) return *o;
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

  const TxnOverlay& overlay_;
  const std::string& group_;
  Journal& j_;
  std::vector<std::pair<std::string, std::optional<std::string>>> writes_;
};

Group::Verdict Group::serve_txn(PartitionState& ps, WorkerContext& w, Attempts& a, const Message& m,
                               std::unique_ptr<WriteSet>& ws) {
  if (redriven_for_other(m, options_.group)) {
    overlay_.add(ps.index, m.offset() + 1, {}, {}, ws);
    return Verdict::kPassed;
  }
  std::string dkey;
  if (options_.dedupe || invoker_.is_state_handler()) {
    dkey = dedupe_key(options_.group, m.id());
    const Result<bool> seen = overlay_.seen(dkey);
    if (!seen) {
      ps.cur.retry_at = Clock::now() + std::chrono::milliseconds(5);  // transient: read again soon
      return Verdict::kWait;
    }
    if (*seen) {
      // A redelivered duplicate: ack it (its offset moves on) without
      // calling the handler.
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      overlay_.add(ps.index, m.offset() + 1, {}, {}, ws);
      return Verdict::kPassed;
    }
  }
  StateImpl state(overlay_, options_.group, *journal_);
  const Outcome o = call(w, m, &state);
  if (!o.is_done()) {
    // Retry or fail: the event's writes are dropped. Dead-lettered: its
    // offset still moves on with the batch (no dedupe record, so a redrive
    // of the same id is handled).
    if (!apply(ps, a, m, o)) return ps.stopped.load(std::memory_order_relaxed) ? Verdict::kStopped : Verdict::kLater;
    overlay_.add(ps.index, m.offset() + 1, {}, {}, ws);
    return Verdict::kPassed;
  }
  a.succeeded();
  overlay_.add(ps.index, m.offset() + 1, std::move(dkey), std::move(state.writes()), ws);
  return Verdict::kPassed;
}

}  // namespace weir::internal
