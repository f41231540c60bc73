#include "journal/page_walk.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace weir::internal::mdbfile {

namespace {

constexpr std::size_t kNodeHeader = 8;   // lo u16, hi u16, flags u16, ksize u16
constexpr std::uint16_t kMaxDepth = 32;  // a B-tree of 2^48 bytes is far shallower

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// LMDB's default key order (mdb_cmp_memn): bytes, then length.
int compare_keys(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

// MDB_INTEGERKEY databases (the free-page tree: txnids) order their keys
// as native unsigned integers, not as bytes.
constexpr std::uint16_t kIntegerKey = 0x08;
int compare_keys(std::uint16_t db_flags, std::string_view a, std::string_view b) {
  if ((db_flags & kIntegerKey) && a.size() == b.size() && (a.size() == 8 || a.size() == 4)) {
    std::uint64_t x = 0, y = 0;
    std::memcpy(&x, a.data(), a.size());
    std::memcpy(&y, b.data(), b.size());
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return compare_keys(a, b);
}

std::string page_kind(std::uint16_t flags) {
  if (flags & kBranch) return "branch";
  if (flags & kLeaf) return "leaf";
  if (flags & kOverflow) return "overflow";
  if (flags & kMeta) return "meta";
  return "unknown (flags " + std::to_string(flags) + ")";
}

// The child page number of a branch node: LMDB keeps it in the node's
// lo, hi and flags fields (16 bits each).
std::uint64_t branch_child(const unsigned char* node) {
  return load<std::uint16_t>(node) | (std::uint64_t{load<std::uint16_t>(node + 2)} << 16) |
         (std::uint64_t{load<std::uint16_t>(node + 4)} << 32);
}

// A branch or leaf page's header, checked.
struct NodePage {
  bool branch = false;     // else a leaf
  std::uint16_t upper = 0;  // where the node area starts
  std::size_t nodes = 0;
};

// What is wrong with the header of page `pgno` (`ps` bytes at `p`) as a
// branch or leaf page, or empty (and `out` set) if nothing.
std::string node_page_problem(const unsigned char* p, std::uint64_t pgno, std::uint32_t ps, NodePage& out) {
  const auto hdr_pgno = load<std::uint64_t>(p);
  const auto flags = load<std::uint16_t>(p + 10);
  const auto lower = load<std::uint16_t>(p + 12);
  const auto upper = load<std::uint16_t>(p + 14);
  if (hdr_pgno != pgno) return "page header names page " + std::to_string(hdr_pgno);
  if (flags & (kLeaf2 | kSubPage))
    return "page holds sorted duplicates (flags " + std::to_string(flags) + "), which the journal never stores";
  const bool branch = (flags & kBranch) != 0, leaf = (flags & kLeaf) != 0;
  if (branch == leaf || (flags & (kOverflow | kMeta)))
    return "expected a branch or leaf page, found a " + page_kind(flags) + " page";
  if (lower < kPageHeader || lower > upper || upper > ps || (lower - kPageHeader) % 2)
    return "free-space bounds lower " + std::to_string(lower) + " / upper " + std::to_string(upper) +
           " are impossible in a page of " + std::to_string(ps) + " bytes";
  const std::size_t n = (lower - kPageHeader) / 2;
  if (n == 0) return std::string("empty ") + (branch ? "branch" : "leaf") + " page";
  out = NodePage{branch, upper, n};
  return {};
}

}  // namespace

struct PageWalker::TreeWalk {
  std::string name;
  DbRecord db;
  const EntryFn* fn = nullptr;
  bool read_values = false;
  TreeCounts counts;
  std::string first_key;  // kept only when keep_first (a parallel walk's piece)
  std::string last_key;
  bool have_last = false;
  bool keep_first = false;
  bool damaged = false;
  // walk_top: children of branch pages at split_level are collected here,
  // not walked.
  std::vector<std::uint64_t>* children = nullptr;
  std::uint16_t split_level = 0;
  std::vector<std::vector<unsigned char>> bufs;  // one page buffer per level
  std::string value;                              // the current entry's value
  // Read-ahead of the children of the branch page being walked whose
  // children are leaves (see read_ahead): their page numbers, ascending,
  // and their bytes, one page each at the same index in `ahead_bytes`.
  std::vector<std::uint64_t> ahead_pages;
  std::vector<unsigned char> ahead_bytes;

  TreeWalk() : bufs(kMaxDepth + 1) {}
  // The page buffer of `level`, allocated when the walk first reaches it.
  unsigned char* buffer(std::uint16_t level, std::uint32_t page_size) {
    std::vector<unsigned char>& b = bufs[level];
    if (b.empty()) b.resize(page_size);
    return b.data();
  }
};

PageWalker::PageWalker(DataFile file, int fd) : file_(std::move(file)), fd_(fd) {
  const MetaPage& m = file_.current();
  // Pages past the end of a truncated file are reported, never marked.
  const std::uint64_t in_file = file_.file_bytes / file_.page_size;
  last_page_ = m.last_page;
  seen_.assign((std::min(last_page_ + 1, in_file) + 63) / 64, 0);
}

PageWalker::PageWalker(PageWalker&& o) noexcept
    : file_(std::move(o.file_)), fd_(o.fd_), last_page_(o.last_page_), seen_(std::move(o.seen_)),
      problems_(std::move(o.problems_)), pages_read_(o.pages_read_), reads_(o.reads_), read_ahead_(o.read_ahead_) {
  o.fd_ = -1;
}

PageWalker& PageWalker::operator=(PageWalker&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    file_ = std::move(o.file_);
    fd_ = o.fd_;
    o.fd_ = -1;
    last_page_ = o.last_page_;
    seen_ = std::move(o.seen_);
    problems_ = std::move(o.problems_);
    pages_read_ = o.pages_read_;
    reads_ = o.reads_;
    read_ahead_ = o.read_ahead_;
  }
  return *this;
}

PageWalker::~PageWalker() {
  if (fd_ >= 0) ::close(fd_);
}

Result<PageWalker> PageWalker::open(const DataFile& file, bool read_ahead) {
  if (file.used < 0 || file.page_size == 0)
    return Status::data_loss("'" + file.path + "' has no valid meta page to walk from");
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open '" + file.path + "': " + std::strerror(errno));
  PageWalker w(file, fd);
  w.read_ahead_ = read_ahead;
  return w;
}

bool PageWalker::mark(std::uint64_t pgno) {
  if (pgno / 64 >= seen_.size()) return true;  // past the file: reported by read()
  std::uint64_t& w = seen_[pgno / 64];
  const std::uint64_t bit = std::uint64_t{1} << (pgno % 64);
  if (w & bit) return false;
  w |= bit;
  return true;
}

bool PageWalker::read(std::uint64_t pgno, std::size_t skip, std::size_t n, unsigned char* out, TreeWalk& t) {
  const std::uint64_t off = pgno * file_.page_size + skip;
  if (off + n > file_.file_bytes) {
    problems_.push_back({t.name, pgno,
                         "page lies past the end of the file (" + std::to_string(file_.file_bytes) +
                             " bytes): the file is truncated"});
    t.damaged = true;
    return false;
  }
  if (skip == 0 && n == file_.page_size && !t.ahead_pages.empty()) {
    const auto it = std::lower_bound(t.ahead_pages.begin(), t.ahead_pages.end(), pgno);
    if (it != t.ahead_pages.end() && *it == pgno) {
      std::memcpy(out, t.ahead_bytes.data() + static_cast<std::size_t>(it - t.ahead_pages.begin()) * n, n);
      ++pages_read_;
      return true;
    }
  }
  if (const int err = read_fully(out, n, off); err != 0) {
    problems_.push_back({t.name, pgno, std::string("cannot read the page: ") +
                                           (err > 0 ? std::strerror(err) : "unexpected end of file")});
    t.damaged = true;
    return false;
  }
  ++pages_read_;
  return true;
}

int PageWalker::read_fully(unsigned char* out, std::size_t n, std::uint64_t off) {
  for (std::size_t got = 0; got < n;) {
    const ssize_t r = ::pread(fd_, out + got, n - got, static_cast<off_t>(off + got));
    ++reads_;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return -1;
    got += static_cast<std::size_t>(r);
  }
  return 0;
}

void PageWalker::read_ahead(const unsigned char* p, std::uint16_t upper, std::size_t n, std::uint16_t level,
                            TreeWalk& t) {
  // Only where the children are leaves (by the tree's record), and not
  // where walk_top collects the children instead of walking them.
  if (!read_ahead_ || t.db.depth == 0 || level + 2 != t.db.depth || (t.children != nullptr && level == t.split_level))
    return;
  const std::uint32_t ps = file_.page_size;
  t.ahead_pages.clear();
  std::vector<std::uint64_t> want;
  want.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t off = load<std::uint16_t>(p + kPageHeader + 2 * i);
    if (off < upper || off + kNodeHeader > ps) continue;  // walk_page reports it
    const std::uint64_t child = branch_child(p + off);
    if (child >= 2 && child <= last_page_ && (child + 1) * ps <= file_.file_bytes) want.push_back(child);
  }
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  t.ahead_bytes.resize(want.size() * ps);
  // One pread per run of adjacent pages; a run that cannot be read whole is
  // left out (its pages are then read one by one, which reports the error).
  for (std::size_t i = 0; i < want.size();) {
    std::size_t j = i + 1;
    while (j < want.size() && want[j] == want[j - 1] + 1) ++j;
    unsigned char* const dst = t.ahead_bytes.data() + t.ahead_pages.size() * ps;
    if (read_fully(dst, (j - i) * ps, want[i] * ps) == 0)
      t.ahead_pages.insert(t.ahead_pages.end(), want.begin() + i, want.begin() + j);
    i = j;
  }
}

