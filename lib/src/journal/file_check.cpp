#include "journal/file_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace weir::internal::mdbfile {

namespace {

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Offsets inside a meta page: the MDB_meta follows the page header.
constexpr std::size_t kMetaMagic = kPageHeader + 0;
constexpr std::size_t kMetaVersion = kPageHeader + 4;
constexpr std::size_t kMetaMapSize = kPageHeader + 16;
constexpr std::size_t kMetaFreeDb = kPageHeader + 24;
constexpr std::size_t kMetaMainDb = kMetaFreeDb + kDbRecordBytes;
constexpr std::size_t kMetaLastPage = kMetaMainDb + kDbRecordBytes;
constexpr std::size_t kMetaTxnid = kMetaLastPage + 8;
constexpr std::size_t kMetaEnd = kMetaTxnid + 8;

// Reads up to `n` bytes at `off`; returns how many were read, or -1.
ssize_t read_at(int fd, unsigned char* buf, std::size_t n, std::uint64_t off) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

MetaPage decode_meta(const unsigned char* p, std::size_t have, std::uint64_t pgno) {
  MetaPage m;
  if (have < kMetaEnd) {
    m.problem = "meta page " + std::to_string(pgno) + " is cut off by the end of the file";
    return m;
  }
  const auto flags = load<std::uint16_t>(p + 10);
  const auto magic = load<std::uint32_t>(p + kMetaMagic);
  const auto version = load<std::uint32_t>(p + kMetaVersion);
  m.map_size = load<std::uint64_t>(p + kMetaMapSize);
  m.free_db = decode_db_record(p + kMetaFreeDb);
  m.main_db = decode_db_record(p + kMetaMainDb);
  m.page_size = m.free_db.pad;
  m.last_page = load<std::uint64_t>(p + kMetaLastPage);
  m.txnid = load<std::uint64_t>(p + kMetaTxnid);
  const std::string where = "meta page " + std::to_string(pgno);
  if (!(flags & kMeta)) {
    m.problem = where + " is not marked as a meta page (flags 0x" + std::to_string(flags) + ")";
  } else if (magic != kMagic) {
    m.problem = where + " has a bad magic number";
  } else if (version != kDataVersion) {
    m.problem = where + " has LMDB data version " + std::to_string(version) + " (this build reads version " +
                std::to_string(kDataVersion) + ")";
  } else if (m.page_size < kMinPageSize || m.page_size > kMaxPageSize || (m.page_size & (m.page_size - 1))) {
    m.problem = where + " names an impossible page size " + std::to_string(m.page_size);
  } else if (m.last_page < 1) {
    m.problem = where + " names last page " + std::to_string(m.last_page) + " (the metas alone take pages 0 and 1)";
  } else if (m.last_page > (std::uint64_t{1} << 48) / m.page_size) {
    m.problem = where + " names an impossible last page " + std::to_string(m.last_page);
  } else {
    auto bad_root = [&](const DbRecord& d) { return d.root != kInvalidPage && (d.root < 2 || d.root > m.last_page); };
    if (bad_root(m.free_db))
      m.problem = where + ": free-page tree root " + std::to_string(m.free_db.root) + " is outside pages 2.." +
                  std::to_string(m.last_page);
    else if (bad_root(m.main_db))
      m.problem = where + ": main tree root " + std::to_string(m.main_db.root) + " is outside pages 2.." +
                  std::to_string(m.last_page);
    else
      m.valid = true;
  }
  return m;
}

}  // namespace

DbRecord decode_db_record(const unsigned char* p) {
  DbRecord d;
  d.pad = load<std::uint32_t>(p);
  d.flags = load<std::uint16_t>(p + 4);
  d.depth = load<std::uint16_t>(p + 6);
  d.branch_pages = load<std::uint64_t>(p + 8);
  d.leaf_pages = load<std::uint64_t>(p + 16);
  d.overflow_pages = load<std::uint64_t>(p + 24);
  d.entries = load<std::uint64_t>(p + 32);
  d.root = load<std::uint64_t>(p + 40);
  return d;
}

