// Google Benchmark micro-benchmarks for weir's hot pieces, with the raw parts
// it is built from measured beside it in the same binary:
//   BM_Murmur2/BM_PartitionFor      key hashing and partition choice
//   BM_Publish*                     producer side alone (a draining group frees space)
//   BM_EndToEnd_*                   m1-shaped handoff: 1 producer -> 1 handler,
//                                   uint64 key + 64-byte payload, handler reads payload
//   BM_Moodycamel*/BM_BoostSpsc     the same handoff over the raw queues
// Throughput is items_per_second; compare ratios within one run.
#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include <array>
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstring>
#include <thread>

#include <pthread.h>
#include <sched.h>

#include "weir/weir.hpp"

namespace {

// Pins the calling thread to one CPU (mod the CPUs present), so producer and
// consumer run on distinct cores in every run: unpinned, the scheduler
// sometimes puts both on one core, where a queue drains in-cache and reads
// several times faster than any cross-core handoff.
void pin_to_cpu(int cpu) {
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  if (n < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % n, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct Item {
  std::uint64_t key;
  std::array<char, 64> payload;
};

void BM_Murmur2(benchmark::State& state) {
  std::uint64_t k = 0;
  for (auto _ : state) {
    ++k;
    benchmark::DoNotOptimize(weir::murmur2(std::string_view(reinterpret_cast<const char*>(&k), 8)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Murmur2);

void BM_PartitionFor(benchmark::State& state) {
  std::uint64_t k = 0;
  for (auto _ : state) {
    ++k;
    benchmark::DoNotOptimize(
        weir::partition_for_key(std::string_view(reinterpret_cast<const char*>(&k), 8), 16));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PartitionFor);

// Runs an m1-shaped end-to-end transfer through weir: `events` events from one
// producer thread to one handler, publishing one at a time or in batches.
std::uint64_t weir_handoff(std::int64_t events, int batch, std::uint32_t partitions = 1) {
  auto bus = weir::Bus::open({}).value();
  bus->create_topic("m1", {.partitions = partitions, .capacity = 1u << 16}).ignore();
  // One worker runs the handler, so plain load+store (no RMW) suffices; the
  // atomics only make the totals visible to this thread.
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::int64_t> handled{0};
  bus->subscribe("m1", {.group = "c", .workers = 1, .max_batch = 1024},
                 [&, pinned = false](const weir::Message& m) mutable {
                   if (!pinned) pin_to_cpu(1), pinned = true;
                   std::uint64_t v;
                   std::memcpy(&v, m.payload().data(), 8);
                   sum.store(sum.load(std::memory_order_relaxed) + v +
                                 static_cast<std::uint8_t>(m.payload()[63]),
                             std::memory_order_relaxed);
                   handled.store(handled.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
                   return weir::Outcome::done();
                 })
      .ignore();
  auto topic = bus->topic("m1").value();
  pin_to_cpu(0);
  Item item{};
  std::vector<Item> items(static_cast<std::size_t>(batch));
  std::vector<weir::Event> evs(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < events;) {
    if (batch == 1) {
      item.key = static_cast<std::uint64_t>(i);
      std::memcpy(item.payload.data(), &item.key, 8);
      (void)topic.publish({.key = std::string_view(reinterpret_cast<const char*>(&item.key), 8),
                           .payload = std::string_view(item.payload.data(), 64)});
      ++i;
    } else {
      const int n = static_cast<int>(std::min<std::int64_t>(batch, events - i));
      for (int j = 0; j < n; ++j) {
        items[j].key = static_cast<std::uint64_t>(i + j);
        std::memcpy(items[j].payload.data(), &items[j].key, 8);
        evs[j] = {.key = std::string_view(reinterpret_cast<const char*>(&items[j].key), 8),
                  .payload = std::string_view(items[j].payload.data(), 64)};
      }
      (void)topic.publish_batch(std::span<const weir::Event>(evs.data(), n));
      i += n;
    }
  }
  while (handled.load(std::memory_order_relaxed) < events) std::this_thread::yield();
  bus->close().status().ignore();
  return sum.load();
}

void BM_EndToEnd_Weir(benchmark::State& state) {
  const std::int64_t events = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(weir_handoff(events, 1));
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_EndToEnd_Weir)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EndToEnd_WeirBatch64(benchmark::State& state) {
  const std::int64_t events = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(weir_handoff(events, 64));
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_EndToEnd_WeirBatch64)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

// Raw moodycamel: producer token + single enqueue, consumer bulk dequeue.
std::uint64_t moodycamel_handoff(std::int64_t events, bool bulk) {
  moodycamel::ConcurrentQueue<Item> q(1 << 16);
  std::atomic<bool> done{false};
  std::uint64_t sum = 0;
  std::thread consumer([&] {
    pin_to_cpu(1);
    std::array<Item, 256> buf;
    std::int64_t got = 0;
    while (got < events) {
      std::size_t n = 0;
      if (bulk) {
        n = q.try_dequeue_bulk(buf.begin(), buf.size());
      } else {
        n = q.try_dequeue(buf[0]) ? 1 : 0;
      }
      for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t v;
        std::memcpy(&v, buf[i].payload.data(), 8);
        sum += v + static_cast<std::uint8_t>(buf[i].payload[63]);
      }
      got += static_cast<std::int64_t>(n);
    }
    done = true;
  });
  pin_to_cpu(0);
  moodycamel::ProducerToken tok(q);
  Item item{};
  for (std::int64_t i = 0; i < events; ++i) {
    item.key = static_cast<std::uint64_t>(i);
    std::memcpy(item.payload.data(), &item.key, 8);
    while (!q.enqueue(tok, item)) std::this_thread::yield();
  }
  consumer.join();
  return sum;
}

void BM_Moodycamel_Bulk(benchmark::State& state) {
  const std::int64_t events = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(moodycamel_handoff(events, true));
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_Moodycamel_Bulk)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Moodycamel_Single(benchmark::State& state) {
  const std::int64_t events = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(moodycamel_handoff(events, false));
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_Moodycamel_Single)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BoostSpsc(benchmark::State& state) {
  const std::int64_t events = state.range(0);
  for (auto _ : state) {
    boost::lockfree::spsc_queue<Item, boost::lockfree::capacity<(1 << 16)>> q;
    std::uint64_t sum = 0;
    std::thread consumer([&] {
      pin_to_cpu(1);
      std::int64_t got = 0;
      Item it;
      while (got < events) {
        if (q.pop(it)) {
          std::uint64_t v;
          std::memcpy(&v, it.payload.data(), 8);
          sum += v + static_cast<std::uint8_t>(it.payload[63]);
          ++got;
        }
      }
    });
    pin_to_cpu(0);
    Item item{};
    for (std::int64_t i = 0; i < events; ++i) {
      item.key = static_cast<std::uint64_t>(i);
      std::memcpy(item.payload.data(), &item.key, 8);
      while (!q.push(item)) std::this_thread::yield();
    }
    consumer.join();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_BoostSpsc)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
