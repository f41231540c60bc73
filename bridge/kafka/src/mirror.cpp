// Mirror: a weir group whose batch handler produces each batch to Kafka and
// returns only once Kafka's delivery report arrived for every event.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <thread>

#include "client.hpp"

namespace weir::kafka {

namespace {

// The delivery reports of one batch. A report may arrive after the batch
// gave up waiting (stop() purged it), so each in-flight message holds a
// shared reference.
struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t pending = 0;                   // GUARDED_BY(mu)
  std::vector<rd_kafka_resp_err_t> errors;   // GUARDED_BY(mu), one per event
};
struct Slot {  // librdkafka's per-message opaque
  std::shared_ptr<Batch> batch;
  std::size_t index;
};

}  // namespace

class Mirror::Impl {
 public:
  Impl(Bus& bus, MirrorOptions o) : bus_(bus), o_(std::move(o)) {}

  ~Impl() {
    stopping_.store(true, std::memory_order_relaxed);
    if (poller_.joinable()) poller_.join();
  }

  Status init() {
    if (o_.topic.empty()) return Status::invalid_argument("MirrorOptions::topic is empty");
    if (o_.start_timeout.count() <= 0) return Status::invalid_argument("MirrorOptions::start_timeout must be > 0");
    if (o_.group.dedupe)
      return Status::invalid_argument("MirrorOptions::group.dedupe is not available: the mirror is a batch handler "
                                      "(Kafka duplicates carry the same ce_id instead)");
    auto topic = bus_.topic(o_.topic);
    if (!topic) return topic.status();
    if (o_.kafka_topic.empty()) o_.kafka_topic = o_.topic;
    if (o_.group.group.empty()) o_.group.group = o_.topic + ".kafka-mirror";

    auto p = create_producer();
    if (!p) return p.status();
    producer_ = std::move(p).value();
    poller_ = std::thread([this] { poll_loop(); });

    auto n = detail::partition_count(producer_.get(), o_.kafka_topic, o_.start_timeout);
    if (!n) return n.status();
    if (o_.partitioning == Partitioning::kSamePartition && *n != topic->partitions())
      return Status::failed_precondition(
          "kafka topic '" + o_.kafka_topic + "' has " + std::to_string(*n) + " partitions but weir topic '" +
          o_.topic + "' has " + std::to_string(topic->partitions()) +
          "; kSamePartition needs equal counts (use Partitioning::kByKey, or create the kafka topic with " +
          std::to_string(topic->partitions()) + " partitions)");

    BatchHandler h = [this](std::span<const Message> batch) { return forward(batch); };
    if (Status s = bus_.subscribe(o_.topic, o_.group, std::move(h)); !s) return s;
    subscribed_ = true;
    return Status::ok();
  }

  Result<CloseReport> stop(const CloseOptions& co) {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return CloseReport{};
    stopped_ = true;
    CloseReport report;
    if (subscribed_) {
      // A batch still waiting for Kafka when the timeout passes is purged
      // (its events stay unacked in weir and are forwarded after a restart).
      give_up_at_.store((std::chrono::steady_clock::now() + co.timeout).time_since_epoch().count(),
                        std::memory_order_relaxed);
      auto r = bus_.unsubscribe(o_.group.group, co);
      if (r) report = std::move(r).value();
      else if (r.status().code() != Code::kNotFound) report.journal_status = r.status();
      // kNotFound: the bus closed first and already stopped the group.
    }
    stopping_.store(true, std::memory_order_relaxed);
    if (poller_.joinable()) poller_.join();
    std::unique_lock<std::shared_mutex> w(producer_mu_);
    if (producer_) {
      rd_kafka_flush(producer_.get(), 5000);
      producer_.reset();
    }
    return report;
  }

  const std::string& group() const noexcept { return o_.group.group; }

  MirrorStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

  void test_fatal_error() {
    std::shared_lock<std::shared_mutex> r(producer_mu_);
    if (producer_)
      rd_kafka_test_fatal_error(producer_.get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                "weir TEST_fatal_error");
  }

