// The metrics snapshot of every topic and group.
#include "bus/core.hpp"

namespace weir::internal {

MetricsSnapshot BusCore::metrics() const {
  MutexLock lock(mu_);
  MetricsSnapshot m;
  m.taken_at = std::chrono::system_clock::now();
  for (const auto& [name, t] : topics_) {
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
  for (const auto& [name, g] : groups_) m.groups.push_back(g->metrics());
  for (const auto& [name, set] : sets_)
    for (const auto& [topic, g] : set->members) m.groups.push_back(g->metrics());
  return m;
}

}  // namespace weir::internal
