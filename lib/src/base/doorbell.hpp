// Doorbell: lets threads sleep until another thread says "something changed",
// without the notifying side paying for a syscall when nobody sleeps.
//
// Protocol (the classic Dekker handshake):
//   waiter:    t = prepare();  re-check condition;  if unmet: wait(t, timeout);  finish();
//   notifier:  make condition true (atomic store);  ring();
//         or:  make it true with a seq_cst RMW;  s = has_sleepers();  ...;  if (s) wake();
// prepare() increments `sleepers_` (seq_cst) and then reads the epoch; ring()
// issues a seq_cst fence after the notifier's store and reads `sleepers_`.
// So either the notifier sees the waiter (and bumps the epoch, waking it), or
// the waiter's re-check sees the notifier's store. Waits also time out (the
// caller passes the bound), so a missed wake-up costs latency, never a hang.
//
// Thread-safety: all methods are thread-safe. Progress: ring() is wait-free.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

namespace weir::internal {

class alignas(64) Doorbell {
 public:
  // Wakes every thread currently waiting. Cheap when nobody waits: one fence
  // and one load of a line that is only written by waiters.
  void ring() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with prepare()'s RMW
    if (sleepers_.load(std::memory_order_relaxed) != 0) wake();
  }

  // For notifiers whose change is itself a seq_cst read-modify-write (a
  // producer's claim CAS): that RMW orders like the fence in ring(), so they
  // read has_sleepers() after it (seq_cst load, a plain load on x86) and
  // call wake() once the change is complete.
  bool has_sleepers() const noexcept { return sleepers_.load(std::memory_order_seq_cst) != 0; }
  void wake() noexcept {
    epoch_.fetch_add(1, std::memory_order_release);
    futex(FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
  }

  // Announces a waiter; returns the epoch to pass to wait().
  std::uint32_t prepare() noexcept {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // order RMW before the re-check
    return epoch_.load(std::memory_order_acquire);
  }

  // Sleeps while the epoch is still `seen`, for at most `timeout`.
  void wait(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return;
    if (epoch_.load(std::memory_order_acquire) != seen) return;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
    futex_wait(seen, &ts);
  }

  // Withdraws the waiter announced by prepare().
  void finish() noexcept { sleepers_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  long futex(int op, int val, const timespec* ts) const noexcept {
    return syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&epoch_), op, val, ts,
                   nullptr, 0);
  }
  void futex_wait(std::uint32_t seen, const timespec* ts) noexcept {
    futex(FUTEX_WAIT_PRIVATE, static_cast<int>(seen), ts);
  }

  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> sleepers_{0};
};
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t),
              "futex needs a plain 32-bit word");

}  // namespace weir::internal