bool PageWalker::read_value(std::uint64_t leaf, std::uint64_t ovpg, std::uint64_t size, bool whole, TreeWalk& t,
                            std::string& out) {
  const std::uint32_t ps = file_.page_size;
  auto problem = [&](std::string what) {
    problems_.push_back({t.name, leaf, std::move(what)});
    t.damaged = true;
    return false;
  };
  const std::uint64_t pages = (kPageHeader - 1 + size) / ps + 1;  // LMDB's OVPAGES
  if (ovpg < 2 || ovpg > last_page_ || pages > last_page_ - ovpg + 1)
    return problem("a big value of " + std::to_string(size) + " bytes points at overflow pages " +
                   std::to_string(ovpg) + ".." + std::to_string(ovpg + pages - 1) + ", outside pages 2.." +
                   std::to_string(last_page_));
  unsigned char head[kPageHeader];
  if (!read(ovpg, 0, sizeof head, head, t)) return false;
  const auto flags = load<std::uint16_t>(head + 10);
  if (load<std::uint64_t>(head) != ovpg || !(flags & kOverflow) || load<std::uint32_t>(head + 12) != pages) {
    problems_.push_back({t.name, ovpg,
                         "expected the first of " + std::to_string(pages) + " overflow pages (for a value on leaf page " +
                             std::to_string(leaf) + "), found a " + page_kind(flags) + " page numbered " +
                             std::to_string(load<std::uint64_t>(head)) + " spanning " +
                             std::to_string(load<std::uint32_t>(head + 12))});
    t.damaged = true;
    return false;
  }
  for (std::uint64_t p = ovpg; p < ovpg + pages; ++p)
    if (!mark(p)) {
      problems_.push_back({t.name, p, "overflow page is reached a second time (shared or looping page pointers)"});
      t.damaged = true;
      return false;
    }
  t.counts.overflow_pages += pages;
  const std::uint64_t want = whole ? size : std::min<std::uint64_t>(size, ps - kPageHeader);
  out.resize(want);
  if (want == 0) return true;
  return read(ovpg, kPageHeader, want, reinterpret_cast<unsigned char*>(out.data()), t);
}

