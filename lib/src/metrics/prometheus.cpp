// to_prometheus: a MetricsSnapshot as Prometheus text exposition format 0.0.4.
//
// Every sample of a family is written together under one `# HELP` and one
// `# TYPE` line, as the format requires; families are written in a fixed
// order and, within a family, samples follow the snapshot's order (topics,
// then groups, each with its partitions as given), so two snapshots of the
// same bus diff line by line.
//
// Conventions (https://prometheus.io/docs/practices/naming/): names start
// with `weir_`, values are in base units (seconds, bytes), counters end in
// `_total`, booleans are gauges of 0 or 1. Labels: topic, partition, group,
// plus quantile on latency summaries and state on the breaker.
//
// Latencies are summaries with quantiles 0.5/0.9/0.99/0.999 and `_count` but
// no `_sum`: weir's histograms do not keep one. OpenMetrics allows that ("A
// Summary MetricPoint MAY consist of a Count, Sum, Created, and a set of
// quantiles"); the maximum is exported beside each summary as a gauge
// `..._max_seconds`. With no samples yet, quantiles and max are NaN (as
// Prometheus' own client libraries report an empty summary), not 0.
//
// The circuit breaker is the enum pattern: `weir_group_breaker_state` has
// one series per state (closed, open, half_open), 1 for the current state
// and 0 for the others, so `weir_group_breaker_state{state="open"} == 1`
// alerts without knowing any numeric encoding.
//
// A group's total processed count is not exported apart: it is the sum of
// the per-partition counter (sum by (group) (weir_group_processed_events_total)).
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/metrics.hpp"

namespace weir {
namespace {

// Shortest text that reads back as the same double; Prometheus' spellings of
// the special values.
void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;  // 32 chars hold any double's shortest form
  out.append(buf.data(), end);
}

// Label values escape backslash, double quote and newline.
void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

// HELP text escapes backslash and newline (not quotes).
void append_help(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

std::string label(std::string_view key, std::string_view value) {
  std::string s(key);
  s += "=\"";
  append_label_value(s, value);
  s += '"';
  return s;
}

std::string join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string s(a);
  s += ',';
  s += b;
  return s;
}

double us_to_seconds(double us) { return us / 1e6; }

// Writes families: the header lines come with a family's first sample, so a
// family without samples (no topics, no groups) leaves no trace.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    header_written_ = false;
  }
  // `suffix` extends the family name ("_count" of a summary); `labels` is a
  // ready list of key="value" pairs without braces (may be empty).
  void sample(std::string_view labels, double value, std::string_view suffix = {}) {
    if (!header_written_) {
      out_ += "# HELP ";
      out_ += name_;
      out_ += ' ';
      append_help(out_, help_);
      out_ += "\n# TYPE ";
      out_ += name_;
      out_ += ' ';
      out_ += type_;
      out_ += '\n';
      header_written_ = true;
    }
    out_ += name_;
    out_ += suffix;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
  }
  std::string take() && { return std::move(out_); }

 private:
  std::string out_;
  std::string_view name_, type_, help_;
  bool header_written_ = false;
};

struct TopicPartitionFamily {
  const char* name;
  const char* type;
  const char* help;
  double (*get)(const PartitionMetrics&);
};

constexpr TopicPartitionFamily kTopicPartitionFamilies[] = {
    {"weir_topic_partition_start_offset", "gauge",
     "First retained offset of the partition (memory topics: first not yet released).",
     [](const PartitionMetrics& p) { return double(p.start); }},
    {"weir_topic_partition_end_offset", "gauge", "Offset the next publish to the partition will get.",
     [](const PartitionMetrics& p) { return double(p.end); }},
    {"weir_topic_partition_bytes", "gauge",
     "Record bytes stored in the journal for the partition (0 for memory topics).",
     [](const PartitionMetrics& p) { return double(p.bytes); }},
};

struct GroupPartitionFamily {
  const char* name;
  const char* type;
  const char* help;
  double (*get)(const GroupPartitionMetrics&);
};

