// Bus and Topic: the public API, forwarding to BusCore and TopicState.
#include "weir/bus.hpp"

#include <map>

#include "bus/core.hpp"
#include "console/server.hpp"
#include "control/server.hpp"
#include "weir/partitioner.hpp"

namespace weir {

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
  return state_->wait_acked(receipt.partition, receipt.offset, level, timeout);
}

Status Topic::wait_all_acked(std::span<const PublishReceipt> receipts, Ack level,
                         std::chrono::milliseconds timeout) const {
  std::map<std::uint32_t, PublishReceipt> last;
  for (const auto& r : receipts) last[r.partition] = r;
  for (const auto& [p, r] : last)
    if (Status s = wait_acked(r, level, timeout); !s) return s;
  return Status::ok();
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
        "Options::journal_max_bytes = " + std::to_string(options.journal_max_bytes) +
        " is below Options::journal_initial_map_bytes = " + std::to_string(options.journal_initial_map_bytes) +
        "; it must be 0 (no cap) or at least journal_initial_map_bytes");
  if (options.journal_max_batch_events < 1 || options.journal_max_batch_events > (1u << 20))
    return Status::invalid_argument("Options::journal_max_batch_events must be within 1..1048576");
  if (options.offset_commit_interval < std::chrono::milliseconds(1) ||
      options.offset_commit_interval > std::chrono::seconds(10))
    return Status::invalid_argument("Options::offset_commit_interval must be within 1 ms..10 s");
  if (options.dead_letter_retention_age.count() < 0)
    return Status::invalid_argument("Options::dead_letter_retention_age must be >= 0 (0: no limit), not " +
                                    std::to_string(options.dead_letter_retention_age.count()) + " s");
  if (options.console.enabled && options.data_dir.empty())
    return Status::invalid_argument(
        "Options::console needs Options::data_dir (its access token is written there)");
  auto core = std::make_unique<internal::BusCore>(options);
  if (Status s = core->open_journal(); !s) return s;
  std::unique_ptr<Bus> bus(new Bus(std::move(core)));
  if (!options.data_dir.empty() && options.control_socket) {
    auto control = internal::ControlServer::start(*bus, options.data_dir);
    if (!control) return control.status();
    bus->control_ = std::move(control).value();
  }
  if (options.console.enabled) {
    auto console = internal::ConsoleServer::start(*bus, options.data_dir, options.console);
    if (!console) return console.status();
    bus->console_ = std::move(console).value();
  }
  return bus;
}

Bus::Bus(std::unique_ptr<internal::BusCore> core) : core_(std::move(core)) {}
Bus::~Bus() { close().status().ignore(); }

Status Bus::create_topic(std::string_view name, const TopicOptions& options) {
  return core_->create_topic(name, options);
}

Result<std::vector<TopicChange>> Bus::alter_topic(std::string_view name, const TopicChanges& changes) {
  return core_->alter_topic(name, changes);
}

Result<TopicOptions> Bus::topic_options(std::string_view name) const { return core_->topic_options(name); }

Result<TopicDeletion> Bus::delete_topic(std::string_view name) { return core_->delete_topic(name); }

Result<GroupDeletion> Bus::delete_group(std::string_view group) { return core_->delete_group(group); }

Result<std::vector<EventLocation>> Bus::locate(std::string_view group, std::string_view topic, const EventRef& ref,
                                               std::size_t limit) {
  return core_->locate(group, topic, ref, limit);
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

Status Bus::subscribe(const TopicSet& topics, const SubscribeOptions& options, Handler handler) {
  if (!handler) return Status::invalid_argument("handler for group '" + options.group + "' is empty");
  return core_->subscribe(topics, options, std::move(handler));
}

Status Bus::subscribe(const TopicSet& topics, const SubscribeOptions& options, BatchHandler handler) {
  if (!handler) return Status::invalid_argument("batch handler for group '" + options.group + "' is empty");
  return core_->subscribe(topics, options, std::move(handler));
}

Status Bus::subscribe(const TopicSet& topics, const SubscribeOptions& options, StateHandler handler) {
  if (!handler) return Status::invalid_argument("state handler for group '" + options.group + "' is empty");
  return core_->subscribe(topics, options, std::move(handler));
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
  }, partition);
}

Status Bus::pause(std::string_view group, std::optional<std::uint32_t> partition) {
  return core_->with_group(group, [&](internal::Group& g) -> Status {
    if (Status s = internal::BusCore::check_partition(g, partition); !s) return s;
    g.set_paused(partition, true);
    return Status::ok();
  }, partition);
}

Status Bus::resume(std::string_view group, std::optional<std::uint32_t> partition) {
  return core_->with_group(group, [&](internal::Group& g) -> Status {
    if (Status s = internal::BusCore::check_partition(g, partition); !s) return s;
    g.set_paused(partition, false);
    return Status::ok();
  }, partition);
}

Status Bus::pause_topic(std::string_view group, std::string_view topic, std::optional<std::uint32_t> partition) {
  return core_->set_topic_paused(group, topic, partition, true);
}

Status Bus::resume_topic(std::string_view group, std::string_view topic, std::optional<std::uint32_t> partition) {
  return core_->set_topic_paused(group, topic, partition, false);
}

Status Bus::set_workers(std::string_view group, std::uint32_t workers) {
  return core_->set_workers(group, workers);
}

Result<CloseReport> Bus::close(const CloseOptions& options) {
  // Requests still running fail against the closed bus, so waiting for the
  // control threads after the close is short.
  if (control_) control_->stop_accepting();
  if (console_) console_->stop_accepting();
  auto report = core_->close(options);
  if (control_ && report) control_->stop();
  if (console_ && report) console_->stop();
  return report;
}

}  // namespace weir
