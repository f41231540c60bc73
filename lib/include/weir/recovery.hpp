// Damaged journals: checking a data directory without trusting it, and
// salvaging what is readable into a new one.
//
// LMDB 0.9 keeps no page checksums and trusts every byte it maps, so weir
// reads data.mdb with its own bounds-checked parser before LMDB maps it
// (Bus::open and Inspector::open refuse a damaged file with kDataLoss), and
// these functions read it with that parser only: they never map the file
// and never crash on hostile bytes.
//
//   auto problems = weir::check_journal("/var/lib/shop/bus", {}).value();
//   if (!problems.empty()) {
//     auto report = weir::salvage_journal("/var/lib/shop/bus", "/var/lib/shop/bus.salvaged").value();
//     for (const auto& p : report.partitions) log(p.topic, p.partition, p.lost);
//   }
//
// Thread-safety: free functions, safe from any thread; they read files
// only (salvage_journal also writes `out`). Run them on a directory no live
// bus is writing: check_journal then walks only the meta pages and the file
// size (a live writer changes pages under a walk).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weir/event.hpp"
#include "weir/inspect.hpp"
#include "weir/status.hpp"

namespace weir {

// What check_journal reads. Plain value.
struct JournalCheckOptions {
  // Also read every record batch whole and check each record's checksum
  // and framing (as Inspector::verify does, but without LMDB). Default
  // true; false checks the structure only (pages, batch headers, offsets
  // chain), reading one page per batch.
  bool records = true;
  // Walk the B-tree pages. Default true; false checks the meta pages and
  // the file size only (what is safe while a live bus writes the file).
  bool pages = true;
  // Also check the journal's layout (format record, a log for each
  // partition, batch headers, contiguous offsets). Default true; false
  // reports only what LMDB itself would trip over.
  bool layout = true;
};

// Checks `dir`'s data.mdb without LMDB: its meta pages (magic, version,
// page size, txnids) and size against the last page they name; every
// B-tree page (page numbers, kinds, free-space bounds, node offsets, key and
// value sizes inside the page, child and overflow page numbers, no page
// reached twice, keys in order, depth and counts against each tree's
// record); the journal's layout (format record, each stored topic's
// partition logs present, batch headers intact, offsets contiguous); with
// options.records, every record checksum. Returns the damage found (empty:
// healthy), each with its location: topic, partition and first offset
// concerned where it hits a partition log; `what` names the LMDB database
// and page. Errors: kNotFound (no data.mdb), kIoError.
Result<std::vector<JournalProblem>> check_journal(std::string_view dir, const JournalCheckOptions& options);

// Offsets first..end-1 of a partition. Plain value.
struct OffsetRange {
  Offset first = 0;
  Offset end = 0;
};

// What salvage_journal did with one partition. Plain value.
struct PartitionSalvage {
  std::string topic{};
  std::uint32_t partition = 0;
  // Offsets copied, each range complete and checksum-valid.
  std::vector<OffsetRange> recovered{};
  // Offsets known to have existed and not copied: gaps between recovered
  // ranges, damaged records, and up to the highest offset a group had
  // committed when that lies past the last recovered one.
  std::vector<OffsetRange> lost{};
  // Damage hit this partition's log after its last recovered offset, so
  // events past `lost` may have existed too (their count is unknown).
  bool tail_unknown = false;
};

// What salvage_journal copied and lost. Plain value.
struct SalvageReport {
  std::vector<PartitionSalvage> partitions;  // every partition of every topic found
  std::uint64_t events = 0;                   // records copied
  std::uint64_t group_offsets = 0;            // group offsets copied
  // State-table values and weir's internal records (dead-letter ledger,
  // retry counts) copied.
  std::uint64_t state_entries = 0;
  std::uint64_t dedupe_entries = 0;           // dedupe records copied
  // Every piece of damage met (as check_journal reports it).
  std::vector<JournalProblem> problems{};
  // Nothing was lost: every partition is complete and no damage was met.
  bool complete() const noexcept;
};

// Copies every readable, checksum-valid record of every partition of `dir`
// into a new data directory `out` at the same offsets in the same
// partitions, with the topics' options, the group offsets, the dedupe
// records and the state tables that are readable, and reports per
// partition what was recovered and lost. Reads `dir` without LMDB, so it
// works on a file LMDB cannot open; writes `out` as a journal a Bus opens.
// A damaged record costs only itself when the record after it in its batch
// checks out (its frame's length was intact); otherwise the rest of that
// batch is lost with it. A record after a lost range is found by its offset, so a group reading
// the copy stops at the gap with FailureKind::kCorruptRecord naming it
// (seek past it to go on). Errors: kNotFound (no journal in `dir`),
// kFailedPrecondition (`out` exists and is not empty, or a live bus owns
// `dir`), kDataLoss (no meta page of `dir` is readable: nothing to walk
// from), kIoError.
Result<SalvageReport> salvage_journal(std::string_view dir, std::string_view out);

}  // namespace weir
