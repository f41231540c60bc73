#include "journal/env.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/random.hpp"
#include "journal/format.hpp"
#include "journal/journal_check.hpp"

namespace weir::internal {

namespace {

Status errno_status(const std::string& what) { return Status::io_error(what + ": " + std::strerror(errno)); }

// The owner's checks before LMDB touches the directory, and its lock.
Result<int> prepare_owned_dir(const std::string& d) {
  namespace fs = std::filesystem;
  const fs::path dir(d);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // Missing parents are created too; the journal directory itself is 0700.
    if (dir.has_parent_path() && !fs::exists(dir.parent_path(), ec)) {
      fs::create_directories(dir.parent_path(), ec);
      if (ec)
        return Status::io_error("cannot create the parent of data directory '" + d + "': " + ec.message());
    }
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
      return errno_status("cannot create data directory '" + d + "'");
  } else if (!fs::is_directory(dir, ec)) {
    return Status::invalid_argument("data_dir '" + d + "' is not a directory");
  }
  if (!fs::exists(dir / "data.mdb", ec)) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name != "weir.lock" && name != "lock.mdb")
        return Status::failed_precondition("data_dir '" + d +
                                           "' is not empty and holds no weir journal (found '" + name + "')");
    }
  }
  // One process at a time owns the journal for writing.
  const std::string lock_path = (dir / "weir.lock").string();
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot open '" + lock_path + "'");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::failed_precondition("data_dir '" + d + "' is in use by another weir bus (weir.lock is held)");
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Env>> Env::open(const EnvConfig& c) {
  int fd = -1;
  std::map<std::string, PartitionBounds> bounds;
  if (!c.read_only) {
    auto lock = prepare_owned_dir(c.dir);
    if (!lock) return lock.status();
    fd = *lock;
    // LMDB trusts every byte it maps: check the file first (weir.lock is
    // ours, so no writer changes its pages under the walk).
    if (Status s = check_journal_file(c.dir, true, false, &bounds); !s) {
      ::close(fd);
      return s;
    }
  }
  auto open_dir = OpenDir::acquire(c.dir, c.read_only ? OpenDir::Kind::kInspector : OpenDir::Kind::kBus);
  if (!open_dir) {
    if (fd >= 0) ::close(fd);
    return open_dir.status();
  }
  MDB_env* env = nullptr;
  auto fail = [&](int rc, const std::string& what) -> Status {
    if (env) mdb_env_close(env);
    if (fd >= 0) ::close(fd);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
      return Status::data_loss("'" + c.dir + "' holds a data.mdb that is not a readable LMDB journal: " +
                               mdb_strerror(rc));
    return lmdb_status(rc, what);
  };
  if (int rc = mdb_env_create(&env)) {
    env = nullptr;
    return fail(rc, "mdb_env_create");
  }
  if (int rc = mdb_env_set_maxdbs(env, c.max_dbs)) return fail(rc, "mdb_env_set_maxdbs");
  if (!c.read_only)
    if (int rc = mdb_env_set_maxreaders(env, c.max_readers)) return fail(rc, "mdb_env_set_maxreaders");
  // Read-only: 0 adopts the map size stored in the environment.
  if (int rc = mdb_env_set_mapsize(env, c.read_only ? 0 : c.map_bytes)) return fail(rc, "mdb_env_set_mapsize");
  // The owner: one flush per commit, the meta page left to the next flush
  // (see env.hpp).
  const unsigned flags = MDB_NOTLS | (c.read_only ? MDB_RDONLY : MDB_NOMETASYNC);
  if (int rc = mdb_env_open(env, c.dir.c_str(), flags, 0600))
    return fail(rc, c.read_only ? "open journal '" + c.dir + "' read-only" : std::string("mdb_env_open"));
  if (!c.read_only) {
    int dead = 0;
    mdb_reader_check(env, &dead);  // reclaim reader slots of crashed processes
    // A previous owner killed after a commit may have left its last meta
    // page unflushed: make what this bus starts from durable.
    if (int rc = mdb_env_sync(env, 1)) return fail(rc, "flush the journal at open");
  }
  std::unique_ptr<Env> out(new Env(c.dir, env, fd, c.max_dbs, std::move(open_dir).value()));
  out->log_bounds_ = std::move(bounds);
  return out;
}

