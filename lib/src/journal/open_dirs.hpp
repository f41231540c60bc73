// Which data directories this process has open, and by whom.
//
// LMDB forbids opening one environment twice in a process (its POSIX locks
// belong to the process; closing one handle drops the other's). A Bus and an
// Inspector of the same process on one directory would do exactly that, so
// both register the directory here, keyed by device and inode (any name of
// the directory is the same directory), and each refuses the other.
// Inspectors may share a directory with each other (they only read); a Bus
// is already exclusive through weir.lock.
// The registry is per process: a child of fork() starts with none (it has
// none of the parent's LMDB handles).
//
// Thread-safety: thread-safe (one process-wide mutex; registrations are
// rare: one per open).
#pragma once

#include <string>

#include "weir/status.hpp"

namespace weir::internal {

class OpenDir {
 public:
  enum class Kind { kBus, kInspector };

  // Registers `dir` (an existing directory) as opened by `kind`, or returns
  // kFailedPrecondition naming the holder if the other kind of this process
  // has it open.
  static Result<OpenDir> acquire(const std::string& dir, Kind kind);

  OpenDir() = default;
  OpenDir(OpenDir&& o) noexcept { *this = std::move(o); }
  OpenDir& operator=(OpenDir&& o) noexcept;
  OpenDir(const OpenDir&) = delete;
  OpenDir& operator=(const OpenDir&) = delete;
  ~OpenDir() { release(); }
  // Unregisters (idempotent). Call after the LMDB environment is closed.
  void release() noexcept;

 private:
  bool held_ = false;
  Kind kind_ = Kind::kBus;
  unsigned long long dev_ = 0, ino_ = 0;
};

}  // namespace weir::internal
