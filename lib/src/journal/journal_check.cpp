#include "journal/journal_check.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "journal/batch.hpp"
#include "journal/format.hpp"
#include "journal/page_walk.hpp"

namespace weir::internal {

using mdbfile::kInvalidPage;

std::string JournalFinding::to_string() const {
  std::string s;
  if (!topic.empty()) s = "topic '" + topic + "'";
  if (partition) s += " partition " + std::to_string(*partition);
  if (offset) s += " offset " + std::to_string(*offset);
  std::string where;
  if (!db.empty() && !partition) where = "database '" + db + "'";
  if (page != kInvalidPage) where += std::string(where.empty() ? "" : ", ") + "page " + std::to_string(page);
  if (!where.empty()) s += std::string(s.empty() ? "" : " ") + "(" + where + ")";
  return s.empty() ? what : s + ": " + what;
}

std::optional<std::pair<std::string, std::uint32_t>> parse_partition_dbi_name(std::string_view name) {
  if (name.size() < 4 || name.substr(0, 2) != "p/") return std::nullopt;
  const auto slash = name.rfind('/');
  if (slash <= 2 || slash + 1 >= name.size()) return std::nullopt;
  std::uint32_t p = 0;
  const char* first = name.data() + slash + 1;
  const char* last = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return std::make_pair(std::string(name.substr(2, slash - 2)), p);
}

std::string lost_range_key(std::string_view topic, std::uint32_t partition, std::uint64_t first) {
  std::string k(kLostRangePrefix);
  k += topic;
  k += '\0';
  char be[12];
  put_be32(be, partition);
  put_be64(be + 4, first);
  k.append(be, sizeof be);
  return k;
}

namespace {

using LostRanges = std::map<std::pair<std::string, std::uint32_t>, std::vector<std::pair<std::uint64_t, std::uint64_t>>>;

// The batch chain of one partition log, checked from its keys and batch
// headers (the first bytes of each value).
struct LogCheck {
  std::string topic;
  std::uint32_t partition;
  std::string db;
  std::vector<JournalFinding>& out;
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>* lost = nullptr;  // recorded by a salvage
  bool chained = false;
  std::uint64_t first_base = 0;  // the first good batch's base offset
  std::uint64_t end = 0;         // one past the last offset of the last good batch
  std::uint64_t bytes = 0;       // of every entry

  // The log's bounds as partition_bounds reads them (when nothing was found).
  PartitionBounds bounds() const { return {chained ? first_base : end, end, bytes}; }
  // Where the chain ends so far, once it has a batch.
  std::optional<std::uint64_t> chain_end() const {
    return chained ? std::optional<std::uint64_t>(end) : std::nullopt;
  }

  void add(std::optional<std::uint64_t> off, std::uint64_t page, std::string what) {
    out.push_back({topic, partition, off, db, page, std::move(what), false});
  }

