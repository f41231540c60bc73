// The two storages a topic's partitions come from (see Storage in
// log/partition.hpp). The bus picks one by TopicOptions::durability.
//
// Thread-safety: open_partitions is called by the registry under its lock.
#pragma once

#include "log/journaled_partition.hpp"
#include "log/memory_partition.hpp"

namespace weir::internal {

// Partitions of journaled topics: opened in the journal (catalog and LMDB
// databases), attached to its writer.
class JournalStorage final : public Storage {
 public:
  explicit JournalStorage(Journal& journal) : journal_(journal) {}
  Result<std::vector<std::unique_ptr<Partition>>> open_partitions(const std::string& topic,
                                                                  const TopicOptions& options,
                                                                  TopicWakeups wakeups) override;

 private:
  Journal& journal_;
};

// Partitions of memory topics. `origin` names their logs in derived ids.
class MemoryStorage final : public Storage {
 public:
  explicit MemoryStorage(std::uint64_t origin) : origin_(origin) {}
  Result<std::vector<std::unique_ptr<Partition>>> open_partitions(const std::string& topic,
                                                                  const TopicOptions& options,
                                                                  TopicWakeups wakeups) override;

 private:
  const std::uint64_t origin_;
};

}  // namespace weir::internal
