// The journal's data.mdb checked without liblmdb, before LMDB maps it: the
// meta pages and file size (file_check.hpp), the B-trees page by page
// (page_walk.hpp), and what the journal's layout promises on top of them:
// weir.meta holds the format record and each stored topic's options, every
// partition of a stored topic has its log, and each log's batch keys are
// 8-byte offsets whose batch headers are intact (magic, checksum, base
// offset = key, size = value size) and chain without gaps (retention only
// ever deletes from the front).
//
// Cost (measured, see README "Recovery"): one pread per leaf and branch
// page and one per batch stored in overflow pages (its header page only;
// record checksums are not read). Bus::open and Inspector::open run it.
//
// Thread-safety: free functions; each opens its own file descriptor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "journal/file_check.hpp"
#include "journal/log_reader.hpp"
#include "weir/status.hpp"

namespace weir::internal {

// One piece of damage with where it is: the topic and partition whose log
// it hits (when it hits one), the first offset concerned (when known), the
// LMDB database and page.
struct JournalFinding {
  std::string topic;
  std::optional<std::uint32_t> partition;
  std::optional<std::uint64_t> offset;
  std::string db;                               // LMDB database ("weir.meta", "p/t/0", "(main)")
  std::uint64_t page = mdbfile::kInvalidPage;   // kInvalidPage: not about one page
  std::string what;
  // True for damage LMDB itself would trip over (file, meta or page
  // structure); false for the journal's own layout (batch headers, offsets
  // chain, logs present, metadata records), which LMDB reads safely.
  bool structural = true;

  // "topic 't' partition 2 offset 480 (database 'p/t/2', page 17): what".
  std::string to_string() const;
};

// What scan_journal_file saw.
struct JournalScan {
  mdbfile::DataFile file;
  std::vector<JournalFinding> findings;  // empty: the structure is sound
  std::uint64_t pages_read = 0;
  std::uint64_t reads = 0;  // pread calls (a leaf-parent's children are read in runs of adjacent pages)
  unsigned threads = 1;  // threads whose walk stands (1 after a parallel walk found something)
  // Each partition log's bounds (first offset, end, bytes of its batches:
  // what partition_bounds reads through LMDB), by database name ("p/t/0");
  // to be trusted only when findings is empty.
  std::map<std::string, PartitionBounds> logs;
};

// What a scan hands out besides its findings (verify's record checks and
// salvage read the journal through these).
struct ScanHooks {
  // Read values whole (overflow pages included); otherwise only the first
  // page of each big value is read (batch headers).
  bool read_values = false;
  // The meta page whose snapshot to read: -1 the one LMDB would use, 0 or
  // 1 that one (the other holds the previous commit's snapshot).
  int meta = -1;
  // Each partition-log entry with an 8-byte key, in offset order, from the
  // pages the walk could read; `header_ok`: its batch header is intact.
  // `value` is whole only when read_values.
  std::function<void(const std::string& topic, std::uint32_t partition, std::uint64_t base, std::string_view value,
                     bool header_ok)>
      batch;
  // Each entry of the other named databases (weir.meta, weir.offsets,
  // weir.dedupe, weir.dedupe.time, weir.state, ...), whole, in key order.
  std::function<void(const std::string& db, std::string_view key, std::string_view value)> entry;
  // Threads for the walk of the named databases past weir.meta when no
  // hook above is set: 0 = one per core (at most 16), 1 = one. Used only
  // for a file whose trees hold at least `parallel_min_pages` pages. A
  // parallel walk that finds anything is thrown away and the walk is done
  // again on one thread, so the findings (and their order) never depend on
  // the threads.
  unsigned threads = 0;
  std::uint64_t parallel_min_pages = 16384;  // 64 MiB of 4 KiB pages
  // The cores `threads = 0` counts (0: std::thread::hardware_concurrency()).
  unsigned cores = 0;
  // Read the children of a branch page whose children are leaves in runs
  // of adjacent pages, one pread per run (false: one pread per page; the
  // findings are the same either way).
  bool read_ahead = true;
};

// Scans `dir`/data.mdb. With walk_pages false only the meta pages and the
// file size are checked (for a journal a live bus is writing: its pages
// change under the walk, and its metas are read until consistent, see
// read_data_file). Errors: kIoError (cannot read); a missing or
// empty data.mdb is a scan with no findings (LMDB initialises it).
Result<JournalScan> scan_journal_file(const std::string& dir, bool walk_pages = true, const ScanHooks& hooks = {});

// scan_journal_file for the open paths: ok, kDataLoss naming the first
// finding (and how many more), or kIoError. With structural_only, layout
// findings do not count (the read-only Inspector reports them itself).
// When ok and `logs` is set, *logs gets the scan's partition-log bounds
// (Bus::open then need not walk every batch through LMDB's map again).
Status check_journal_file(const std::string& dir, bool walk_pages = true, bool structural_only = false,
                          std::map<std::string, PartitionBounds>* logs = nullptr);

// A range of a partition's offsets that `weir salvage` could not recover,
// recorded in weir.meta of the salvaged copy under
// "lost/<topic>\0" be32(partition) be64(first) -> be64(end), so the copy's
// batch chain may have that gap (readers still stop at it: the events are
// gone).
std::string lost_range_key(std::string_view topic, std::uint32_t partition, std::uint64_t first);
inline constexpr std::string_view kLostRangePrefix = "lost/";

// "p/<topic>/<partition>" -> (topic, partition), or nullopt.
std::optional<std::pair<std::string, std::uint32_t>> parse_partition_dbi_name(std::string_view name);

}  // namespace weir::internal
