#include "topic/topic.hpp"

#include <bit>
#include <chrono>
#include <ctime>

#include "base/clock.hpp"
#include "record/delivery_time.hpp"
#include "record/record.hpp"
#include "weir/partitioner.hpp"

namespace weir::internal {

thread_local const BusShared* t_worker_of = nullptr;

namespace {
// Runs of events for one partition are claimed in chunks of at most this.
constexpr std::uint32_t kMaxRun = 1024;
}  // namespace

// Encodes `e` into the slot of claimed offset `off`.
void write_event(PartitionLog& log, Offset off, const Event& e, std::int64_t time_us) {
  if (!has_envelope(e)) {
    encode_record(e, time_us, log.slot_buffer(off, record_size(e)));
    return;
  }
  Envelope env;
  make_envelope(e, env);
  encode_record(e, env, time_us, log.slot_buffer(off, record_size(e, env)));
}

TopicState::TopicState(std::shared_ptr<BusShared> bus, std::string name, const TopicOptions& options)
    : bus_(std::move(bus)),
      name_(std::move(name)),
      options_(options),
      declared_(options),
      full_policy_(options.full_policy),
      block_timeout_ms_(options.block_timeout.count()),
      default_ack_(options.default_ack),
      quota_bytes_(options.quota_bytes) {}

TopicOptions TopicState::options() const {
  MutexLock lock(declared_mu_);
  return declared_;
}

TopicOptions TopicState::running_options() const {
  TopicOptions o = options_;
  o.full_policy = full_policy_.load(std::memory_order_relaxed);
  o.block_timeout = std::chrono::milliseconds(block_timeout_ms_.load(std::memory_order_relaxed));
  o.default_ack = default_ack_.load(std::memory_order_relaxed);
  o.quota_bytes = quota_bytes_.load(std::memory_order_relaxed);
  MutexLock lock(declared_mu_);
  o.retention_age = declared_.retention_age;
  o.retention_bytes = declared_.retention_bytes;
  o.retention_events = declared_.retention_events;
  return o;
}

void TopicState::apply_live(const TopicOptions& declared) {
  MutexLock lock(declared_mu_);
  declared_ = declared;
  full_policy_.store(declared.full_policy, std::memory_order_relaxed);
  block_timeout_ms_.store(declared.block_timeout.count(), std::memory_order_relaxed);
  default_ack_.store(declared.default_ack, std::memory_order_relaxed);
  quota_bytes_.store(declared.quota_bytes, std::memory_order_relaxed);
  for (auto& p : parts_) p->set_retention(declared.retention_age, declared.retention_bytes, declared.retention_events);
  commit_bell_.ring();  // quota waiters re-read the quota
}

Result<std::shared_ptr<TopicState>> TopicState::create(std::shared_ptr<BusShared> bus, std::string name,
                                                       const TopicOptions& options, Storage& storage) {
  std::shared_ptr<TopicState> t(new TopicState(std::move(bus), std::move(name), options));
  auto parts = storage.open_partitions(t->name_, options, TopicWakeups{t->readers_, t->commit_bell_});
  if (!parts) return parts.status();
  t->parts_ = std::move(parts).value();
  return t;
}

std::uint64_t TopicState::stored_bytes() const noexcept {
  std::uint64_t total = 0;
  for (const auto& p : parts_) total += p->bytes();
  return total;
}

bool TopicState::at_quota() const noexcept {
  const std::uint64_t quota = quota_bytes_.load(std::memory_order_relaxed);
  return quota != 0 && stored_bytes() >= quota;
}

std::string TopicState::quota_message() const {
  return "topic '" + name_ + "' holds " + std::to_string(stored_bytes()) +
         " bytes in the journal, at its quota_bytes of " +
         std::to_string(quota_bytes_.load(std::memory_order_relaxed));
}

Status TopicState::check_quota(const PublishOptions& o) const {
  if (!at_quota()) return Status::ok();
  if (full_policy_.load(std::memory_order_relaxed) == FullPolicy::kReject)
    return Status::resource_exhausted(quota_message() + "; full_policy is reject");
  const auto timeout = timeout_of(o);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (at_quota()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return Status::deadline_exceeded(quota_message() + " for " + std::to_string(timeout.count()) + " ms");
    // Retention frees space in the writer, which rings the commit bell.
    const std::uint32_t epoch = commit_bell_.prepare();
    if (at_quota())
      commit_bell_.wait(epoch, std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::milliseconds(50)));
    commit_bell_.finish();
  }
  return Status::ok();
}

