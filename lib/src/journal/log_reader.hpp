// Reading a partition's log (record batches, journal/batch.hpp) in any read
// transaction: used by the bus's journal and by the read-only Inspector.
//
// Thread-safety: free functions; each uses only the transaction it is given
// (one transaction belongs to one thread at a time).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "journal/lmdb.hpp"
#include "weir/event.hpp"
#include "weir/status.hpp"

namespace weir::internal {

// What a worker read from a partition: record bytes copied out of the map.
struct ReadBatch {
  std::vector<char> bytes;
  struct Rec {
    Offset offset;
    std::size_t pos;  // into bytes
    std::uint32_t len;
  };
  std::vector<Rec> recs;
  void clear() {
    bytes.clear();
    recs.clear();
  }
};

// What a partition's log holds: first stored offset, one past the last, and
// the bytes of its record batches.
struct PartitionBounds {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint64_t bytes = 0;
};
// Reads the bounds of the partition log `dbi` (walks every batch for bytes:
// one page fault per leaf page through the map).
Result<PartitionBounds> partition_bounds(MDB_txn* txn, MDB_dbi dbi);
// Its first offset and end only (bytes 0): its first and last batch.
Result<PartitionBounds> partition_range(MDB_txn* txn, MDB_dbi dbi);

// Reads up to `max` records of a partition log from `from`, below `end`
// (the committed watermark), into `out`. kDataLoss names the bad record's
// location (good records before it are returned first); kNotFound means
// retention deleted `from`.
Status read_log(MDB_txn* txn, MDB_dbi dbi, std::string_view topic, std::uint32_t partition,
                std::uint64_t from, std::uint64_t end, std::uint32_t max, ReadBatch& out);

// First offset below `end` of a partition log whose event time is >=
// time_us (`end` if none).
Result<std::uint64_t> log_offset_for_time(MDB_txn* txn, MDB_dbi dbi, std::string_view topic,
                                          std::uint32_t partition, std::uint64_t end,
                                          std::int64_t time_us);

}  // namespace weir::internal
