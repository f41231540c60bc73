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
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

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

// A fresh directory for a journaled iteration, removed afterwards.
struct testing_dir {
  std::string path;
  explicit testing_dir(std::uint64_t seed)
      : path((std::filesystem::temp_directory_path() /
              ("weir-stress-" + std::to_string(::getpid()) + "-" + std::to_string(seed)))
                 .string()) {
    std::filesystem::remove_all(path);
  }
  ~testing_dir() { std::filesystem::remove_all(path); }
};

bool testing_eventually(const std::function<bool()>& pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

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

// Non-blocking retries under heavy random failure rates (10-50% of
// attempts fail, some events permanently): a later event of a key is never
// handed out while an earlier one of the same key is unfinished, every event
// finishes exactly once (done or dead-lettered), and everything drains.
struct KeyTrack {
  std::int64_t last_finished = -1;
  std::int64_t unfinished = -1;  // delivered, failed transiently, not finished
};

void run_nonblocking_iteration(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int partitions = pick(1, 6);
  const int producers = pick(1, 3);
  const int keys = pick(1, 48);
  const int per_producer = pick(200, 1500);
  const int fail_per_mille = pick(100, 500);
  const int poison_per_mille = pick(0, 10);
  const bool journaled = pick(0, 3) == 0;
  const bool batch = pick(0, 1);
  SCOPED_TRACE("nonblocking seed " + std::to_string(seed) + ": partitions " + std::to_string(partitions) +
               " producers " + std::to_string(producers) + " keys " + std::to_string(keys) + " events/producer " +
               std::to_string(per_producer) + " fail/1000 " + std::to_string(fail_per_mille) +
               (journaled ? " journaled" : " memory") + (batch ? " batch" : " single"));
  std::unique_ptr<testing_dir> dir;
  Options bo{.idle_spin = std::chrono::microseconds(pick(0, 20))};
  if (journaled) {
    dir = std::make_unique<testing_dir>(seed);
    bo.data_dir = dir->path;
  }
  auto bus = Bus::open(bo).value();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = static_cast<std::uint32_t>(partitions),
                                      .capacity = static_cast<std::uint32_t>(64 << pick(0, 4)),
                                      .block_timeout = std::chrono::seconds(60),
                                      .durability = journaled ? Durability::kJournaled : Durability::kMemory}));
  std::vector<std::vector<KeyTrack>> track(producers, std::vector<KeyTrack>(keys));
  std::vector<std::vector<std::atomic<std::uint8_t>>> finished(producers);
  for (auto& v : finished) v = std::vector<std::atomic<std::uint8_t>>(per_producer);
  std::atomic<std::uint64_t> violations{0}, poisoned{0}, failures{0};
  const std::uint64_t gseed = rng();
  // Returns the outcome of one delivery; checks the parking invariant.
  auto on_event = [&](const Message& m) -> Outcome {
    Payload p;
    std::memcpy(&p, m.payload().data(), sizeof p);
    KeyTrack& t = track[p.producer][p.key];
    if (static_cast<std::int64_t>(p.seq) <= t.last_finished ||
        (t.unfinished != -1 && t.unfinished != static_cast<std::int64_t>(p.seq)))
      violations.fetch_add(1);
    const std::uint64_t h =
        (gseed ^ (std::uint64_t{p.producer} << 40) ^ (std::uint64_t{p.seq} << 8) ^ m.attempt()) * 0x9E3779B97F4A7C15ull;
    const std::uint64_t e = ((gseed ^ (std::uint64_t{p.producer} << 40) ^ p.seq) * 0xD6E8FEB86659FD93ull) >> 50;
    Outcome o = Outcome::done();
    if (e % 1000 < static_cast<std::uint64_t>(poison_per_mille)) {
      o = Outcome::fail("poison");
      poisoned.fetch_add(1);
    } else if ((h >> 54) % 1000 < static_cast<std::uint64_t>(fail_per_mille) && m.attempt() < 6) {
      failures.fetch_add(1);
      t.unfinished = p.seq;
      return Outcome::retry();
    }
    t.unfinished = -1;
    t.last_finished = p.seq;
    finished[p.producer][p.seq].fetch_add(1, std::memory_order_relaxed);
    return o;
  };
  SubscribeOptions so{.group = "g", .workers = static_cast<std::uint32_t>(pick(1, 3)),
                      .max_attempts = 1000, .max_batch = static_cast<std::uint32_t>(1 << pick(0, 6))};
  so.retry_mode = RetryMode::kNonBlocking;
  so.max_parked = static_cast<std::uint32_t>(pick(1, 200));
  so.retry_backoff = std::chrono::milliseconds(pick(0, 1));
  so.retry_backoff_max = std::chrono::milliseconds(2);
  Status s;
  if (batch) {
    s = bus->subscribe("t", so, [&](std::span<const Message> ms) {
      for (std::size_t i = 0; i < ms.size(); ++i) {
        Outcome o = on_event(ms[i]);
        if (!o.is_done()) return BatchOutcome{i, std::move(o)};
      }
      return BatchOutcome::all(ms.size());
    });
  } else {
    s = bus->subscribe("t", so, on_event);
  }
  ASSERT_TRUE(s) << s.to_string();

  auto topic = bus->topic("t").value();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    const std::uint64_t pseed = rng();
    threads.emplace_back([&, p, pseed] {
      std::mt19937_64 prng(pseed);
      for (int seq = 0; seq < per_producer; ++seq) {
        const auto k = static_cast<std::uint32_t>(prng() % keys);
        const Payload pl{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(seq), k};
        const std::string key = "key-" + std::to_string(k);
        EXPECT_TRUE(topic.publish(
            Event{.key = key, .payload = std::string_view(reinterpret_cast<const char*>(&pl), sizeof pl)}));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(testing_eventually([&] {
    auto st = bus->describe_group("g").value();
    for (const auto& ps : st.partitions)
      if (ps.lag != 0 || ps.parked != 0) return false;
    return true;
  })) << "did not drain";
  auto rep = bus->close({.mode = CloseMode::kDrain, .timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->undelivered, 0u);
  EXPECT_EQ(violations.load(), 0u) << "a key's later event was delivered before an earlier one finished";
  std::uint64_t bad = 0;
  for (auto& v : finished)
    for (auto& x : v) bad += x.load() != 1;
  EXPECT_EQ(bad, 0u) << "events not finished exactly once";
  EXPECT_GT(failures.load(), 0u);  // 10-50% of attempts fail
}

// Runs `iteration` with seeds base, base+1, ... until the time budget
// (WEIR_STRESS_SECONDS) is spent or one fails; prints the seeds.
void run_seeded(const char* name, void (*iteration)(std::uint64_t)) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WEIR_STRESS_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("weir stress (%s): base seed %llu (WEIR_STRESS_SEED to replay)\n", name,
              static_cast<unsigned long long>(seed));
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<long>(stress_seconds() * 1000));
  int iterations = 0;
  do {
    iteration(seed + iterations);
    ++iterations;
    if (::testing::Test::HasFailure()) {
      std::printf("weir stress: failed at seed %llu\n", static_cast<unsigned long long>(seed + iterations - 1));
      break;
    }
  } while (std::chrono::steady_clock::now() < end && iterations < 1000);
  std::printf("weir stress (%s): %d iterations\n", name, iterations);
  EXPECT_GE(iterations, 1);
}

TEST(BusStress, NonBlockingRetriesKeepPerKeyOrder) { run_seeded("non-blocking", run_nonblocking_iteration); }

TEST(BusStress, RandomInterleavings) { run_seeded("interleavings", run_iteration); }

}  // namespace
}  // namespace weir
