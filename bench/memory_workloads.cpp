// m1 / m1-2p: producers hand uint64-keyed events with a fixed payload to one
// consumer that reads every payload. weir (single and batch publish) beside
// moodycamel ConcurrentQueue and Boost.Lockfree on the same items.
#include <concurrentqueue/concurrentqueue.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "weir/weir.hpp"
#include "workloads.hpp"

namespace weir::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxPayload = 256;

// The raw queues carry this: the key and a fixed-size payload (m1's 64 B).
struct Item {
  std::uint64_t key;
  char payload[64];
};

// The consumer's view of an event: checks it and folds it into the checksum.
// Written per event by the consumer: a line of its own (see LineCounter).
struct alignas(64) Checker {
  std::uint64_t sum = 0;
  std::uint64_t bad = 0;
  void see(std::uint64_t key, const char* payload) {
    std::uint64_t k;
    std::memcpy(&k, payload, 8);  // the payload starts with the key
    bad += (k != key) | (static_cast<unsigned char>(payload[63]) != (key & 0xff));
    sum += k;
  }
};

void fill_payload(char* p, std::uint64_t key) {
  std::memcpy(p, &key, 8);
  p[63] = static_cast<char>(key & 0xff);
}

// Global event index i of producer p: keys interleave so they sum to N(N-1)/2.
struct Plan {
  std::uint64_t events;
  int producers;
  std::uint64_t per_producer() const { return events / static_cast<std::uint64_t>(producers); }
  std::uint64_t total() const { return per_producer() * static_cast<std::uint64_t>(producers); }
  std::uint64_t key(int p, std::uint64_t i) const { return i * static_cast<std::uint64_t>(producers) + static_cast<std::uint64_t>(p); }
  std::uint64_t expected_sum() const { return total() * (total() - 1) / 2; }
};

Result finish(std::string system, const Config& c, const Plan& plan, Clock::time_point t0,
              Clock::time_point t1, const Checker& ck, std::uint64_t seen) {
  Result r;
  r.system = std::move(system);
  r.workload = c.workload;
  r.events = plan.total();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.valid = seen == plan.total() && ck.bad == 0 && ck.sum == plan.expected_sum();
  if (!r.valid)
    r.note = "saw " + std::to_string(seen) + " of " + std::to_string(plan.total()) + " events, " +
             std::to_string(ck.bad) + " malformed, checksum " + (ck.sum == plan.expected_sum() ? "ok" : "wrong");
  return r;
}

Result run_weir(const Config& c, const Plan& plan, bool batch, bool metrics) {
  Options o;
  o.metrics_sampling = metrics;
  auto bus = Bus::open(o).value();
  (void)bus->create_topic("m1", {.partitions = 1, .capacity = 1u << 16});
  Checker ck;
  LineCounter seen;
  (void)bus->subscribe("m1", {.group = "consumer", .workers = 1, .max_batch = 1024},
                       [&, pinned = false](const Message& m) mutable {
                         if (!pinned) pinned = (pin_to_cpu(c.producers), true);
                         std::uint64_t key;
                         std::memcpy(&key, m.key().data(), 8);
                         ck.see(key, m.payload().data());
                         // One worker: load+store, no RMW; visible to the main thread.
                         seen.n.store(seen.n.load(std::memory_order_relaxed) + 1, std::memory_order_release);
                         return Outcome::done();
                       });
  auto topic = bus->topic("m1").value();
  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < c.producers; ++p) {
    producers.emplace_back([&, p] {
      pin_to_cpu(p);
      const std::uint32_t n_batch = batch ? c.batch : 1;
      std::vector<std::uint64_t> keys(n_batch);
      std::vector<std::array<char, kMaxPayload>> payloads(n_batch);
      std::vector<Event> evs(n_batch);
      for (std::uint64_t i = 0; i < plan.per_producer();) {
        const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(n_batch, plan.per_producer() - i));
        for (std::uint32_t j = 0; j < n; ++j) {
          keys[j] = plan.key(p, i + j);
          fill_payload(payloads[j].data(), keys[j]);
          evs[j] = Event{.key = std::string_view(reinterpret_cast<const char*>(&keys[j]), 8),
                         .payload = std::string_view(payloads[j].data(), c.payload)};
        }
        if (batch) {
          (void)topic.publish_batch(std::span<const Event>(evs.data(), n));
        } else {
          (void)topic.publish(evs[0]);
        }
        i += n;
      }
    });
  }
  for (auto& t : producers) t.join();
  while (seen.n.load(std::memory_order_acquire) < plan.total()) std::this_thread::yield();
  const auto t1 = Clock::now();
  (void)bus->close();
  return finish(std::string(batch ? "weir-batch" : "weir") + (metrics ? "" : "-nometrics"), c, plan, t0, t1, ck,
                seen.n.load());
}

