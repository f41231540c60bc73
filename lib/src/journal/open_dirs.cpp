#include "journal/open_dirs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace weir::internal {
namespace {

struct Holders {
  int buses = 0;
  int inspectors = 0;
};

std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
// Guarded by registry_mu(). A child of fork() inherits a copy of the
// parent's registry but none of its LMDB handles (LMDB: a child must not use
// them), so the registry belongs to the process that filled it: another pid
// finds it empty.
std::map<std::pair<unsigned long long, unsigned long long>, Holders>& registry() {
  static auto* r = new std::map<std::pair<unsigned long long, unsigned long long>, Holders>();
  static pid_t owner = ::getpid();
  if (owner != ::getpid()) {
    r->clear();
    owner = ::getpid();
  }
  return *r;
}

}  // namespace

Result<OpenDir> OpenDir::acquire(const std::string& dir, Kind kind) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return Status::io_error("cannot stat '" + dir + "': " + std::strerror(errno));
  OpenDir out;
  out.kind_ = kind;
  out.dev_ = static_cast<unsigned long long>(st.st_dev);
  out.ino_ = static_cast<unsigned long long>(st.st_ino);
  std::lock_guard<std::mutex> lock(registry_mu());
  Holders& h = registry()[{out.dev_, out.ino_}];
  if (kind == Kind::kInspector && h.buses > 0)
    return Status::failed_precondition(
        "cannot open an Inspector on '" + dir +
        "': a Bus of this process has it open (LMDB forbids opening one environment twice in a "
        "process; read through the Bus, or inspect from another process)");
  if (kind == Kind::kBus && h.inspectors > 0)
    return Status::failed_precondition(
        "cannot open a Bus on '" + dir +
        "': an Inspector of this process has it open (LMDB forbids opening one environment twice "
        "in a process; destroy the Inspector first)");
  ++(kind == Kind::kBus ? h.buses : h.inspectors);
  out.held_ = true;
  return out;
}

OpenDir& OpenDir::operator=(OpenDir&& o) noexcept {
  if (this != &o) {
    release();
    held_ = std::exchange(o.held_, false);
    kind_ = o.kind_;
    dev_ = o.dev_;
    ino_ = o.ino_;
  }
  return *this;
}

void OpenDir::release() noexcept {
  if (!held_) return;
  held_ = false;
  std::lock_guard<std::mutex> lock(registry_mu());
  auto it = registry().find({dev_, ino_});
  if (it == registry().end()) return;
  --(kind_ == Kind::kBus ? it->second.buses : it->second.inspectors);
  if (it->second.buses == 0 && it->second.inspectors == 0) registry().erase(it);
}

}  // namespace weir::internal