 private:
  Result<detail::Handle> create_producer() {
    auto conf = detail::make_conf(
        o_.kafka, {},
        {{"enable.idempotence", "true", "the mirror relies on librdkafka's retries not duplicating events"},
         {"partitioner", "murmur2_random",
          "weir's partitioner is the Java client's murmur2; Kafka must pick the same partition for a key"}});
    if (!conf) return conf.status();
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::on_delivery);
    rd_kafka_conf_set_error_cb(conf->get(), &Impl::on_error);
    return detail::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  }

  // Serves delivery reports and error callbacks.
  void poll_loop() {
    while (!stopping_.load(std::memory_order_relaxed)) {
      {
        std::shared_lock<std::shared_mutex> r(producer_mu_);
        if (producer_) rd_kafka_poll(producer_.get(), 50);
      }
      // Lets a replacement (exclusive lock) in between two polls.
      if (fatal_.load(std::memory_order_relaxed)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* slot = static_cast<Slot*>(m->_private);
    {
      std::lock_guard<std::mutex> lock(slot->batch->mu);
      slot->batch->errors[slot->index] = m->err;
      --slot->batch->pending;
    }
    slot->batch->cv.notify_all();
    delete slot;
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    Status s;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512] = {};
      const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
      s = Status(Code::kFailedPrecondition, "kafka producer fatal error (it will be replaced): " +
                                                std::string(rd_kafka_err2name(orig)) + ": " + buf);
      // Release pairs with the acquire in forward(): the report is visible
      // to the worker that replaces the producer.
      self->fatal_.store(true, std::memory_order_release);
    } else {
      s = Status(detail::code_for(static_cast<rd_kafka_resp_err_t>(err)), "kafka producer: " + std::string(reason));
    }
    self->report(s);
  }

  void report(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.last_error = s;
    }
    if (o_.on_error) o_.on_error(s);
  }

  // Replaces a producer that raised a fatal error. Called with no lock held.
  void replace_producer() {
    std::unique_lock<std::shared_mutex> w(producer_mu_);
    if (!fatal_.load(std::memory_order_acquire)) return;  // another worker did it
    producer_.reset();  // every batch holding it has had its reports (fatal purges them)
    auto p = create_producer();
    if (!p) {
      report(p.status());
      return;  // stays fatal: the next batch tries again
    }
    producer_ = std::move(p).value();
    fatal_.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.producer_restarts;
  }

  bool past_give_up() const {
    const auto at = give_up_at_.load(std::memory_order_relaxed);
    return at != 0 && std::chrono::steady_clock::now().time_since_epoch().count() > at;
  }

  BatchOutcome forward(std::span<const Message> batch) {
    if (fatal_.load(std::memory_order_acquire)) replace_producer();
    auto b = std::make_shared<Batch>();
    b->errors.assign(batch.size(), RD_KAFKA_RESP_ERR_NO_ERROR);
    std::size_t produced = 0;
    {
      std::shared_lock<std::shared_mutex> r(producer_mu_);
      rd_kafka_t* rk = producer_.get();
      if (rk == nullptr) return {0, Outcome::retry()};
      const char* topic = o_.kafka_topic.c_str();
      for (; produced < batch.size(); ++produced) {
        const Message& m = batch[produced];
        const std::int32_t partition = o_.partitioning == Partitioning::kSamePartition
                                           ? static_cast<std::int32_t>(m.partition())
                                           : RD_KAFKA_PARTITION_UA;
        rd_kafka_headers_t* headers = detail::headers_for(m);
        auto* slot = new Slot{b, produced};
        {
          std::lock_guard<std::mutex> lock(b->mu);
          ++b->pending;
        }
        // A non-null pointer for an empty key: Kafka's partitioner hashes an
        // empty key like the Java client's empty byte array, as weir does.
        const char* key = m.key().empty() ? "" : m.key().data();
        rd_kafka_resp_err_t err;
        for (;;) {
          err = rd_kafka_producev(
              rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_KEY(key, m.key().size()),
              RD_KAFKA_V_VALUE(const_cast<char*>(m.payload().data()), m.payload().size()),
              RD_KAFKA_V_TIMESTAMP(m.time_us() / 1000), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot),
              RD_KAFKA_V_END);
          if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || past_give_up() || fatal_.load(std::memory_order_relaxed))
            break;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the poller frees queue space
        }
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_headers_destroy(headers);  // not taken over on failure
          delete slot;
          std::lock_guard<std::mutex> lock(b->mu);
          --b->pending;
          b->errors[produced] = err;
          break;
        }
      }
      // Every produced message gets exactly one delivery report, within
      // message.timeout.ms; stop() may cut that short with a purge.
      std::unique_lock<std::mutex> lock(b->mu);
      bool purged = false;
      while (b->pending > 0) {
        b->cv.wait_for(lock, std::chrono::milliseconds(100));
        if (!purged && (past_give_up() || fatal_.load(std::memory_order_relaxed))) {
          purged = true;
          lock.unlock();
          rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
          lock.lock();
        }
      }
    }
    std::size_t first_error = batch.size(), ok = 0, failed = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (b->errors[i] != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++failed;
        first_error = std::min(first_error, i);
      } else if (i < produced || produced == batch.size()) {
        ++ok;
      }
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.delivered += ok;
      stats_.delivery_errors += failed;
    }
    if (first_error == batch.size()) return BatchOutcome::all(batch.size());
    const rd_kafka_resp_err_t err = b->errors[first_error];
    const Message& m = batch[first_error];
    Status s = detail::status_for(err, "kafka delivery of weir '" + o_.topic + "' partition " +
                                           std::to_string(m.partition()) + " offset " + std::to_string(m.offset()) +
                                           " to '" + o_.kafka_topic + "'");
    report(s);
    if (detail::is_permanent(err)) return {first_error, Outcome::fail(s.message())};
    return {first_error, Outcome::retry()};
  }

  Bus& bus_;
  MirrorOptions o_;
  std::shared_mutex producer_mu_;  // shared: produce, poll; exclusive: replace, close
  detail::Handle producer_;        // GUARDED_BY(producer_mu_)
  std::atomic<bool> fatal_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::chrono::steady_clock::rep> give_up_at_{0};  // 0: never
  std::thread poller_;
  std::mutex stop_mu_;
  bool subscribed_ = false;  // set by init, read under stop_mu_
  bool stopped_ = false;     // GUARDED_BY(stop_mu_)
  mutable std::mutex stats_mu_;
  MirrorStats stats_;  // GUARDED_BY(stats_mu_)
};

Result<std::unique_ptr<Mirror>> Mirror::start(Bus& bus, MirrorOptions options) {
  auto impl = std::make_unique<Impl>(bus, std::move(options));
  if (Status s = impl->init(); !s) return s;
  return std::unique_ptr<Mirror>(new Mirror(std::move(impl)));
}

Mirror::Mirror(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mirror::~Mirror() { impl_->stop({}).status().ignore(); }
Result<CloseReport> Mirror::stop(const CloseOptions& options) { return impl_->stop(options); }
const std::string& Mirror::group() const noexcept { return impl_->group(); }
MirrorStats Mirror::stats() const { return impl_->stats(); }
void Mirror::TEST_fatal_error() { impl_->test_fatal_error(); }

}  // namespace weir::kafka