std::string PageWalker::entry_problem(std::uint64_t pgno, std::uint16_t level, const TreeWalk& t) {
  if (level >= kMaxDepth || (t.db.depth && level >= t.db.depth))
    return "tree is deeper than its record's depth " + std::to_string(t.db.depth);
  if (pgno < 2 || pgno > last_page_) return "page number is outside pages 2.." + std::to_string(last_page_);
  if (!mark(pgno)) return "page is reached a second time (shared or looping page pointers)";
  return {};
}

bool PageWalker::branch_node(std::uint64_t pgno, std::uint16_t level, std::size_t i, std::size_t off,
                             std::string_view key, std::uint64_t child, std::string& prev_key, TreeWalk& t) {
  auto problem = [&](const std::string& what) {
    problems_.push_back({t.name, pgno, "node " + std::to_string(i) + " at offset " + std::to_string(off) + what});
    t.damaged = true;
  };
  if (i > 0) {  // the first node's key is not stored
    if (i > 1 && compare_keys(t.db.flags, prev_key, key) >= 0) {
      problem(": branch keys are out of order");
      return false;
    }
    prev_key.assign(key);
  }
  if (child < 2 || child > last_page_) {
    problem(": child page " + std::to_string(child) + " is outside pages 2.." + std::to_string(last_page_));
    return true;
  }
  if (t.children != nullptr && level == t.split_level) t.children->push_back(child);
  else walk_page(child, static_cast<std::uint16_t>(level + 1), t);
  return true;
}

