// kafka::Group: a weir consumer group on a Kafka topic.
//
// One poll thread owns the Kafka consumer. It feeds each assigned Kafka
// partition p into partition p of a weir staging topic (remembering, per
// partition, which staging offset holds which Kafka offset), and a normal
// weir group with the user's handler runs on the staging topic, so retries,
// backoff, dead letters, the breaker and dedupe are weir's own. As the weir
// group's offset (describe_group) passes staged events, the poll thread
// stores the Kafka offset after them and commits it, every commit_interval,
// on revoke (synchronously, after waiting for the revoked partitions'
// staged events to be handled) and at stop.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "client.hpp"

namespace weir::kafka {

namespace {

using Clock = std::chrono::steady_clock;

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept { rd_kafka_topic_partition_list_destroy(l); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

PartitionList new_list(int size) { return PartitionList(rd_kafka_topic_partition_list_new(size)); }

}  // namespace

std::optional<std::int64_t> kafka_offset(const Message& m) noexcept {
  const auto v = m.header(kOffsetHeader);
  if (!v) return std::nullopt;
  std::int64_t o = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    o = o * 10 + (c - '0');
  }
  return v->empty() ? std::nullopt : std::optional<std::int64_t>(o);
}

class Group::Impl {
 public:
  Impl(Bus& bus, GroupOptions o) : bus_(bus), o_(std::move(o)) {}

  ~Impl() {
    stop_.store(true, std::memory_order_relaxed);
    if (poller_.joinable()) poller_.join();
    for (Part& p : parts_) drop_pending(p);  // before consumer_ (a member declared earlier) goes
  }

  template <typename H>
  Status init(H handler, bool transactional) {
    if (Status s = validate(transactional); !s) return s;
    const bool journaled = o_.staging_durability.value_or(
                               (o_.group.dedupe || transactional || !o_.dlq_kafka_topic.empty())
                                   ? Durability::kJournaled
                                   : Durability::kMemory) == Durability::kJournaled;
    auto conf = detail::make_conf(
        o_.kafka,
        {{"group.id", o_.group.group},
         {"enable.auto.commit", "false"},
         {"auto.offset.reset", o_.group.start_from == StartFrom::kLatest ? "latest" : "earliest"}},
        {{"enable.auto.offset.store", "false",
          "offsets must be stored only once the weir group handled the events before them"}});
    if (!conf) return conf.status();
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_rebalance_cb(conf->get(), &Impl::on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf->get(), &Impl::on_commit);
    rd_kafka_conf_set_error_cb(conf->get(), &Impl::on_error);
    auto consumer = detail::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
    if (!consumer) return consumer.status();
    consumer_ = std::move(consumer).value();

    auto n = detail::partition_count(consumer_.get(), o_.topic, o_.start_timeout);
    if (!n) return n.status();
    TopicOptions to{.partitions = *n,
                    .capacity = o_.staging_capacity,
                    .full_policy = FullPolicy::kReject,  // the poll thread pauses the Kafka partition instead
                    .max_payload_bytes = 64u << 20,
                    .max_key_bytes = 64u << 10,
                    .durability = journaled ? Durability::kJournaled : Durability::kMemory};
    if (Status s = bus_.create_topic(o_.staging_topic, to); !s)
      return Status(s.code(), "staging topic for kafka topic '" + o_.topic + "': " + s.message());
    auto staging = bus_.topic(o_.staging_topic);
    if (!staging) return staging.status();
    staging_ = std::move(staging).value();
    parts_.resize(*n);

    if (!o_.dlq_kafka_topic.empty()) {
      if (Status s = start_dlq_mirror(to); !s) return s;
    }
    if (Status s = bus_.subscribe(o_.staging_topic, o_.group, std::move(handler)); !s) return s;
    subscribed_ = true;

    rd_kafka_poll_set_consumer(consumer_.get());
    PartitionList topics = new_list(1);
    rd_kafka_topic_partition_list_add(topics.get(), o_.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err)
      return detail::status_for(err, "subscribing to kafka topic '" + o_.topic + "'");
    poller_ = std::thread([this] { poll_loop(); });
    return Status::ok();
  }

