// weir-bench workloads: weir and the raw parts it is built from, measured on
// the same workload in the same process. Each run returns one Result per
// system; `valid` says the consumer saw every event exactly (count and
// checksum), otherwise the figure must not be reported.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "metrics/histogram.hpp"

namespace weir::bench {

// A counter on a cache line of its own. Written per event by one thread and
// polled by another, it must not share a line with anything a producer reads
// per event (a Topic handle, a plan), or every publish pays a coherence miss.
struct alignas(64) LineCounter {
  std::atomic<std::uint64_t> n{0};
};

struct Result {
  std::string system;
  std::string workload;
  std::uint64_t events = 0;
  double seconds = 0;
  bool valid = false;
  std::string note;  // why invalid, or what was measured
  // Latency (publish -> ack or publish -> handled), when measured.
  std::optional<internal::LatencyHistogram> latency;
  // Duration of one group commit (raw LMDB baselines), for "ack p99 within
  // 2x one commit".
  std::optional<internal::LatencyHistogram> commit;
  // o1: milliseconds Bus::open took (the figure; events/s does not apply).
  std::optional<double> open_ms;
  double events_per_sec() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

struct Config {
  std::string workload;  // m1, m1-2p, d1, d1-2p, d2, s1, o1, p1, custom
  std::uint64_t events = 0;
  std::string dir;
  bool baselines = true;
  bool keep = false;  // o1: keep the journals it opened (to open them again under a profiler)
  // custom / m-family
  int producers = 1;
  std::uint32_t partitions = 1;
  std::uint32_t workers = 1;
  std::uint32_t payload = 64;
  std::uint32_t batch = 64;      // weir batch publish size
  std::uint32_t in_flight = 8192;  // d-family: published but not acked
  bool progress = false;         // live progress line on stderr
  bool metrics = true;           // Options::metrics_sampling of weir's buses
  bool metrics_both = false;     // m-family: weir with sampling on, then off ("-nometrics")
  // custom only
  std::uint32_t groups = 1;
  std::uint32_t keys = 1024;
  std::string key_dist = "uniform";  // or "zipf"
  double zipf_s = 1.0;
  std::string durability = "memory";  // or "journaled"
  std::string ack = "none";           // none, journal, fsync (journaled)
  double rate = 0;                    // events/s over all producers; 0 = closed loop
  double duration_s = 0;              // run for this long instead of `events`
  bool state = false;                 // groups use a StateHandler (dedupe + state table), journaled
};

// Pins the calling thread to one CPU (mod the CPUs present), so producer and
// consumer run on distinct cores in every run: unpinned, the scheduler
// sometimes puts both on one core, where a queue drains in-cache and reads
// several times faster than any cross-core handoff.
inline void pin_to_cpu(int cpu) {
  const int n = static_cast<int>(std::thread::hardware_concurrency());
  if (n < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % n, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// m1 / m1-2p: producers -> one handler, uint64 key + `payload` bytes.
std::vector<Result> run_memory(const Config& c);
// d1 / d1-2p: journaled, 8 partitions, 16-byte key + 100-byte payload,
// ack fsync, at most `in_flight` unacked per producer.
std::vector<Result> run_d1(const Config& c);
// d2: read d1's events back in order, committing offsets every 1,000.
std::vector<Result> run_d2(const Config& c);
// s1: a state handler with dedupe over d1's events, beside a plain group
// (weir-d2) and raw LMDB (get + put per event, one synced txn per batch).
std::vector<Result> run_s1(const Config& c);
// o1: Bus::open after a crash at `events` state-handled events (and, as
// weir-plain, at as many plainly handled events).
std::vector<Result> run_o1(const Config& c);
// p1: priority lanes at 2x the consumer's capacity, 10% urgent: per-lane
// publish -> handled latency with and without lanes, and the urgent lane
// unloaded (bench/lanes_workload.cpp).
std::vector<Result> run_p1(const Config& c);
// custom: the free-form workload (weir only), end-to-end latency.
std::vector<Result> run_custom(const Config& c);

}  // namespace weir::bench
