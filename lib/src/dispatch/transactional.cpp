// Transactional groups: state tables, the dedupe check and write sets
// (see the Group class comment).
#include <algorithm>
#include <chrono>
#include <random>

#include "dispatch/group.hpp"
#include "dispatch/outbox.hpp"
#include "dlq/format.hpp"
#include "journal/format.hpp"
#include "record/record.hpp"

namespace weir::internal {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

// State as one event's handler sees it: its own writes, then the group's
// uncommitted writes, then the journal.
class StateImpl final : public State {
 public:
  // `writes` and `key_buf`: the worker's scratch (cleared here, reused
  // across events so that a handler's reads and writes allocate nothing
  // once they are large enough).
  StateImpl(const TxnOverlay& overlay, const std::string& group, Journal& j, const BusShared& bus,
            std::string_view input_id, StateWrites& writes, std::string& key_buf)
      : overlay_(overlay), group_(group), j_(j), bus_(bus), input_id_(input_id), writes_(writes), key_buf_(key_buf) {
    writes_.clear();
  }

  Result<std::optional<std::string>> get(std::string_view table, std::string_view key) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    for (std::size_t i = writes_.size(); i-- > 0;) {
      if (writes_.key(i) != *k) continue;
      const std::optional<std::string_view> v = writes_.value(i);
      return v ? std::optional<std::string>(*v) : std::nullopt;
    }
    if (auto o = overlay_.get(*k)) return *o;
    return j_.state_get(*k);
  }
  Status put(std::string_view table, std::string_view key, std::string_view value) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    if (value.size() > (64u << 20))
      return Status::invalid_argument("state value of " + std::to_string(value.size()) + " bytes exceeds 64 MiB");
    writes_.put(*k, value);
    return Status::ok();
  }
  Status erase(std::string_view table, std::string_view key) override {
    auto k = key_of(table, key);
    if (!k) return k.status();
    writes_.put(*k, std::nullopt);
    return Status::ok();
  }
  Status publish(std::string_view topic, const Event& event) override {
    return outbox_.add(bus_, input_id_, topic, event);
  }
  const StateWrites& writes() const noexcept { return writes_; }
  Outbox& outbox() noexcept { return outbox_; }

 private:
  // The state key, built in key_buf_ (valid until the next call).
  Result<std::string_view> key_of(std::string_view table, std::string_view key) const {
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
    state_key_into(key_buf_, group_, table, key);
    return std::string_view(key_buf_);
  }

  const TxnOverlay& overlay_;
  const std::string& group_;
  Journal& j_;
  const BusShared& bus_;
  const std::string_view input_id_;
  StateWrites& writes_;
  std::string& key_buf_;
  Outbox outbox_;
};

bool Group::prefetch_dedupe(WorkerContext& w, std::span<const Message> batch) {
  if (!options_.dedupe && !invoker_.is_state_handler()) return false;
  w.dkeys.resize(batch.size());
  w.dhashes.resize(batch.size());
  w.dseen.assign(batch.size(), 0);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (redriven_for_other(batch[i], options_.group)) w.dkeys[i].clear();
    else dedupe_key_into(w.dkeys[i], options_.group, batch[i].id());
  }
  return overlay_.seen_many(w.dkeys, w.dhashes, w.dseen, w.dgeneration).is_ok();
}

Result<bool> Group::prefetched_seen(WorkerContext& w, std::size_t i) {
  // In the overlay: handled by an earlier event of this batch, or by another
  // worker, and not yet committed. Else the prefetch holds while no commit
  // was reported since it (a record committed later may have left the
  // overlay after the prefetch read the journal): then read again.
  const std::optional<bool> in = overlay_.in_overlay(w.dkeys[i], w.dhashes[i], w.dgeneration);
  if (in && *in) return true;
  if (!in) {
    std::fill(w.dseen.begin() + static_cast<std::ptrdiff_t>(i), w.dseen.end(), 0);
    auto rest_keys = std::span<const std::string>(w.dkeys).subspan(i);
    auto rest_seen = std::span<char>(w.dseen).subspan(i);
    auto rest_hashes = std::span<std::uint64_t>(w.dhashes).subspan(i);
    if (Status s = overlay_.seen_many(rest_keys, rest_hashes, rest_seen, w.dgeneration); !s) return s;
  }
  return w.dseen[i] != 0;
}

Group::Verdict Group::serve_txn(PartitionState& ps, WorkerContext& w, Attempts& a, const Message& m,
                               std::unique_ptr<WriteSet>& ws, int pre) {
  if (redriven_for_other(m, options_.group)) {
    overlay_.add(ps.index, m.offset() + 1, {}, {}, ws);
    return Verdict::kPassed;
  }
  std::string_view dkey;  // into w.dkeys or w.dkey, unchanged until add()
  if (options_.dedupe || invoker_.is_state_handler()) {
    Result<bool> seen = false;
    if (pre >= 0) {
      seen = prefetched_seen(w, static_cast<std::size_t>(pre));
      dkey = w.dkeys[static_cast<std::size_t>(pre)];
    } else {
      dedupe_key_into(w.dkey, options_.group, m.id());
      dkey = w.dkey;
      seen = overlay_.seen(dkey);
    }
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
  StateImpl state(overlay_, options_.group, *journal_, *bus_, m.id(), w.state_writes, w.state_key);
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
  if (!state.outbox().empty()) attach_follow_ups(state.outbox(), ws);
  overlay_.add(ps.index, m.offset() + 1, dkey, state.writes(), ws);
  if (!state.outbox().empty()) {
    if (!ws->follow_ups) ws->follow_ups = std::make_unique<Outbox>();
    static_cast<Outbox&>(*ws->follow_ups).append(std::move(state.outbox()));
  }
  return Verdict::kPassed;
}

void Group::attach_follow_ups(const Outbox& next, std::unique_ptr<WriteSet>& ws) {
  // A partition's follow-ups are placed in one claim: a write set that
  // would hold more than half a ring of them is handed in first.
  if (ws && ws->follow_ups && !static_cast<const Outbox&>(*ws->follow_ups).fits(next)) {
    journal_->submit(std::move(ws));
    journal_->nudge();
  }
}

}  // namespace weir::internal
