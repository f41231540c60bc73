// Thin LMDB helpers: error translation (in one place) and RAII transactions.
//
// Thread-safety: a Txn belongs to one thread at a time (the env is opened
// with MDB_NOTLS, so a read transaction may move between threads between
// uses, never during one).
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/coding.hpp"
#include "journal/fault.hpp"
#include "weir/status.hpp"

namespace weir::internal {

// Translates an LMDB/errno return code into a Status, keeping mdb_strerror's
// text: MDB_MAP_FULL/ENOSPC -> kResourceExhausted, MDB_CORRUPTED/
// MDB_PAGE_NOTFOUND/MDB_INVALID -> kDataLoss, MDB_READERS_FULL -> kResourceExhausted,
// EACCES -> kIoError, others -> kIoError. `what` names the operation.
Status lmdb_status(int rc, std::string_view what);

// Whether `s` is LMDB's MDB_MAP_FULL as lmdb_status reports it (the map,
// not the disk, is full: growing the map helps).
inline bool is_map_full(const Status& s) {
  return s.code() == Code::kResourceExhausted && s.message().find("MDB_MAP_FULL") != std::string_view::npos;
}

// A write that failed as a full disk fails: kIoError (LMDB reports a short
// write as EIO) or kResourceExhausted (ENOSPC, EDQUOT), while the file system
// holding `dir` has less than max(4 MiB, 2 * `needed`) bytes free for us
// (statvfs f_bavail). Returns kResourceExhausted "disk full: ..." naming the
// directory, the free bytes and `failed` (and sets *full when given); any
// other status unchanged.
Status name_full_disk(Status failed, const std::string& dir, std::size_t needed, bool* full = nullptr);

// The largest value LMDB keeps inside a leaf page, beside a key of
// `key_bytes`, for pages of `page_size` bytes; a bigger value goes to
// overflow pages of its own. LMDB (mdb.c) stores a node (8 header bytes,
// key, value) in the leaf while it is at most me_nodemax = ((page_size -
// 16) / 2 rounded down to even) - 2 bytes, so that a leaf holds two such
// nodes: 2022 bytes beside an 8-byte key on 4 KiB pages. (Checked against
// the linked LMDB by JournalEngineTest.InlineValueLimitMatchesLmdb.)
constexpr std::size_t inline_value_limit(std::size_t page_size, std::size_t key_bytes) noexcept {
  return (((page_size - 16) / 2) & ~std::size_t{1}) - 2 - 8 - key_bytes;
}

inline MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view as_view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// mdb_put through the fault seam (journal/fault.hpp, point kPut).
inline int lmdb_put(MDB_txn* txn, MDB_dbi dbi, MDB_val* key, MDB_val* val, unsigned flags) noexcept {
  if (int f = injected_fault(FaultPoint::kPut)) return f;
  return mdb_put(txn, dbi, key, val, flags);
}

// A transaction that aborts unless committed. commit() goes through the
// fault seam (points kCommit and kSync).
class Txn {
 public:
  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  Status begin(MDB_env* env, unsigned flags) {
    abort();
    int rc = mdb_txn_begin(env, nullptr, flags, &txn_);
    if (rc) {
      txn_ = nullptr;
      return lmdb_status(rc, "mdb_txn_begin");
    }
    return Status::ok();
  }
  Status commit() {
    if (int f = injected_fault(FaultPoint::kCommit)) {
      abort();
      return lmdb_status(f, "mdb_txn_commit");
    }
    if (int f = injected_fault(FaultPoint::kSync)) {
      abort();  // LMDB aborts a transaction whose data pages did not sync
      return lmdb_status(f, "mdb_txn_commit: fsync");
    }
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc ? lmdb_status(rc, "mdb_txn_commit") : Status::ok();
  }
  void abort() noexcept {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  MDB_txn* get() const noexcept { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

}  // namespace weir::internal
