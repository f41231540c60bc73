#include "journal/lmdb.hpp"

#include <sys/statvfs.h>

#include <algorithm>
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

Status name_full_disk(Status failed, const std::string& dir, std::size_t needed, bool* full) {
  if (failed.code() != Code::kIoError && failed.code() != Code::kResourceExhausted) return failed;
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return failed;
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  const std::uint64_t enough = std::max<std::uint64_t>(4u << 20, 2 * static_cast<std::uint64_t>(needed));
  if (free_bytes >= enough) return failed;
  if (full) *full = true;
  return Status::resource_exhausted("disk full: the file system of '" + dir + "' has " +
                                    std::to_string(free_bytes) + " bytes free (" + failed.to_string() + ")");
}

}  // namespace weir::internal
