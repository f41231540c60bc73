// p1: priority lanes under saturation. One memory topic with one partition,
// one non-blocking group of one worker whose handler busy-waits 20 us per
// event (the consumer's capacity C is measured first, closed loop: system
// weir-capacity). Then, open loop (each event stamped with its due time, so
// a stalled producer counts in the latency):
//   weir-lanes-high-unloaded  the urgent events alone, at 0.2 C (their rate
//                             in the loaded runs): the high lane's unloaded
//                             latency;
//   weir-lanes-high / -low    2 C for `events` events, one in ten urgent
//                             (priority 1 of 2 levels);
//   weir-nolanes-high / -low  the same load on a topic without lanes.
// Latency is publish (due time) -> handled, per lane. Urgent events use
// their own 64 keys, the rest 1,024 others: under per-key order an urgent
// event whose key has a backlog waits for it (README, "Priority lanes").
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "weir/weir.hpp"
#include "workloads.hpp"

namespace weir::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t kCostNs = 20'000;  // handler time per event

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

struct Stamp {
  std::uint64_t id;
  std::uint64_t due_ns;
  std::uint64_t urgent;
};

struct Phase {
  internal::LatencyHistogram high, low;
  internal::LatencyHistogram lag;  // how late the producer published (actual - due)
  std::uint64_t high_events = 0, low_events = 0;
  double seconds = 0;
  bool valid = false;
  std::string note;
};

// One run on a fresh bus: `events` events at `rate` events/s (0: closed
// loop), one in ten urgent (`urgent_every` = 10; 1: all urgent; 0: none).
Phase run_phase(std::uint32_t levels, double rate, std::uint64_t events, std::uint32_t urgent_every, bool metrics) {
  Phase out;
  Options o;
  o.metrics_sampling = metrics;
  auto opened = Bus::open(o);
  if (!opened) {
    out.note = opened.status().to_string();
    return out;
  }
  auto& bus = **opened;
  if (Status s = bus.create_topic("p1", {.partitions = 1, .capacity = 1u << 17, .priority_levels = levels}); !s) {
    out.note = s.to_string();
    return out;
  }
  std::atomic<std::uint64_t> handled{0}, id_sum{0};
  SubscribeOptions so{.group = "p1"};
  so.retry_mode = RetryMode::kNonBlocking;
  so.max_parked = 1'000'000;  // the lane window covers the whole backlog
  // Only the worker thread writes the histograms; they are read after it
  // stopped (unsubscribe joins it).
  Status s = bus.subscribe("p1", so, [&, pinned = false](const Message& m) mutable {
    if (!pinned) {  // the worker on the core the producer leaves free
      pin_to_cpu(1);
      pinned = true;
    }
    const std::uint64_t until = now_ns() + kCostNs;
    while (now_ns() < until) {
    }
    Stamp st;
    std::memcpy(&st, m.payload().data(), sizeof st);
    const std::uint64_t now = now_ns();
    (st.urgent ? out.high : out.low).record(now > st.due_ns ? now - st.due_ns : 0);
    ++(st.urgent ? out.high_events : out.low_events);
    id_sum.fetch_add(st.id, std::memory_order_relaxed);
    handled.fetch_add(1, std::memory_order_release);
    return Outcome::done();
  });
  if (!s) {
    out.note = s.to_string();
    return out;
  }
  auto topic = bus.topic("p1").value();
  const std::uint64_t interval_ns = rate > 0 ? static_cast<std::uint64_t>(1e9 / rate) : 0;
  std::uint64_t failures = 0, expect_sum = 0;
  const auto t0 = Clock::now();
  {
    pin_to_cpu(0);
    std::mt19937_64 rng(42);
    std::string payload(64, 'p');
    std::string key;
    const std::uint64_t start_ns = now_ns();
    for (std::uint64_t i = 0; i < events; ++i) {
      const bool urgent = urgent_every == 1 || (urgent_every > 1 && i % urgent_every == urgent_every / 2);
      const std::uint64_t due = interval_ns ? start_ns + i * interval_ns : now_ns();
      if (interval_ns)
        while (now_ns() < due) {  // spin: a yield could give the core away for a whole time slice
        }
      key = urgent ? "vip-" + std::to_string(rng() % 64) : "bulk-" + std::to_string(rng() % 1024);
      const Stamp st{i + 1, due, urgent ? 1u : 0u};
      std::memcpy(payload.data(), &st, sizeof st);
      Event e{.key = key, .payload = payload};
      if (urgent && levels > 1) e.priority = 1;
      const std::uint64_t at = now_ns();
      out.lag.record(at > due ? at - due : 0);
      if (!topic.publish(e).is_ok()) ++failures;
      expect_sum += i + 1;
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (handled.load(std::memory_order_acquire) < events - failures && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  (void)bus.unsubscribe("p1");
  out.valid = failures == 0 && handled.load() == events && id_sum.load() == expect_sum;
  if (!out.valid)
    out.note = "handled " + std::to_string(handled.load()) + " of " + std::to_string(events) + ", " +
               std::to_string(failures) + " publishes failed";
  return out;
}

Result lane_result(std::string system, const Phase& p, bool high) {
  Result r{std::move(system), "p1", high ? p.high_events : p.low_events, p.seconds, p.valid, p.note, {}, {}};
  r.latency = high ? p.high : p.low;
  return r;
}

}  // namespace

std::vector<Result> run_p1(const Config& c) {
  std::vector<Result> out;
  // Capacity: closed loop, no urgent events, on the lanes topic.
  const std::uint64_t calib = std::max<std::uint64_t>(c.events / 5, 2000);
  const Phase cap = run_phase(2, 0, calib, 0, c.metrics);
  Result capacity{"weir-capacity", "p1", calib, cap.seconds, cap.valid, cap.note, {}, {}};
  out.push_back(capacity);
  if (!cap.valid) return out;
  const double C = capacity.events_per_sec();
  char note[160];
  std::snprintf(note, sizeof note, "capacity %.0f ev/s (20 us handler), load %.0f ev/s, 10%% urgent", C, 2 * C);

  const Phase unloaded = run_phase(2, 0.2 * C, std::max<std::uint64_t>(c.events / 10, 1000), 1, c.metrics);
  out.push_back(lane_result("weir-lanes-high-unloaded", unloaded, true));
  const Phase lanes = run_phase(2, 2 * C, c.events, 10, c.metrics);
  out.push_back(lane_result("weir-lanes-high", lanes, true));
  out.push_back(lane_result("weir-lanes-low", lanes, false));
  const Phase plain = run_phase(1, 2 * C, c.events, 10, c.metrics);
  out.push_back(lane_result("weir-nolanes-high", plain, true));
  out.push_back(lane_result("weir-nolanes-low", plain, false));
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].valid) out[i].note = note;
  char lag[120];
  std::snprintf(lag, sizeof lag, "; producer lag p99 %.0f us (lanes), %.0f us (no lanes)",
                static_cast<double>(lanes.lag.quantile(0.99)) / 1000.0,
                static_cast<double>(plain.lag.quantile(0.99)) / 1000.0);
  for (std::size_t i = 2; i < out.size(); ++i) out[i].note += lag;
  return out;
}

}  // namespace weir::bench
