#include "dlq/log.hpp"


namespace weir::internal {

bool DeadLetterLog::settled(Offset o) const {
  if (journal_) {
    auto v = journal_->state_get(settled_key(group_, o));
    return v && v->has_value();
  }
  MutexLock lock(mu_);
  return settled_.count(o) != 0;
}

Status DeadLetterLog::settle(const std::vector<Offset>& offs, std::string_view how) {
  if (offs.empty()) return Status::ok();
  if (journal_) {
    std::vector<std::pair<std::string, std::string>> values;
    for (Offset o : offs) values.emplace_back(settled_key(group_, o), std::string(how));
    return journal_->state_put(values);
  }
  MutexLock lock(mu_);
  settled_.insert(offs.begin(), offs.end());
  return Status::ok();
}

Status DeadLetterLog::for_each(const DeadLetterFilter& f,
                               const std::function<bool(const DeadLetterEvent&)>& fn) const {
  return part_.for_each(part_.start(), [&](const Message& m) {
    const DeadLetterEvent e = dead_letter_event(m);
    if (!matches(e.letter, f) || settled(e.letter.dlq_offset)) return true;
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

Result<DlqDepth> DeadLetterLog::depth() const {
  DlqDepth d;
  Status s = for_each({}, [&](const DeadLetterEvent& e) {
    if (d.count++ == 0) d.oldest_failure_us = e.letter.last_failure_us;
    return true;
  });
  if (!s) return s;
  return d;
}

}  // namespace weir::internal
