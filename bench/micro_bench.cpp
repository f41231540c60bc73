// Google Benchmark micro-benchmarks for weir's hot pieces, with the raw parts
// it is built from measured beside it in the same binary:
//   BM_Murmur2/BM_PartitionFor      key hashing and partition choice
//   BM_RingClaimPublishRead         one partition ring: claim, write, publish, read, free
//   BM_RecordEncode/Decode          an event's in-ring record
//   BM_BatchFrame                   journal record framing with CRC32C
//   BM_JournalAppendBatch           a batch publish to a journaled topic, acked at commit
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
#include <vector>

#include <pthread.h>
#include <sched.h>

#include <filesystem>

#include "record/record.hpp"
#include "journal/batch.hpp"
#include "ring/partition_log.hpp"
#include "weir/weir.hpp"
#include "workloads.hpp"

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

// One thread moves events through a ring: claim, encode into the slot,
// publish, read back, advance the reader. The uncontended cost per event.
void BM_RingClaimPublishRead(benchmark::State& state) {
  const auto batch = static_cast<std::uint32_t>(state.range(0));
  weir::internal::PartitionLog log(1u << 12);
  weir::internal::ReaderCursor reader;
  log.add_reader(&reader, 0);
  std::uint64_t key = 0;
  char payload[64] = {};
  std::uint64_t sum = 0;
  for (auto _ : state) {
    weir::Offset first;
    (void)log.claim(batch, false, std::chrono::nanoseconds(0), first);
    for (std::uint32_t i = 0; i < batch; ++i) {
      ++key;
      const weir::Event e{.key = std::string_view(reinterpret_cast<const char*>(&key), 8),
                          .payload = std::string_view(payload, 64)};
      weir::internal::encode_record(e, 1, log.slot_buffer(first + i, weir::internal::record_size(e)));
      log.publish(first + i);
    }
    const std::uint32_t n = log.readable(first, batch);
    for (std::uint32_t i = 0; i < n; ++i)
      sum += weir::internal::decode_record(log.record(first + i), "t", 0, first + i, 1).payload().size();
    reader.next.store(first + n, std::memory_order_release);
    log.reader_advanced();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * batch);
  log.remove_reader(&reader);
}
BENCHMARK(BM_RingClaimPublishRead)->Arg(1)->Arg(64);

void BM_RecordEncode(benchmark::State& state) {
  char payload[64] = {}, out[256];
  const weir::Event e{.key = "order-000042", .payload = std::string_view(payload, 64)};
  for (auto _ : state) {
    weir::internal::encode_record(e, 1, out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordEncode);

void BM_RecordDecode(benchmark::State& state) {
  char payload[64] = {}, rec[256];
  const weir::Event e{.key = "order-000042", .payload = std::string_view(payload, 64)};
  weir::internal::encode_record(e, 1, rec);
  for (auto _ : state) benchmark::DoNotOptimize(weir::internal::decode_record(rec, "t", 0, 7, 1));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordDecode);

// CRC-32C of n bytes: the interleaved version the journal uses beside the
// one-stream loop (a d1 record's frame is 144 bytes).
template <std::uint32_t (*Crc)(const void*, std::size_t, std::uint32_t) noexcept>
void BM_Crc32c(benchmark::State& state) {
  std::vector<char> buf(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(Crc(buf.data(), buf.size(), 0));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c<weir::internal::crc32c>)->Arg(48)->Arg(144)->Arg(1024)->Arg(65536);
BENCHMARK(BM_Crc32c<weir::internal::crc32c_serial>)->Arg(48)->Arg(144)->Arg(1024)->Arg(65536);

// Framing for the journal: copy + CRC32C per record (100-byte payload).
void BM_BatchFrame(benchmark::State& state) {
  char payload[100] = {}, rec[256], out[512];
  const weir::Event e{.key = "key-000000000042", .payload = std::string_view(payload, 100)};
  const auto len = static_cast<std::uint32_t>(weir::internal::record_size(e));
  weir::internal::encode_record(e, 1, rec);
  for (auto _ : state) {
    benchmark::DoNotOptimize(weir::internal::frame_record(out, rec, len));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * len);
}
BENCHMARK(BM_BatchFrame);

// A batch of 1,000 events published to a journaled topic and acknowledged
// at the commit (Ack::kJournal: data pages flushed, the meta page left to
// the next flush): what one group commit costs end to end.
void BM_JournalAppendBatch(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "weir-microbench-journal";
  std::filesystem::remove_all(dir);
  weir::Options o;
  o.data_dir = dir.string();
  auto bus = weir::Bus::open(o).value();
  (void)bus->create_topic("j", {.partitions = 8, .durability = weir::Durability::kJournaled});
  auto topic = bus->topic("j").value();
  std::vector<std::string> keys(1000);
  for (int i = 0; i < 1000; ++i) keys[i] = "key-" + std::to_string(i);
  const std::string payload(100, 'p');
  std::vector<weir::Event> evs(1000);
  for (int i = 0; i < 1000; ++i) evs[i] = {.key = keys[i], .payload = payload};
  for (auto _ : state) (void)topic.publish_batch(evs, {.ack = weir::Ack::kJournal});
  state.SetItemsProcessed(state.iterations() * 1000);
  (void)bus->close();
  bus.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalAppendBatch)->Unit(benchmark::kMillisecond)->UseRealTime();

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
                   if (!pinned) weir::bench::pin_to_cpu(1), pinned = true;
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
  weir::bench::pin_to_cpu(0);
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
    weir::bench::pin_to_cpu(1);
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
  weir::bench::pin_to_cpu(0);
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
      weir::bench::pin_to_cpu(1);
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
    weir::bench::pin_to_cpu(0);
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