constexpr GroupPartitionFamily kGroupPartitionFamilies[] = {
    {"weir_group_committed_offset", "gauge",
     "Next offset the group will acknowledge in the partition (its oldest unfinished event).",
     [](const GroupPartitionMetrics& p) { return double(p.committed); }},
    {"weir_group_end_offset", "gauge", "End offset of the partition when the group's snapshot was taken.",
     [](const GroupPartitionMetrics& p) { return double(p.end); }},
    {"weir_group_lag_events", "gauge",
     "Events not yet acknowledged by the group: end - max(committed, log start); includes in-flight.",
     [](const GroupPartitionMetrics& p) { return double(p.lag); }},
    {"weir_group_in_flight_events", "gauge",
     "Events of the lag handed to the handler or parked, not yet acknowledged.",
     [](const GroupPartitionMetrics& p) { return double(p.in_flight); }},
    {"weir_group_lag_seconds", "gauge", "Age of the oldest event the group has not acknowledged (0 when lag is 0).",
     [](const GroupPartitionMetrics& p) { return p.lag_seconds; }},
    {"weir_group_processed_events_total", "counter", "Events the group acknowledged since it subscribed.",
     [](const GroupPartitionMetrics& p) { return double(p.processed); }},
    {"weir_group_parked_events", "gauge", "Events parked behind a failing key (non-blocking retries).",
     [](const GroupPartitionMetrics& p) { return double(p.parked); }},
    {"weir_group_partition_stopped", "gauge", "1 if a permanent failure stopped the group on the partition.",
     [](const GroupPartitionMetrics& p) { return p.stopped ? 1.0 : 0.0; }},
    {"weir_group_partition_paused", "gauge", "1 if the partition is paused for the group (Bus::pause).",
     [](const GroupPartitionMetrics& p) { return p.paused ? 1.0 : 0.0; }},
    {"weir_group_partition_skewed", "gauge", "1 if the partition's lag is more than 5x the group's median lag and at least 10 events.",
     [](const GroupPartitionMetrics& p) { return p.skewed ? 1.0 : 0.0; }},
    {"weir_group_partition_worker", "gauge",
     "Index of the worker thread owning the partition (-1 while it is handed over).",
     [](const GroupPartitionMetrics& p) { return double(p.worker); }},
};

struct GroupFamily {
  const char* name;
  const char* type;
  const char* help;
  double (*get)(const GroupMetrics&);
};

constexpr GroupFamily kGroupFamilies[] = {
    {"weir_group_workers", "gauge", "Worker threads the group runs now.",
     [](const GroupMetrics& g) { return double(g.workers); }},
    {"weir_group_min_workers", "gauge", "Fewest worker threads the group scales down to.",
     [](const GroupMetrics& g) { return double(g.min_workers); }},
    {"weir_group_max_workers", "gauge", "Most worker threads the group scales up to.",
     [](const GroupMetrics& g) { return double(g.max_workers); }},
    {"weir_group_paused", "gauge", "1 if every partition of the group is paused.",
     [](const GroupMetrics& g) { return g.paused ? 1.0 : 0.0; }},
    {"weir_group_retries_total", "counter", "Transient handler failures retried since the group subscribed.",
     [](const GroupMetrics& g) { return double(g.retries); }},
    {"weir_group_retries_per_second", "gauge", "Retries per second over about the last 10 seconds.",
     [](const GroupMetrics& g) { return g.retry_rate; }},
    {"weir_group_dlq_events", "gauge", "Dead letters of the group not yet redriven or purged.",
     [](const GroupMetrics& g) { return double(g.dlq_count); }},
    {"weir_group_dlq_oldest_age_seconds", "gauge", "Age of the group's oldest dead letter (0 if none).",
     [](const GroupMetrics& g) { return g.dlq_oldest_age_seconds; }},
    {"weir_group_dlq_dropped_total", "counter",
     "Dead letters dropped before they were redriven or purged: on memory buses the oldest, when the group's "
     "dead-letter topic held 4,096; on journaled ones, those its retention deleted.",
     [](const GroupMetrics& g) { return double(g.dlq_dropped); }},
    {"weir_group_duplicates_skipped_total", "counter",
     "Events the group skipped as duplicates of ones already handled, since it subscribed.",
     [](const GroupMetrics& g) { return double(g.duplicates_skipped); }},
    {"weir_group_breaker_trips_total", "counter", "Times the group's circuit breaker opened.",
     [](const GroupMetrics& g) { return double(g.breaker_trips); }},
    {"weir_group_rebalances_total", "counter", "Completed moves of a partition from one worker to another.",
     [](const GroupMetrics& g) { return double(g.rebalances); }},
};

struct LatencyFamily {
  const char* name;      // the summary
  const char* max_name;  // its companion gauge: the largest sample
  const char* help;
  const char* max_help;
  const LatencySummary GroupMetrics::*field;
};

