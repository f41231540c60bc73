// Bus and Topic: the public API over TopicState and Group.
//
// BusCore's maps are guarded by mu_; publishing never takes it (it goes
// through a TopicState held by the Topic handle or looked up under mu_).
#include "weir/bus.hpp"

#include <bit>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "base/names.hpp"
#include "dispatch/group.hpp"
#include "dlq/log.hpp"
#include "record/record.hpp"
#include "journal/format.hpp"
#include "journal/journal.hpp"
#include "log/storage.hpp"
#include "weir/partitioner.hpp"
#include "topic/topic.hpp"

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
  if (o.durability != Durability::kMemory && o.durability != Durability::kJournaled)
    return Status::invalid_argument("TopicOptions::durability is not a Durability value");
  if (o.default_ack != Ack::kNone && o.default_ack != Ack::kJournal && o.default_ack != Ack::kFsync)
    return Status::invalid_argument("TopicOptions::default_ack is not an Ack value");
  if (o.retention_age.count() < 0)
    return Status::invalid_argument("TopicOptions::retention_age must be >= 0");
  if (o.durability == Durability::kMemory &&
      (o.retention_age.count() || o.retention_bytes || o.retention_events || o.quota_bytes))
    return Status::invalid_argument(
        "retention and quota_bytes apply to journaled topics; a memory topic is bounded by capacity");
  return Status::ok();
}

bool same_options(const TopicOptions& a, const TopicOptions& b) {
  return a.partitions == b.partitions && a.capacity == b.capacity &&
         a.full_policy == b.full_policy && a.block_timeout == b.block_timeout &&
         a.max_payload_bytes == b.max_payload_bytes && a.max_key_bytes == b.max_key_bytes &&
         a.durability == b.durability && a.default_ack == b.default_ack &&
         a.retention_age == b.retention_age && a.retention_bytes == b.retention_bytes &&
         a.retention_events == b.retention_events && a.quota_bytes == b.quota_bytes;
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
}  // namespace

class BusCore {
 public:
  explicit BusCore(const Options& o)
      : options_(o), shared_(std::make_shared<BusShared>()), memory_(shared_->instance_id) {}

  // Opens the journal (if any) and restores its topics.
  Status open_journal() {
    if (options_.data_dir.empty()) return Status::ok();
    auto j = Journal::open(options_);
    if (!j) return j.status();
    journal_ = std::move(j).value();
    journal_storage_ = std::make_unique<JournalStorage>(*journal_);
    auto stored = journal_->stored_topics();
    if (!stored) return stored.status();
    for (auto& [name, o] : *stored) {
      auto t = TopicState::create(shared_, name, o, *journal_storage_);
      if (!t) return t.status();
      topics_.emplace(name, std::move(t).value());
    }
    return Status::ok();
  }

