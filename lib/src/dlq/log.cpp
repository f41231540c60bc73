#include "dlq/log.hpp"

#include <iterator>

#include "journal/format.hpp"

namespace weir::internal {

DeadLetterLog::DeadLetterLog(std::string group, Partition& partition, Journal* journal)
    : group_(std::move(group)), part_(partition), journal_(journal) {
  MutexLock lock(mu_);
  Offset low = part_.start();
  std::vector<Offset> above;  // settled past the settled prefix
  if (journal_) {
    // Rebuild the mirror of the ledger: one pass, at first use.
    bool all_settled = true;
    const Status s = part_.for_each(low, [&](const Message& m) {
      auto v = journal_->internal_get(settled_key(group_, m.offset()));
      const bool is_settled = v && v->has_value();
      if (all_settled && is_settled) {
        low = m.offset() + 1;
      } else if (is_settled) {
        above.push_back(m.offset());
      } else {
        all_settled = false;
      }
      return true;
    });
    s.ignore();  // unreadable letters count as unsettled; dlq_list reports the error
  }
  settled_above_.insert(above.begin(), above.end());
  low_.store(low, std::memory_order_relaxed);
  base_.store(low + settled_above_.size(), std::memory_order_release);
  if (!journal_) part_.attach(cursor_, low, false);
}

DeadLetterLog::~DeadLetterLog() {
  if (!journal_) part_.detach(cursor_);
}

bool DeadLetterLog::make_room() {
  if (journal_) return false;
  MutexLock lock(mu_);
  const Offset low = low_.load(std::memory_order_relaxed);
  // Only a published letter: a slot still being written must stay pinned.
  if (low >= part_.readable_end() || !part_.has_events(low, false)) return false;
  note_settled({low});
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool DeadLetterLog::settled(Offset o) const {
  return o < low_.load(std::memory_order_relaxed) || settled_above_.count(o) != 0;
}

void DeadLetterLog::note_settled(const std::vector<Offset>& offs) {
  Offset low = low_.load(std::memory_order_relaxed);
  for (Offset o : offs)
    if (o >= low) settled_above_.insert(o);
  while (!settled_above_.empty() && *settled_above_.begin() == low) {
    settled_above_.erase(settled_above_.begin());
    ++low;
  }
  const bool moved = low != low_.load(std::memory_order_relaxed);
  low_.store(low, std::memory_order_release);
  // Release: pairs with depth()'s acquire load of base_.
  base_.store(low + settled_above_.size(), std::memory_order_release);
  // Memory: the settled prefix's slots may be reused now.
  if (moved && !journal_) part_.advance(cursor_, low);
}

Status DeadLetterLog::settle(const std::vector<Offset>& offs, std::string_view how) {
  if (offs.empty()) return Status::ok();
  if (journal_) {
    std::vector<std::pair<std::string, std::string>> values;
    for (Offset o : offs) values.emplace_back(settled_key(group_, o), std::string(how));
    if (Status s = journal_->internal_put(values); !s) return s;
  }
  MutexLock lock(mu_);
  note_settled(offs);
  return Status::ok();
}

Status DeadLetterLog::for_each(const DeadLetterFilter& f,
                               const std::function<bool(const DeadLetterEvent&)>& fn) const {
  const Offset from = std::max(part_.start(), low_.load(std::memory_order_acquire));
  return part_.for_each(from, [&](const Message& m) {
    const DeadLetterEvent e = dead_letter_event(m);
    bool skip;
    {
      MutexLock lock(mu_);
      skip = settled(e.letter.dlq_offset);
    }
    if (skip || !matches(e.letter, f)) return true;
    return fn(e);
  });
}

Result<std::vector<DeadLetterEvent>> DeadLetterLog::select(const DeadLetterFilter& f, std::size_t limit) const {
  std::vector<DeadLetterEvent> out;
  if (limit == 0) return out;
  Status s = for_each(f, [&](const DeadLetterEvent& e) {
    out.push_back(e);
    return out.size() < limit;
  });
  if (!s) return s;
  return out;
}

void DeadLetterLog::note_retained(Offset start) {
  MutexLock lock(mu_);
  Offset low = low_.load(std::memory_order_relaxed);
  if (start <= low) return;
  const auto gone_end = settled_above_.lower_bound(start);
  const auto settled_gone = static_cast<std::uint64_t>(std::distance(settled_above_.begin(), gone_end));
  settled_above_.erase(settled_above_.begin(), gone_end);
  dropped_.fetch_add((start - low) - settled_gone, std::memory_order_relaxed);
  low = start;
  while (!settled_above_.empty() && *settled_above_.begin() == low) {
    settled_above_.erase(settled_above_.begin());
    ++low;
  }
  low_.store(low, std::memory_order_release);
  // Release: pairs with depth()'s acquire load of base_.
  base_.store(low + settled_above_.size(), std::memory_order_release);
}

Result<DlqDepth> DeadLetterLog::depth() {
  // A journaled topic's retention may have deleted the oldest letters.
  if (journal_ && part_.start() > low_.load(std::memory_order_acquire)) note_retained(part_.start());
  DlqDepth d;
  // Acquire pairs with note_settled()'s release stores.
  const Offset low = low_.load(std::memory_order_acquire);
  const std::uint64_t base = base_.load(std::memory_order_acquire);
  const Offset end = part_.readable_end();
  d.count = end > base ? end - base : 0;
  if (d.count == 0) return d;
  MutexLock age_lock(age_mu_);
  if (aged_offset_ != low) {
    // The oldest changed since the last look: read that one letter, under
    // mu_ so that low_ (and a memory ring's slot, which cursor_ holds while
    // it is low_) stays put without pinning the ring as for_each would.
    // Until it is readable (a memory slot being written) the age reads 0.
    MutexLock lock(mu_);
    const Offset now_low = low_.load(std::memory_order_relaxed);
    Message m;
    ReadBatch rb;
    auto got = part_.read(now_low, 1, std::span<Message>(&m, 1), rb);
    if (!got || *got == 0) return d;
    aged_offset_ = now_low;
    aged_us_ = dead_letter_event(m).letter.last_failure_us;
  }
  d.oldest_failure_us = aged_us_;
  return d;
}

}  // namespace weir::internal
