// d1 / d1-2p / d2: durable publishing with fsync acks and read-back with
// durable offset commits. weir beside raw LMDB doing the same work with the
// strongest simple loop: producers build their events and hand them to one
// writer thread, which appends each event as one entry of a single DBI
// (MDB_APPEND, key = global sequence number) and commits every batch of
// waiting events (at most `in_flight` per producer) with LMDB's full sync.
#include <concurrentqueue/concurrentqueue.h>
#include <lmdb.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "weir/weir.hpp"
#include "journal_common.hpp"

namespace weir::bench {

// --- weir --------------------------------------------------------------------

Result weir_d1(const Config& c, const fs::path& dir) {
  Options o;
  o.data_dir = dir.string();
  o.metrics_sampling = c.metrics;
  auto bus = Bus::open(o);
  if (!bus) return Result{"weir", c.workload, 0, 0, false, bus.status().to_string(), {}};
  (void)(*bus)->create_topic("d1", {.partitions = kPartitions, .capacity = 1u << 15,
                                    .durability = Durability::kJournaled});
  auto topic = (*bus)->topic("d1").value();
  const std::uint64_t per = c.events / static_cast<std::uint64_t>(c.producers);
  struct Pending {
    PublishReceipt r;
    Clock::time_point t;
  };
  std::vector<internal::LatencyHistogram> hists(static_cast<std::size_t>(c.producers));
  std::atomic<std::uint64_t> failures{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int p = 0; p < c.producers; ++p) {
    threads.emplace_back([&, p] {
      // The producer publishes with ack none and hands each receipt to its
      // ack collector, which waits for the fsync ack in publish order.
      auto q = std::make_unique<boost::lockfree::spsc_queue<Pending, boost::lockfree::capacity<(1 << 16)>>>();
      LineCounter acked;  // the collector's, polled per publish: a line of its own
      std::thread collector([&] {
        Pending pd;
        for (std::uint64_t n = 0; n < per;) {
          if (!q->pop(pd)) {
            std::this_thread::yield();
            continue;
          }
          if (!topic.wait_acked(pd.r, Ack::kFsync, std::chrono::seconds(60))) failures.fetch_add(1);
          hists[static_cast<std::size_t>(p)].record(ns_since(pd.t));
          acked.n.store(++n, std::memory_order_release);
        }
      });
      char key[kKeyBytes], payload[kPayloadBytes];
      for (std::uint64_t i = 0; i < per; ++i) {
        while (i - acked.n.load(std::memory_order_acquire) >= c.in_flight) std::this_thread::yield();
        const std::uint64_t id = i * static_cast<std::uint64_t>(c.producers) + static_cast<std::uint64_t>(p);
        make_event(id, key, payload);
        const auto t = Clock::now();
        auto r = topic.publish({.key = std::string_view(key, kKeyBytes), .payload = std::string_view(payload, kPayloadBytes)},
                               {.ack = Ack::kNone});
        if (!r) {
          failures.fetch_add(1);
          continue;
        }
        while (!q->push(Pending{*r, t})) std::this_thread::yield();
      }
      collector.join();
    });
  }
  for (auto& t : threads) t.join();
  Result res{"weir", c.workload, per * static_cast<std::uint64_t>(c.producers),
             std::chrono::duration<double>(Clock::now() - t0).count(), failures.load() == 0, {}, {}};
  if (!res.valid) res.note = std::to_string(failures.load()) + " publishes failed or were not acked";
  internal::LatencyHistogram all;
  for (auto& h : hists) all.merge(h);
  res.latency = all;
  (void)(*bus)->close();
  return res;
}

Result weir_d2(const Config& c, const fs::path& dir, std::uint64_t events) {
  Options o;
  o.data_dir = dir.string();
  o.metrics_sampling = c.metrics;
  auto bus = Bus::open(o);
  if (!bus) return Result{"weir", "d2", 0, 0, false, bus.status().to_string(), {}};
  std::atomic<std::uint64_t> seen{0};
  std::atomic<std::uint64_t> sum{0};
  const auto t0 = Clock::now();
  // Synchronous offset commits: a worker that handled 1,000 events waits
  // until its offsets are durable, like the raw baseline.
  SubscribeOptions so{.group = "d2", .workers = c.workers, .max_batch = 1000};
  so.offset_commit_events = 1000;
  auto s = (*bus)->subscribe("d1", so,
                             [&](std::span<const Message> ms) {
                               std::uint64_t local = 0;
                               for (const auto& m : ms) {
                                 std::uint64_t id;
                                 std::memcpy(&id, m.payload().data(), 8);
                                 local += id;
                               }
                               sum.fetch_add(local, std::memory_order_relaxed);
                               seen.fetch_add(ms.size(), std::memory_order_release);
                               return BatchOutcome::all(ms.size());
                             });
  if (!s) return Result{"weir", "d2", 0, 0, false, s.to_string(), {}};
  while (seen.load(std::memory_order_acquire) < events) std::this_thread::sleep_for(std::chrono::microseconds(50));
  auto rep = (*bus)->unsubscribe("d2");  // persists the final offsets
  Result res{"weir", "d2", seen.load(), std::chrono::duration<double>(Clock::now() - t0).count(), false, {}, {}};
  res.valid = seen.load() == events && sum.load() == expected_sum(events) && rep && rep->journal_status;
  if (!res.valid) res.note = "saw " + std::to_string(seen.load()) + " of " + std::to_string(events);
  (void)(*bus)->close();
  return res;
}

namespace {

// --- raw LMDB ------------------------------------------------------------------

Result raw_d2(const fs::path& dir, std::uint64_t events) {
  RawEnv raw;
  if (!raw.open(dir)) return Result{"lmdb-raw", "d2", 0, 0, false, "cannot open LMDB", {}};
  const auto t0 = Clock::now();
  std::uint64_t pos = 0, sum = 0;
  bool ok = true;
  while (ok) {
    // Read up to 1,000 events in a short read transaction, then commit the
    // offset durably, as a consumer group must.
    MDB_txn* rtxn;
    if (mdb_txn_begin(raw.env, nullptr, MDB_RDONLY, &rtxn)) {
      ok = false;
      break;
    }
    const long n = visit_log(rtxn, raw, pos, 1000, [&](const char* ev) {
      std::uint64_t id;
      std::memcpy(&id, ev + kKeyBytes, 8);
      sum += id;
      return true;
    });
    mdb_txn_abort(rtxn);
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    pos += static_cast<std::uint64_t>(n);
    MDB_txn* wtxn;
    if (mdb_txn_begin(raw.env, nullptr, 0, &wtxn)) {
      ok = false;
      break;
    }
    if (!put_raw_offset(wtxn, raw, pos)) {
      mdb_txn_abort(wtxn);
      ok = false;
    } else if (mdb_txn_commit(wtxn)) {  // synced
      ok = false;
    }
  }
  Result res{"lmdb-raw", "d2", pos, std::chrono::duration<double>(Clock::now() - t0).count(), false, {}, {}};
  res.valid = ok && pos == events && sum == expected_sum(events);
  if (!res.valid) res.note = "saw " + std::to_string(pos) + " of " + std::to_string(events);
  return res;
}

}  // namespace

Result raw_d1(const Config& c, const fs::path& dir) {
  RawEnv raw;
  if (!raw.open(dir)) return Result{"lmdb-raw", c.workload, 0, 0, false, "cannot open LMDB", {}};
  // What a producer hands the writer: the finished event, as weir's
  // producers hand theirs to the bus.
  struct Ev {
    char bytes[kEventBytes];
    int producer;
    Clock::time_point t;
  };
  moodycamel::ConcurrentQueue<Ev> q;
  const std::uint64_t per = c.events / static_cast<std::uint64_t>(c.producers);
  const std::uint64_t total = per * static_cast<std::uint64_t>(c.producers);
  std::vector<LineCounter> acked(static_cast<std::size_t>(c.producers));  // one line per producer
  internal::LatencyHistogram hist, commits;
  std::atomic<bool> ok{true};
  std::thread writer([&] {
    std::vector<Ev> evs(65536);
    std::uint64_t seq = 0;
    char k8[8];
    for (std::uint64_t done = 0; done < total;) {
      const std::size_t n = q.try_dequeue_bulk(evs.begin(), evs.size());
      if (n == 0) {
        std::this_thread::yield();
        continue;
      }
      MDB_txn* txn;
      if (mdb_txn_begin(raw.env, nullptr, 0, &txn)) ok = false;
      for (std::size_t i = 0; i < n; ++i) {
        be64(k8, seq++);
        MDB_val k{8, k8}, v{kEventBytes, evs[i].bytes};
        if (mdb_put(txn, raw.log, &k, &v, MDB_APPEND)) ok = false;
      }
      const auto c0 = Clock::now();
      if (mdb_txn_commit(txn)) ok = false;  // default flags: synced
      commits.record(ns_since(c0));
      for (std::size_t i = 0; i < n; ++i) {
        hist.record(ns_since(evs[i].t));
        acked[static_cast<std::size_t>(evs[i].producer)].n.fetch_add(1, std::memory_order_release);
      }
      done += n;
    }
  });
  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < c.producers; ++p) {
    producers.emplace_back([&, p] {
      moodycamel::ProducerToken tok(q);
      Ev ev;
      ev.producer = p;
      for (std::uint64_t i = 0; i < per; ++i) {
        while (i - acked[static_cast<std::size_t>(p)].n.load(std::memory_order_acquire) >= c.in_flight)
          std::this_thread::yield();
        make_event(i * static_cast<std::uint64_t>(c.producers) + static_cast<std::uint64_t>(p), ev.bytes,
                   ev.bytes + kKeyBytes);
        ev.t = Clock::now();
        q.enqueue(tok, ev);
      }
      while (acked[static_cast<std::size_t>(p)].n.load(std::memory_order_acquire) < per) std::this_thread::yield();
    });
  }
  for (auto& t : producers) t.join();
  writer.join();
  Result res{"lmdb-raw", c.workload, total, std::chrono::duration<double>(Clock::now() - t0).count(), ok.load(), {}, hist};
  res.commit = commits;
  if (!res.valid) res.note = "an LMDB call failed";
  return res;
}

std::vector<Result> run_d1(const Config& c) {
  std::vector<Result> out;
  out.push_back(weir_d1(c, fresh_dir(c, "weir-d1")));
  if (c.baselines) out.push_back(raw_d1(c, fresh_dir(c, "lmdb-d1")));
  return out;
}

std::vector<Result> run_d2(const Config& c) {
  // d2 reads what d1 wrote: write it first (not reported), then read back.
  const Config w = loader_config(c);
  const auto wdir = fresh_dir(c, "weir-d1");
  const auto rdir = fresh_dir(c, "lmdb-d1");
  std::vector<Result> out;
  Result wr = weir_d1(w, wdir);
  out.push_back(wr.valid ? weir_d2(c, wdir, wr.events) : wr);
  if (c.baselines) {
    Result rr = raw_d1(w, rdir);
    out.push_back(rr.valid ? raw_d2(rdir, rr.events) : rr);
  }
  for (auto& r : out) r.workload = "d2";
  fs::remove_all(wdir);
  fs::remove_all(rdir);
  return out;
}

}  // namespace weir::bench