void PageWalker::walk_page(std::uint64_t pgno, std::uint16_t level, TreeWalk& t) {
  const std::uint32_t ps = file_.page_size;
  auto problem = [&](std::string what) {
    problems_.push_back({t.name, pgno, std::move(what)});
    t.damaged = true;
  };
  if (std::string what = entry_problem(pgno, level, t); !what.empty()) return problem(std::move(what));
  unsigned char* p = t.buffer(level, ps);
  if (!read(pgno, 0, ps, p, t)) return;
  NodePage page;
  if (std::string what = node_page_problem(p, pgno, ps, page); !what.empty()) return problem(std::move(what));
  const auto [branch, upper, n] = page;
  if (branch) read_ahead(p, upper, n, level, t);
  if (level + 1 > t.counts.depth) t.counts.depth = static_cast<std::uint16_t>(level + 1);
  ++(branch ? t.counts.branch_pages : t.counts.leaf_pages);
  std::string prev_branch_key;
  // A leaf's keys are compared as views into its page buffer; only the
  // page's last one is copied, for the next leaf's first compare (also when
  // the loop ends early on damage).
  std::string_view prev_leaf_key;
  bool prev_on_page = false;
  struct KeepLast {
    TreeWalk& t;
    const std::string_view& key;
    const bool& set;
    ~KeepLast() {
      if (set) t.last_key.assign(key);
    }
  } keep_last{t, prev_leaf_key, prev_on_page};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t off = load<std::uint16_t>(p + kPageHeader + 2 * i);
    // Built only for a problem: this loop runs for every entry of the file.
    auto at = [&] { return "node " + std::to_string(i) + " at offset " + std::to_string(off); };
    if (off < upper || off + kNodeHeader > ps) {
      problem(at() + " lies outside the page's node area " + std::to_string(upper) + ".." + std::to_string(ps));
      return;
    }
    const unsigned char* node = p + off;
    const std::uint32_t lo = load<std::uint16_t>(node), hi = load<std::uint16_t>(node + 2);
    const std::uint16_t nflags = load<std::uint16_t>(node + 4), ksize = load<std::uint16_t>(node + 6);
    if (off + kNodeHeader + ksize > ps) {
      problem(at() + ": key of " + std::to_string(ksize) + " bytes runs past the end of the page");
      return;
    }
    const std::string_view key(reinterpret_cast<const char*>(node + kNodeHeader), ksize);
    if (branch) {
      const std::uint64_t child = branch_child(node);
      if (!branch_node(pgno, level, i, off, key, child, prev_branch_key, t)) return;
      p = t.bufs[level].data();  // unchanged: each level has its own buffer
      continue;
    }
    const std::uint64_t dsize = lo | (std::uint64_t{hi} << 16);
    if (nflags & kDupData) {
      problem(at() + ": node holds sorted duplicates, which the journal never stores");
      continue;
    }
    const bool big = (nflags & kBigData) != 0;
    const std::size_t inline_bytes = big ? 8 : dsize;
    if (off + kNodeHeader + ksize + inline_bytes > ps) {
      problem(at() + ": value of " + std::to_string(dsize) + " bytes" + (big ? " (its page number)" : "") +
              " runs past the end of the page");
      continue;
    }
    if ((nflags & kSubData) && (big || dsize != kDbRecordBytes)) {
      problem(at() + ": named database record of " + std::to_string(dsize) + " bytes (expected " +
              std::to_string(kDbRecordBytes) + ")");
      continue;
    }
    const bool ordered = prev_on_page ? compare_keys(t.db.flags, prev_leaf_key, key) < 0
                                      : !t.have_last || compare_keys(t.db.flags, t.last_key, key) < 0;
    if (!ordered) {
      problem(at() + ": keys are out of order (a key not above the one before it)");
      continue;
    }
    if (t.keep_first && !t.have_last) t.first_key.assign(key);
    prev_leaf_key = key;
    prev_on_page = true;
    t.have_last = true;
    ++t.counts.entries;
    const unsigned char* data = node + kNodeHeader + ksize;
    LeafEntry e;
    e.key = key;
    e.size = dsize;
    e.page = pgno;
    e.flags = nflags;
    if (big) {
      if (!read_value(pgno, load<std::uint64_t>(data), dsize, t.read_values, t, t.value)) continue;
      e.value = t.value;
    } else {
      e.value = std::string_view(reinterpret_cast<const char*>(data), dsize);
    }
    e.complete = e.value.size() == dsize;
    if (t.fn && *t.fn) (*t.fn)(e);
  }
}

