// Randomised stress: many producers, many groups, random keys, batch and
// single publishes, random retries. Checks, per group: every event handled
// exactly once (memory mode, clean drain), per-key order for events of one
// producer thread, and a clean shutdown. Seeded; prints the seed.
//
// WEIR_STRESS_SEED=N replays one seed; WEIR_STRESS_SECONDS bounds the run
// (default 4 s).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

namespace weir {
namespace {

struct Payload {
  std::uint32_t producer;
  std::uint32_t seq;
  std::uint32_t key;
};

struct GroupCheck {
  // Written only by the worker that owns the event's partition; each
  // (producer, key) maps to exactly one partition, hence one thread at a time.
  std::vector<std::vector<std::int64_t>> last_seq;  // [producer][key]
  std::vector<std::vector<std::atomic<std::uint8_t>>> seen;  // [producer][seq]
  std::atomic<std::uint64_t> order_violations{0};
  std::atomic<std::uint64_t> handled{0};
};

double stress_seconds() {
  const char* s = std::getenv("WEIR_STRESS_SECONDS");
  return s ? std::atof(s) : 4.0;
}

void run_iteration(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int partitions = pick(1, 8);
  const int capacity = 16 << pick(0, 6);
  const int producers = pick(1, 4);
  const int groups = pick(1, 3);
  const int keys = pick(1, 64);
  const bool hot_key = pick(0, 1);
  const int per_producer = pick(200, 3000);
  const int retry_per_mille = pick(0, 1) ? pick(1, 30) : 0;
  SCOPED_TRACE("seed " + std::to_string(seed) + ": partitions " + std::to_string(partitions) +
               " capacity " + std::to_string(capacity) + " producers " + std::to_string(producers) +
               " groups " + std::to_string(groups) + " keys " + std::to_string(keys) +
               " events/producer " + std::to_string(per_producer));

  auto bus = Bus::open({.idle_spin = std::chrono::microseconds(pick(0, 50))}).value();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = static_cast<std::uint32_t>(partitions),
                                      .capacity = static_cast<std::uint32_t>(capacity),
                                      .block_timeout = std::chrono::seconds(60)}));

  std::vector<std::unique_ptr<GroupCheck>> checks;
  for (int g = 0; g < groups; ++g) {
    auto c = std::make_unique<GroupCheck>();
    c->last_seq.assign(producers, std::vector<std::int64_t>(keys, -1));
    c->seen = std::vector<std::vector<std::atomic<std::uint8_t>>>(producers);
    for (auto& v : c->seen) v = std::vector<std::atomic<std::uint8_t>>(per_producer);
    GroupCheck* ck = c.get();
    const std::uint64_t gseed = rng();
    auto on_event = [ck, retry_per_mille, gseed](const Message& m) -> bool {
      Payload p;
      std::memcpy(&p, m.payload().data(), sizeof p);
      // Deterministic per (event, attempt) transient failures.
      const std::uint64_t h = (gseed ^ (std::uint64_t{p.producer} << 40) ^ (std::uint64_t{p.seq} << 8) ^ m.attempt()) * 0x9E3779B97F4A7C15ull;
      if (retry_per_mille && (h >> 54) % 1000 < static_cast<std::uint64_t>(retry_per_mille) && m.attempt() < 3)
        return false;
      std::int64_t& last = ck->last_seq[p.producer][p.key];
      if (static_cast<std::int64_t>(p.seq) <= last) ck->order_violations.fetch_add(1);
      last = p.seq;
      ck->seen[p.producer][p.seq].fetch_add(1, std::memory_order_relaxed);
      ck->handled.fetch_add(1, std::memory_order_relaxed);
      return true;
    };
    SubscribeOptions so{.group = "g" + std::to_string(g),
                        .workers = static_cast<std::uint32_t>(pick(1, 4)),
                        .max_batch = static_cast<std::uint32_t>(1 << pick(0, 8))};
    so.retry_backoff = std::chrono::milliseconds(0);
    so.retry_backoff_max = std::chrono::milliseconds(1);
    Status s;
    if (pick(0, 1)) {
      s = bus->subscribe("t", so, [on_event](const Message& m) {
        return on_event(m) ? Outcome::done() : Outcome::retry();
      });
    } else {
      s = bus->subscribe("t", so, [on_event](std::span<const Message> ms) {
        for (std::size_t i = 0; i < ms.size(); ++i)
          if (!on_event(ms[i])) return BatchOutcome{i, Outcome::retry()};
        return BatchOutcome::all(ms.size());
      });
    }
    ASSERT_TRUE(s) << s.to_string();
    checks.push_back(std::move(c));
  }

  auto topic = bus->topic("t").value();
  std::vector<std::thread> threads;
  std::atomic<int> publish_errors{0};
  for (int p = 0; p < producers; ++p) {
    const std::uint64_t pseed = rng();
    threads.emplace_back([&, p, pseed] {
      std::mt19937_64 prng(pseed);
      std::vector<Payload> payloads(64);
      std::vector<std::string> keystr(64);
      std::vector<Event> batch(64);
      int seq = 0;
      while (seq < per_producer) {
        const int n = std::min<int>(per_producer - seq, static_cast<int>(prng() % 64) + 1);
        for (int i = 0; i < n; ++i) {
          const std::uint32_t k = hot_key && prng() % 2 ? 0 : static_cast<std::uint32_t>(prng() % keys);
          payloads[i] = Payload{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(seq + i), k};
          keystr[i] = "key-" + std::to_string(k);
          batch[i] = Event{.key = keystr[i],
                           .payload = std::string_view(reinterpret_cast<const char*>(&payloads[i]), sizeof(Payload))};
        }
        if (prng() % 2) {
          auto r = topic.publish_batch(std::span<const Event>(batch.data(), n));
          if (!r.status || r.published != static_cast<std::size_t>(n)) ++publish_errors;
        } else {
          for (int i = 0; i < n; ++i)
            if (!topic.publish(batch[i])) ++publish_errors;
        }
        seq += n;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto rep = bus->close({.mode = CloseMode::kDrain, .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(rep);
  EXPECT_FALSE(rep->timed_out);
  EXPECT_EQ(rep->undelivered, 0u);
  EXPECT_EQ(publish_errors.load(), 0);
  for (int g = 0; g < groups; ++g) {
    GroupCheck& c = *checks[g];
    EXPECT_EQ(c.order_violations.load(), 0u) << "group " << g;
    EXPECT_EQ(c.handled.load(), static_cast<std::uint64_t>(producers) * per_producer) << "group " << g;
    std::uint64_t bad = 0;
    for (auto& v : c.seen)
      for (auto& x : v) bad += x.load() != 1;
    EXPECT_EQ(bad, 0u) << "group " << g << ": events not handled exactly once";
  }
}

TEST(BusStress, RandomInterleavings) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WEIR_STRESS_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("weir stress: base seed %llu (WEIR_STRESS_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<long>(stress_seconds() * 1000));
  int iterations = 0;
  do {
    run_iteration(seed + iterations);
    ++iterations;
    if (::testing::Test::HasFailure()) {
      std::printf("weir stress: failed at seed %llu\n", static_cast<unsigned long long>(seed + iterations - 1));
      break;
    }
  } while (std::chrono::steady_clock::now() < end && iterations < 1000);
  std::printf("weir stress: %d iterations\n", iterations);
  EXPECT_GE(iterations, 1);
}

}  // namespace
}  // namespace weir