  // Checks one entry; false if its key is not an offset.
  bool entry(const mdbfile::LeafEntry& e, bool& header_ok) {
    header_ok = false;
    bytes += e.size;
    if (e.key.size() != 8) {
      add(chain_end(), e.page, "batch key of " + std::to_string(e.key.size()) + " bytes (expected 8)");
      return false;
    }
    const std::uint64_t base = get_be64(e.key.data());
    BatchHeader h;
    if (e.value.size() < sizeof h) {
      add(base, e.page, "batch of " + std::to_string(e.size) + " bytes is shorter than its header");
      return true;
    }
    std::memcpy(&h, e.value.data(), sizeof h);
    const std::uint32_t stored = h.crc;
    h.crc = 0;
    if (h.magic != kBatchMagic || crc32c(&h, sizeof h) != stored || h.base_offset != base || h.bytes != e.size ||
        h.count == 0) {
      add(base, e.page, "batch header is damaged (magic, checksum, base offset or size do not match)");
      return true;
    }
    auto recorded = [&] {
      if (lost)
        for (const auto& [first, last_end] : *lost)
          if (first <= end && base <= last_end) return true;
      return false;
    };
    if (chained && base != end && !(base > end && recorded()))
      add(base < end ? base : end, e.page,
          base < end ? "batch at offset " + std::to_string(base) + " overlaps the previous one, which ends at " +
                           std::to_string(end)
                     : "offsets " + std::to_string(end) + ".." + std::to_string(base - 1) +
                           " are missing between two batches");
    if (!chained) first_base = base;
    chained = true;
    end = base + h.count;
    header_ok = true;
    return true;
  }
};

// A lost range recorded in weir.meta (lost_range_key -> be64 end), added
// to `lost`; other entries are left alone.
void add_lost_range(const mdbfile::LeafEntry& e, LostRanges& lost) {
  if (e.key.substr(0, kLostRangePrefix.size()) != kLostRangePrefix || e.value.size() != 8) return;
  const std::string_view rest = e.key.substr(kLostRangePrefix.size());
  const auto nul = rest.find('\0');
  if (nul != std::string_view::npos && rest.size() == nul + 13)
    lost[{std::string(rest.substr(0, nul)), get_be32(rest.data() + nul + 1)}].emplace_back(
        get_be64(rest.data() + nul + 5), get_be64(e.value.data()));
}

// The catalog against the databases present (`dbs`): partition logs
// without weir.meta, weir.meta without a format record (`has_format`; not
// reported over page damage), a stored topic's missing partition logs.
void check_catalog(const std::vector<mdbfile::NamedDb>& dbs, bool has_format, bool page_damage,
                   const std::map<std::string, std::uint32_t>& topics, std::vector<JournalFinding>& findings) {
  std::map<std::string, bool> present;  // named databases found
  for (const auto& d : dbs) present[d.name] = true;
  // Partition logs without weir.meta: a damaged journal (an environment
  // with neither is someone else's, which the open's format check names).
  const bool has_logs = std::any_of(dbs.begin(), dbs.end(), [](const auto& d) {
    return parse_partition_dbi_name(d.name).has_value();
  });
  if (has_logs && !present.count(kMetaDbi))
    findings.push_back({"", std::nullopt, std::nullopt, "(main)", kInvalidPage,
                        "the journal's metadata database weir.meta is missing", false});
  else if (present.count(kMetaDbi) && !has_format && !page_damage)
    findings.push_back({"", std::nullopt, std::nullopt, "weir.meta", kInvalidPage,
                        "weir.meta holds no format record", false});
  for (const auto& [name, parts] : topics)
    for (std::uint32_t p = 0; p < parts; ++p)
      if (!present.count(partition_dbi_name(name, p)))
        findings.push_back({name, p, std::nullopt, partition_dbi_name(name, p), kInvalidPage,
                            "the partition's log database is missing", false});
}

// What walkers read: JournalScan::pages_read and reads.
struct ReadCounts {
  std::uint64_t pages = 0, reads = 0;
  ReadCounts& add(const mdbfile::PageWalker& w) {
    pages += w.pages_read();
    reads += w.reads();
    return *this;
  }
  void into(JournalScan& scan) const {
    scan.pages_read = pages;
    scan.reads = reads;
  }
};

// One piece of walk_rest_in_parallel's work: a subtree, or a whole log.
struct Piece {
  std::size_t db;            // index into the named databases
  std::uint64_t page;        // where its walk starts
  std::uint16_t level;       // the page's level in its tree
  std::uint64_t cost;        // pages expected (to start the big ones first)
  bool log = false;          // a partition log: one piece, batch chain checked
  PartitionBounds bounds{};  // of a log
  mdbfile::SubtreeWalk walk{};
  std::vector<JournalFinding> findings{};
};

// The named databases past weir.meta (`dbs` minus kMetaDbi), walked on
// `threads` threads, each with its own PageWalker of `file`: every log is
// one piece (its batch chain is checked in order); any other tree is cut
// below its root (below level 1 when the root has few children) into
// subtrees, walked apart and joined. True when the walk found nothing at
// all (then `counts` holds what it read); false when anything is amiss:
// the caller walks again on one thread, for findings in their one order.
bool walk_rest_in_parallel(const mdbfile::DataFile& file, const std::vector<mdbfile::NamedDb>& dbs,
                           const LostRanges& lost, const mdbfile::PageWalker& catalog, unsigned threads,
                           bool read_ahead, ReadCounts& counts, std::map<std::string, PartitionBounds>& logs) {
  auto top = mdbfile::PageWalker::open(file, read_ahead);
  if (!top) return false;
  std::vector<Piece> pieces;
  std::map<std::string, PartitionBounds> found;  // logs' bounds: handed out only when the walk stands
  std::vector<mdbfile::SubtreeWalk> tops(dbs.size());
  std::vector<char> cut(dbs.size(), 0);  // walked by walk_top, then in pieces
  for (std::size_t i = 0; i < dbs.size(); ++i) {
    const mdbfile::NamedDb& d = dbs[i];
    if (d.name == kMetaDbi) continue;
    if (d.record.root == kInvalidPage) {
      top->walk(d.name, d.record, mdbfile::EntryFn{}, false);  // an empty tree: its record must count nothing
      if (parse_partition_dbi_name(d.name)) found[d.name] = PartitionBounds{};
      continue;
    }
    const std::uint64_t pages = d.record.branch_pages + d.record.leaf_pages + d.record.entries / 64 + 1;
    if (parse_partition_dbi_name(d.name) || d.record.depth < 2) {
      pieces.push_back({i, d.record.root, 0, pages, parse_partition_dbi_name(d.name).has_value()});
      continue;
    }
    std::vector<std::uint64_t> children;
    // Below level 1 when the root alone would give too few pieces to share.
    const std::uint16_t split = d.record.depth >= 3 && pages >= 64u * threads ? 1 : 0;
    tops[i] = top->walk_top(d.name, d.record, split, children);
    cut[i] = 1;
    for (std::uint64_t c : children)
      pieces.push_back({i, c, static_cast<std::uint16_t>(split + 1), pages / children.size() + 1});
  }
  if (!top->problems().empty()) return false;
  // Biggest first; a stable sort keeps each tree's pieces in key order.
  std::vector<std::size_t> order(pieces.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pieces[a].cost > pieces[b].cost; });

