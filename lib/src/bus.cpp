// Bus and Topic: the public API over TopicState and Group.
//
// BusCore's maps are guarded by mu_; publishing never takes it (it goes
// through a TopicState held by the Topic handle or looked up under mu_).
#include "weir/bus.hpp"

#include <bit>
#include <map>
#include <thread>

#include "dispatch/group.hpp"
#include "weir/partitioner.hpp"
#include "topic.hpp"

namespace weir {
namespace internal {

namespace {
template <typename T>
std::string field_range(std::string_view field, T value, std::string_view range) {
  return std::string(field) + " = " + std::to_string(value) + " is out of range; REQUIRES " +
         std::string(range);
}

Status check_topic_options(const TopicOptions& o) {
  if (o.partitions < 1 || o.partitions > 4096)
    return Status::invalid_argument(field_range("TopicOptions::partitions", o.partitions, "1..4096"));
  if (o.capacity < 16 || o.capacity > (1u << 24))
    return Status::invalid_argument(field_range("TopicOptions::capacity", o.capacity, "16..2^24"));
  if (std::uint64_t{o.partitions} * std::bit_ceil(o.capacity) > (std::uint64_t{1} << 26))
    return Status::invalid_argument(
        "TopicOptions::partitions x capacity = " +
        std::to_string(std::uint64_t{o.partitions} * std::bit_ceil(o.capacity)) +
        " slots exceeds 2^26 (8 GiB of ring memory)");
  if (o.block_timeout.count() < 0)
    return Status::invalid_argument(
        field_range("TopicOptions::block_timeout (ms)", o.block_timeout.count(), ">= 0"));
  if (o.max_payload_bytes < 1 || o.max_payload_bytes > (64u << 20))
    return Status::invalid_argument(
        field_range("TopicOptions::max_payload_bytes", o.max_payload_bytes, "1..64 MiB"));
  if (o.max_key_bytes > (64u << 10))
    return Status::invalid_argument(
        field_range("TopicOptions::max_key_bytes", o.max_key_bytes, "<= 64 KiB"));
  if (o.full_policy != FullPolicy::kBlock && o.full_policy != FullPolicy::kReject)
    return Status::invalid_argument("TopicOptions::full_policy is not a FullPolicy value");
  return Status::ok();
}

bool same_options(const TopicOptions& a, const TopicOptions& b) {
  return a.partitions == b.partitions && a.capacity == b.capacity &&
         a.full_policy == b.full_policy && a.block_timeout == b.block_timeout &&
         a.max_payload_bytes == b.max_payload_bytes && a.max_key_bytes == b.max_key_bytes;
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
  return Status::ok();
}
}  // namespace

class BusCore {
 public:
  explicit BusCore(const Options& o) : options_(o), shared_(std::make_shared<BusShared>()) {}

  Status create_topic(std::string_view name, const TopicOptions& o) {
    if (std::string p = name_problem("topic", name); !p.empty()) return Status::invalid_argument(p);
    if (Status s = check_topic_options(o); !s) return s;
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return Status::closed("bus is closed; cannot create topic '" + std::string(name) + "'");
    if (auto it = topics_.find(name); it != topics_.end()) {
      if (same_options(it->second->options(), o)) return Status::ok();
      return Status::already_exists("topic '" + std::string(name) +
                                    "' exists with different options");
    }
    topics_.emplace(std::string(name), std::make_shared<TopicState>(shared_, std::string(name), o));
    return Status::ok();
  }

  Result<std::shared_ptr<TopicState>> find_topic(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
      if (std::string p = name_problem("topic", name); !p.empty()) return Status::invalid_argument(p);
      return Status::not_found("topic '" + std::string(name) + "' not found");
    }
    return it->second;
  }