TreeCounts PageWalker::walk(const std::string& name, const DbRecord& db, const EntryFn& fn, bool read_values) {
  TreeWalk t;
  t.name = name;
  t.db = db;
  t.fn = &fn;
  t.read_values = read_values;
  if (db.root == kInvalidPage) {
    if (db.entries || db.depth || db.leaf_pages || db.branch_pages)
      problems_.push_back({name, kInvalidPage,
                           "tree has no root page but its record counts " + std::to_string(db.entries) +
                               " entries"});
    return t.counts;
  }
  walk_page(db.root, 0, t);
  if (!t.damaged) check_counts(name, db, t.counts);
  return t.counts;
}

void PageWalker::check_counts(const std::string& name, const DbRecord& db, const TreeCounts& found) {
  auto differs = [&](const char* what, std::uint64_t got, std::uint64_t recorded) {
    if (got != recorded)
      problems_.push_back({name, db.root,
                           std::string("tree holds ") + std::to_string(got) + " " + what + " but its record says " +
                               std::to_string(recorded)});
  };
  differs("entries", found.entries, db.entries);
  differs("levels", found.depth, db.depth);
  differs("branch pages", found.branch_pages, db.branch_pages);
  differs("leaf pages", found.leaf_pages, db.leaf_pages);
  differs("overflow pages", found.overflow_pages, db.overflow_pages);
}

SubtreeWalk PageWalker::walk_top(const std::string& name, const DbRecord& db, std::uint16_t split_level,
                                 std::vector<std::uint64_t>& children) {
  SubtreeWalk out;
  if (db.root == kInvalidPage) {
    walk(name, db, EntryFn{}, false);  // reports a record that counts entries
    return out;
  }
  TreeWalk t;
  t.name = name;
  t.db = db;
  t.keep_first = true;
  t.children = &children;
  t.split_level = split_level;
  const EntryFn none;
  t.fn = &none;
  walk_page(db.root, 0, t);
  out.counts = t.counts;
  out.has_keys = t.have_last;
  out.first_key = std::move(t.first_key);
  out.last_key = std::move(t.last_key);
  return out;
}

