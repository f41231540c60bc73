#include "dispatch/lanes.hpp"

namespace weir::internal {

void LaneQueue::defer(std::string_view key, Offset offset, std::uint32_t lane) {
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), DeferredKey{}).first;
  DeferredKey& dk = it->second;
  const bool was_empty = dk.events.empty();
  if (!was_empty && lane > dk.lane) {
    // An urgent event behind this key's earlier ones: the key's queue is
    // handed out at its priority from now on.
    order_.erase({dk.lane, dk.events.front().first});
    dk.lane = lane;
    order_.emplace(std::make_pair(dk.lane, dk.events.front().first), &it->first);
  }
  dk.events.emplace_back(offset, static_cast<std::uint8_t>(lane));
  ++dk.counts[lane];
  ++counts_[lane];
  offsets_.emplace(offset, std::string());
  if (was_empty) {
    dk.lane = lane;
    order_.emplace(std::make_pair(lane, offset), &it->first);
  }
}

void LaneQueue::finish_head(const std::string& key) {
  auto it = keys_.find(key);
  DeferredKey& dk = it->second;
  const auto [done, lane] = dk.events.front();
  order_.erase({dk.lane, done});
  dk.events.pop_front();
  --dk.counts[lane];
  --counts_[lane];
  offsets_.erase(done);
  if (dk.events.empty()) {
    keys_.erase(it);
    return;
  }
  std::uint32_t top = kMaxPriorityLevels - 1;
  while (top > 0 && dk.counts[top] == 0) --top;
  dk.lane = top;
  order_.emplace(std::make_pair(dk.lane, dk.events.front().first), &it->first);
}

std::deque<std::pair<Offset, std::string>> LaneQueue::take(const std::string& key) {
  auto it = keys_.find(key);
  DeferredKey& dk = it->second;
  order_.erase({dk.lane, dk.events.front().first});
  std::deque<std::pair<Offset, std::string>> out;
  for (const auto& [o, lane] : dk.events) {
    --counts_[lane];
    auto node = offsets_.extract(o);
    out.emplace_back(o, std::move(node.mapped()));
  }
  keys_.erase(it);
  return out;
}

}  // namespace weir::internal