namespace {

// One read of the metas and the size, as read_data_file describes.
Result<DataFile> read_data_file_once(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::not_found("'" + path + "' does not exist");
    return Status::io_error("cannot open '" + path + "': " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::io_error("cannot stat '" + path + "': " + std::strerror(errno));
  DataFile f;
  f.path = path;
  f.file_bytes = static_cast<std::uint64_t>(st.st_size);
  if (f.file_bytes == 0) return f;  // never initialised: LMDB writes the metas on open

  std::vector<unsigned char> buf(kMetaEnd);
  ssize_t got = read_at(fd, buf.data(), buf.size(), 0);
  if (got < 0) return Status::io_error("cannot read '" + path + "': " + std::strerror(errno));
  f.meta[0] = decode_meta(buf.data(), static_cast<std::size_t>(got), 0);
  // LMDB finds meta page 1 one page size after page 0, with the page size
  // meta 0 names; if meta 0 is unreadable, try the usual sizes to report.
  std::vector<std::uint32_t> sizes;
  if (f.meta[0].valid) sizes.push_back(f.meta[0].page_size);
  else
    for (std::uint32_t s = kMinPageSize; s <= kMaxPageSize; s *= 2) sizes.push_back(s);
  for (std::uint32_t s : sizes) {
    got = read_at(fd, buf.data(), buf.size(), s);
    if (got < 0) return Status::io_error("cannot read '" + path + "': " + std::strerror(errno));
    MetaPage m = decode_meta(buf.data(), static_cast<std::size_t>(got), 1);
    if (m.valid && m.page_size != s) {
      m.valid = false;
      m.problem = "meta page 1 names page size " + std::to_string(m.page_size) + " but sits at offset " +
                  std::to_string(s);
    }
    if (m.valid || s == sizes.front()) f.meta[1] = m;
    if (m.valid) break;
  }
  // The size after the metas: the file only grows, so a live owner that
  // committed meanwhile cannot make it look truncated.
  if (::fstat(fd, &st) != 0) return Status::io_error("cannot stat '" + path + "': " + std::strerror(errno));
  f.file_bytes = static_cast<std::uint64_t>(st.st_size);
  const std::string file = "'" + path + "' (" + std::to_string(f.file_bytes) + " bytes)";
  if (!f.meta[0].valid && !f.meta[1].valid) {
    f.problems.push_back(file + " is not a readable LMDB journal: " + f.meta[0].problem + "; " +
                         f.meta[1].problem);
    return f;
  }
  // LMDB refuses the environment if either meta page is unreadable; the
  // other one still tells a salvage where the trees are.
  for (int i = 0; i < 2; ++i)
    if (!f.meta[i].valid) f.problems.push_back(file + ": " + f.meta[i].problem);
  f.used = !f.meta[0].valid ? 1 : !f.meta[1].valid ? 0 : f.meta[1].txnid > f.meta[0].txnid ? 1 : 0;
  f.page_size = f.current().page_size;
  if (f.meta[0].valid && f.meta[1].valid) {
    if (f.meta[0].page_size != f.meta[1].page_size)
      f.problems.push_back(file + ": meta pages disagree on the page size (" + std::to_string(f.meta[0].page_size) +
                           " and " + std::to_string(f.meta[1].page_size) + ")");
    // Each commit writes the meta page of its txnid's parity, so the two
    // txnids are consecutive (or both 0 in a journal never committed to);
    // a damaged txnid could make LMDB pick the older snapshot and drop the
    // last commit silently.
    const std::uint64_t t0 = f.meta[0].txnid, t1 = f.meta[1].txnid;
    if (!((t0 == 0 && t1 == 0) || (t0 > t1 ? t0 - t1 : t1 - t0) == 1))
      f.problems.push_back(file + ": meta pages carry txnids " + std::to_string(t0) + " and " + std::to_string(t1) +
                           ", which are not consecutive: one of them is damaged");
  }
  const MetaPage& m = f.current();
  f.needed_bytes = (m.last_page + 1) * f.page_size;
  if (f.file_bytes < f.needed_bytes)
    f.problems.push_back(file + " is truncated: meta page " + std::to_string(f.used) + " (txnid " +
                         std::to_string(m.txnid) + ", the one in use) names last page " +
                         std::to_string(m.last_page) + ", so the file must hold " + std::to_string(f.needed_bytes) +
                         " bytes (" + std::to_string(m.last_page + 1) + " pages of " +
                         std::to_string(f.page_size) + "); it holds " + std::to_string(f.file_bytes));
  return f;
}

}  // namespace

Result<DataFile> read_data_file(const std::string& path, bool live_writer) {
  // A live writer commits between the preads of meta page 0 and meta page
  // 1 (and may be mid-write of one): the pair read can come from commits
  // far apart. Read again until it is consistent; damage that is real
  // stays and is reported after the last try.
  constexpr int kTries = 200;
  for (int tries = 1;; ++tries) {
    auto f = read_data_file_once(path);
    if (!f || f->problems.empty() || !live_writer || tries == kTries) return f;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

}  // namespace weir::internal::mdbfile

namespace weir::internal::mdbfile {

Status check_data_file(const std::string& path) {
  auto f = read_data_file(path);
  if (!f) return f.status().code() == Code::kNotFound ? Status::ok() : f.status();
  if (f->problems.empty()) return Status::ok();
  std::string m = f->problems.front();
  if (f->problems.size() > 1) m += " (and " + std::to_string(f->problems.size() - 1) + " more problem(s))";
  return Status::data_loss(m + "; run `weir verify` and `weir salvage` on the directory");
}

}  // namespace weir::internal::mdbfile
