// LaneQueue: one partition's set-aside lower-priority events, for priority
// lanes (TopicOptions::priority_levels > 1) in RetryMode::kNonBlocking.
//
// A partition's owner reads ahead from read_pos. An event below the topic's
// top priority is not handled at once: it is deferred here, at the back of
// its key's queue; an event of any priority whose key already has deferred
// events queues behind them (per-key publish order). Top-priority events of
// other keys are handled as they are read. Deferred keys are handed out once
// the partition has nothing more to read now, or once this queue is full:
// the key whose queue holds the highest priority first (a key's priority is
// the highest among its queued events, so an urgent event never waits behind
// the low lane's backlog, only behind its own key's earlier events), and
// among keys of one priority the oldest head first.
//
// The committed offset of the partition stays at the oldest deferred event
// (oldest()): offsets commit only up to the oldest unfinished event.
//
// Events are held as offsets and their priorities; a journaled partition
// reads them again, a memory partition's group keeps a copy of each record
// (keep_record), as ParkingLot does. A key is never in this queue and in the
// ParkingLot at once: a deferred head that fails or waits for its delivery
// time moves with its queue into the lot (take()).
//
// Thread-safety: not thread-safe; owned by the partition's owning worker
// (it moves between workers with the partition's ownership hand-off).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "weir/event.hpp"

namespace weir::internal {

class LaneQueue {
 public:
  explicit LaneQueue(std::size_t capacity) : capacity_(capacity) {}

  // True if `key` has deferred events (so its later events queue behind).
  bool holds(std::string_view key) const { return !keys_.empty() && keys_.find(key) != keys_.end(); }
  // Appends `offset` of priority `lane` (< kMaxPriorityLevels) to `key`'s queue.
  void defer(std::string_view key, Offset offset, std::uint32_t lane);

  // The key to hand out next (highest priority, then oldest head), or null
  // when empty. Valid until the queue changes.
  const std::string* next() const { return order_.empty() ? nullptr : order_.begin()->second; }
  // `key`'s head offset and the priority its queue is handed out at.
  // REQUIRES: holds(key).
  Offset head_offset(const std::string& key) const { return keys_.find(key)->second.events.front().first; }
  std::uint32_t lane_of(const std::string& key) const { return keys_.find(key)->second.lane; }

  // `key`'s head finished: it leaves; the key's next event (if any) is its
  // new head. REQUIRES: holds(key).
  void finish_head(const std::string& key);
  // Removes `key` and returns its queued offsets in order, with the record
  // copies kept for them (empty strings where none). REQUIRES: holds(key).
  std::deque<std::pair<Offset, std::string>> take(const std::string& key);

  // Keeps a copy of deferred `offset`'s record (memory partitions).
  // REQUIRES: contains(offset).
  void keep_record(Offset offset, std::string_view record) { offsets_.find(offset)->second.assign(record); }
  // The copy kept for `offset`, or null.
  const std::string* record(Offset offset) const {
    auto it = offsets_.find(offset);
    return it == offsets_.end() || it->second.empty() ? nullptr : &it->second;
  }

  std::size_t size() const noexcept { return offsets_.size(); }
  bool empty() const noexcept { return offsets_.empty(); }
  bool full() const noexcept { return offsets_.size() >= capacity_; }
  bool contains(Offset o) const { return !offsets_.empty() && offsets_.count(o) != 0; }
  // The lowest deferred offset. REQUIRES: !empty().
  Offset oldest() const { return offsets_.begin()->first; }
  // Deferred events of priority `lane`.
  std::size_t count(std::uint32_t lane) const noexcept { return lane < counts_.size() ? counts_[lane] : 0; }

 private:
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept { return std::hash<std::string_view>{}(k); }
  };
  struct DeferredKey {
    std::deque<std::pair<Offset, std::uint8_t>> events;  // offset, priority; in offset order
    std::array<std::uint32_t, kMaxPriorityLevels> counts{};  // queued events per priority
    std::uint32_t lane = 0;                                // highest priority queued
  };
  // Hand-out order: higher lane first, then lower head offset.
  struct Before {
    bool operator()(const std::pair<std::uint32_t, Offset>& a, const std::pair<std::uint32_t, Offset>& b) const {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    }
  };
  using Keys = std::unordered_map<std::string, DeferredKey, KeyHash, std::equal_to<>>;

  const std::size_t capacity_;
  Keys keys_;
  std::map<std::pair<std::uint32_t, Offset>, const std::string*, Before> order_;  // -> key in keys_
  // Every deferred offset, with its record copy (empty: none kept). An
  // ordered tree, not a hash map: a hash map's rehash, at tens of thousands
  // of set-aside events, would stall the worker for milliseconds.
  std::map<Offset, std::string> offsets_;
  std::array<std::size_t, kMaxPriorityLevels> counts_{};
};

}  // namespace weir::internal
