// What the parent learns about the sale, over time: every accepted order and
// its accept latency, every shipped order's placed -> shipped time, samples
// of lag per partition, retries, dead letters and anonymous memory, and when
// the crash and restart happened. Fed one line at a time (see shop.hpp);
// feed() is thread-safe. write_html() draws it as an HTML page of inline SVG.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace flash_sale {

struct Timeline {
  explicit Timeline(std::size_t orders) : accepted(orders, 0) {}

  struct Sample {
    double t = 0;                     // seconds since the sale started
    std::vector<std::uint64_t> lag;   // per partition index, summed over the pipeline's topics and groups
    std::uint64_t retries = 0;        // payments, cumulative over both processes
    std::uint64_t dead_letters = 0;   // payments, cumulative (in the DLQ or triaged)
    std::uint64_t rss_anon_kb = 0;
  };

  void feed(const std::string& line);
  // The child was killed; samples from here on come from the restarted shop
  // (its counters start at zero, so the child's last values are the base).
  void crashed();
  double now() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }

  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::mutex mu;  // guards everything below while feed() may run
  std::vector<std::uint8_t> accepted;
  std::size_t accepted_count = 0, accepted_before_crash = 0;
  std::vector<std::pair<float, float>> accept_us;  // (t, latency us)
  std::vector<std::pair<float, float>> e2e_ms;     // (t, placed -> shipped ms)
  std::vector<Sample> samples;
  std::vector<std::string> out_of_order;
  std::uint64_t peak_rss_anon_kb = 0, peak_lag = 0;
  double crash_t = -1, restart_t = -1, sale_end_t = -1, drained_t = -1;

 private:
  std::uint64_t retries_base_ = 0, dead_base_ = 0, last_retries_ = 0, last_dead_ = 0;
};

// One pipeline topic at the end of the sale, its events counted per order
// by their derived ids ("order-N", "order-N/1", "order-N/1/1").
struct StageCount {
  std::string stage;    // the group or module that published it
  std::string topic;
  std::string id_form;  // e.g. "order-N/1"
  std::size_t events = 0;      // records in the topic
  std::size_t once = 0;        // orders with exactly one
  std::size_t repeated = 0;    // orders with more than one
  std::size_t missing = 0;     // orders that should have one and have none
  std::size_t unexpected = 0;  // ids naming no order, or an order that must not have one
};

// Percentile q of v (sorted in place); 0 for none.
double percentile(std::vector<float>& v, double q);

// The report: summary lines, the pipeline's per-stage counts, then charts
// of lag per partition, accept and placed -> shipped latency, retries and
// dead letters, anonymous memory; the crash and restart marked on each.
// Returns false if the file cannot be written.
bool write_html(const std::string& path, Timeline& tl, const std::vector<std::string>& summary,
                const std::vector<StageCount>& stages, bool pass);

}  // namespace flash_sale
