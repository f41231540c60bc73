#include "journal/lmdb.hpp"

#include <cerrno>

namespace weir::internal {

Status lmdb_status(int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case 0: return Status::ok();
    case MDB_MAP_FULL:
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case ENOSPC:
    case EDQUOT:
      return Status::resource_exhausted(std::move(msg));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status::data_loss(std::move(msg));
    case MDB_NOTFOUND:
      return Status::not_found(std::move(msg));
    default:
      return Status::io_error(std::move(msg));
  }
}

}  // namespace weir::internal