  // Thread-safety: each thread claims pieces through `next` (relaxed: a
  // claim counter; nothing is published through it) and writes only the
  // pieces it claimed and walkers[k]; the coordinator reads them after
  // join(), which orders those writes before its reads. The file is read
  // with pread on each walker's own descriptor.
  std::vector<std::optional<mdbfile::PageWalker>> walkers(threads);
  std::atomic<std::size_t> next{0};
  auto work = [&](unsigned k) {
    auto w = mdbfile::PageWalker::open(file, read_ahead);
    if (!w) return;
    for (std::size_t n; (n = next.fetch_add(1, std::memory_order_relaxed)) < order.size();) {
      Piece& piece = pieces[order[n]];
      const mdbfile::NamedDb& d = dbs[piece.db];
      if (!piece.log) {
        piece.walk = w->walk_subtree(d.name, d.record, piece.page, piece.level, mdbfile::EntryFn{}, false);
        continue;
      }
      const auto part = parse_partition_dbi_name(d.name);
      LogCheck log{part->first, part->second, d.name, piece.findings};
      if (auto it = lost.find(*part); it != lost.end()) log.lost = &it->second;
      const mdbfile::EntryFn fn = [&](const mdbfile::LeafEntry& e) {
        bool header_ok = false;
        log.entry(e, header_ok);
      };
      // A log is one piece: walk() also checks its counts.
      w->walk(d.name, d.record, fn, false);
      piece.bounds = log.bounds();
    }
    walkers[k] = std::move(*w);
  };
  std::vector<std::thread> pool;
  for (unsigned k = 1; k < threads; ++k) pool.emplace_back(work, k);
  work(0);
  for (auto& th : pool) th.join();
  std::vector<const mdbfile::PageWalker*> all{&catalog, &*top};
  for (const auto& w : walkers) {
    if (!w || !w->problems().empty()) return false;
    all.push_back(&*w);
  }
  for (const Piece& piece : pieces)
    if (!piece.findings.empty()) return false;
    else if (piece.log) found[dbs[piece.db].name] = piece.bounds;
  if (!mdbfile::PageWalker::reached_once(all)) return false;
  // Join each cut tree's pieces (they sit in key order within `pieces`).
  for (std::size_t i = 0; i < dbs.size(); ++i) {
    std::vector<const mdbfile::SubtreeWalk*> mine;
    for (const Piece& piece : pieces)
      if (piece.db != i || piece.log) continue;
      else if (cut[i]) mine.push_back(&piece.walk);
      else top->join_tree(dbs[i].name, dbs[i].record, piece.walk, {});  // a whole tree in one piece
    if (cut[i]) top->join_tree(dbs[i].name, dbs[i].record, tops[i], mine);
  }
  if (!top->problems().empty()) return false;
  counts.add(*top);
  for (const auto& w : walkers) counts.add(*w);
  logs = std::move(found);
  return true;
}

// Threads for walk_rest_in_parallel: 1 (walk on this thread) for a small
// file, or when hooks want entries handed out in order.
unsigned walk_threads(const std::vector<mdbfile::NamedDb>& dbs, const ScanHooks& hooks) {
  if (hooks.batch || hooks.entry || hooks.read_values) return 1;
  std::uint64_t tree_pages = 0;
  for (const auto& d : dbs) tree_pages += d.record.branch_pages + d.record.leaf_pages;
  if (tree_pages < hooks.parallel_min_pages) return 1;
  if (hooks.threads) return hooks.threads;
  return std::min(16u, std::max(1u, hooks.cores ? hooks.cores : std::thread::hardware_concurrency()));
}

}  // namespace

