// StopSignal: the one-shot "stopping" flag of a server whose threads block
// in poll(): an eventfd that becomes readable (and stays so) once raised,
// plus the once-only steps around it (the raise's own work, the join).
//
// Thread-safety: thread-safe. raise() and claim_join() take a mutex; fd()
// is set by open() before any thread polls it. Happens-before: what the
// first raise()'s `before` did is visible to a thread that saw fd()
// readable (the eventfd write follows it; poll and read are syscalls).
#pragma once

#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "weir/status.hpp"
#include "base/thread_annotations.hpp"

namespace weir::internal {

class StopSignal {
 public:
  StopSignal() = default;
  ~StopSignal() {
    if (fd_ >= 0) ::close(fd_);
  }
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Creates the eventfd; kIoError naming `what` if it cannot.
  Status open(const std::string& what) {
    fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) return Status::io_error(what + " eventfd: " + std::strerror(errno));
    return Status::ok();
  }

  // The descriptor to poll for POLLIN beside the server's own.
  int fd() const noexcept { return fd_; }

  // Raises the signal. The first call runs `before` first (e.g. unlinking
  // the server's socket file); later calls do nothing.
  template <typename Fn>
  void raise(Fn&& before) {
    {
      MutexLock lock(mu_);
      if (raised_) return;
      raised_ = true;
    }
    before();
    std::uint64_t one = 1;
    // An eventfd write of 1 cannot fail short of overflowing its counter.
    [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  }

  // Whether it was raised (a zero-timeout poll).
  bool raised() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // True for exactly one caller: the one that joins the server's threads.
  bool claim_join() {
    MutexLock lock(mu_);
    if (joined_) return false;
    joined_ = true;
    return true;
  }

 private:
  int fd_ = -1;
  Mutex mu_;
  bool raised_ GUARDED_BY(mu_) = false;
  bool joined_ GUARDED_BY(mu_) = false;
};

}  // namespace weir::internal
