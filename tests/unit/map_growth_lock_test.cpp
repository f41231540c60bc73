// The journal's map-growth lock (Journal::ResizeMutex): every read lease
// holds it shared, growing the map takes it exclusively. Read leases of
// many workers overlap all the time; the grower must still get in promptly
// (a full map stalls every publish until it has grown).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "journal/journal.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;

TEST(MapGrowthLock, ExclusiveLockerIsNotStarvedByOverlappingReaders) {
  internal::Journal::ResizeMutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int> inside{0};
  // Three readers, each holding it shared for ~1 ms and taking it again at
  // once: some reader holds it at every moment.
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      std::this_thread::sleep_for(std::chrono::microseconds(300 * r));
      while (!stop.load(std::memory_order_relaxed)) {
        std::shared_lock<internal::Journal::ResizeMutex> lock(mu);
        inside.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  while (inside.load(std::memory_order_relaxed) < 10) std::this_thread::sleep_for(1ms);
  // The readers give up after 3 s: a reader-preferring lock lets the
  // exclusive locker in only then.
  std::thread stopper([&] {
    std::this_thread::sleep_for(3s);
    stop.store(true, std::memory_order_relaxed);
  });
  const auto t0 = std::chrono::steady_clock::now();
  { std::unique_lock<internal::Journal::ResizeMutex> lock(mu); }
  const auto waited = std::chrono::steady_clock::now() - t0;
  stop.store(true, std::memory_order_relaxed);
  stopper.join();
  for (auto& t : readers) t.join();
  EXPECT_LT(waited, 500ms) << "the exclusive locker waited "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                           << " ms behind overlapping shared holders";
}

}  // namespace
}  // namespace weir