  Result<CloseReport> stop(const CloseOptions& co, bool crash) {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return CloseReport{};
    stopped_ = true;
    stop_.store(true, std::memory_order_relaxed);
    if (poller_.joinable()) poller_.join();
    // The poll thread is gone: this thread owns the consumer and parts_ now.
    crashed_ = crash;
    if (consumer_) {
      if (!crash) {
        if (co.mode == CloseMode::kDrain) drain_assigned(Clock::now() + co.timeout);
        advance();
        commit_sync().ignore();  // reported by count_commit
      }
      skip_revoke_wait_ = true;
      // Serves the final revoke through on_rebalance (on this thread).
      if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_.get()); err)
        report(detail::status_for(err, "closing kafka consumer of '" + o_.topic + "'"));
      for (Part& p : parts_) drop_pending(p);  // messages go before their client
      consumer_.reset();
    }
    CloseReport report;
    if (subscribed_) {
      const CloseOptions weir_close = crash ? CloseOptions{.mode = CloseMode::kStopAtBatch} : co;
      auto r = bus_.unsubscribe(o_.group.group, weir_close);
      if (r) report = std::move(r).value();
      else if (r.status().code() != Code::kNotFound) report.journal_status = r.status();
    }
    if (dlq_mirror_) {
      if (crash) dlq_mirror_->stop({.mode = CloseMode::kStopAtBatch}).status().ignore();
      else dlq_mirror_->stop(co).status().ignore();
    }
    publish_stats();
    return report;
  }

  Status commit(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(commit_mu_);
    if (stopped_flag()) return Status::closed("kafka group '" + o_.group.group + "' is stopped");
    const std::uint64_t ticket = ++commit_requested_;
    if (!commit_cv_.wait_for(lock, timeout, [&] { return commit_done_ >= ticket || stopped_flag(); }))
      return Status::deadline_exceeded("commit of kafka group '" + o_.group.group + "' not done within " +
                                       std::to_string(timeout.count()) + " ms");
    if (commit_done_ < ticket) return Status::closed("kafka group '" + o_.group.group + "' stopped");
    return commit_status_;
  }

  const std::string& staging_topic() const noexcept { return o_.staging_topic; }

  KafkaGroupStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  struct Part {
    bool assigned = false;
    bool paused = false;
    bool unknown = false;  // beyond the staging topic's partitions (the kafka topic grew)
    // (staging offset, kafka offset) of events staged and not yet handled,
    // in order. Poll thread only.
    std::deque<std::pair<Offset, std::int64_t>> staged;
    std::deque<rd_kafka_message_t*> pending;  // fetched, not yet staged
    std::int64_t stored = -1;     // next kafka offset, stored
    std::int64_t committed = -1;  // next kafka offset, committed
    Clock::time_point retry_at{};  // the staging topic refused the head of `pending`
  };

  Status validate(bool transactional) {
    if (o_.topic.empty()) return Status::invalid_argument("GroupOptions::topic (the kafka topic) is empty");
    if (o_.group.group.empty()) return Status::invalid_argument("GroupOptions::group.group (the group name) is empty");
    if (o_.max_in_flight < 1 || o_.max_in_flight > 1'000'000)
      return Status::invalid_argument("GroupOptions::max_in_flight must be 1..1000000, got " +
                                      std::to_string(o_.max_in_flight));
    if (o_.commit_interval.count() <= 0) return Status::invalid_argument("GroupOptions::commit_interval must be > 0");
    if (o_.revoke_timeout.count() <= 0) return Status::invalid_argument("GroupOptions::revoke_timeout must be > 0");
    if (o_.start_timeout.count() <= 0) return Status::invalid_argument("GroupOptions::start_timeout must be > 0");
    if (!o_.dlq_kafka_topic.empty() && !o_.group.dead_letter)
      return Status::invalid_argument("GroupOptions::dlq_kafka_topic needs group.dead_letter");
    if ((o_.group.dedupe || transactional || !o_.dlq_kafka_topic.empty()) &&
        o_.staging_durability == Durability::kMemory)
      return Status::invalid_argument(
          "a memory staging topic cannot carry dedupe, a StateHandler or a kafka DLQ; leave "
          "GroupOptions::staging_durability unset or kJournaled");
    if (o_.staging_topic.empty()) o_.staging_topic = "kafka." + o_.topic + "." + o_.group.group;
    return Status::ok();
  }

  Status start_dlq_mirror(const TopicOptions& staging) {
    // Declared as weir declares a group's dead-letter topic (one partition,
    // journaled like its source), so the mirror can subscribe before the
    // first dead letter exists; weir then uses this topic.
    const std::string dlq = o_.group.group + ".dlq";
    TopicOptions to{.partitions = 1,
                    .capacity = 4096,
                    .full_policy = FullPolicy::kBlock,
                    .max_payload_bytes = staging.max_payload_bytes,
                    .max_key_bytes = staging.max_key_bytes,
                    .durability = staging.durability};
    if (Status s = bus_.create_topic(dlq, to); !s) return s;
    Config conf = o_.dlq_kafka;
    if (conf.empty())
      for (const auto& [k, v] : o_.kafka)
        if (k == "bootstrap.servers" || k == "metadata.broker.list" || k == "client.id" ||
            k.rfind("security.", 0) == 0 || k.rfind("ssl.", 0) == 0 || k.rfind("sasl.", 0) == 0)
          conf.emplace(k, v);
    MirrorOptions mo;
    mo.topic = dlq;
    mo.kafka_topic = o_.dlq_kafka_topic;
    mo.kafka = std::move(conf);
    mo.partitioning = Partitioning::kByKey;
    mo.group.group = o_.group.group + ".dlq.kafka-mirror";
    mo.start_timeout = o_.start_timeout;
    mo.on_error = o_.on_error;
    auto m = Mirror::start(bus_, std::move(mo));
    if (!m) return Status(m.status().code(), "kafka DLQ mirror: " + m.status().message());
    dlq_mirror_ = std::move(m).value();
    return Status::ok();
  }

  bool stopped_flag() const { return stop_.load(std::memory_order_relaxed); }

  void poll_loop() {
    rd_kafka_t* rk = consumer_.get();
    auto last_commit = Clock::now();
    while (!stop_.load(std::memory_order_relaxed)) {
      bool waiting = false;
      for (const Part& p : parts_) waiting = waiting || !p.pending.empty() || !p.staged.empty();
      for (int n = 0; n < 1000; ++n) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, n == 0 ? (waiting ? 5 : 50) : 0);
        if (m == nullptr) break;
        on_message(m);
      }
      stage();
      advance();
      std::uint64_t requested;
      {
        std::lock_guard<std::mutex> lock(commit_mu_);
        requested = commit_requested_;
      }
      if (requested > commit_served_) {
        const Status s = commit_sync();
        commit_served_ = requested;
        publish_stats();  // the waiter reads stats() next
        {
          std::lock_guard<std::mutex> lock(commit_mu_);
          commit_done_ = requested;
          commit_status_ = s;
        }
        commit_cv_.notify_all();
        last_commit = Clock::now();
      } else if (Clock::now() - last_commit >= o_.commit_interval) {
        commit_async();
        last_commit = Clock::now();
      }
      publish_stats();
    }
    { std::lock_guard<std::mutex> lock(commit_mu_); }  // no waiter between its check and its wait
    commit_cv_.notify_all();  // commit() waiters see stop_
  }

  void on_message(rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        report(detail::status_for(m->err, "kafka consumer of '" + o_.topic + "'"));
      rd_kafka_message_destroy(m);
      return;
    }
    const auto p = static_cast<std::size_t>(m->partition);
    if (p >= parts_.size() || !parts_[p].assigned) {  // not ours (any more): Kafka hands it to its owner
      rd_kafka_message_destroy(m);
      return;
    }
    parts_[p].pending.push_back(m);
  }

  // Feeds fetched messages into the staging topic, within max_in_flight per
  // partition; a partition that cannot take more is paused in Kafka (which
  // drops its prefetched messages and resumes after the last one we took).
  void stage() {
    const auto now = Clock::now();
    for (std::size_t p = 0; p < parts_.size(); ++p) {
      Part& part = parts_[p];
      if (!part.assigned) continue;
      std::uint64_t staged = 0;
      while (!part.pending.empty() && part.staged.size() < o_.max_in_flight && now >= part.retry_at) {
        rd_kafka_message_t* m = part.pending.front();
        const detail::InboundEvent ev(m, o_.topic);
        auto r = staging_.publish(ev.event(), {.partition = static_cast<std::int32_t>(p),
                                               .timeout = std::chrono::milliseconds{0},
                                               .ack = Ack::kNone});
        if (!r) {
          const Code c = r.status().code();
          if (c != Code::kResourceExhausted && c != Code::kDeadlineExceeded) {
            // Nothing is skipped: the event stays first in line, its
            // partition paused, and is tried again every second.
            part.retry_at = now + std::chrono::seconds(1);
            report(Status(c, "kafka topic '" + o_.topic + "' partition " + std::to_string(p) + " offset " +
                                 std::to_string(m->offset) + " cannot be staged (partition held): " +
                                 r.status().message()));
          }
          break;
        }
        part.staged.emplace_back(r->offset, m->offset);
        rd_kafka_message_destroy(m);
        part.pending.pop_front();
        ++staged;
      }
      if (staged > 0) {
        std::lock_guard<std::mutex> lock(stats_mu_);
        stats_.staged += staged;
      }
      set_paused(p, !part.pending.empty());
    }
  }

  void set_paused(std::size_t p, bool pause) {
    Part& part = parts_[p];
    if (part.paused == pause) return;
    PartitionList l = new_list(1);
    rd_kafka_topic_partition_list_add(l.get(), o_.topic.c_str(), static_cast<std::int32_t>(p));
    const rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(consumer_.get(), l.get())
                                          : rd_kafka_resume_partitions(consumer_.get(), l.get());
    if (err) report(detail::status_for(err, pause ? "pausing kafka partition" : "resuming kafka partition"));
    else part.paused = pause;
  }

  // Stores the Kafka offsets the weir group has handled past. False if the
  // group cannot be described (the bus closed under us).
  bool advance() {
    auto g = bus_.describe_group(o_.group.group);
    if (!g) return false;
    PartitionList l = new_list(4);
    for (const PartitionStatus& ps : g->partitions) {
      if (ps.partition >= parts_.size()) continue;
      Part& part = parts_[ps.partition];
      std::int64_t next = -1;
      while (!part.staged.empty() && part.staged.front().first < ps.committed) {
        next = part.staged.front().second + 1;
        part.staged.pop_front();
      }
      if (next < 0 || !part.assigned) continue;
      part.stored = next;
      rd_kafka_topic_partition_list_add(l.get(), o_.topic.c_str(), static_cast<std::int32_t>(ps.partition))->offset =
          next;
    }
    if (l->cnt > 0) {
      if (rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_.get(), l.get()); err)
        report(detail::status_for(err, "storing kafka offsets"));
    }
    return true;
  }

  // The stored offsets not yet committed, for `only` (all when null).
  PartitionList to_commit(const rd_kafka_topic_partition_list_t* only) {
    PartitionList l = new_list(4);
    for (std::size_t p = 0; p < parts_.size(); ++p) {
      const Part& part = parts_[p];
      if (!part.assigned || part.stored < 0 || part.stored <= part.committed) continue;
      bool wanted = only == nullptr;
      for (int i = 0; only != nullptr && i < only->cnt; ++i)
        wanted = wanted || (only->elems[i].partition == static_cast<std::int32_t>(p) && o_.topic == only->elems[i].topic);
      if (wanted)
        rd_kafka_topic_partition_list_add(l.get(), o_.topic.c_str(), static_cast<std::int32_t>(p))->offset = part.stored;
    }
    return l;
  }

  void commit_async() {
    PartitionList l = to_commit(nullptr);
    if (l->cnt == 0) return;
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), l.get(), 1); err)
      count_commit(err, nullptr).ignore();  // reported there
  }

  Status commit_sync(const rd_kafka_topic_partition_list_t* only = nullptr) {
    PartitionList l = to_commit(only);
    if (l->cnt == 0) return Status::ok();
    const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), l.get(), 0);
    return count_commit(err, l.get());
  }

  // Records a commit's outcome (sync result, or the async callback's).
  Status count_commit(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets) {
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return Status::ok();
    Status s = detail::status_for(err, "committing offsets of kafka group '" + o_.group.group + "'");
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets != nullptr && i < offsets->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = offsets->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        s = detail::status_for(tp.err, "committing kafka partition " + std::to_string(tp.partition));
        continue;
      }
      if (o_.topic == tp.topic && tp.partition >= 0 && static_cast<std::size_t>(tp.partition) < parts_.size())
        parts_[tp.partition].committed = std::max(parts_[tp.partition].committed, tp.offset);
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      if (s) ++stats_.commits;
      else ++stats_.commit_errors;
    }
    if (!s) report(s);
    return s;
  }

  // Waits until the weir group handled everything staged from the assigned
  // partitions in `only` (all when null), or `deadline`.
  void drain_assigned(Clock::time_point deadline, const rd_kafka_topic_partition_list_t* only = nullptr) {
    for (;;) {
      if (!advance()) return;
      bool idle = true;
      for (std::size_t p = 0; p < parts_.size(); ++p) {
        bool wanted = only == nullptr;
        for (int i = 0; only != nullptr && i < only->cnt; ++i)
          wanted = wanted || only->elems[i].partition == static_cast<std::int32_t>(p);
        idle = idle && !(wanted && parts_[p].assigned && !parts_[p].staged.empty());
      }
      if (idle || Clock::now() >= deadline) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  static void drop_pending(Part& p) {
    for (rd_kafka_message_t* m : p.pending) rd_kafka_message_destroy(m);
    p.pending.clear();
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    static_cast<Impl*>(opaque)->rebalance(rk, err, parts);
  }

  // Runs on the thread that owns the consumer (poll thread, or stop()).
  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.rebalances;
    }
    rd_kafka_error_t* error = nullptr;
    rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      std::vector<std::int32_t> beyond;
      for (int i = 0; i < parts->cnt; ++i) {
        const std::int32_t p = parts->elems[i].partition;
        if (p >= 0 && static_cast<std::size_t>(p) < parts_.size()) {
          Part& part = parts_[p];
          drop_pending(part);
          part = Part{};
          part.assigned = true;
        } else {
          beyond.push_back(p);
        }
      }
      if (cooperative) error = rd_kafka_incremental_assign(rk, parts);
      else assign_err = rd_kafka_assign(rk, parts);
      if (!beyond.empty()) {
        // The kafka topic grew past the staging topic: hold those partitions
        // (nothing is committed for them) and say so.
        PartitionList l = new_list(static_cast<int>(beyond.size()));
        for (std::int32_t p : beyond) rd_kafka_topic_partition_list_add(l.get(), o_.topic.c_str(), p);
        rd_kafka_pause_partitions(rk, l.get());
        report(Status::failed_precondition(
            "kafka topic '" + o_.topic + "' has more partitions than staging topic '" + o_.staging_topic + "' (" +
            std::to_string(parts_.size()) + "); restart the group with a new staging topic to consume them"));
      }
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      if (!crashed_ && !rd_kafka_assignment_lost(rk)) {
        if (!skip_revoke_wait_) drain_assigned(Clock::now() + o_.revoke_timeout, parts);
        advance();
        commit_sync(parts).ignore();  // reported by count_commit
      }
      for (int i = 0; i < parts->cnt; ++i) {
        const std::int32_t p = parts->elems[i].partition;
        if (p < 0 || static_cast<std::size_t>(p) >= parts_.size()) continue;
        // Events still staged (revoke_timeout passed) are handled here
        // anyway; Kafka hands them to the next owner too.
        drop_pending(parts_[p]);
        parts_[p] = Part{};
      }
      if (cooperative) error = rd_kafka_incremental_unassign(rk, parts);
      else assign_err = rd_kafka_assign(rk, nullptr);
    } else {
      report(detail::status_for(err, "kafka rebalance of group '" + o_.group.group + "'"));
      for (Part& part : parts_) {
        drop_pending(part);
        part = Part{};
      }
      assign_err = rd_kafka_assign(rk, nullptr);
    }
    if (error != nullptr) {
      report(Status(Code::kIoError, "kafka assignment: " + std::string(rd_kafka_error_string(error))));
      rd_kafka_error_destroy(error);
    }
    if (assign_err) report(detail::status_for(assign_err, "kafka assignment"));
  }

  static void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                        void* opaque) {
    static_cast<Impl*>(opaque)->count_commit(err, offsets).ignore();
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->report(
        Status(detail::code_for(static_cast<rd_kafka_resp_err_t>(err)), "kafka consumer: " + std::string(reason)));
  }

  void report(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.last_error = s;
    }
    if (o_.on_error) o_.on_error(s);
  }

  void publish_stats() {
    std::vector<KafkaPartitionStatus> assigned;
    for (std::size_t p = 0; p < parts_.size(); ++p) {
      const Part& part = parts_[p];
      if (!part.assigned) continue;
      assigned.push_back({.partition = static_cast<std::int32_t>(p),
                          .committed = part.committed,
                          .stored = part.stored,
                          .in_flight = part.staged.size(),
                          .pending = part.pending.size()});
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.assigned = std::move(assigned);
  }

  Bus& bus_;
  GroupOptions o_;
  detail::Handle consumer_;  // the poll thread's; stop()'s after the join
  Topic staging_;
  std::vector<Part> parts_;  // indexed by partition; owned like consumer_
  std::unique_ptr<Mirror> dlq_mirror_;
  bool subscribed_ = false;
  bool crashed_ = false;           // owned like consumer_
  bool skip_revoke_wait_ = false;  // owned like consumer_
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;  // GUARDED_BY(stop_mu_)

  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::uint64_t commit_requested_ = 0;  // GUARDED_BY(commit_mu_)
  std::uint64_t commit_done_ = 0;       // GUARDED_BY(commit_mu_)
  Status commit_status_;                // GUARDED_BY(commit_mu_)
  std::uint64_t commit_served_ = 0;     // poll thread only

  mutable std::mutex stats_mu_;
  KafkaGroupStats stats_;  // GUARDED_BY(stats_mu_)
};