constexpr LatencyFamily kLatencyFamilies[] = {
    {"weir_group_rebalance_duration_seconds", "weir_group_rebalance_duration_max_seconds",
     "How long moving a partition between workers took (old owner done to new owner running).",
     "Longest partition move among the samples.", &GroupMetrics::rebalance_duration},
    {"weir_group_handler_latency_seconds", "weir_group_handler_latency_max_seconds",
     "Duration of one handler call (one batch for batch handlers), sampled.",
     "Longest sampled handler call.", &GroupMetrics::handler_latency},
    {"weir_group_end_to_end_latency_seconds", "weir_group_end_to_end_latency_max_seconds",
     "Time from publish to acknowledgement by the group, sampled.",
     "Longest sampled publish-to-acknowledgement time.", &GroupMetrics::end_to_end_latency},
};

}  // namespace

std::string to_prometheus(const MetricsSnapshot& snapshot) {
  Exposition out;

  out.family("weir_metrics_snapshot_timestamp_seconds", "gauge",
             "When this snapshot was taken, in seconds since the Unix epoch.");
  out.sample({}, std::chrono::duration<double>(snapshot.taken_at.time_since_epoch()).count());

  // Label lists are escaped once, then reused by every family.
  std::vector<std::string> topic_labels;
  topic_labels.reserve(snapshot.topics.size());
  for (const TopicMetrics& t : snapshot.topics) topic_labels.push_back(label("topic", t.topic));
  std::vector<std::string> group_labels;
  group_labels.reserve(snapshot.groups.size());
  for (const GroupMetrics& g : snapshot.groups)
    group_labels.push_back(join(label("group", g.group), label("topic", g.topic)));
  auto partition_label = [](std::uint32_t p) { return "partition=\"" + std::to_string(p) + '"'; };

  out.family("weir_topic_journaled", "gauge", "1 if the topic is kept in the journal (durable), 0 if memory only.");
  for (std::size_t i = 0; i < snapshot.topics.size(); ++i)
    out.sample(topic_labels[i], snapshot.topics[i].journaled ? 1.0 : 0.0);

  for (const TopicPartitionFamily& f : kTopicPartitionFamilies) {
    out.family(f.name, f.type, f.help);
    for (std::size_t i = 0; i < snapshot.topics.size(); ++i)
      for (const PartitionMetrics& p : snapshot.topics[i].partitions)
        out.sample(join(topic_labels[i], partition_label(p.partition)), f.get(p));
  }

  for (const GroupPartitionFamily& f : kGroupPartitionFamilies) {
    out.family(f.name, f.type, f.help);
    for (std::size_t i = 0; i < snapshot.groups.size(); ++i)
      for (const GroupPartitionMetrics& p : snapshot.groups[i].partitions)
        out.sample(join(group_labels[i], partition_label(p.partition)), f.get(p));
  }

  for (const GroupFamily& f : kGroupFamilies) {
    out.family(f.name, f.type, f.help);
    for (std::size_t i = 0; i < snapshot.groups.size(); ++i) out.sample(group_labels[i], f.get(snapshot.groups[i]));
  }

  out.family("weir_group_breaker_state", "gauge",
             "Circuit breaker state of the group: 1 for the current state (closed, open, half_open), 0 otherwise.");
  for (std::size_t i = 0; i < snapshot.groups.size(); ++i) {
    static constexpr std::pair<BreakerState, std::string_view> kStates[] = {
        {BreakerState::kClosed, "closed"}, {BreakerState::kOpen, "open"}, {BreakerState::kHalfOpen, "half_open"}};
    for (const auto& [state, name] : kStates)
      out.sample(join(group_labels[i], label("state", name)), snapshot.groups[i].breaker == state ? 1.0 : 0.0);
  }

  static constexpr std::pair<const char*, double LatencySummary::*> kQuantiles[] = {
      {"quantile=\"0.5\"", &LatencySummary::p50_us},
      {"quantile=\"0.9\"", &LatencySummary::p90_us},
      {"quantile=\"0.99\"", &LatencySummary::p99_us},
      {"quantile=\"0.999\"", &LatencySummary::p999_us},
  };
  for (const LatencyFamily& f : kLatencyFamilies) {
    out.family(f.name, "summary", f.help);
    for (std::size_t i = 0; i < snapshot.groups.size(); ++i) {
      const LatencySummary& s = snapshot.groups[i].*f.field;
      for (const auto& [q, field] : kQuantiles)
        out.sample(join(group_labels[i], q), s.count == 0 ? std::nan("") : us_to_seconds(s.*field));
      out.sample(group_labels[i], double(s.count), "_count");
    }
    out.family(f.max_name, "gauge", f.max_help);
    for (std::size_t i = 0; i < snapshot.groups.size(); ++i) {
      const LatencySummary& s = snapshot.groups[i].*f.field;
      out.sample(group_labels[i], s.count == 0 ? std::nan("") : us_to_seconds(s.max_us));
    }
  }

  return std::move(out).take();
}

}  // namespace weir