Result<JournalScan> scan_journal_file(const std::string& dir, bool walk_pages, const ScanHooks& hooks) {
  const std::string path = (std::filesystem::path(dir) / "data.mdb").string();
  JournalScan scan;
  // Pages are walked only where no writer is live (see the header).
  auto file = mdbfile::read_data_file(path, /*live_writer=*/!walk_pages);
  if (!file) {
    if (file.status().code() == Code::kNotFound) return scan;
    return file.status();
  }
  scan.file = *file;
  for (const std::string& p : file->problems) scan.findings.push_back({"", std::nullopt, std::nullopt, "", kInvalidPage, p});
  if (file->used < 0 || !walk_pages) return scan;  // empty (never initialised) or no valid meta page
  mdbfile::DataFile snapshot = *file;
  if (hooks.meta == 0 || hooks.meta == 1) {
    if (!snapshot.meta[static_cast<std::size_t>(hooks.meta)].valid)
      return Status::data_loss("'" + snapshot.path + "': meta page " + std::to_string(hooks.meta) + " is not valid");
    snapshot.used = hooks.meta;
  }
  auto walker = mdbfile::PageWalker::open(snapshot, hooks.read_ahead);
  if (!walker) return walker.status();
  mdbfile::PageWalker& w = *walker;
  const std::vector<mdbfile::NamedDb> dbs = w.walk_catalog();

  auto take_page_problems = [&](std::size_t from, const std::string& topic, std::optional<std::uint32_t> partition,
                                std::optional<std::uint64_t> offset) {
    auto& ps = w.problems();
    for (std::size_t i = from; i < ps.size(); ++i)
      scan.findings.push_back({topic, partition, offset, ps[i].db, ps[i].page, ps[i].what});
    return ps.size();
  };
  std::size_t taken = take_page_problems(0, "", std::nullopt, std::nullopt);

  // weir.meta: the format record and the stored topics.
  std::map<std::string, std::uint32_t> topics;  // name -> partitions
  bool has_format = false;
  LostRanges lost;
  for (const auto& d : dbs) {
    if (d.name != kMetaDbi) continue;
    const mdbfile::EntryFn fn = [&](const mdbfile::LeafEntry& e) {
      if (!e.complete) return;
      if (hooks.entry) hooks.entry(d.name, e.key, e.value);
      // Another value is not damage: the open's format check names it.
      if (e.key == kMetaFormatKey) has_format = true;
      add_lost_range(e, lost);
      if (e.key.substr(0, kTopicMetaPrefix.size()) == kTopicMetaPrefix) {
        const std::string name(e.key.substr(kTopicMetaPrefix.size()));
        const auto o = decode_topic_options(e.value);
        if (!o)
          scan.findings.push_back({name, std::nullopt, std::nullopt, d.name, e.page,
                                   "stored topic options are malformed (" + std::to_string(e.size) + " bytes)", false});
        else
          topics[name] = o->partitions;
      }
    };
    w.walk(d.name, d.record, fn, true);
    taken = take_page_problems(taken, "", std::nullopt, std::nullopt);
  }
  check_catalog(dbs, has_format, !w.problems().empty(), topics, scan.findings);

  // Every other named database: partition logs with their batch chains,
  // the rest (offsets, dedupe, state) page by page; on several threads
  // when walk_threads says so and nothing is amiss so far.
  if (const unsigned threads = walk_threads(dbs, hooks); threads > 1 && scan.findings.empty() && w.problems().empty()) {
    ReadCounts rest;
    if (walk_rest_in_parallel(snapshot, dbs, lost, w, threads, hooks.read_ahead, rest, scan.logs)) {
      rest.add(w).into(scan);
      scan.threads = threads;
      return scan;
    }
  }
  for (const auto& d : dbs) {
    if (d.name == kMetaDbi) continue;
    const auto part = parse_partition_dbi_name(d.name);
    if (!part) {
      mdbfile::EntryFn copy;
      if (hooks.entry)
        copy = [&](const mdbfile::LeafEntry& e) {
          if (e.complete) hooks.entry(d.name, e.key, e.value);
        };
      w.walk(d.name, d.record, copy, hooks.entry != nullptr);
      taken = take_page_problems(taken, "", std::nullopt, std::nullopt);
      continue;
    }
    LogCheck log{part->first, part->second, d.name, scan.findings};
    if (auto it = lost.find(*part); it != lost.end()) log.lost = &it->second;
    const mdbfile::EntryFn fn = [&](const mdbfile::LeafEntry& e) {
      // Page damage met before this entry: it lies after the chain's end.
      taken = take_page_problems(taken, part->first, part->second, log.chain_end());
      bool header_ok = false;
      if (log.entry(e, header_ok) && hooks.batch)
        hooks.batch(part->first, part->second, get_be64(e.key.data()), e.value, header_ok);
    };
    w.walk(d.name, d.record, fn, hooks.read_values);
    taken = take_page_problems(taken, part->first, part->second, log.chain_end());
    scan.logs[d.name] = log.bounds();
  }
  ReadCounts().add(w).into(scan);
  return scan;
}

Status check_journal_file(const std::string& dir, bool walk_pages, bool structural_only,
                          std::map<std::string, PartitionBounds>* logs) {
  auto scan = scan_journal_file(dir, walk_pages);
  if (!scan) return scan.status();
  // The bounds hold only for a journal with no finding at all.
  if (logs && scan->findings.empty()) *logs = std::move(scan->logs);
  if (structural_only)
    scan->findings.erase(std::remove_if(scan->findings.begin(), scan->findings.end(),
                                        [](const JournalFinding& f) { return !f.structural; }),
                         scan->findings.end());
  if (scan->findings.empty()) return Status::ok();
  std::string m = "journal in '" + dir + "' is damaged: " + scan->findings.front().to_string();
  if (scan->findings.size() > 1) m += " (and " + std::to_string(scan->findings.size() - 1) + " more finding(s))";
  return Status::data_loss(m + "; run `weir verify` to list the damage and `weir salvage` to copy what is readable");
}

}  // namespace weir::internal
