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
#include "weir/status.hpp"

namespace weir::internal {

// Translates an LMDB/errno return code into a Status, keeping mdb_strerror's
// text: MDB_MAP_FULL/ENOSPC -> kResourceExhausted, MDB_CORRUPTED/
// MDB_PAGE_NOTFOUND/MDB_INVALID -> kDataLoss, MDB_READERS_FULL -> kResourceExhausted,
// EACCES -> kIoError, others -> kIoError. `what` names the operation.
Status lmdb_status(int rc, std::string_view what);

inline MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view as_view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// A transaction that aborts unless committed.
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
