// Option validation: every out-of-range field is rejected naming the field
// and its valid range (REQUIRES in the public headers).
#include "bus/checks.hpp"

#include <bit>

#include "base/names.hpp"

namespace weir::internal {

namespace {
template <typename T>
std::string field_range(std::string_view field, T value, std::string_view range) {
  return std::string(field) + " = " + std::to_string(value) + " is out of range; REQUIRES " +
         std::string(range);
}
}  // namespace

Status check_topic_options(const TopicOptions& o) {
  if (o.partitions < 1 || o.partitions > kMaxTopicPartitions)
    return Status::invalid_argument(field_range("TopicOptions::partitions", o.partitions, "1..4096"));
  if (o.capacity < kMinTopicCapacity || o.capacity > kMaxTopicCapacity)
    return Status::invalid_argument(field_range("TopicOptions::capacity", o.capacity, "16..2^24"));
  if (std::uint64_t{o.partitions} * std::bit_ceil(o.capacity) > (std::uint64_t{1} << 26))
    return Status::invalid_argument(
        "TopicOptions::partitions x capacity = " +
        std::to_string(std::uint64_t{o.partitions} * std::bit_ceil(o.capacity)) +
        " slots exceeds 2^26 (8 GiB of ring memory)");
  if (o.block_timeout.count() < 0)
    return Status::invalid_argument(
        field_range("TopicOptions::block_timeout (ms)", o.block_timeout.count(), ">= 0"));
  if (o.max_payload_bytes < 1 || o.max_payload_bytes > kMaxPayloadBytesLimit)
    return Status::invalid_argument(
        field_range("TopicOptions::max_payload_bytes", o.max_payload_bytes, "1..64 MiB"));
  if (o.max_key_bytes > kMaxKeyBytesLimit)
    return Status::invalid_argument(
        field_range("TopicOptions::max_key_bytes", o.max_key_bytes, "<= 64 KiB"));
  if (o.full_policy != FullPolicy::kBlock && o.full_policy != FullPolicy::kReject)
    return Status::invalid_argument("TopicOptions::full_policy is not a FullPolicy value");
  if (o.durability != Durability::kMemory && o.durability != Durability::kJournaled)
    return Status::invalid_argument("TopicOptions::durability is not a Durability value");
  if (o.default_ack != Ack::kNone && o.default_ack != Ack::kJournal && o.default_ack != Ack::kFsync)
    return Status::invalid_argument("TopicOptions::default_ack is not an Ack value");
  if (o.retention_age.count() < 0)
    return Status::invalid_argument("TopicOptions::retention_age must be >= 0");
  if (o.priority_levels < 1 || o.priority_levels > kMaxPriorityLevels)
    return Status::invalid_argument(field_range("TopicOptions::priority_levels", o.priority_levels,
                                                "1.." + std::to_string(kMaxPriorityLevels)));
  if (o.durability == Durability::kMemory &&
      (o.retention_age.count() || o.retention_bytes || o.retention_events || o.quota_bytes))
    return Status::invalid_argument(
        "retention and quota_bytes apply to journaled topics; a memory topic is bounded by capacity");
  return Status::ok();
}

bool same_options(const TopicOptions& a, const TopicOptions& b) { return option_diffs(a, b).empty(); }

namespace {
std::string text(FullPolicy p) { return p == FullPolicy::kBlock ? "block" : "reject"; }
std::string text(Durability d) { return d == Durability::kJournaled ? "journaled" : "memory"; }
std::string text(Ack a) { return a == Ack::kNone ? "none" : a == Ack::kJournal ? "journal" : "fsync"; }
std::string text(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }
std::string text(std::chrono::seconds d) { return std::to_string(d.count()) + " s"; }
template <typename T>
std::string text(T v) {
  return std::to_string(v);
}
}  // namespace

std::vector<OptionDiff> option_diffs(const TopicOptions& a, const TopicOptions& b) {
  std::vector<OptionDiff> out;
  auto cmp = [&](const char* field, const auto& x, const auto& y) {
    if (x != y) out.push_back({field, text(x), text(y)});
  };
  cmp("partitions", a.partitions, b.partitions);
  cmp("capacity", a.capacity, b.capacity);
  cmp("full_policy", a.full_policy, b.full_policy);
  cmp("block_timeout", a.block_timeout, b.block_timeout);
  cmp("max_payload_bytes", a.max_payload_bytes, b.max_payload_bytes);
  cmp("max_key_bytes", a.max_key_bytes, b.max_key_bytes);
  cmp("durability", a.durability, b.durability);
  cmp("default_ack", a.default_ack, b.default_ack);
  cmp("retention_age", a.retention_age, b.retention_age);
  cmp("retention_bytes", a.retention_bytes, b.retention_bytes);
  cmp("retention_events", a.retention_events, b.retention_events);
  cmp("quota_bytes", a.quota_bytes, b.quota_bytes);
  cmp("priority_levels", a.priority_levels, b.priority_levels);
  return out;
}

Status check_subscribe_options(const SubscribeOptions& o) {
  if (std::string p = name_problem("group", o.group); !p.empty()) return Status::invalid_argument(p);
  if (o.workers < 1 || o.workers > 256)
    return Status::invalid_argument(field_range("SubscribeOptions::workers", o.workers, "1..256"));
  if (o.max_batch < 1 || o.max_batch > 65536)
    return Status::invalid_argument(
        field_range("SubscribeOptions::max_batch", o.max_batch, "1..65536"));
  if (o.retry_backoff.count() < 0 || o.retry_backoff > o.retry_backoff_max)
    return Status::invalid_argument(
        "SubscribeOptions::retry_backoff must be >= 0 and <= retry_backoff_max");
  if (o.start_from != StartFrom::kEarliest && o.start_from != StartFrom::kLatest)
    return Status::invalid_argument("SubscribeOptions::start_from is not a StartFrom value");
  if (o.breaker.enabled) {
    if (!(o.breaker.failure_ratio > 0 && o.breaker.failure_ratio <= 1))
      return Status::invalid_argument("SubscribeOptions::breaker.failure_ratio must be in (0, 1]");
    if (o.breaker.min_calls < 1) return Status::invalid_argument("SubscribeOptions::breaker.min_calls must be >= 1");
    if (o.breaker.window < std::chrono::milliseconds(2))
      return Status::invalid_argument("SubscribeOptions::breaker.window must be at least 2 ms");
    if (o.breaker.cool_down.count() <= 0)
      return Status::invalid_argument("SubscribeOptions::breaker.cool_down must be > 0");
  }
  if (o.alerts.retry_window < std::chrono::seconds(1))
    return Status::invalid_argument("SubscribeOptions::alerts.retry_window must be at least 1 s");
  if (o.alerts.retry_rate < 0) return Status::invalid_argument("SubscribeOptions::alerts.retry_rate must be >= 0");
  if (o.max_attempts < 1 || o.max_attempts > 1000)
    return Status::invalid_argument(field_range("SubscribeOptions::max_attempts", o.max_attempts, "1..1000"));
  if (o.handler_timeout.count() < 0)
    return Status::invalid_argument("SubscribeOptions::handler_timeout must be >= 0");
  if (o.retry_mode != RetryMode::kBlocking && o.retry_mode != RetryMode::kNonBlocking)
    return Status::invalid_argument("SubscribeOptions::retry_mode is not a RetryMode value");
  if (o.autoscale.enabled) {
    const auto& a = o.autoscale;
    if (a.min_workers < 1 || a.min_workers > 256)
      return Status::invalid_argument(field_range("SubscribeOptions::autoscale.min_workers", a.min_workers, "1..256"));
    if (a.max_workers != 0 && (a.max_workers < a.min_workers || a.max_workers > 256))
      return Status::invalid_argument("SubscribeOptions::autoscale.max_workers is " + std::to_string(a.max_workers) +
                                      "; must be 0 (the partition count) or min_workers.." + "256");
    if (a.window < std::chrono::milliseconds(10))
      return Status::invalid_argument("SubscribeOptions::autoscale.window must be at least 10 ms");
    if (a.grow_after < 1 || a.shrink_after < 1)
      return Status::invalid_argument("SubscribeOptions::autoscale.grow_after and shrink_after must be >= 1");
  }
  if (o.max_parked < 1 || o.max_parked > 1000000)
    return Status::invalid_argument(field_range("SubscribeOptions::max_parked", o.max_parked, "1..1000000"));
  if (o.dedupe_window < std::chrono::seconds(1))
    return Status::invalid_argument("SubscribeOptions::dedupe_window must be at least 1 s");
  if (o.offset_commit_events > 1000000)
    return Status::invalid_argument(
        field_range("SubscribeOptions::offset_commit_events", o.offset_commit_events, "0..1000000"));
  if (o.on_retention_gap != RetentionGapPolicy::kJumpToEarliest &&
      o.on_retention_gap != RetentionGapPolicy::kStop)
    return Status::invalid_argument("SubscribeOptions::on_retention_gap is not a RetentionGapPolicy value");
  return Status::ok();
}

}  // namespace weir::internal
