// ParkingLot: one partition's parked events in RetryMode::kNonBlocking.
//
// A key whose event failed transiently is parked: the failing event is the
// key's head, retried at its Attempts::retry_at, and later events of the
// key queue behind it in offset order, while events of other keys flow.
// When a head finishes (done, or dead-lettered) the key's next event
// becomes due at once; a key with nothing left is unparked.
//
// Events are held as offsets; a journaled partition reads them again. A
// memory partition's group gives the lot a copy of each parked record
// (keep_record), so the ring need not hold parked events; a copy leaves
// with its offset (finish_head).
// oldest() is the lowest parked offset: what the partition may commit up to.
// The lot is bounded by `capacity` parked offsets (SubscribeOptions::
// max_parked); full() tells the reader to stop taking new events.
//
// Delayed delivery (Event::deliver_at_us) uses the same queues: an event not
// yet due is parked as its key's head, "scheduled" rather than failing, due
// at its delivery time; later events of its key queue behind it. A drain
// does not wait for scheduled heads (only_scheduled()).
//
// Thread-safety: not thread-safe; owned by the partition's owning worker
// (it moves between workers with the partition's ownership hand-off).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dispatch/retry_policy.hpp"
#include "weir/event.hpp"

namespace weir::internal {

class ParkingLot {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ParkingLot(std::size_t capacity) : capacity_(capacity) {}

  // True if `key` has a failing event parked (so its later events wait).
  bool is_parked(std::string_view key) const {
    return !parked_.empty() && parked_.find(key) != parked_.end();
  }
  // Parks `offset` behind the failing head of its key.
  void park_behind(std::string_view key, Offset offset) { park(key, offset); }
  // Parks `offset` as the new failing head of `key`, due at head.retry_at.
  void park_head(std::string_view key, Offset offset, const Attempts& head);

  // Whether `key`'s head waits for its delivery time rather than a retry.
  // REQUIRES: is_parked(key).
  void mark_scheduled(const std::string& key, bool scheduled);
  // True when every parked key's head waits for its delivery time.
  bool only_scheduled() const noexcept { return scheduled_heads_ == parked_.size(); }

  // The key of the head due earliest, if it is due by `now`; it leaves the
  // due order (schedule() puts it back).
  std::optional<std::string> pop_due(Clock::time_point now);
  // `key`'s head is due (again) at `at`.
  void schedule(const std::string& key, Clock::time_point at) { due_.emplace(at, key); }
  // When the earliest head is due (nullopt: none is waiting).
  std::optional<Clock::time_point> next_due() const {
    if (due_.empty()) return std::nullopt;
    return due_.begin()->first;
  }

  // `key`'s head: its offset and retry state. REQUIRES: is_parked(key).
  Offset head_offset(const std::string& key) const { return parked_.at(key).offsets.front(); }
  Attempts& head(const std::string& key) { return parked_.at(key).head; }

  // What finish_head() did: the offset that left, and the key's next
  // parked offset, now its head (a first attempt, due at once), if any.
  struct Finished {
    Offset done = 0;
    std::optional<Offset> next;
  };
  // `key`'s head finished. REQUIRES: is_parked(key).
  Finished finish_head(const std::string& key);

  // Keeps a copy of the record of parked `offset`. REQUIRES: contains(offset).
  void keep_record(Offset offset, std::string_view record) { records_.emplace(offset, std::string(record)); }
  // The copy kept for `offset`, or null (none kept). Valid until the offset
  // leaves the lot.
  const std::string* record(Offset offset) const {
    if (records_.empty()) return nullptr;
    auto it = records_.find(offset);
    return it == records_.end() ? nullptr : &it->second;
  }

  std::size_t size() const noexcept { return offsets_.size(); }  // parked offsets
  bool empty() const noexcept { return offsets_.empty(); }
  bool full() const noexcept { return offsets_.size() >= capacity_; }
  bool contains(Offset o) const { return offsets_.count(o) != 0; }
  // The lowest parked offset. REQUIRES: !empty().
  Offset oldest() const { return *offsets_.begin(); }

 private:
  // Hashes keys given as string_view, so lookups by Message::key() need no
  // std::string (heterogeneous lookup).
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
  };
  // A key waiting behind its failing event.
  struct ParkedKey {
    Attempts head;               // retry state of offsets.front()
    std::deque<Offset> offsets;  // the failing event, then later events of the key
    bool scheduled = false;      // the head waits for its delivery time
  };

  std::unordered_map<std::string, ParkedKey, KeyHash, std::equal_to<>>::iterator park(std::string_view key,
                                                                                      Offset offset);

  const std::size_t capacity_;
  std::unordered_map<std::string, ParkedKey, KeyHash, std::equal_to<>> parked_;  // key -> its queue
  std::set<Offset> offsets_;                                                   // every parked offset
  std::multimap<Clock::time_point, std::string> due_;                          // heads by retry time
  std::unordered_map<Offset, std::string> records_;                            // keep_record copies
  std::size_t scheduled_heads_ = 0;                                            // keys with scheduled == true
};

}  // namespace weir::internal