Result<Ack> TopicState::ack_level(const PublishOptions& o) const {
  if (!journaled()) {
    if (o.ack && *o.ack != Ack::kNone)
      return Status::invalid_argument("topic '" + name_ +
                                      "' is a memory topic; ack levels journal and fsync need a "
                                      "journaled topic");
    return Ack::kNone;
  }
  const Ack a = o.ack ? *o.ack : default_ack_.load(std::memory_order_relaxed);
  if (a != Ack::kNone && a != Ack::kJournal && a != Ack::kFsync)
    return Status::invalid_argument("PublishOptions::ack is not an Ack value");
  if (Status w = parts_[0]->writable(); !w) return w;
  if (Status q = check_quota(o); !q) return q;
  return a;
}

Status TopicState::admit() const {
  if (bus_->closing.load(std::memory_order_relaxed) && t_worker_of != bus_.get())
    return Status::closed("bus is closing; topic '" + name_ + "' accepts no more events");
  return Status::ok();
}

namespace {
Status priority_out_of_range(const std::string& topic, std::uint32_t priority, std::uint32_t levels) {
  if (levels == 1)
    return Status::invalid_argument("priority " + std::to_string(priority) + " given, but topic '" + topic +
                                    "' has no priority lanes (priority_levels 1: only priority 0)");
  return Status::invalid_argument("priority " + std::to_string(priority) + " is out of range: topic '" + topic +
                                  "' has " + std::to_string(levels) + " priority levels (0.." +
                                  std::to_string(levels - 1) + ")");
}
}  // namespace

Status TopicState::validate(const Event& e) const {
  if (e.payload.size() > options_.max_payload_bytes)
    return Status::invalid_argument("payload of " + std::to_string(e.payload.size()) +
                                    " bytes exceeds topic '" + name_ + "' max_payload_bytes " +
                                    std::to_string(options_.max_payload_bytes));
  if (e.key.size() > options_.max_key_bytes)
    return Status::invalid_argument("key of " + std::to_string(e.key.size()) +
                                    " bytes exceeds topic '" + name_ + "' max_key_bytes " +
                                    std::to_string(options_.max_key_bytes));
  if (e.headers.size() > 1024)
    return Status::invalid_argument("event has " + std::to_string(e.headers.size()) +
                                    " headers; at most 1024 are allowed");
  if (headers_bytes(e.headers) > options_.max_payload_bytes)
    return Status::invalid_argument("headers exceed topic '" + name_ + "' max_payload_bytes");
  if (e.priority >= options_.priority_levels) return priority_out_of_range(name_, e.priority, options_.priority_levels);
  for (const Header& h : e.headers)
    if (is_reserved_header(h.name))
      return Status::invalid_argument("header '" + std::string(h.name) +
                                      "' is reserved for the envelope; set the Event field instead");
  if (has_envelope(e)) {
    if (!e.traceparent.empty() && !is_valid_traceparent(e.traceparent))
      return Status::invalid_argument("traceparent '" + std::string(e.traceparent) +
                                      "' is not a valid W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)");
    const std::size_t env = e.id.size() + e.source.size() + e.type.size() + e.content_type.size() +
                            e.dataschema.size() + e.traceparent.size();
    if (env > 64 * 1024)
      return Status::invalid_argument("envelope attributes total " + std::to_string(env) +
                                      " bytes; at most 65536 are allowed");
    if (e.deliver_at_us != 0) {
      if (Status s = check_deliver_at(e.deliver_at_us); !s) return s;
    }
  }
  return Status::ok();
}

Result<std::uint32_t> TopicState::route(const Event& e, const PublishOptions& o) const {
  if (o.partition >= 0) {
    if (static_cast<std::uint32_t>(o.partition) >= partitions())
      return Status::invalid_argument("partition " + std::to_string(o.partition) +
                                      " out of range: topic '" + name_ + "' has " +
                                      std::to_string(partitions()) + " partitions");
    return static_cast<std::uint32_t>(o.partition);
  }
  if (o.partition != -1)
    return Status::invalid_argument("PublishOptions::partition must be -1 or a partition index, got " +
                                    std::to_string(o.partition));
  return partitions() == 1 ? 0u : partition_for_key(e.key, partitions());
}

Status TopicState::claim(std::uint32_t p, std::uint32_t n, const PublishOptions& o,
                         Offset& first) {
  const bool block = full_policy_.load(std::memory_order_relaxed) == FullPolicy::kBlock;
  const auto timeout = timeout_of(o);
  PartitionLog& ring = parts_[p]->ring();
  switch (ring.claim(n, block, timeout, first)) {
    case PartitionLog::ClaimError::kNone: return Status::ok();
    case PartitionLog::ClaimError::kClosed:
      return Status::closed("topic '" + name_ + "' is closed");
    case PartitionLog::ClaimError::kFull:
      return Status::resource_exhausted("partition " + std::to_string(p) + " of topic '" + name_ +
                                        "' is full (" + std::to_string(ring.capacity()) +
                                        " events unconsumed); full_policy is reject");
    case PartitionLog::ClaimError::kTimedOut:
      return Status::deadline_exceeded("partition " + std::to_string(p) + " of topic '" + name_ +
                                       "' stayed full for " + std::to_string(timeout.count()) +
                                       " ms");
  }
  return Status::internal("unknown claim result");
}

