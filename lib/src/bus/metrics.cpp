// The metrics snapshot of every topic and group.
#include "bus/core.hpp"

#include <utility>
#include <vector>

namespace weir::internal {

MetricsSnapshot BusCore::metrics() const {
  // The registry copied under mu_, walked outside it: a slow walk (many
  // partitions and groups) never holds up create, subscribe or delete. A
  // topic deleted meanwhile reads as closed partitions; a group stopped
  // meanwhile as its last offsets.
  std::vector<std::pair<std::string, std::shared_ptr<TopicState>>> topics;
  std::vector<std::shared_ptr<Group>> groups;
  {
    MutexLock lock(mu_);
    topics.assign(topics_.begin(), topics_.end());
    for (const auto& [name, g] : groups_) groups.push_back(g);
    for (const auto& [name, set] : sets_)
      for (const auto& [topic, g] : set->members) groups.push_back(g);
  }
  MetricsSnapshot m;
  m.taken_at = std::chrono::system_clock::now();
  for (const auto& [name, t] : topics) {
    TopicMetrics tm;
    tm.topic = name;
    tm.journaled = t->journaled();
    for (std::uint32_t p = 0; p < t->partitions(); ++p) {
      PartitionMetrics pm;
      pm.partition = p;
      const Partition& part = t->partition(p);
      pm.end = part.end();
      pm.start = part.start();
      pm.bytes = part.bytes();
      tm.partitions.push_back(pm);
    }
    m.topics.push_back(std::move(tm));
  }
  for (const auto& g : groups) m.groups.push_back(g->metrics());
  return m;
}

}  // namespace weir::internal