Env::~Env() {
  mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

int Env::sync_file() {
  if (int rc = injected_fault(FaultPoint::kFlush)) return rc;
  return mdb_env_sync(env_, 1);
}

Status Env::commit(Txn& txn, MetaFlush meta, std::uint64_t* failures_before) {
  MutexLock lock(flush_mu_);
  const std::uint64_t failures = flush_failures_.load(std::memory_order_relaxed);
  if (failures_before) *failures_before = failures;
  Status s = txn.commit();
  if (s.is_ok() && meta == MetaFlush::kNow) {
    if (int rc = sync_file())
      s = Status::io_error("the commit is made but could not be flushed to stable storage (a power loss may undo "
                           "it): " + lmdb_status(rc, "mdb_env_sync").message());
  }
  if (!s) flush_failures_.store(failures + 1, std::memory_order_release);
  return s;
}

Status Env::flush(std::uint64_t* failures_before) {
  MutexLock lock(flush_mu_);
  const std::uint64_t failures = flush_failures_.load(std::memory_order_relaxed);
  if (failures_before) *failures_before = failures;
  const int rc = sync_file();
  if (!rc) return Status::ok();
  flush_failures_.store(failures + 1, std::memory_order_release);
  return lmdb_status(rc, "flush the journal to stable storage (mdb_env_sync)");
}

Status write_version(MDB_txn* txn, MDB_dbi meta) {
  MDB_val vk = as_val(kMetaVersionKey);
  MDB_val vv{sizeof kJournalVersion, const_cast<std::uint32_t*>(&kJournalVersion)};
  if (int rc = mdb_put(txn, meta, &vk, &vv, 0)) return lmdb_status(rc, "write version");
  return Status::ok();
}

Result<FormatInfo> check_format(MDB_txn* txn, MDB_dbi meta, std::string_view dir, bool create) {
  const std::string d(dir);
  MDB_val k = as_val(kMetaFormatKey), v;
  int rc = mdb_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND && create) {
    // A new journal: the directory was empty (checked when opening).
    MDB_val fv = as_val(kJournalFormat);
    if ((rc = mdb_put(txn, meta, &k, &fv, 0))) return lmdb_status(rc, "write format");
    if (Status s = write_version(txn, meta); !s) return s;
    std::uint64_t id = random_u64();
    MDB_val ik = as_val(kMetaIdKey), iv{sizeof id, &id};
    if ((rc = mdb_put(txn, meta, &ik, &iv, 0))) return lmdb_status(rc, "write id");
    return FormatInfo{id, kJournalVersion};
  }
  if (rc == MDB_NOTFOUND || (rc == 0 && as_view(v) != kJournalFormat))
    return Status::failed_precondition("data_dir '" + d + "' holds an LMDB environment that is not a weir journal");
  if (rc) return lmdb_status(rc, "read format");
  MDB_val vk = as_val(kMetaVersionKey), vv;
  std::uint32_t version = 0;
  if (mdb_get(txn, meta, &vk, &vv) == 0 && vv.mv_size == sizeof version) std::memcpy(&version, vv.mv_data, sizeof version);
  if (version == 0) return Status::data_loss("journal in '" + d + "' has no valid version");
  if (version > kJournalVersion)
    return Status::failed_precondition("journal in '" + d + "' has format version " + std::to_string(version) +
                                       "; this weir reads up to version " + std::to_string(kJournalVersion));
  std::uint64_t id = 0;
  MDB_val ik = as_val(kMetaIdKey), iv;
  if (mdb_get(txn, meta, &ik, &iv) != 0 || iv.mv_size != sizeof id)
    return Status::data_loss("journal in '" + d + "' has no valid id");
  std::memcpy(&id, iv.mv_data, sizeof id);
  return FormatInfo{id, version};
}

}  // namespace weir::internal