SubtreeWalk PageWalker::walk_subtree(const std::string& name, const DbRecord& db, std::uint64_t pgno,
                                     std::uint16_t level, const EntryFn& fn, bool read_values) {
  TreeWalk t;
  t.name = name;
  t.db = db;
  t.fn = &fn;
  t.read_values = read_values;
  t.keep_first = true;
  walk_page(pgno, level, t);
  SubtreeWalk out;
  out.counts = t.counts;
  out.has_keys = t.have_last;
  out.first_key = std::move(t.first_key);
  out.last_key = std::move(t.last_key);
  return out;
}

void PageWalker::join_tree(const std::string& name, const DbRecord& db, const SubtreeWalk& top,
                           const std::vector<const SubtreeWalk*>& pieces) {
  if (top.has_keys && !pieces.empty()) {
    // A leaf among the levels walk_top walked, beside subtrees below them:
    // the tree is not balanced, and its keys could not be ordered against
    // the pieces'.
    problems_.push_back({name, db.root, "leaf pages above the tree's lowest levels (an unbalanced tree)"});
    return;
  }
  TreeCounts sum = top.counts;
  const SubtreeWalk* prev = top.has_keys ? &top : nullptr;
  for (const SubtreeWalk* piece : pieces) {
    sum.depth = std::max(sum.depth, piece->counts.depth);
    sum.branch_pages += piece->counts.branch_pages;
    sum.leaf_pages += piece->counts.leaf_pages;
    sum.overflow_pages += piece->counts.overflow_pages;
    sum.entries += piece->counts.entries;
    if (!piece->has_keys) continue;
    if (prev != nullptr && compare_keys(db.flags, prev->last_key, piece->first_key) >= 0) {
      problems_.push_back({name, db.root, "keys are out of order between two subtrees of the root"});
      return;
    }
    prev = piece;
  }
  check_counts(name, db, sum);
}

bool PageWalker::reached_once(const std::vector<const PageWalker*>& walkers) {
  std::vector<std::uint64_t> all;
  for (const PageWalker* w : walkers) {
    if (all.size() < w->seen_.size()) all.resize(w->seen_.size(), 0);
    for (std::size_t i = 0; i < w->seen_.size(); ++i) {
      if (all[i] & w->seen_[i]) return false;
      all[i] |= w->seen_[i];
    }
  }
  return true;
}

std::vector<NamedDb> PageWalker::walk_catalog() {
  const MetaPage& m = file_.current();
  const std::uint64_t last = last_page_;
  // Free-page records: txnid -> (count, page numbers...), all within the file.
  EntryFn free_fn = [&](const LeafEntry& e) {
    const std::size_t words = e.value.size() / 8;
    if (e.key.size() != 8 || e.value.size() % 8 || words == 0 || load<std::uint64_t>(
                                                                         reinterpret_cast<const unsigned char*>(e.value.data())) != words - 1) {
      problems_.push_back({"(free pages)", e.page, "malformed free-page list of " + std::to_string(e.size) + " bytes"});
      return;
    }
    for (std::size_t i = 1; i < words; ++i) {
      const auto pg = load<std::uint64_t>(reinterpret_cast<const unsigned char*>(e.value.data()) + 8 * i);
      if (pg < 2 || pg > last) {
        problems_.push_back({"(free pages)", e.page,
                             "free-page list names page " + std::to_string(pg) + ", outside pages 2.." +
                                 std::to_string(last)});
        return;
      }
    }
  };
  walk("(free pages)", m.free_db, free_fn, true);
  std::vector<NamedDb> dbs;
  EntryFn main_fn = [&](const LeafEntry& e) {
    if (!(e.flags & kSubData) || !e.complete) return;  // a plain key: not a named database
    NamedDb d{std::string(e.key), decode_db_record(reinterpret_cast<const unsigned char*>(e.value.data()))};
    dbs.push_back(std::move(d));
  };
  walk("(main)", m.main_db, main_fn, true);
  return dbs;
}

}  // namespace weir::internal::mdbfile
