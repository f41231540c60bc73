// The free-form workload: any number of producers, partitions, groups and
// workers; payload size; uniform or Zipf keys; memory or journaled; any ack
// level; single or batch publish; closed loop (as fast as possible) or open
// loop at a target rate. Latency is publish -> handled, end to end, for
// every event; in open-loop mode it is measured from each event's intended
// send time, so a stall counts against every event it delays
// (coordinated-omission corrected).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "weir/weir.hpp"
#include "workloads.hpp"

namespace weir::bench {

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// What every event carries at the front of its payload.
struct Stamp {
  std::uint64_t id;       // unique event number
  std::uint64_t sent_ns;  // intended (open loop) or actual (closed loop) send time
};

// Zipf(s) over [0, n): inverse-CDF table, built once.
class KeyPicker {
 public:
  KeyPicker(std::uint32_t keys, bool zipf, double s, std::uint64_t seed) : rng_(seed), keys_(keys) {
    if (!zipf) return;
    cdf_.resize(keys);
    double sum = 0;
    for (std::uint32_t k = 0; k < keys; ++k) sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
    double acc = 0;
    for (std::uint32_t k = 0; k < keys; ++k) {
      acc += 1.0 / std::pow(static_cast<double>(k + 1), s) / sum;
      cdf_[k] = acc;
    }
  }
  std::uint32_t next() {
    if (cdf_.empty()) return static_cast<std::uint32_t>(rng_() % keys_);
    const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    return static_cast<std::uint32_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::mt19937_64 rng_;
  std::uint32_t keys_;
  std::vector<double> cdf_;
};

// Per-worker-thread tallies, merged at the end (no shared counters on the
// handler path).
struct Tally {
  std::uint64_t events = 0;
  std::uint64_t id_sum = 0;
  internal::LatencyHistogram latency;
};

class Tallies {
 public:
  Tally& mine() {
    thread_local std::vector<std::pair<const Tallies*, Tally*>> cache;
    for (auto& [owner, t] : cache)
      if (owner == this) return *t;
    std::lock_guard<std::mutex> lock(mu_);
    all_.push_back(std::make_unique<Tally>());
    cache.emplace_back(this, all_.back().get());
    return *all_.back();
  }
  Tally merged() const {
    std::lock_guard<std::mutex> lock(mu_);
    Tally out;
    for (const auto& t : all_) {
      out.events += t->events;
      out.id_sum += t->id_sum;
      out.latency.merge(t->latency);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Tally>> all_;
};

}  // namespace

std::vector<Result> run_custom(const Config& c) {
  const bool journaled = c.durability == "journaled";
  const std::uint64_t interval_ns =
      c.rate > 0 ? static_cast<std::uint64_t>(1e9 * c.producers / c.rate) : 0;  // per producer
  Options o;
  std::filesystem::path dir;
  if (journaled) {
    dir = std::filesystem::path(c.dir.empty() ? std::filesystem::temp_directory_path().string() : c.dir) /
          "weir-custom";
    std::filesystem::remove_all(dir);
    o.data_dir = dir.string();
  }
  auto opened = Bus::open(o);
  if (!opened) return {Result{"weir", "custom", 0, 0, false, opened.status().to_string(), {}, {}}};
  auto& bus = **opened;
  TopicOptions to{.partitions = c.partitions, .capacity = 1u << 15};
  if (journaled) to.durability = Durability::kJournaled;
  if (Status s = bus.create_topic("custom", to); !s)
    return {Result{"weir", "custom", 0, 0, false, s.to_string(), {}, {}}};

  std::vector<std::unique_ptr<Tallies>> tallies;
  for (std::uint32_t g = 0; g < c.groups; ++g) {
    tallies.push_back(std::make_unique<Tallies>());
    Tallies* t = tallies.back().get();
    const SubscribeOptions so{.group = "g" + std::to_string(g), .workers = c.workers, .max_batch = 256};
    if (c.state) {
      // Idempotent consumer: dedupe record + a per-key counter in a state
      // table + the offset, committed together.
      Status st = bus.subscribe("custom", so, [t](const Message& m, State& state) {
        auto cur = state.get("counts", m.key());
        if (!cur) return Outcome::retry();
        const long n = cur->has_value() ? std::stol(**cur) : 0;
        if (!state.put("counts", m.key(), std::to_string(n + 1))) return Outcome::retry();
        Tally& mine = t->mine();
        Stamp stamp;
        std::memcpy(&stamp, m.payload().data(), sizeof stamp);
        const std::uint64_t now = now_ns();
        mine.latency.record(now > stamp.sent_ns ? now - stamp.sent_ns : 0);
        mine.id_sum += stamp.id;
        ++mine.events;
        return Outcome::done();
      });
      if (!st) return {Result{"weir", "custom", 0, 0, false, st.to_string(), {}, {}}};
      continue;
    }
    Status s = bus.subscribe("custom", so,
                             [t](std::span<const Message> ms) {
                               Tally& mine = t->mine();
                               const std::uint64_t now = now_ns();
                               for (const auto& m : ms) {
                                 Stamp st;
                                 std::memcpy(&st, m.payload().data(), sizeof st);
                                 mine.latency.record(now > st.sent_ns ? now - st.sent_ns : 0);
                                 mine.id_sum += st.id;
                                 ++mine.events;
                               }
                               return BatchOutcome::all(ms.size());
                             });
    if (!s) return {Result{"weir", "custom", 0, 0, false, s.to_string(), {}, {}}};
  }

  auto topic = bus.topic("custom").value();
  const Ack ack = c.ack == "fsync" ? Ack::kFsync : c.ack == "journal" ? Ack::kJournal : Ack::kNone;
  const auto t0 = Clock::now();
  const auto stop_at = c.duration_s > 0 ? t0 + std::chrono::duration<double>(c.duration_s)
                                        : Clock::time_point::max();
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<bool> producing{true};
  std::vector<std::uint64_t> sent(static_cast<std::size_t>(c.producers), 0);
  std::vector<std::uint64_t> sent_sum(static_cast<std::size_t>(c.producers), 0);
  std::vector<std::thread> producers;
  for (int p = 0; p < c.producers; ++p) {
    producers.emplace_back([&, p] {
      pin_to_cpu(p);
      KeyPicker keys(c.keys, c.key_dist == "zipf", c.zipf_s, 1234 + static_cast<std::uint64_t>(p));
      const std::uint32_t batch = std::max<std::uint32_t>(c.batch, 1);
      std::vector<std::string> keybuf(batch), payload(batch, std::string(std::max<std::uint32_t>(c.payload, sizeof(Stamp)), 'p'));
      std::vector<Event> evs(batch);
      const std::uint64_t limit = c.duration_s > 0 ? ~std::uint64_t{0} : c.events / static_cast<std::uint64_t>(c.producers);
      std::uint64_t i = 0, sum = 0;
      const std::uint64_t start_ns = now_ns();
      while (i < limit && Clock::now() < stop_at) {
        const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(batch, limit - i));
        std::uint64_t intended = 0;
        if (interval_ns) {
          // Open loop: event i is due at start + i * interval. A batch goes
          // out when its last event is due; each event is stamped with its
          // own due time (not the late actual time), so both the batching
          // delay and any stall count in its latency.
          intended = start_ns + i * interval_ns;
          const std::uint64_t last_due = intended + (n - 1) * interval_ns;
          while (now_ns() < last_due) std::this_thread::yield();
        }
        for (std::uint32_t j = 0; j < n; ++j) {
          const std::uint64_t id = (i + j) * static_cast<std::uint64_t>(c.producers) + static_cast<std::uint64_t>(p);
          keybuf[j] = "key-" + std::to_string(keys.next());
          Stamp st{id, interval_ns ? intended + j * interval_ns : now_ns()};
          std::memcpy(payload[j].data(), &st, sizeof st);
          evs[j] = Event{.key = keybuf[j], .payload = payload[j]};
          sum += id;
        }
        bool ok;
        if (batch == 1) {
          ok = topic.publish(evs[0], {.ack = journaled ? std::optional<Ack>(ack) : std::nullopt}).is_ok();
        } else {
          auto r = topic.publish_batch(std::span<const Event>(evs.data(), n),
                                       {.ack = journaled ? std::optional<Ack>(ack) : std::nullopt});
          ok = r.status.is_ok();
        }
        if (!ok) failures.fetch_add(1, std::memory_order_relaxed);
        i += n;
        published.fetch_add(n, std::memory_order_relaxed);
      }
      sent[static_cast<std::size_t>(p)] = i;
      sent_sum[static_cast<std::size_t>(p)] = sum;
    });
  }

