// Bus::locate: where events stand for a group: the group's committed
// offsets and per-partition metrics, its stored attempt counts, its dead
// letters, and (a running group) its waiting retries and when it handed out
// its current batch; and each event's delivery time (Event::deliver_at_us).
#include "bus/core.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "base/coding.hpp"
#include "base/names.hpp"
#include "journal/format.hpp"
#include "record/delivery_time.hpp"
#include "weir/partitioner.hpp"

namespace weir {

std::string_view state_name(EventLocation::State s) noexcept {
  switch (s) {
    case EventLocation::State::kDone: return "done";
    case EventLocation::State::kInFlight: return "in_flight";
    case EventLocation::State::kRetrying: return "retrying";
    case EventLocation::State::kParked: return "parked";
    case EventLocation::State::kDeadLettered: return "dead_lettered";
    case EventLocation::State::kNotYetReached: return "not_yet_reached";
    case EventLocation::State::kScheduled: return "scheduled";
  }
  return "unknown";
}

}  // namespace weir

namespace weir::internal {

namespace {

// Events of partition `p` of `part` matching `ref`, at most `limit` of them
// (appended to `matches`), and the keys of its failing or scheduled events
// (those with an attempt record in `attempts`, for parked ones).
Status scan_partition(const std::string& topic, std::uint32_t p, Partition& part, const EventRef& ref,
                      std::size_t limit, const std::map<Offset, std::uint32_t>& attempts,
                      std::map<Offset, std::string>& failing_keys, std::vector<EventLocation>& matches) {
  return part.for_each(part.start(), [&](const Message& m) {
    const std::int64_t deliver_at = m.deliver_at_us();
    const bool scheduled = deliver_at > system_now_us();
    if (attempts.count(m.offset()) || scheduled) failing_keys[m.offset()] = std::string(m.key());
    const bool match = ref.key.empty() ? m.id() == ref.id : m.key() == ref.key;
    if (match && matches.size() < limit) {
      EventLocation l;
      l.topic = topic;
      l.partition = p;
      l.offset = m.offset();
      l.id = std::string(m.id());
      l.key = std::string(m.key());
      l.time_us = m.time_us();
      if (scheduled) l.scheduled_us = deliver_at;
      matches.push_back(std::move(l));
    }
    return matches.size() < limit;
  });
}

// What is known of one partition for the group, to name its events' states.
struct PartitionFacts {
  std::optional<Offset> committed;
  const GroupPartitionMetrics* live;  // null unless the group runs
  Offset start;
  const std::map<std::pair<std::uint32_t, Offset>, DeadLetter>& letters;
  const std::map<Offset, std::uint32_t>& attempts;
  const std::map<Offset, std::string>& failing_keys;  // keys of failing heads (for parked)
  const std::map<Offset, Group::RetryNote>& notes;
  std::int64_t handed_at_us;
};

// Sets l's state (and what goes with it) from `f`.
void name_state(EventLocation& l, const PartitionFacts& f) {
  using S = EventLocation::State;
  l.committed = f.committed;
  l.group_running = f.live != nullptr;
  if (f.live) {
    l.paused = f.live->paused;
    l.stopped = f.live->stopped;
  }
  const Offset next = f.committed.value_or(f.start);
  auto letter = f.letters.find({l.partition, l.offset});
  auto tries = f.attempts.find(l.offset);
  auto note = f.notes.find(l.offset);
  if (letter != f.letters.end()) {
    l.state = S::kDeadLettered;
    l.reason = letter->second.reason;
    l.attempt = letter->second.attempts;
    l.dead_lettered_us = letter->second.last_failure_us;
    l.dlq_offset = letter->second.dlq_offset;
  } else if (f.committed && l.offset < *f.committed) {
    l.state = S::kDone;
  } else if (l.scheduled_us != 0) {
    l.state = S::kScheduled;
  } else if (note != f.notes.end()) {
    l.state = S::kRetrying;
    l.attempt = note->second.attempt;
    l.next_try_us = note->second.next_try_us;
  } else if (tries != f.attempts.end() && tries->second > 1) {
    l.state = S::kRetrying;
    l.attempt = tries->second;
  } else {
    // Parked: an older failing head of the same key holds it back.
    std::optional<Offset> behind;
    if (f.live && f.live->parked > 0)
      for (const auto& [off, key] : f.failing_keys)
        if (off < l.offset && key == l.key) behind = off;
    if (behind) {
      l.state = S::kParked;
      l.parked_behind = *behind;
    } else if (f.live && l.offset < next + f.live->in_flight) {
      l.state = S::kInFlight;
      l.worker = f.live->worker;
      l.in_flight_since_us = f.handed_at_us;
    } else {
      l.state = S::kNotYetReached;
      l.ahead = l.offset >= next ? l.offset - next : 0;
    }
  }
}

}  // namespace

Result<std::vector<EventLocation>> BusCore::locate(std::string_view group, std::string_view topic,
                                                   const EventRef& ref, std::size_t limit) {
  if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
  if (ref.id.empty() == ref.key.empty())
    return Status::invalid_argument("locate needs exactly one of EventRef::id and EventRef::key");
  auto found = find_topic(topic);
  if (!found) return found.status();
  const std::shared_ptr<TopicState> t = *found;
  const std::string g(group);
  const std::uint32_t n = t->partitions();

  // The group's view of each partition.
  std::vector<std::optional<Offset>> committed(n);
  std::vector<GroupPartitionMetrics> live;
  for (GroupMetrics& gm : metrics().groups)
    if (gm.group == g && gm.topic == t->name()) live = std::move(gm.partitions);
  const bool running = live.size() == n;
  if (running) {
    for (std::uint32_t p = 0; p < n; ++p) committed[p] = live[p].committed;
  } else {
    std::vector<Offset> stored;
    auto known = groups_of(*t);
    if (!known) return known.status();
    if (!std::binary_search(known->begin(), known->end(), g)) {
      std::string names;
      for (const auto& k : *known) names += (names.empty() ? "" : ", ") + k;
      return Status::not_found("group '" + g + "' has never consumed topic '" + t->name() +
                               "' (known groups: " + (names.empty() ? "none" : names) + ")");
    }
    {
      MutexLock lock(mu_);
      if (auto r = remembered_.find(g); r != remembered_.end())
        if (auto at = r->second.find(t->name()); at != r->second.end()) stored = at->second;
    }
    if (t->journaled()) {
      auto s = journal_->load_offsets(g, t->name(), n);
      if (!s) return s.status();
      stored = std::move(s).value();
    }
    for (std::uint32_t p = 0; p < n && p < stored.size(); ++p)
      if (stored[p] != kUnsetOffset) committed[p] = stored[p];
  }

  // Its dead letters from this topic, by (partition, offset).
  std::map<std::pair<std::uint32_t, Offset>, DeadLetter> letters;
  if (auto all = dlq_select(g, DeadLetterFilter{}, ~std::size_t{0}); all) {
    for (const DeadLetterEvent& e : *all)
      if (e.letter.topic == t->name()) letters[{e.letter.partition, e.letter.offset}] = e.letter;
  } else if (all.status().code() != Code::kNotFound) {
    return all.status();
  }

  std::vector<std::uint32_t> parts;
  if (!ref.key.empty()) parts.push_back(partition_for_key(ref.key, n));
  else
    for (std::uint32_t p = 0; p < n; ++p) parts.push_back(p);

  std::vector<EventLocation> out;
  for (std::uint32_t p : parts) {
    std::map<Offset, std::uint32_t> attempts;
    if (t->journaled()) {
      auto rec = journal_->internal_get(attempts_key(g, t->name(), p));
      if (!rec) return rec.status();
      if (*rec)
        for (const auto& [off, attempt] : decode_attempts(**rec)) attempts[off] = attempt;
    }
    std::map<Offset, std::string> failing_keys;  // keys of failing heads (for parked)
    std::vector<EventLocation> matches;
    Partition& part = t->partition(p);
    if (Status s = scan_partition(t->name(), p, part, ref, limit - out.size(), attempts, failing_keys, matches);
        !s && s.code() != Code::kNotFound)
      return s;
    // What only the running group knows: its waiting retries and when it
    // handed out its current batch.
    std::map<Offset, Group::RetryNote> notes;
    std::int64_t handed_at_us = 0;
    if (running && !matches.empty()) {
      Status asked = with_group(g, [&](const Group& gr) -> Status {
        if (gr.topic() != t) return Status::ok();
        handed_at_us = gr.handed_at_us(p);
        for (const EventLocation& l : matches)
          if (auto rn = gr.retry_note(p, l.offset)) notes[l.offset] = *rn;
        return Status::ok();
      });
      asked.ignore();  // unsubscribed meanwhile: what is stored says the rest
    }
    const PartitionFacts facts{committed[p], running ? &live[p] : nullptr, part.start(), letters, attempts,
                               failing_keys, notes, handed_at_us};
    for (EventLocation& l : matches) {
      name_state(l, facts);
      out.push_back(std::move(l));
    }
    if (out.size() >= limit) break;
  }
  return out;
}

}  // namespace weir::internal
