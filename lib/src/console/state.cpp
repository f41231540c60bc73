// GET /api/state: a metrics snapshot as JSON for the console page, with the
// hot keys of each skewed partition.
#include <chrono>

#include <nlohmann/json.hpp>

#include "console/server.hpp"

namespace weir::internal {

namespace {

constexpr std::size_t kHotKeysShown = 5;

const char* breaker_name(BreakerState b) {
  switch (b) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
  }
  return "unknown";
}

}  // namespace

std::string console_state_json(const MetricsSnapshot& m, const Bus& bus) {
  using nlohmann::json;
  json topics = json::array();
  for (const TopicMetrics& t : m.topics) {
    json parts = json::array();
    for (const PartitionMetrics& p : t.partitions)
      parts.push_back(json{{"partition", p.partition}, {"start", p.start}, {"end", p.end}, {"bytes", p.bytes}});
    topics.push_back(json{{"topic", t.topic}, {"journaled", t.journaled}, {"partitions", std::move(parts)}});
  }
  json groups = json::array();
  for (const GroupMetrics& g : m.groups) {
    json parts = json::array();
    for (const GroupPartitionMetrics& p : g.partitions) {
      // A skewed partition's dominant keys say why it lags (a hot key, or
      // one slow customer); only those, so a page load stays cheap.
      json hot = json::array();
      if (p.skewed)
        if (auto keys = bus.hot_keys(g.group, p.partition, kHotKeysShown); keys)
          for (const HotKey& k : *keys) hot.push_back(json{{"key", k.key}, {"count", k.count}, {"error", k.error}});
      parts.push_back(json{{"partition", p.partition}, {"committed", p.committed}, {"end", p.end}, {"lag", p.lag},
                           {"lag_seconds", p.lag_seconds}, {"in_flight", p.in_flight}, {"processed", p.processed},
                           {"parked", p.parked}, {"stopped", p.stopped}, {"paused", p.paused}, {"skewed", p.skewed},
                           {"worker", p.worker}, {"hot_keys", std::move(hot)}});
    }
    groups.push_back(json{{"group", g.group},
                          {"topic", g.topic},
                          {"workers", g.workers},
                          {"min_workers", g.min_workers},
                          {"max_workers", g.max_workers},
                          {"processed", g.processed},
                          {"retries", g.retries},
                          {"retry_rate", g.retry_rate},
                          {"dlq_count", g.dlq_count},
                          {"dlq_oldest_age_seconds", g.dlq_oldest_age_seconds},
                          {"dlq_triage_sla_seconds", g.dlq_triage_sla_seconds},
                          {"dlq_dropped", g.dlq_dropped},
                          {"breaker", breaker_name(g.breaker)},
                          {"breaker_trips", g.breaker_trips},
                          {"paused", g.paused},
                          {"partitions", std::move(parts)}});
  }
  const auto taken_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(m.taken_at.time_since_epoch()).count();
  return json{{"taken_at_ms", taken_ms}, {"topics", std::move(topics)}, {"groups", std::move(groups)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

}  // namespace weir::internal
