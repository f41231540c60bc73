// A structural walk of data.mdb's B-trees without liblmdb: every page read
// with pread into a buffer and checked before anything in it is used.
//
// For each page reached from a meta page: the page number in its header,
// its kind (branch or leaf where a tree page is expected, overflow where a
// big value is), the bounds of its free space (lower/upper), every node
// offset and every key and data size inside the page, child and overflow
// page numbers within the last page the meta names, no page reached twice
// (no cycles, no shared subtrees), keys strictly increasing through each
// tree, depth within the tree's record; then each tree's counts (depth,
// branch/leaf/overflow pages, entries) against its MDB_db record. Damage
// under a page skips that subtree and the walk goes on, so one bad page
// costs only what hangs under it.
//
// Trees walked: the free-page tree, the main tree, and every named database
// (the main tree's F_SUBDATA nodes). Databases with sorted duplicates
// (F_DUPDATA, LEAF2 and sub-pages) are reported as unsupported: the journal
// never creates them.
//
// Thread-safety: a PageWalker belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "journal/file_check.hpp"

namespace weir::internal::mdbfile {

// One piece of damage: in which database, on which page, what is wrong.
struct PageProblem {
  std::string db;                     // "(free pages)", "(main)", or a named database
  std::uint64_t page = kInvalidPage;  // kInvalidPage when not about one page
  std::string what;
};

// A named database: its name (the main tree's key) and its record.
struct NamedDb {
  std::string name;
  DbRecord record;
};

// One leaf entry. `value` is the whole value when the walk reads values;
// otherwise what the leaf page holds inline, or the first page's worth of
// an overflow value (at least its first page size - 16 bytes).
struct LeafEntry {
  std::string_view key;
  std::string_view value;
  std::uint64_t size = 0;       // the value's full size
  bool complete = false;        // value holds all `size` bytes
  std::uint64_t page = 0;       // the leaf page holding the entry
  std::uint16_t flags = 0;      // the node's flags (kSubData for a named database)
};
using EntryFn = std::function<void(const LeafEntry&)>;

// What one tree walk found (the counts a MDB_db record keeps).
struct TreeCounts {
  std::uint16_t depth = 0;
  std::uint64_t branch_pages = 0;
  std::uint64_t leaf_pages = 0;
  std::uint64_t overflow_pages = 0;
  std::uint64_t entries = 0;
};

// A piece of one tree walked apart from the rest (a parallel scan walks a
// big tree's subtrees on several threads, then joins them with join_tree).
struct SubtreeWalk {
  TreeCounts counts;
  std::string first_key;  // its first and last leaf keys, when it has any
  std::string last_key;
  bool has_keys = false;
};

class PageWalker {
 public:
  // Reads pages of `file` (whose meta pages read_data_file has read; used
  // must be 0 or 1). `read_ahead`: the children of a branch page whose
  // children are leaves are read in runs of adjacent pages, one pread per
  // run (else one pread per page; the findings are the same either way).
  // Errors: kIoError when the file cannot be opened.
  static Result<PageWalker> open(const DataFile& file, bool read_ahead = true);
  PageWalker(PageWalker&&) noexcept;
  PageWalker& operator=(PageWalker&&) noexcept;
  PageWalker(const PageWalker&) = delete;
  PageWalker& operator=(const PageWalker&) = delete;
  ~PageWalker();

  // Walks the tree of `db` named `name`, calling `fn` (if set) for each
  // readable leaf entry in key order; values are read whole when
  // `read_values`. Damage goes to problems(); the walk goes on past it.
  // The counts are checked against `db` unless damage was found in it.
  TreeCounts walk(const std::string& name, const DbRecord& db, const EntryFn& fn, bool read_values);

  // The free-page tree and the main tree of the meta in use, and the named
  // databases the main tree holds (their trees are not walked).
  std::vector<NamedDb> walk_catalog();