namespace {
template <typename H>
Result<std::unique_ptr<Group::Impl>> make_group(Bus& bus, GroupOptions options, H handler, bool transactional) {
  auto impl = std::make_unique<Group::Impl>(bus, std::move(options));
  if (Status s = impl->init(std::move(handler), transactional); !s) {
    impl->stop({.mode = CloseMode::kStopAtBatch}, true).status().ignore();  // undoes what init did
    return s;
  }
  return impl;
}
}  // namespace

Result<std::unique_ptr<Group>> Group::start(Bus& bus, GroupOptions options, Handler handler) {
  auto impl = make_group(bus, std::move(options), std::move(handler), false);
  if (!impl) return impl.status();
  return std::unique_ptr<Group>(new Group(std::move(impl).value()));
}
Result<std::unique_ptr<Group>> Group::start(Bus& bus, GroupOptions options, BatchHandler handler) {
  auto impl = make_group(bus, std::move(options), std::move(handler), false);
  if (!impl) return impl.status();
  return std::unique_ptr<Group>(new Group(std::move(impl).value()));
}
Result<std::unique_ptr<Group>> Group::start(Bus& bus, GroupOptions options, StateHandler handler) {
  auto impl = make_group(bus, std::move(options), std::move(handler), true);
  if (!impl) return impl.status();
  return std::unique_ptr<Group>(new Group(std::move(impl).value()));
}

Group::Group(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Group::~Group() { impl_->stop({}, false).status().ignore(); }
Result<CloseReport> Group::stop(const CloseOptions& options) { return impl_->stop(options, false); }
Status Group::commit(std::chrono::milliseconds timeout) { return impl_->commit(timeout); }
const std::string& Group::staging_topic() const noexcept { return impl_->staging_topic(); }
KafkaGroupStats Group::stats() const { return impl_->stats(); }
void Group::TEST_crash() { impl_->stop({.mode = CloseMode::kStopAtBatch}, true).status().ignore(); }

}  // namespace weir::kafka
