#include "dispatch/parking_lot.hpp"

namespace weir::internal {

auto ParkingLot::park(std::string_view key, Offset offset)
    -> std::unordered_map<std::string, ParkedKey, KeyHash, std::equal_to<>>::iterator {
  auto it = parked_.find(key);
  if (it == parked_.end()) it = parked_.emplace(std::string(key), ParkedKey{}).first;
  it->second.offsets.push_back(offset);
  offsets_.insert(offset);
  return it;
}

void ParkingLot::park_head(std::string_view key, Offset offset, const Attempts& head) {
  auto it = park(key, offset);
  it->second.head = head;
  due_.emplace(head.retry_at, it->first);
}

void ParkingLot::mark_scheduled(const std::string& key, bool scheduled) {
  ParkedKey& pk = parked_.at(key);
  if (pk.scheduled == scheduled) return;
  pk.scheduled = scheduled;
  if (scheduled) {
    ++scheduled_heads_;
  } else {
    --scheduled_heads_;
  }
}

std::optional<std::string> ParkingLot::pop_due(Clock::time_point now) {
  if (due_.empty() || due_.begin()->first > now) return std::nullopt;
  std::string key = std::move(due_.begin()->second);
  due_.erase(due_.begin());
  return key;
}

ParkingLot::Finished ParkingLot::finish_head(const std::string& key) {
  auto it = parked_.find(key);
  ParkedKey& pk = it->second;
  Finished f;
  f.done = pk.offsets.front();
  if (pk.scheduled) --scheduled_heads_;
  pk.scheduled = false;
  pk.offsets.pop_front();
  offsets_.erase(f.done);
  records_.erase(f.done);
  if (pk.offsets.empty()) {
    parked_.erase(it);
    return f;
  }
  // The key's next event is handed out now, as a first attempt.
  pk.head = Attempts{};
  f.next = pk.offsets.front();
  due_.emplace(Clock::now(), key);
  return f;
}

}  // namespace weir::internal
