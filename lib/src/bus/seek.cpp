// Seeking a group that is not running.
#include "bus/core.hpp"

#include <algorithm>

#include "base/names.hpp"

namespace weir::internal {

Status BusCore::check_not_running(std::string_view group) const {
  if (std::string what = subscription_of(group); !what.empty())
    return Status::failed_precondition("group '" + std::string(group) + "' is subscribed (to " + what +
                                       "); unsubscribe it before seeking");
  return Status::ok();
}

Status BusCore::seek(std::string_view group, std::string_view topic, const SeekTo& to,
            std::optional<std::uint32_t> partition) {
  if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
  if (std::string p = name_problem("topic", topic); !p.empty()) return Status::invalid_argument(p);
  auto found = find_topic(topic);
  if (!found) return found.status();
  const std::shared_ptr<TopicState> held = *found;
  TopicState& t = *held;
  {
    MutexLock lock(mu_);
    if (Status s = check_not_running(group); !s) return s;
  }
  // The known groups and the targets (offset_for_time reads the journal)
  // are found without mu_; only the store below is atomic with the checks.
  if (!to.create_group) {
    auto known = groups_of(t);
    if (!known) return known.status();
    if (!std::binary_search(known->begin(), known->end(), group)) {
      std::string names;
      for (const auto& n : *known) names += (names.empty() ? "" : ", ") + n;
      return Status::not_found("group '" + std::string(group) + "' has never consumed topic '" + t.name() +
                               "' (known groups: " + (names.empty() ? "none" : names) +
                               "); set SeekTo::create_group to create it");
    }
  }
  if (partition && *partition >= t.partitions())
    return Status::invalid_argument("partition " + std::to_string(*partition) +
                                    " out of range: topic '" + t.name() + "' has " +
                                    std::to_string(t.partitions()) + " partitions");
  std::vector<std::pair<std::uint32_t, Offset>> moves;
  for (std::uint32_t p = 0; p < t.partitions(); ++p) {
    if (partition && *partition != p) continue;
    Partition& part = t.partition(p);
    const Offset lo = part.start();
    const Offset hi = part.readable_end();
    Offset target = lo;
    switch (to.kind) {
      case SeekTo::Kind::kEarliest: target = lo; break;
      case SeekTo::Kind::kLatest: target = hi; break;
      case SeekTo::Kind::kOffset:
        if (to.offset < lo || to.offset > hi)
          return Status::invalid_argument("offset " + std::to_string(to.offset) +
                                          " is outside partition " + std::to_string(p) +
                                          " of topic '" + t.name() + "': valid " +
                                          std::to_string(lo) + ".." + std::to_string(hi));
        target = to.offset;
        break;
      case SeekTo::Kind::kTime: {
        auto r = part.offset_for_time(to.time_us);
        if (!r) return r.status();
        target = *r;
        break;
      }
      default: return Status::invalid_argument("SeekTo::kind is not a SeekTo::Kind value");
    }
    moves.emplace_back(p, target);
  }
  MutexLock lock(mu_);
  if (auto it = topics_.find(topic); it == topics_.end() || it->second != held)
    return Status::not_found("topic '" + std::string(topic) + "' was deleted while seeking");
  if (Status s = check_not_running(group); !s) return s;
  // Under mu_: one synced write transaction that must be atomic with the
  // checks above (a subscribe of the group reads these offsets under mu_);
  // it waits for LMDB's write lock, never for the writer's cycle.
  if (t.journaled()) return journal_->store_offsets(std::string(group), t.name(), moves);
  auto& rem = remembered_[std::string(group)][t.name()];
  if (rem.size() != t.partitions()) rem.assign(t.partitions(), kUnsetOffset);
  for (const auto& [p, off] : moves) rem[p] = off;
  return Status::ok();
}

std::vector<std::string> BusCore::registry_groups_of(const TopicState& t) const {
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_)
    if (g->topic()->name() == t.name()) out.push_back(name);
  for (const auto& [name, set] : sets_)
    if (set->members.count(t.name())) out.push_back(name);
  for (const auto& [name, rem] : remembered_)
    if (rem.count(t.name())) out.push_back(name);
  return out;
}

Result<std::vector<std::string>> BusCore::groups_of(const TopicState& t) const {
  std::vector<std::string> out;
  {
    MutexLock lock(mu_);
    out = registry_groups_of(t);
  }
  // The walk of every stored offset, without mu_.
  if (t.journaled()) {
    auto stored = journal_->groups_of(t.name());
    if (!stored) return stored.status();
    out.insert(out.end(), stored->begin(), stored->end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace weir::internal