  // Live progress on a terminal: rate, lag, elapsed.
  std::thread progress;
  std::atomic<bool> done{false};
  if (c.progress && ::isatty(STDERR_FILENO)) {
    progress = std::thread([&] {
      std::uint64_t last = 0;
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        const std::uint64_t pub = published.load();
        const std::uint64_t handled = tallies[0]->merged().events;
        std::fprintf(stderr, "\r%10.0f ev/s published   lag %10llu   %6.1f s ",
                     static_cast<double>(pub - last) * 2,
                     static_cast<unsigned long long>(pub > handled ? pub - handled : 0),
                     std::chrono::duration<double>(Clock::now() - t0).count());
        last = pub;
      }
      std::fprintf(stderr, "\n");
    });
  }
  for (auto& t : producers) t.join();
  producing = false;
  std::uint64_t total = 0, total_sum = 0;
  for (int p = 0; p < c.producers; ++p) {
    total += sent[static_cast<std::size_t>(p)];
    total_sum += sent_sum[static_cast<std::size_t>(p)];
  }
  // Every group must see every event.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  for (;;) {
    bool all = true;
    for (const auto& t : tallies) all = all && t->merged().events >= total;
    if (all || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const auto t1 = Clock::now();
  done = true;
  if (progress.joinable()) progress.join();
  (void)bus.close();

  Result r{"weir", "custom", total, std::chrono::duration<double>(t1 - t0).count(), true, {}, {}, {}};
  internal::LatencyHistogram lat;
  for (const auto& t : tallies) {
    const Tally m = t->merged();
    lat.merge(m.latency);
    if (m.events != total || m.id_sum != total_sum) {
      r.valid = false;
      r.note = "a group saw " + std::to_string(m.events) + " of " + std::to_string(total) + " events";
    }
  }
  if (failures.load()) {
    r.valid = false;
    r.note = std::to_string(failures.load()) + " publishes failed";
  }
  r.latency = lat;
  char desc[256];
  std::snprintf(desc, sizeof desc, "%dp %up %ug %uw %uB %s %s ack=%s batch=%u rate=%.0f%s", c.producers,
                c.partitions, c.groups, c.workers, c.payload, c.key_dist.c_str(), c.durability.c_str(), c.ack.c_str(),
                c.batch, c.rate, c.state ? " state+dedupe" : "");
  if (r.note.empty()) r.note = desc;
  if (journaled) std::filesystem::remove_all(dir);
  return {r};
}

}  // namespace weir::bench
