#include "dlq/dead_letters.hpp"

#include <charconv>
#include <cstring>

#include "record/record.hpp"
#include "base/coding.hpp"
#include "journal/format.hpp"

namespace weir::internal {

namespace {

template <typename T>
T number(std::optional<std::string_view> v) {
  T out{};
  if (v) std::from_chars(v->data(), v->data() + v->size(), out);
  return out;
}

}  // namespace

DeadLetterEvent dead_letter_event(const Message& m) {
  DeadLetterEvent e;
  DeadLetter& d = e.letter;
  d.dlq_offset = m.offset();
  d.id = std::string(m.id());
  d.key = std::string(m.key());
  d.type = std::string(m.type());
  d.reason = std::string(m.header("weir.dlq.reason").value_or(""));
  d.attempts = number<std::uint32_t>(m.header("weir.dlq.attempts"));
  d.first_failure_us = number<std::int64_t>(m.header("weir.dlq.first_failure_us"));
  d.last_failure_us = number<std::int64_t>(m.header("weir.dlq.last_failure_us"));
  d.topic = std::string(m.header("weir.dlq.topic").value_or(""));
  d.partition = number<std::uint32_t>(m.header("weir.dlq.partition"));
  d.offset = number<Offset>(m.header("weir.dlq.offset"));
  d.payload_bytes = m.payload().size();
  d.time_us = m.time_us();
  e.payload = std::string(m.payload());
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const Header h = m.header_at(i);
    e.headers.emplace_back(std::string(h.name), std::string(h.value));
  }
  return e;
}

Status for_each_dead_letter(TopicState& dlq, Journal*, const std::function<bool(const DeadLetterEvent&)>& fn) {
  Partition& part = dlq.partition(0);
  return part.for_each(part.start(), [&](const Message& m) { return fn(dead_letter_event(m)); });
}

bool matches(const DeadLetter& d, const DeadLetterFilter& f) {
  if (f.dlq_offset && *f.dlq_offset != d.dlq_offset) return false;
  if (f.key && *f.key != d.key) return false;
  if (f.type && *f.type != d.type) return false;
  if (f.reason_contains && d.reason.find(*f.reason_contains) == std::string::npos) return false;
  if (f.failed_from_us && d.last_failure_us < f.failed_from_us) return false;
  if (f.failed_to_us && d.last_failure_us >= f.failed_to_us) return false;
  return true;
}

std::string settled_key(std::string_view group, Offset dlq_offset) {
  char be[8];
  put_be64(be, dlq_offset);
  return state_key(std::string(group) + ".dlq", "settled", std::string_view(be, 8));
}

bool is_settled(std::string_view group, const TopicState& dlq, Journal* journal, Offset o) {
  if (dlq.journaled()) {
    auto v = journal->state_get(settled_key(group, o));
    return v && v->has_value();
  }
  return dlq.memory_settled(o);
}

Status settle(std::string_view group, TopicState& dlq, Journal* journal, const std::vector<Offset>& offs,
              std::string_view how) {
  if (offs.empty()) return Status::ok();
  if (dlq.journaled()) {
    std::vector<std::pair<std::string, std::string>> values;
    for (Offset o : offs) values.emplace_back(settled_key(group, o), std::string(how));
    return journal->state_put(values);
  }
  dlq.memory_settle(offs);
  return Status::ok();
}

Result<DlqDepth> dlq_depth(std::string_view group, TopicState& dlq, Journal* journal) {
  DlqDepth d;
  Status s = for_each_dead_letter(dlq, journal, [&](const DeadLetterEvent& e) {
    if (is_settled(group, dlq, journal, e.letter.dlq_offset)) return true;
    if (d.count++ == 0) d.oldest_failure_us = e.letter.last_failure_us;
    return true;
  });
  if (!s) return s;
  return d;
}

}  // namespace weir::internal
