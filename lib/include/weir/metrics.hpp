// Metrics: a point-in-time snapshot of a bus (Bus::metrics()), its
// Prometheus text exposition (to_prometheus) and an optional small HTTP
// endpoint serving it (MetricsServer).
//
// Definitions (per group and partition):
//   lag        = end - max(committed, log start): events not yet acknowledged
//                by the group, never negative, and never counting events
//                retention already removed.
//   in_flight  = events of the lag handed to the handler (or parked behind a
//                failing key) but not yet acknowledged; waiting = lag - in_flight.
//   lag_seconds = age of the oldest unacknowledged event (now - its publish
//                time), 0 when lag is 0.
//   skewed     = the partition's lag is more than 5x the median lag of the
//                group's partitions (the mean of the two middle lags for an
//                even count) and at least 10 events.
// Latencies are sampled (handler: one single-event handler call in 64, every
// call for batch handlers; end-to-end: one handled batch in 8), summarised
// from a bounded histogram (relative error <= 1.6%).
// Options::metrics_sampling = false turns the sampled parts (latencies, the
// hot-key sketch) off.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir {

class Bus;

// Percentiles of a latency distribution, in microseconds (0 when count is 0).
struct LatencySummary {
  std::uint64_t count = 0;  // samples behind the percentiles
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// One partition of a topic.
struct PartitionMetrics {
  std::uint32_t partition = 0;
  Offset start = 0;         // first retained offset (memory: first not yet released)
  Offset end = 0;           // next offset a publish will get
  std::uint64_t bytes = 0;  // journaled: record bytes stored; memory: 0
};

struct TopicMetrics {
  std::string topic{};
  bool journaled = false;
  std::vector<PartitionMetrics> partitions{};
};

// One partition as one group sees it.
struct GroupPartitionMetrics {
  std::uint32_t partition = 0;
  Offset committed = 0;  // next offset to acknowledge (the oldest unfinished event)
  Offset end = 0;
  std::uint64_t lag = 0;        // end - max(committed, start)
  std::uint64_t in_flight = 0;  // handed out or parked, not yet acknowledged
  double lag_seconds = 0;       // age of the oldest unacknowledged event
  std::uint64_t processed = 0;  // events acknowledged since subscribe
  std::uint64_t parked = 0;     // RetryMode::kNonBlocking
  bool stopped = false;         // stopped by a permanent failure
  bool paused = false;          // Bus::pause
  // The lag and skew rule, the same in Bus::metrics(), Prometheus, the
  // Inspector (`weir groups`, `weir stats`) and `weir top`: lag is
  // end - max(committed, start); a partition is skewed when its lag is more
  // than 5x the median lag of the group's partitions (the mean of the two
  // middle lags for an even count) and at least 10 events. Lags [0, 0, 100]:
  // the third is skewed.
  bool skewed = false;
  int worker = -1;              // owning worker now (-1: being handed over)
};

struct GroupMetrics {
  std::string group{};
  std::string topic{};
  std::uint32_t workers = 0;  // worker threads now
  std::uint32_t min_workers = 0, max_workers = 0;
  std::vector<GroupPartitionMetrics> partitions{};
  std::uint64_t processed = 0;          // sum over partitions
  std::uint64_t retries = 0;            // transient failures retried, since subscribe
  double retry_rate = 0;                // retries per second over the last ~10 s
  std::uint64_t dlq_count = 0;          // dead letters not yet redriven or purged
  double dlq_oldest_age_seconds = 0;    // age of the oldest of them (0 if none)
  // The triage SLA the oldest is held to: SubscribeOptions::alerts.
  // dlq_oldest_age in seconds (0: none set).
  double dlq_triage_sla_seconds = 0;
  // Dead letters dropped before they were redriven or purged: on memory
  // buses, oldest first, to make room when the group's dead-letter topic
  // already held 4,096; on journaled ones, deleted by the dead-letter
  // topic's retention (Options::dead_letter_retention_age), counted since
  // this bus opened the directory.
  std::uint64_t dlq_dropped = 0;
  std::uint64_t duplicates_skipped = 0;
  BreakerState breaker = BreakerState::kClosed;
  std::uint64_t breaker_trips = 0;
  std::uint64_t rebalances = 0;           // completed partition reassignments
  LatencySummary rebalance_duration{};    // how long each took (old owner done -> new owner running)
  LatencySummary handler_latency{};     // one handler call (a batch, for batch handlers)
  // Publish -> acknowledged, sampled in one handled batch in 8 from the
  // oldest event the batch acknowledged (so a lagging group's backlog shows
  // here), measured when the batch is done. Events are stamped with the
  // coarse real-time clock (1-4 ms ticks), and the end is read from the same
  // clock, so values carry up to one tick of error: meaningful for
  // milliseconds and up.
  LatencySummary end_to_end_latency{};
  bool paused = false;                    // every partition paused
};

struct MetricsSnapshot {
  std::chrono::system_clock::time_point taken_at{};
  std::vector<TopicMetrics> topics{};
  std::vector<GroupMetrics> groups{};
};

// A key and how often it was seen among the sampled events (heavy hitters).
struct HotKey {
  std::string key{};
  std::uint64_t count = 0;  // estimated (Space-Saving: may overcount by `error`)
  std::uint64_t error = 0;
};

// Prometheus text exposition format 0.0.4 of a snapshot. Metric names start
// with `weir_`, use base units (seconds, bytes) and `_total` for counters;
// labels: topic, partition, group, plus quantile on latency summaries and
// state (closed, open, half_open) on weir_group_breaker_state. Latencies are
// summaries (quantiles 0.5, 0.9, 0.99, 0.999 and `_count`, no `_sum`) with a
// `..._max_seconds` gauge beside each; with no samples yet the quantiles and
// the max are NaN. Thread-safe (pure function).
std::string to_prometheus(const MetricsSnapshot& snapshot);

// A minimal HTTP/1.1 endpoint answering GET /metrics with
// to_prometheus(bus.metrics()) (404 for other paths, 405 for other methods),
// on its own thread.
// Binds to 127.0.0.1 by default; port 0 picks a free port (see port()).
// Stops and joins its thread on destruction. The bus must outlive it.
// Thread-safety: port() may be called from any thread.
class MetricsServer {
 public:
  struct Config {
    std::string bind_address = "127.0.0.1";
    std::uint16_t port = 9464;
  };
  // Errors: kInvalidArgument (bad address), kIoError (bind/listen failed,
  // with the system's reason, e.g. the port is in use).
  static Result<std::unique_ptr<MetricsServer>> start(Bus& bus, const Config& config);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  std::uint16_t port() const noexcept;

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir
