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

#include "weir/weir.hpp"

namespace {

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
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::int64_t> handled{0};
  bus->subscribe("m1", {.group = "c", .workers = partitions, .max_batch = 1024},
                 [&](const weir::Message& m) {
                   std::uint64_t v;
                   std::memcpy(&v, m.payload().data(), 8);
                   sum.fetch_add(v + static_cast<std::uint8_t>(m.payload()[63]), std::memory_order_relaxed);
                   handled.fetch_add(1, std::memory_order_relaxed);
                   return weir::Outcome::done();
                 })
      .ignore();
  auto topic = bus->topic("m1").value();
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