  // The parallel form of walk(), in three steps. walk_top walks the tree's
  // branch pages at levels 0..split_level (a leaf root: the whole tree) and
  // appends the page numbers of their children, in key order, to
  // `children`; walk_subtree walks one of them (at split_level + 1) with
  // everything under it, on any walker of the same file; join_tree checks
  // the pieces together as walk() checks one tree: keys increasing from
  // one piece to the next, and the summed counts against the record (a
  // leaf among the top levels beside pieces is a problem: a balanced tree
  // has none, and its keys could not be ordered against theirs). Each
  // walker keeps its own problems() and reached pages (see reached_once).
  SubtreeWalk walk_top(const std::string& name, const DbRecord& db, std::uint16_t split_level,
                       std::vector<std::uint64_t>& children);
  SubtreeWalk walk_subtree(const std::string& name, const DbRecord& db, std::uint64_t pgno, std::uint16_t level,
                           const EntryFn& fn, bool read_values);
  // Joins `top` and `pieces` (in key order); damage goes to problems().
  void join_tree(const std::string& name, const DbRecord& db, const SubtreeWalk& top,
                 const std::vector<const SubtreeWalk*>& pieces);
  // True if no page was reached by two of `walkers` (each walker already
  // reports a page it reached twice itself).
  static bool reached_once(const std::vector<const PageWalker*>& walkers);

  const std::vector<PageProblem>& problems() const noexcept { return problems_; }
  std::vector<PageProblem>& problems() noexcept { return problems_; }
  std::uint64_t pages_read() const noexcept { return pages_read_; }
  // pread calls made (a read-ahead run is one).
  std::uint64_t reads() const noexcept { return reads_; }
  const DataFile& file() const noexcept { return file_; }

 private:
  PageWalker(DataFile file, int fd);
  struct TreeWalk;
  // Reads `n` bytes at page `pgno` (offset `skip` in it); false if the file
  // ends first (a problem is recorded).
  bool read(std::uint64_t pgno, std::size_t skip, std::size_t n, unsigned char* out, TreeWalk& t);
  // preads `n` bytes at file offset `off` into `out`, counting each call:
  // 0, an errno, or -1 if the file ends first.
  int read_fully(unsigned char* out, std::size_t n, std::uint64_t off);
  // Why page `pgno` at `level` cannot be entered (too deep, out of the
  // file, reached twice: marks it seen), or "" if it can.
  std::string entry_problem(std::uint64_t pgno, std::uint16_t level, const TreeWalk& t);
  // When branch page `p` (`n` nodes, node area from `upper`, at `level`)
  // has leaves for children: reads those that lie in the file into t's
  // read-ahead, one pread per run of adjacent page numbers; read() then
  // serves them from there (an I/O change only: each is checked, and any
  // problem reported, exactly as before).
  void read_ahead(const unsigned char* p, std::uint16_t upper, std::size_t n, std::uint16_t level, TreeWalk& t);
  void walk_page(std::uint64_t pgno, std::uint16_t level, TreeWalk& t);
  // Node `i` (at `off`) of branch page `pgno`: checks its key against the
  // node before's (`prev_key`, then set to it) and walks its child (or,
  // under walk_top at split_level, collects it). False when the page's
  // other nodes cannot be trusted.
  bool branch_node(std::uint64_t pgno, std::uint16_t level, std::size_t i, std::size_t off, std::string_view key,
                   std::uint64_t child, std::string& prev_key, TreeWalk& t);
  bool read_value(std::uint64_t leaf, std::uint64_t ovpg, std::uint64_t size, bool whole, TreeWalk& t,
                  std::string& out);
  bool mark(std::uint64_t pgno);
  // Compares a walk's counts with the tree's record (problems() if not).
  void check_counts(const std::string& name, const DbRecord& db, const TreeCounts& found);

  DataFile file_;
  int fd_ = -1;
  std::uint64_t last_page_ = 0;
  std::vector<std::uint64_t> seen_;  // bitmap of pages reached so far
  std::vector<PageProblem> problems_;
  std::uint64_t pages_read_ = 0;
  std::uint64_t reads_ = 0;
  bool read_ahead_ = true;
};

}  // namespace weir::internal::mdbfile
