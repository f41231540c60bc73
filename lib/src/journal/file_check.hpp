// data.mdb read without liblmdb: its two meta pages, checked before LMDB
// maps the file.
//
// LMDB 0.9 keeps no page checksums and trusts every byte it maps: a file
// shorter than its meta pages say is a SIGBUS at the first touch of a page
// past the end, a bad page number a SIGSEGV. These checks read the file with
// pread into buffers (never mmap), bound every field they use, and turn
// what they find into kDataLoss naming the file, the meta page in use and
// what is wrong.
//
// The on-disk form read here is LMDB 0.9's (mdb.c, MDB_DATA_VERSION 1) on a
// 64-bit little-endian host: a page starts with a 16-byte header
// (pgno u64, pad u16, flags u16, lower u16, upper u16 | overflow count u32);
// a meta page holds after it MDB_meta (magic 0xBEEFC0DE, version, address,
// map size, the free and main MDB_db records, last page number, txnid);
// pages 0 and 1 are the two metas, LMDB uses the valid one with the higher
// txnid.
//
// Thread-safety: free functions over their own file descriptors; safe to
// call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "weir/status.hpp"

namespace weir::internal::mdbfile {

inline constexpr std::uint32_t kMagic = 0xBEEFC0DE;
inline constexpr std::uint32_t kDataVersion = 1;
inline constexpr std::size_t kPageHeader = 16;
inline constexpr std::uint64_t kInvalidPage = ~std::uint64_t{0};
inline constexpr std::uint32_t kMinPageSize = 512;
inline constexpr std::uint32_t kMaxPageSize = 65536;

// Page flags (mp_flags).
inline constexpr std::uint16_t kBranch = 0x01;
inline constexpr std::uint16_t kLeaf = 0x02;
inline constexpr std::uint16_t kOverflow = 0x04;
inline constexpr std::uint16_t kMeta = 0x08;
inline constexpr std::uint16_t kLeaf2 = 0x20;
inline constexpr std::uint16_t kSubPage = 0x40;
// Node flags (mn_flags of a leaf node).
inline constexpr std::uint16_t kBigData = 0x01;
inline constexpr std::uint16_t kSubData = 0x02;
inline constexpr std::uint16_t kDupData = 0x04;

// An MDB_db record: the root and counts of one B-tree (48 bytes on disk).
struct DbRecord {
  std::uint32_t pad = 0;  // the page size, in the meta's free-DB record
  std::uint16_t flags = 0;
  std::uint16_t depth = 0;
  std::uint64_t branch_pages = 0;
  std::uint64_t leaf_pages = 0;
  std::uint64_t overflow_pages = 0;
  std::uint64_t entries = 0;
  std::uint64_t root = kInvalidPage;
};
inline constexpr std::size_t kDbRecordBytes = 48;

// Decodes an MDB_db record from 48 bytes.
DbRecord decode_db_record(const unsigned char* p);

// One of the two meta pages as read from the file.
struct MetaPage {
  bool valid = false;
  std::string problem;  // why it is not valid (empty when valid)
  std::uint32_t page_size = 0;
  std::uint64_t map_size = 0;
  std::uint64_t last_page = 0;
  std::uint64_t txnid = 0;
  DbRecord free_db;
  DbRecord main_db;
};

// What the meta pages say about data.mdb, and which one LMDB would use.
struct DataFile {
  std::string path;
  std::uint64_t file_bytes = 0;
  std::uint32_t page_size = 0;
  std::array<MetaPage, 2> meta;
  int used = -1;  // 0 or 1: the meta page LMDB would use
  // (last page + 1) x page size of the meta in use: what the file must hold.
  std::uint64_t needed_bytes = 0;
  // What is wrong, each naming the file (empty: LMDB may map it).
  std::vector<std::string> problems;

  const MetaPage& current() const { return meta[static_cast<std::size_t>(used)]; }
};

// Reads and checks the meta pages of the data.mdb at `path`. Errors:
// kNotFound (no such file), kIoError (cannot read it). Damage is listed in
// `problems`: no valid meta page, one meta page unreadable (LMDB refuses
// the file), the metas disagree on the page size, their txnids are not
// consecutive, or the file is shorter than the meta in use needs (naming
// expected and actual sizes and the meta page). `used` is -1 only when no
// meta page is valid. A file of 0 bytes is one LMDB never initialised (a
// crash inside the very first open, before anything was committed):
// reported with used = -1 and no problem. `live_writer`: another process
// may be committing (an Inspector beside a live owner): a pair of metas
// from different commits is read again (up to 200 times, 0.5 ms apart)
// until it is consistent, so only damage that stays is reported.
Result<DataFile> read_data_file(const std::string& path, bool live_writer = false);

// read_data_file as one Status for the open paths: ok (also for a missing
// or empty file, which LMDB initialises), kDataLoss naming the first
// problem and how many more, kIoError.
Status check_data_file(const std::string& path);

}  // namespace weir::internal::mdbfile
