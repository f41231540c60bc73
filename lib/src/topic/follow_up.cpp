// Transactional publishing: records encoded on a group worker
// (State::publish) and appended by the journal writer (see
// journal/follow_ups.hpp).
#include <cstring>

#include "base/clock.hpp"
#include "record/record.hpp"
#include "topic/topic.hpp"

namespace weir::internal {

Result<std::pair<std::uint32_t, std::string>> TopicState::follow_up(const Event& event,
                                                                   std::string_view derived_id) const {
  if (!journaled())
    return Status::invalid_argument("topic '" + name_ +
                                    "' is a memory topic; State::publish needs a journaled topic "
                                    "(its events are committed with the handler's transaction)");
  // Refused at once, whatever full_policy says: a handler waiting here
  // would hold its partition (and its transaction) for the wait.
  if (Status w = parts_[0]->writable(); !w)
    return Status(w.code(), "State::publish to topic '" + name_ + "': " + w.message());
  if (at_quota())
    return Status::resource_exhausted("State::publish: " + quota_message() +
                                      " (follow-ups do not wait for retention)");
  Event e = event;
  if (e.id.empty()) e.id = derived_id;
  if (Status s = validate(e); !s) return s;
  auto part = route(e, PublishOptions{});
  if (!part) return part.status();
  const std::int64_t time_us = e.time_us ? e.time_us : coarse_now_us();
  Envelope env;
  make_envelope(e, env);
  std::string rec(record_size(e, env), '\0');
  encode_record(e, env, time_us, rec.data());
  return std::pair<std::uint32_t, std::string>{*part, std::move(rec)};
}

Result<Offset> TopicState::place(std::uint32_t p, std::span<const std::string> records) {
  PartitionLog& ring = parts_[p]->ring();
  Offset first;
  const auto n = static_cast<std::uint32_t>(records.size());
  const auto claimed = deleted_.load(std::memory_order_acquire)
                           ? ring.claim(n, false, std::chrono::nanoseconds(0), first)
                           : ring.claim_past_close(n, first);
  switch (claimed) {
    case PartitionLog::ClaimError::kNone: break;
    case PartitionLog::ClaimError::kClosed:
      return Status::closed("topic '" + name_ + "' is closed");
    case PartitionLog::ClaimError::kFull:
    case PartitionLog::ClaimError::kTimedOut:
      return Status::resource_exhausted("partition " + std::to_string(p) + " of topic '" + name_ + "' is full");
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::memcpy(ring.slot_buffer(first + i, records[i].size()), records[i].data(), records[i].size());
    ring.publish(first + i);
  }
  return first;
}

}  // namespace weir::internal