  // Where a topic of these options keeps its partitions; null when a
  // journaled topic is asked of a memory-only bus.
  Storage* storage_for(const TopicOptions& o) {
    if (o.durability == Durability::kJournaled) return journal_storage_.get();
    return &memory_;
  }

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
    Storage* storage = storage_for(o);
    if (!storage)
      return Status::invalid_argument("topic '" + std::string(name) +
                                      "' is journaled, but the bus has no Options::data_dir");
    auto t = TopicState::create(shared_, std::string(name), o, *storage);
    if (!t) return t.status();
    topics_.emplace(std::string(name), std::move(t).value());
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
    const bool journaled = it->second->journaled();
    const bool stateful = std::holds_alternative<StateHandler>(h);
    if ((o.dedupe || stateful) && !journaled)
      return Status::invalid_argument("group '" + o.group + "': dedupe and state tables need a journaled topic; '" +
                                      it->second->name() + "' is a memory topic");
    if (o.dedupe && std::holds_alternative<BatchHandler>(h))
      return Status::invalid_argument("group '" + o.group + "': dedupe works with per-event handlers, not batch handlers");
    std::vector<Offset> resume;
    if (journaled) {
      auto stored = journal_->load_offsets(o.group, it->second->name(), it->second->partitions());
      if (!stored) return stored.status();
      resume = std::move(stored).value();
    } else if (auto r = remembered_.find(o.group); r != remembered_.end() && r->second.first == topic) {
      resume = r->second.second;
    }
    DeadLetterTarget dlq;
    if (o.dead_letter) {
      auto d = dead_letter_topic(o.group, *it->second);
      if (!d) return d.status();
      dlq = DeadLetterTarget{*d, dead_letter_log(o.group, **d)};
    }
    auto slot = it->second->acquire_group_slot(journaled);
    if (!slot) return slot.status();
    auto g = std::make_unique<Group>(it->second, o, std::move(h), *slot, shared_.get(),
                                     options_.idle_spin, journaled ? journal_.get() : nullptr,
                                     std::move(dlq));
    g->start(resume);
    groups_.emplace(o.group, std::move(g));
    return Status::ok();
  }

  // The group's dead-letter topic "<group>.dlq", created on first use: one
  // partition, journaled when the source is. Caller holds mu_.
  Result<std::shared_ptr<TopicState>> dead_letter_topic(const std::string& group, const TopicState& source) {
    const std::string name = group + ".dlq";
    if (name.size() > 249)
      return Status::invalid_argument("group name '" + group + "' is too long for its dead-letter topic '" +
                                      name + "' (at most 245 characters)");
    if (auto it = topics_.find(name); it != topics_.end()) return it->second;
    TopicOptions to{.partitions = 1, .capacity = 4096, .full_policy = FullPolicy::kBlock,
                    .max_payload_bytes = source.options().max_payload_bytes,
                    .max_key_bytes = source.options().max_key_bytes};
    if (source.journaled()) to.durability = Durability::kJournaled;
    auto t = TopicState::create(shared_, name, to, *storage_for(to));
    if (!t) return t.status();
    topics_.emplace(name, *t);
    return t;
  }

  // The dead-letter log of `group` over its dead-letter topic `dlq`, made
  // on first use and kept for the bus's lifetime (a memory topic's
  // settlement lives in it). Caller holds mu_.
  std::shared_ptr<DeadLetterLog> dead_letter_log(const std::string& group, TopicState& dlq) {
    auto& log = dlq_logs_[group];
    if (!log) log = std::make_shared<DeadLetterLog>(group, dlq.partition(0), dlq.journaled() ? journal_.get() : nullptr);
    return log;
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

  Status seek(std::string_view group, std::string_view topic, const SeekTo& to,
              std::optional<std::uint32_t> partition) {
    if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return Status::not_found("topic '" + std::string(topic) + "' not found");
    if (auto g = groups_.find(group); g != groups_.end())
      return Status::failed_precondition("group '" + std::string(group) +
                                         "' is subscribed; unsubscribe it before seeking");
    TopicState& t = *it->second;
    if (partition && *partition >= t.partitions())
      return Status::invalid_argument("partition " + std::to_string(*partition) +
                                      " out of range: topic '" + t.name() + "' has " +
                                      std::to_string(t.partitions()) + " partitions");
    std::vector<std::pair<std::uint32_t, Offset>> moves;
    for (std::uint32_t p = 0; p < t.partitions(); ++p) {
      if (partition && *partition != p) continue;
      Partition& part = t.partition(p);
      const Offset lo = part.start();
      const Offset hi = part.readable_end();
      Offset target = lo;
      switch (to.kind) {
        case SeekTo::Kind::kEarliest: target = lo; break;
        case SeekTo::Kind::kLatest: target = hi; break;
        case SeekTo::Kind::kOffset:
          if (to.offset < lo || to.offset > hi)
            return Status::invalid_argument("offset " + std::to_string(to.offset) +
                                            " is outside partition " + std::to_string(p) +
                                            " of topic '" + t.name() + "': valid " +
                                            std::to_string(lo) + ".." + std::to_string(hi));
          target = to.offset;
          break;
        case SeekTo::Kind::kTime: {
          auto r = part.offset_for_time(to.time_us);
          if (!r) return r.status();
          target = *r;
          break;
        }
        default: return Status::invalid_argument("SeekTo::kind is not a SeekTo::Kind value");
      }
      moves.emplace_back(p, target);
    }
    if (t.journaled()) return journal_->store_offsets(std::string(group), t.name(), moves);
    auto& rem = remembered_[std::string(group)];
    if (rem.first != t.name()) rem = {t.name(), std::vector<Offset>(t.partitions(), kUnsetOffset)};
    for (const auto& [p, off] : moves) rem.second[p] = off;
    return Status::ok();
  }

  // --- dead letters -------------------------------------------------------------

  // The dead-letter log of `group`; kNotFound if it never had a dead-letter topic.
  Result<std::shared_ptr<DeadLetterLog>> dlq_log(std::string_view group) {
    if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(std::string(group) + ".dlq");
    if (it == topics_.end())
      return Status::not_found("group '" + std::string(group) + "' has no dead-letter topic");
    return dead_letter_log(std::string(group), *it->second);
  }

  // Unsettled dead letters matching `f`, oldest first, at most `limit`.
  Result<std::vector<DeadLetterEvent>> dlq_select(std::string_view group, const DeadLetterFilter& f,
                                                  std::size_t limit) {
    auto log = dlq_log(group);
    if (!log) return log.status();
    return (*log)->select(f, limit);
  }

  Result<RedriveReport> dlq_redrive(std::string_view group, const DeadLetterFilter& f, const RedriveOptions& o) {
    if (o.max_per_second < 0) return Status::invalid_argument("RedriveOptions::max_per_second must be >= 0");
    auto log = dlq_log(group);
    if (!log) return log.status();
    auto picked = (*log)->select(f, o.limit);
    if (!picked) return picked.status();
    RedriveReport report;
    report.matched = picked->size();
    for (const auto& e : *picked) report.letters.push_back(e.letter);
    if (o.dry_run) return report;
    const auto gap = o.max_per_second > 0 ? std::chrono::duration<double>(1.0 / o.max_per_second)
                                          : std::chrono::duration<double>(0);
    auto next = std::chrono::steady_clock::now();
    for (const auto& e : *picked) {
      std::this_thread::sleep_until(next);
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(gap);
      auto fail = [&](const Status& s) {
        return Status(s.code(), "redrive of dead letter " + std::to_string(e.letter.dlq_offset) + ": " +
                                    s.message() + " (moved " + std::to_string(report.moved) + ")");
      };
      auto source = find_topic(e.letter.topic);
      if (!source) return fail(source.status());
      const RedriveRecord original(e, group);
      PublishOptions po;
      if ((*source)->journaled()) po.ack = Ack::kJournal;
      if (auto r = (*source)->publish(original.event(), po); !r) return fail(r.status());
      if (Status s = (*log)->settle({e.letter.dlq_offset}, "redriven"); !s) return s;
      ++report.moved;
    }
    return report;
  }

  Result<std::size_t> dlq_purge(std::string_view group, const DeadLetterFilter& f) {
    auto log = dlq_log(group);
    if (!log) return log.status();
    auto picked = (*log)->select(f, ~std::size_t{0});
    if (!picked) return picked.status();
    std::vector<Offset> offs;
    for (const auto& e : *picked) offs.push_back(e.letter.dlq_offset);
    if (Status s = (*log)->settle(offs, "purged"); !s) return s;
    return offs.size();
  }

  Result<std::optional<std::string>> read_state(std::string_view group, std::string_view table,
                                                std::string_view key) const {
    if (!journal_) return Status::failed_precondition("state tables live in the journal; the bus has no data_dir");
    if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
    if (table.empty()) return Status::invalid_argument("state table name is empty");
    return journal_->state_get(state_key(group, table, key));
  }

  MetricsSnapshot metrics() const {
    std::lock_guard<std::mutex> lock(mu_);
    MetricsSnapshot m;
    m.taken_at = std::chrono::system_clock::now();
    for (const auto& [name, t] : topics_) {
      TopicMetrics tm;
      tm.topic = name;
      tm.journaled = t->journaled();
      for (std::uint32_t p = 0; p < t->partitions(); ++p) {
        PartitionMetrics pm;
        pm.partition = p;
        const Partition& part = t->partition(p);
        pm.end = part.end();
        pm.start = part.start();
        pm.bytes = part.bytes();
        tm.partitions.push_back(pm);
      }
      m.topics.push_back(std::move(tm));
    }
    for (const auto& [name, g] : groups_) m.groups.push_back(g->metrics());
    return m;
  }

  // The group, under mu_ (for the operations below); kNotFound if none.
  template <typename Fn>
  auto with_group(std::string_view name, Fn&& fn) const -> decltype(fn(std::declval<Group&>())) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(name);
    if (it == groups_.end()) return Status::not_found("group '" + std::string(name) + "' not found");
    return fn(*it->second);
  }
  static Status check_partition(const Group& g, std::optional<std::uint32_t> p) {
    if (p && *p >= g.topic()->partitions())
      return Status::invalid_argument("partition " + std::to_string(*p) + " out of range: topic '" +
                                      g.topic()->name() + "' has partitions 0.." +
                                      std::to_string(g.topic()->partitions() - 1));
    return Status::ok();
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
      if (!r.journal_status && report.journal_status.is_ok()) report.journal_status = r.journal_status;
      g->topic()->release_group_slot(g->bell_slot());
    }
    if (journal_) {
      journal_->stop();  // commits what producers handed in before the close
      if (Status e = journal_->error(); !e && report.journal_status.is_ok())
        report.journal_status = e;
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
  // Dead-letter logs by group, made on first use. GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<DeadLetterLog>, std::less<>> dlq_logs_;
  MemoryStorage memory_;
  std::unique_ptr<Journal> journal_;  // null for a memory-only bus
  std::unique_ptr<JournalStorage> journal_storage_;  // with journal_
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

Status Topic::wait_acked(const PublishReceipt& receipt, Ack level,
                         std::chrono::milliseconds timeout) const {
  if (!state_) return invalid_handle();
  if (level == Ack::kNone) return Status::ok();
  if (!state_->journaled())
    return Status::invalid_argument("topic '" + state_->name() +
                                    "' is a memory topic; it acks at level none only");
  if (receipt.partition >= state_->partitions())
    return Status::invalid_argument("receipt names partition " + std::to_string(receipt.partition) +
                                    " of a topic with " + std::to_string(state_->partitions()));
  return state_->wait_committed(receipt.partition, receipt.offset, timeout);
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
  if (options.journal_max_partitions < 1 || options.journal_max_partitions > 32768)
    return Status::invalid_argument("Options::journal_max_partitions must be within 1..32768");
  if (options.journal_max_readers < 8 || options.journal_max_readers > 65536)
    return Status::invalid_argument("Options::journal_max_readers must be within 8..65536");
  if (options.journal_initial_map_bytes < (1u << 20))
    return Status::invalid_argument("Options::journal_initial_map_bytes must be at least 1 MiB");
  if (options.journal_max_bytes && options.journal_max_bytes < options.journal_initial_map_bytes)
    return Status::invalid_argument(
        "Options::journal_max_bytes must be 0 (no cap) or at least journal_initial_map_bytes");
  if (options.journal_max_batch_events < 1 || options.journal_max_batch_events > (1u << 20))
    return Status::invalid_argument("Options::journal_max_batch_events must be within 1..1048576");
  if (options.offset_commit_interval < std::chrono::milliseconds(1) ||
      options.offset_commit_interval > std::chrono::seconds(10))
    return Status::invalid_argument("Options::offset_commit_interval must be within 1 ms..10 s");
  auto core = std::make_unique<internal::BusCore>(options);
  if (Status s = core->open_journal(); !s) return s;
  return std::unique_ptr<Bus>(new Bus(std::move(core)));
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

Status Bus::subscribe(std::string_view topic, const SubscribeOptions& options, StateHandler handler) {
  if (!handler) return Status::invalid_argument("state handler for group '" + options.group + "' is empty");
  return core_->subscribe(topic, options, std::move(handler));
}

Result<CloseReport> Bus::unsubscribe(std::string_view group, const CloseOptions& options) {
  return core_->unsubscribe(group, options);
}

Status Bus::seek(std::string_view group, std::string_view topic, const SeekTo& to,
                 std::optional<std::uint32_t> partition) {
  return core_->seek(group, topic, to, partition);
}

Result<std::vector<DeadLetter>> Bus::dlq_list(std::string_view group, const DeadLetterFilter& filter,
                                              std::size_t limit) const {
  auto picked = core_->dlq_select(group, filter, limit);
  if (!picked) return picked.status();
  std::vector<DeadLetter> out;
  for (auto& e : *picked) out.push_back(std::move(e.letter));
  return out;
}

Result<DeadLetterEvent> Bus::dlq_show(std::string_view group, Offset dlq_offset) const {
  DeadLetterFilter f;
  f.dlq_offset = dlq_offset;
  auto picked = core_->dlq_select(group, f, 1);
  if (!picked) return picked.status();
  if (picked->empty())
    return Status::not_found("group '" + std::string(group) + "' has no unsettled dead letter at offset " +
                             std::to_string(dlq_offset));
  return std::move(picked->front());
}

Result<RedriveReport> Bus::dlq_redrive(std::string_view group, const DeadLetterFilter& filter,
                                       const RedriveOptions& options) {
  return core_->dlq_redrive(group, filter, options);
}

Result<std::size_t> Bus::dlq_purge(std::string_view group, const DeadLetterFilter& filter) {
  return core_->dlq_purge(group, filter);
}

Result<std::optional<std::string>> Bus::read_state(std::string_view group, std::string_view table,
                                                   std::string_view key) const {
  return core_->read_state(group, table, key);
}

Result<GroupStatus> Bus::describe_group(std::string_view group) const {
  return core_->describe_group(group);
}

Result<MetricsSnapshot> Bus::metrics() const { return core_->metrics(); }

Result<std::vector<HotKey>> Bus::hot_keys(std::string_view group, std::uint32_t partition, std::size_t k) const {
  return core_->with_group(group, [&](internal::Group& g) -> Result<std::vector<HotKey>> {
    if (Status s = internal::BusCore::check_partition(g, partition); !s) return s;
    return g.hot_keys(partition, k);
  });
}

Status Bus::pause(std::string_view group, std::optional<std::uint32_t> partition) {
  return core_->with_group(group, [&](internal::Group& g) -> Status {
    if (Status s = internal::BusCore::check_partition(g, partition); !s) return s;
    g.set_paused(partition, true);
    return Status::ok();
  });
}

Status Bus::resume(std::string_view group, std::optional<std::uint32_t> partition) {
  return core_->with_group(group, [&](internal::Group& g) -> Status {
    if (Status s = internal::BusCore::check_partition(g, partition); !s) return s;
    g.set_paused(partition, false);
    return Status::ok();
  });
}

Status Bus::set_workers(std::string_view group, std::uint32_t workers) {
  return core_->with_group(group, [&](internal::Group& g) -> Status { return g.set_workers(workers); });
}

Result<CloseReport> Bus::close(const CloseOptions& options) { return core_->close(options); }

}  // namespace weir
