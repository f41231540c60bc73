// WriterPreferringSharedMutex: a shared mutex that lets a waiting exclusive
// locker in before new shared lockers.
//
// std::shared_mutex on glibc is a pthread rwlock with the default policy,
// which prefers readers: while shared holders overlap (one takes it before
// another lets go), an exclusive locker waits for as long as that goes on.
// This one sets PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: once lock() is
// waiting, lock_shared() blocks until it is through, so the exclusive locker
// waits only for the shared holders already inside.
//
// The price: a thread must never take it shared twice (nested), since the
// second lock_shared() would wait behind a waiting writer that waits for the
// first. Meets the SharedMutex requirements (std::shared_lock,
// std::unique_lock). Memory ordering: as any mutex, a lock acquires what the
// previous unlock (shared or exclusive) released (pthread rwlock semantics,
// which ThreadSanitizer models).
#pragma once

#include <pthread.h>

#include <cstdlib>

namespace weir::internal {

class WriterPreferringSharedMutex {
 public:
  WriterPreferringSharedMutex() noexcept {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (pthread_rwlock_init(&rw_, &attr) != 0) std::abort();  // only fails for lack of resources
    pthread_rwlockattr_destroy(&attr);
  }
  ~WriterPreferringSharedMutex() { pthread_rwlock_destroy(&rw_); }
  WriterPreferringSharedMutex(const WriterPreferringSharedMutex&) = delete;
  WriterPreferringSharedMutex& operator=(const WriterPreferringSharedMutex&) = delete;

  void lock() noexcept { pthread_rwlock_wrlock(&rw_); }
  bool try_lock() noexcept { return pthread_rwlock_trywrlock(&rw_) == 0; }
  void unlock() noexcept { pthread_rwlock_unlock(&rw_); }
  void lock_shared() noexcept { pthread_rwlock_rdlock(&rw_); }
  bool try_lock_shared() noexcept { return pthread_rwlock_tryrdlock(&rw_) == 0; }
  void unlock_shared() noexcept { pthread_rwlock_unlock(&rw_); }

 private:
  pthread_rwlock_t rw_;
};

}  // namespace weir::internal