Result<PublishReceipt> TopicState::publish(const Event& e, const PublishOptions& o) {
  if (Status s = admit(); !s) return s;
  if (Status s = validate(e); !s) return s;
  auto ack = ack_level(o);
  if (!ack) return ack.status();
  auto part = route(e, o);
  if (!part) return part.status();
  const std::uint32_t p = *part;
  Offset off;
  if (Status s = claim(p, 1, o, off); !s) return s;
  // Right after the claim's seq_cst CAS (the wake-up handshake).
  const std::uint64_t sleeping = readers_.sleeping();
  PartitionLog& log = parts_[p]->ring();
  log.prefetch_for_write(off + 1);  // the next publish's slot, while we write this one
  write_event(log, off, e, e.time_us ? e.time_us : coarse_now_us());
  log.publish(off);
  if (sleeping) readers_.wake(sleeping);
  if (*ack != Ack::kNone)
    if (Status s = wait_acked(p, off, *ack, timeout_of(o)); !s) return s;
  return PublishReceipt{p, off};
}

BatchPublishResult TopicState::publish_batch(std::span<const Event> events,
                                             const PublishOptions& o,
                                             std::span<PublishReceipt> receipts) {
  if (!receipts.empty() && receipts.size() != events.size())
    return {Status::invalid_argument("receipts span has " + std::to_string(receipts.size()) +
                                     " entries for " + std::to_string(events.size()) + " events"),
            0};
  if (Status s = admit(); !s) return {std::move(s), 0};
  auto ack = ack_level(o);
  if (!ack) return {ack.status(), 0};
  const std::int64_t now = coarse_now_us();
  // Last offset published per partition, for the ack wait at the end.
  std::vector<std::pair<std::uint32_t, Offset>> last;
  const bool by_key = o.partition == -1 && partitions() > 1;
  // Cheap re-check for events after the first of a run; an event that fails
  // it starts the next run, where validate() reports the exact problem.
  auto plain_and_valid = [this](const Event& e) {
    return e.headers.empty() && !has_envelope(e) && e.payload.size() <= options_.max_payload_bytes &&
           e.key.size() <= options_.max_key_bytes;
  };
  std::uint64_t sleeping = 0;
  // Every way out: wake the groups for what was published, then wait for
  // it to reach the ack level; `why` says why event [published] was not
  // published (ok when all were).
  auto finish = [&](Status why, std::size_t published) -> BatchPublishResult {
    readers_.wake(sleeping);
    for (const auto& [p, off] : last) {
      if (Status s = wait_acked(p, off, *ack, timeout_of(o)); !s) {
        if (why) return {std::move(s), published};
        return {Status(s.code(), s.message() + "; and event " + std::to_string(published) +
                                     " of the batch was not published: " + why.to_string()),
                published};
      }
    }
    return {std::move(why), published};
  };
  std::size_t i = 0;
  while (i < events.size()) {
    // A run: consecutive events for the same partition, claimed in one step.
    if (Status s = validate(events[i]); !s) return finish(std::move(s), i);
    auto part = route(events[i], o);
    if (!part) return finish(part.status(), i);
    const std::uint32_t p = *part;
    std::size_t j = i + 1;
    const std::size_t limit =
        std::min<std::size_t>(events.size(), i + std::min(kMaxRun, parts_[p]->ring().capacity()));
    if (by_key) {
      while (j < limit && plain_and_valid(events[j]) &&
             partition_for_key(events[j].key, partitions()) == p)
        ++j;
    } else {
      while (j < limit && plain_and_valid(events[j])) ++j;
    }
    const auto n = static_cast<std::uint32_t>(j - i);
    Offset first;
    if (Status s = claim(p, n, o, first); !s) return finish(std::move(s), i);
    sleeping |= readers_.sleeping();
    PartitionLog& log = parts_[p]->ring();
    for (std::uint32_t k = 0; k < n; ++k) {
      const Event& e = events[i + k];
      write_event(log, first + k, e, e.time_us ? e.time_us : now);
      log.publish(first + k);
    }
    if (!receipts.empty())
      for (std::uint32_t k = 0; k < n; ++k) receipts[i + k] = PublishReceipt{p, first + k};
    if (*ack != Ack::kNone) last.emplace_back(p, first + n - 1);
    i = j;
  }
  return finish(Status::ok(), events.size());
}

void TopicState::close_partitions(bool deleted) noexcept {
  if (deleted) deleted_.store(true, std::memory_order_release);
  for (auto& p : parts_) p->ring().close();
  readers_.ring_all();
}

}  // namespace weir::internal