  std::vector<std::string> topic_names() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [name, t] : topics_) out.push_back(name);
    return out;
  }

  Status subscribe(std::string_view topic, const SubscribeOptions& o, Group::AnyHandler h) {
    if (Status s = check_subscribe_options(o); !s) return s;
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return Status::closed("bus is closed; cannot subscribe group '" + o.group + "'");
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
      if (std::string p = name_problem("topic", topic); !p.empty()) return Status::invalid_argument(p);
      return Status::not_found("topic '" + std::string(topic) + "' not found");
    }
    if (groups_.count(o.group))
      return Status::already_exists("group '" + o.group + "' is already subscribed (to topic '" +
                                    groups_.find(o.group)->second->topic()->name() + "')");
    auto slot = it->second->acquire_group_slot();
    if (!slot) return slot.status();
    std::vector<Offset> resume;
    if (auto r = remembered_.find(o.group); r != remembered_.end() && r->second.first == topic)
      resume = r->second.second;
    auto g = std::make_unique<Group>(it->second, o, std::move(h), *slot, shared_.get(),
                                     options_.idle_spin);
    g->start(resume);
    groups_.emplace(o.group, std::move(g));
    return Status::ok();
  }

  Result<CloseReport> unsubscribe(std::string_view name, const CloseOptions& co) {
    std::unique_ptr<Group> g;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = groups_.find(name);
      if (it == groups_.end()) return Status::not_found("group '" + std::string(name) + "' not found");
      if (it->second->on_worker_thread())
        return Status::failed_precondition("group '" + std::string(name) +
                                           "' cannot be unsubscribed from its own handler");
      g = std::move(it->second);
      groups_.erase(it);
    }
    CloseReport r = g->stop(co);
    std::lock_guard<std::mutex> lock(mu_);
    remembered_[std::string(name)] = {g->topic()->name(), g->offsets()};
    g->topic()->release_group_slot(g->bell_slot());
    return r;
  }

  Result<GroupStatus> describe_group(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(name);
    if (it == groups_.end()) return Status::not_found("group '" + std::string(name) + "' not found");
    return it->second->status();
  }

  Result<CloseReport> close(const CloseOptions& co) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, g] : groups_)
        if (g->on_worker_thread())
          return Status::failed_precondition("close() called from a handler of group '" + name +
                                             "'; it would wait for itself");
      if (closing_) return CloseReport{};
      closing_ = true;
    }
    // From here the maps only shrink under us (subscribe/create refuse).
    shared_->closing.store(true, std::memory_order_relaxed);
    CloseReport report;
    const auto deadline = std::chrono::steady_clock::now() + co.timeout;
    if (co.mode == CloseMode::kDrain) {
      // Handlers may publish onward to other topics while we drain, so wait
      // until every group is caught up at the same time.
      for (;;) {
        bool all = true;
        {
          std::lock_guard<std::mutex> lock(mu_);
          for (const auto& [name, g] : groups_) all = all && g->caught_up();
        }
        if (all) break;
        if (std::chrono::steady_clock::now() >= deadline) {
          report.timed_out = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    std::map<std::string, std::unique_ptr<Group>, std::less<>> groups;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [name, t] : topics_) t->close_partitions();
      groups.swap(groups_);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    CloseOptions stop_opts{report.timed_out ? CloseMode::kStopAtBatch : co.mode,
                           std::max(left, std::chrono::milliseconds(0))};
    for (auto& [name, g] : groups) {
      CloseReport r = g->stop(stop_opts);
      report.undelivered += r.undelivered;
      report.timed_out = report.timed_out || r.timed_out;
      g->topic()->release_group_slot(g->bell_slot());
    }
    return report;
  }

  ~BusCore() { close(CloseOptions{}).status().ignore(); }

 private:
  const Options options_;
  const std::shared_ptr<BusShared> shared_;
  mutable std::mutex mu_;
  bool closing_ = false;  // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<TopicState>, std::less<>> topics_;  // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<Group>, std::less<>> groups_;     // GUARDED_BY(mu_)
  // Offsets of groups that unsubscribed, for a later subscribe: group ->
  // (topic, offsets per partition). GUARDED_BY(mu_)
  std::map<std::string, std::pair<std::string, std::vector<Offset>>, std::less<>> remembered_;
};

}  // namespace internal

// --- Topic -------------------------------------------------------------------

namespace {
Status invalid_handle() { return Status::failed_precondition("Topic handle is empty"); }
const std::string kEmptyName;
}  // namespace

Result<PublishReceipt> Topic::publish(const Event& event, const PublishOptions& options) const {
  if (!state_) return invalid_handle();
  return state_->publish(event, options);
}

BatchPublishResult Topic::publish_batch(std::span<const Event> events,
                                        const PublishOptions& options,
                                        std::span<PublishReceipt> receipts) const {
  if (!state_) return {invalid_handle(), 0};
  return state_->publish_batch(events, options, receipts);
}

std::uint32_t Topic::partition_for(std::string_view key) const noexcept {
  return state_ ? partition_for_key(key, state_->partitions()) : 0;
}
const std::string& Topic::name() const noexcept { return state_ ? state_->name() : kEmptyName; }
std::uint32_t Topic::partitions() const noexcept { return state_ ? state_->partitions() : 0; }

// --- Bus ---------------------------------------------------------------------

Result<std::unique_ptr<Bus>> Bus::open(const Options& options) {
  if (options.idle_spin.count() < 0 || options.idle_spin > std::chrono::milliseconds(10))
    return Status::invalid_argument("Options::idle_spin must be within 0..10 ms");
  return std::unique_ptr<Bus>(new Bus(std::make_unique<internal::BusCore>(options)));
}

Bus::Bus(std::unique_ptr<internal::BusCore> core) : core_(std::move(core)) {}
Bus::~Bus() = default;

Status Bus::create_topic(std::string_view name, const TopicOptions& options) {
  return core_->create_topic(name, options);
}

Result<Topic> Bus::topic(std::string_view name) const {
  auto t = core_->find_topic(name);
  if (!t) return t.status();
  return Topic(std::move(t).value());
}

std::vector<std::string> Bus::topics() const { return core_->topic_names(); }

Result<PublishReceipt> Bus::publish(std::string_view topic, const Event& event,
                                    const PublishOptions& options) {
  auto t = core_->find_topic(topic);
  if (!t) return t.status();
  return (*t)->publish(event, options);
}

BatchPublishResult Bus::publish_batch(std::string_view topic, std::span<const Event> events,
                                      const PublishOptions& options,
                                      std::span<PublishReceipt> receipts) {
  auto t = core_->find_topic(topic);
  if (!t) return {t.status(), 0};
  return (*t)->publish_batch(events, options, receipts);
}

Status Bus::subscribe(std::string_view topic, const SubscribeOptions& options, Handler handler) {
  if (!handler) return Status::invalid_argument("handler for group '" + options.group + "' is empty");
  return core_->subscribe(topic, options, std::move(handler));
}

Status Bus::subscribe(std::string_view topic, const SubscribeOptions& options,
                      BatchHandler handler) {
  if (!handler) return Status::invalid_argument("batch handler for group '" + options.group + "' is empty");
  return core_->subscribe(topic, options, std::move(handler));
}

Result<CloseReport> Bus::unsubscribe(std::string_view group, const CloseOptions& options) {
  return core_->unsubscribe(group, options);
}

Result<GroupStatus> Bus::describe_group(std::string_view group) const {
  return core_->describe_group(group);
}

Result<CloseReport> Bus::close(const CloseOptions& options) { return core_->close(options); }

}  // namespace weir