// Runs a raw-queue handoff: `producers` threads call push(p, item) for each
// event, one consumer thread calls drain(check) until every event was seen.
// `drain` returns how many items it consumed (and checked).
template <typename Push, typename Drain>
Result run_raw(const Config& c, const Plan& plan, const char* name, Push&& make_pusher, Drain&& drain) {
  Checker ck;
  LineCounter seen;  // the consumer's own (plain loads and stores), as weir's
  Clock::time_point t1;
  std::thread consumer([&] {
    pin_to_cpu(c.producers);
    std::uint64_t n = 0;
    while (n < plan.total()) {
      n += drain(ck);
      seen.n.store(n, std::memory_order_relaxed);
    }
    t1 = Clock::now();
  });
  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < c.producers; ++p) {
    producers.emplace_back([&, p] {
      pin_to_cpu(p);
      auto push = make_pusher();  // per-thread state (a producer token)
      Item item{};
      for (std::uint64_t i = 0; i < plan.per_producer(); ++i) {
        item.key = plan.key(p, i);
        fill_payload(item.payload, item.key);
        while (!push(item)) std::this_thread::yield();
      }
    });
  }
  for (auto& t : producers) t.join();
  consumer.join();
  return finish(name, c, plan, t0, t1, ck, seen.n.load());
}

// moodycamel: producer token + single enqueue; bulk or single dequeue.
Result run_moodycamel(const Config& c, const Plan& plan, bool bulk) {
  moodycamel::ConcurrentQueue<Item> q(1u << 16);
  Item buf[256];
  return run_raw(
      c, plan, bulk ? "moodycamel-bulk" : "moodycamel-single",
      [&] {
        return [&q, tok = std::make_shared<moodycamel::ProducerToken>(q)](const Item& it) {
          return q.enqueue(*tok, it);
        };
      },
      [&](Checker& ck) {
        const std::size_t n = bulk ? q.try_dequeue_bulk(buf, 256) : (q.try_dequeue(buf[0]) ? 1 : 0);
        for (std::size_t i = 0; i < n; ++i) ck.see(buf[i].key, buf[i].payload);
        return n;
      });
}

// Boost.Lockfree spsc_queue or queue: push / pop one item.
template <typename Queue>
Result run_boost(const Config& c, const Plan& plan, Queue& q, const char* name) {
  return run_raw(
      c, plan, name, [&] { return [&q](const Item& it) { return q.push(it); }; },
      [&](Checker& ck) -> std::size_t {
        Item it;
        if (!q.pop(it)) return 0;
        ck.see(it.key, it.payload);
        return 1;
      });
}

}  // namespace

std::vector<Result> run_memory(const Config& c) {
  Plan plan{c.events, c.producers};
  std::vector<Result> out;
  out.push_back(run_weir(c, plan, false, c.metrics));
  out.push_back(run_weir(c, plan, true, c.metrics));
  if (c.metrics_both) {
    // Sampling's cost under load: the same runs with it off.
    out.push_back(run_weir(c, plan, false, false));
    out.push_back(run_weir(c, plan, true, false));
  }
  if (!c.baselines) return out;
  out.push_back(run_moodycamel(c, plan, true));
  out.push_back(run_moodycamel(c, plan, false));
  if (c.producers == 1) {
    auto q = std::make_unique<boost::lockfree::spsc_queue<Item, boost::lockfree::capacity<(1 << 16)>>>();
    out.push_back(run_boost(c, plan, *q, "boost-spsc"));
  }
  // Fixed-capacity lock-free queues are megabytes: keep them off the stack.
  auto mq = std::make_unique<boost::lockfree::queue<Item, boost::lockfree::capacity<65534>>>();
  out.push_back(run_boost(c, plan, *mq, "boost-queue"));
  return out;
}

}  // namespace weir::bench
