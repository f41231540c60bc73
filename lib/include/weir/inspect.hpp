// Inspector: read-only access to a bus's data directory from outside the bus
// (the `weir` command line tool, monitoring scripts, tests).
//
//   auto in = weir::Inspector::open("/var/lib/shop/bus").value();
//   for (const auto& g : in->group_lags().value())
//     if (g.skewed) alert(g.group, g.partition, g.lag);
//
// It opens the journal's LMDB environment read-only (MDB_RDONLY), so it may
// run while the owning process publishes and consumes: each call reads one
// consistent snapshot in a short read transaction and never blocks the
// owner's writer (LMDB readers do not block the writer). It never writes the
// directory and does not take weir.lock. What it reports is committed data:
// events published with Ack::kNone and not yet committed are not visible.
//
// Use it from another process than the owner: LMDB forbids opening one
// environment twice in a process, so open() in a process that has a Bus open
// on the directory (by any path naming it) fails with kFailedPrecondition,
// and Bus::open fails the same way while an Inspector of the process has the
// directory open. owned() is fine anywhere.
//
// Thread-safety: Inspector is not thread-safe (one thread at a time per
// object; open one per thread). The structs are plain values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/dlq.hpp"
#include "weir/event.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir {

namespace internal {
class InspectorImpl;
}  // namespace internal

// A topic stored in the journal, with the options it was created with and
// what it holds now. Plain value.
struct TopicInfo {
  std::string name{};
  TopicOptions options{};
  std::uint64_t events = 0;  // stored events (sum over partitions of end - start)
  std::uint64_t bytes = 0;   // stored record-batch bytes
};

// One partition of a topic: offsets start..end-1 are stored (retention
// deleted those below start). Plain value.
struct PartitionInfo {
  std::string topic{};
  std::uint32_t partition = 0;
  Offset start = 0;
  Offset end = 0;
  std::uint64_t bytes = 0;
};

// A group's position on one partition, with its lag. Plain value.
struct GroupLag {
  std::string group{};
  std::string topic{};
  std::uint32_t partition = 0;
  // The next offset the group will handle, as persisted; nullopt when the
  // group has no offset for this partition (it would start at `start`).
  std::optional<Offset> committed{};
  Offset start = 0;
  Offset end = 0;
  // end - max(committed, start): never negative, and events retention
  // already deleted do not count.
  Offset lag = 0;
  // The partition-skew signal, by the one rule that Bus::metrics() uses too
  // (GroupPartitionMetrics::skewed in metrics.hpp): lag > 5x the median lag
  // of the group's partitions on this topic, and lag >= 10.
  bool skewed = false;
};

// One stored event, copied out of the journal. Plain value.
struct Record {
  std::string topic{};
  std::uint32_t partition = 0;
  Offset offset = 0;
  std::string key{};
  std::string payload{};
  std::int64_t time_us = 0;
  // The event id: the producer's, or the UUIDv7 derived from the event's
  // place in the log (identical to Message::id() in the owning bus).
  std::string id{};
  std::vector<std::pair<std::string, std::string>> headers{};  // all, in publish order
};

// Unsettled dead letters of one group (its "<group>.dlq" topic). Plain value.
struct DeadLetterDepth {
  std::string group{};
  std::uint64_t count = 0;
  std::int64_t oldest_failure_us = 0;  // last-failure time of the oldest; 0 if none
};

// One problem verify() found. Plain value.
struct JournalProblem {
  std::string topic{};                   // empty for journal-wide problems
  std::optional<std::uint32_t> partition{};
  std::optional<Offset> offset{};        // the record or batch it concerns
  std::string group{};                   // for group-offset and internal-record problems
  std::string what{};
};

// How big the journal is and how full its map. Plain value.
struct JournalUsage {
  std::uint64_t file_bytes = 0;  // size of data.mdb
  std::uint64_t map_bytes = 0;   // the LMDB map size (grows by doubling)
  std::uint64_t used_bytes = 0;  // pages in use (last page number x page size)
  std::uint32_t page_size = 0;
  std::uint32_t readers = 0;      // reader slots in use (the owner's, ours)
  std::uint32_t max_readers = 0;
};

class Inspector {
 public:
  // Opens `dir` read-only. Errors: kNotFound (no such directory, no
  // journal in it, or an empty LMDB environment: a bus's first open cut
  // off before its first commit, which the next bus open completes), kIoError (the directory cannot be read, e.g. "Permission
  // denied": not reported as a missing journal), kFailedPrecondition (not a weir journal, a newer
  // format, or a Bus of this process has `dir` open), kDataLoss
  // (unreadable, or damaged in a way LMDB would trip over: data.mdb is
  // checked before it is mapped, see weir/recovery.hpp), kIoError.
  static Result<std::unique_ptr<Inspector>> open(std::string_view dir);

  // Whether a live bus owns `dir` (holds weir.lock). A probe: the answer
  // may change right after. kNotFound if `dir` has no weir.lock. Thread-safe.
  static Result<bool> owned(std::string_view dir);

  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  // Topics stored in the journal (dead-letter topics "<group>.dlq"
  // included), sorted by name.
  Result<std::vector<TopicInfo>> topics();
  // The partitions of `topic`. kNotFound if no such topic.
  Result<std::vector<PartitionInfo>> partitions(std::string_view topic);
  // Every persisted group offset with its lag and skew flag, by group,
  // topic and partition.
  Result<std::vector<GroupLag>> group_lags();
  // Up to `max` records of `topic`/`partition` from `from`. Errors:
  // kNotFound (topic, or retention deleted `from`: the message says which),
  // kInvalidArgument (partition out of range), kDataLoss (a corrupt record:
  // the records before it are returned first, the next read reports it).
  Result<std::vector<Record>> read(std::string_view topic, std::uint32_t partition, Offset from,
                                   std::size_t max);
  // First offset of the partition whose event time is >= time_us (its end
  // if none).
  Result<Offset> offset_for_time(std::string_view topic, std::uint32_t partition, std::int64_t time_us);

  // Dead letters of `group` not yet redriven or purged, oldest first, at
  // most `limit` (the same selection as Bus::dlq_list). kNotFound if the
  // group has no dead-letter topic.
  Result<std::vector<DeadLetter>> dlq_list(std::string_view group, const DeadLetterFilter& filter = {},
                                           std::size_t limit = 1000);
  // One unsettled dead letter in full. kNotFound if none at that offset.
  Result<DeadLetterEvent> dlq_show(std::string_view group, Offset dlq_offset);
  // The committed value of `key` in state table `table` of group `group`
  // (Bus::read_state, from another process), or nullopt. kInvalidArgument
  // for a bad group name or an empty table name.
  Result<std::optional<std::string>> state_get(std::string_view group, std::string_view table,
                                               std::string_view key);
  // Unsettled dead letters of every group that has a dead-letter topic.
  Result<std::vector<DeadLetterDepth>> dlq_depths();

  // Checks the whole journal: the meta records; every record batch's header
  // checksum, framing and per-record CRC32C; batch keys increasing with
  // contiguous offsets; group offsets naming a stored topic and partition
  // and not beyond its end. Returns the problems found (empty: healthy).
  Result<std::vector<JournalProblem>> verify();

  // File size and map usage.
  Result<JournalUsage> usage();

  const std::string& dir() const noexcept;

 private:
  explicit Inspector(std::unique_ptr<internal::InspectorImpl> impl);
  std::unique_ptr<internal::InspectorImpl> impl_;
};

}  // namespace weir
