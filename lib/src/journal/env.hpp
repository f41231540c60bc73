// The LMDB environment of a weir data directory: opening it (as its owning
// bus, or read-only from any process) and the format check both kinds of
// opener run. One implementation for the bus's Journal and the Inspector.
//
// Commits (owner only). The owner opens the environment with
// MDB_NOMETASYNC: mdb_txn_commit flushes the transaction's data pages
// (fdatasync) and then writes its meta page without flushing it. Such a
// commit survives a crash of the process (the meta page is in the page
// cache) and the file stays consistent across a power loss, which may undo
// the commit (LMDB then opens at the previous meta page, whose pages were
// flushed before it was written). The meta page reaches stable storage with
// the next flush of the file: the next commit's data flush or flush(). The
// journal writer's commits (group commits, retention, the dedupe purge, and
// the bump that lets LMDB reuse freed pages, which drop_topic runs too) use
// that (kLater; see journal/flush_debt.hpp); every other commit flushes at
// once (kNow).
//
// Failed flushes: Linux may drop the dirty pages of a failed writeback and
// report the error to one caller only, so a meta page written before a
// failed flush may never reach the disk although a later flush succeeds.
// Every commit and flush therefore runs under flush_mu_ and counts its
// failures (flush_failures()), so the writer can tell whether a meta page it
// wrote may have been dropped.
//
// Thread-safety: Env is not copyable; its MDB_env is used as LMDB allows
// (MDB_NOTLS: read transactions are not tied to threads); commit() and
// flush() are thread-safe (LMDB serialises write transactions; flush_mu_
// serialises flushes).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/thread_annotations.hpp"
#include "journal/log_reader.hpp"
#include "journal/lmdb.hpp"
#include "journal/open_dirs.hpp"
#include "weir/status.hpp"

namespace weir::internal {

struct EnvConfig {
  std::string dir;
  // Read-only opens take no lock, create nothing and adopt the stored map
  // size; owner opens create the directory (0700) if missing, refuse a
  // non-empty directory without a journal, and hold weir.lock. Either kind
  // fails with kFailedPrecondition while the other kind has the directory
  // open in this process (LMDB allows one environment handle per process;
  // see open_dirs.hpp).
  bool read_only = false;
  std::uint32_t max_dbs = 0;
  std::uint32_t max_readers = 126;  // owner only
  std::size_t map_bytes = 0;        // owner only
};

class Env {
 public:
  static Result<std::unique_ptr<Env>> open(const EnvConfig& config);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  MDB_env* get() const noexcept { return env_; }
  const std::string& dir() const noexcept { return dir_; }
  std::uint32_t max_dbs() const noexcept { return max_dbs_; }
  // The partition logs' bounds as the owner's open check found them (by
  // database name), moved out; empty for a read-only open. Valid until the
  // first write to a log.
  std::map<std::string, PartitionBounds> take_log_bounds() { return std::move(log_bounds_); }

  // Commits `txn` (through its fault seam). kNow then flushes the file
  // (fault point kFlush): ok means the commit is on stable storage; a failed
  // flush returns kIoError although the commit is made (a process crash
  // keeps it; a power loss may undo it). kLater leaves the meta page to the
  // next flush. `failures_before` (if given) gets flush_failures() as it was
  // just before; a failed commit or flush counts one failure.
  enum class MetaFlush { kNow, kLater };
  Status commit(Txn& txn, MetaFlush meta, std::uint64_t* failures_before = nullptr) EXCLUDES(flush_mu_);
  // Flushes the file (mdb_env_sync, fault point kFlush): every meta page
  // written before the call is on stable storage when it returns ok, unless
  // a flush failed since it was written (see the class comment).
  Status flush(std::uint64_t* failures_before = nullptr) EXCLUDES(flush_mu_);
  // Failed commits and flushes since open. Thread-safe (acquire load).
  std::uint64_t flush_failures() const noexcept { return flush_failures_.load(std::memory_order_acquire); }

 private:
  Env(std::string dir, MDB_env* env, int lock_fd, std::uint32_t max_dbs, OpenDir open_dir)
      : open_dir_(std::move(open_dir)), dir_(std::move(dir)), env_(env), lock_fd_(lock_fd), max_dbs_(max_dbs) {}
  // This process's registration of the directory (a Bus and an Inspector of
  // one process refuse each other); released after ~Env closed env_.
  OpenDir open_dir_;
  const std::string dir_;
  MDB_env* const env_;
  const int lock_fd_;  // weir.lock, held (flock) by the owner; -1 read-only
  const std::uint32_t max_dbs_;
  std::map<std::string, PartitionBounds> log_bounds_;
  // mdb_env_sync through the fault seam (point kFlush); an LMDB/errno code.
  int sync_file() REQUIRES(flush_mu_);
  // Held across every commit's mdb_txn_commit (taken after the transaction
  // began, so never while waiting for LMDB's write lock) and every flush.
  Mutex flush_mu_;
  // Written under flush_mu_ (release), read anywhere (acquire).
  std::atomic<std::uint64_t> flush_failures_{0};
};

// What weir.meta says about the journal.
struct FormatInfo {
  std::uint64_t id = 0;       // names its logs in derived event ids
  std::uint32_t version = 0;  // 1..kJournalVersion; an older one is migrated by its owner
};

// Checks weir.meta's format, version and journal id in `txn` and returns
// them. With `create` (an owner on a new journal, weir.meta empty) writes
// them first. Errors: kFailedPrecondition (not a weir journal, a newer
// version), kDataLoss (missing version or id).
Result<FormatInfo> check_format(MDB_txn* txn, MDB_dbi meta, std::string_view dir, bool create);
// Stores kJournalVersion in weir.meta (a new journal, or after migrating).
Status write_version(MDB_txn* txn, MDB_dbi meta);

}  // namespace weir::internal
