// The Kafka bridge: scale a weir program out to Apache Kafka (librdkafka).
//
//   Mirror  forwards a weir topic to a Kafka topic: same key, same partition,
//           envelope as CloudEvents Kafka-binding headers. At-least-once: the
//           mirror's offset moves only past events Kafka acknowledged.
//   Group   runs a weir consumer group on a Kafka topic with the same handler
//           API and weir's own retry / backoff / DLQ / breaker / dedupe.
//           Kafka offsets are committed only over events the group handled.
//
//   auto mirror = weir::kafka::Mirror::start(*bus, {.topic = "orders",
//       .kafka = {{"bootstrap.servers", "kafka:9092"}}}).value();
//   auto billing = weir::kafka::Group::start(*bus, {.topic = "orders",
//       .kafka = {{"bootstrap.servers", "kafka:9092"}},
//       .group = {.group = "billing", .workers = 4}}, handler).value();
//
// librdkafka properties pass through untouched (Config); the bridge sets
// only what its guarantees need and refuses a property that would break them
// (named in the error). Errors from Kafka are weir Status values carrying
// librdkafka's message. The public header includes no librdkafka header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/bus.hpp"
#include "weir/consumer.hpp"
#include "weir/event.hpp"
#include "weir/options.hpp"
#include "weir/status.hpp"

namespace weir::kafka {

// librdkafka configuration properties (name -> value), applied as given with
// rd_kafka_conf_set; global and default-topic properties alike. An unknown
// name or a bad value is kInvalidArgument with librdkafka's own message.
using Config = std::map<std::string, std::string>;

// Header under which an inbound event carries its Kafka offset (decimal), and
// the one with the Kafka topic it came from.
inline constexpr std::string_view kOffsetHeader = "weir.kafka.offset";
inline constexpr std::string_view kTopicHeader = "weir.kafka.topic";
// Header under which the mirror sends the event time (CloudEvents "time",
// RFC 3339 with microseconds, UTC); an inbound ce_time restores it exactly.
inline constexpr std::string_view kTimeHeader = "ce_time";

// The Kafka offset of an event a kafka::Group handed to its handler
// (Message::offset() is the event's offset in the weir staging topic).
// nullopt for other events. Thread-safe.
std::optional<std::int64_t> kafka_offset(const Message& m) noexcept;

// Called on a bridge thread (librdkafka's or the bridge's poll thread) for
// errors the bridge recovers from or reports only: broker down, a failed
// commit, a producer that became unusable and is being replaced. Must not
// block for long and must not call stop().
using ErrorCallback = std::function<void(const Status&)>;

// How the mirror picks a Kafka partition.
enum class Partitioning : std::uint8_t {
  // The event's weir partition, by number. REQUIRES: the Kafka topic has the
  // same partition count as the weir topic (checked at start:
  // kFailedPrecondition naming both). Keeps events that were published with
  // an explicit PublishOptions::partition where they were.
  kSamePartition = 0,
  // Kafka's own partitioner on the key, forced to murmur2_random (the Java
  // client's default; weir's own partitioner computes the same function, so
  // with equal partition counts keys land on the same partitions). For a
  // Kafka topic with a different partition count.
  kByKey = 1,
};

// Options of Mirror::start.
struct MirrorOptions {
  // --- affects behaviour -----------------------------------------------------
  // The weir topic to forward. REQUIRES: it exists. A journaled topic makes
  // the mirror survive restarts (its offsets live in the journal); on a
  // memory topic, what the mirror had not forwarded is lost with the process.
  std::string topic{};

  // The Kafka topic. Default: the weir topic's name.
  std::string kafka_topic{};

  // Producer properties, e.g. {"bootstrap.servers", "host:9092"}. The bridge
  // sets enable.idempotence=true and partitioner=murmur2_random and refuses
  // other values for them (kInvalidArgument); everything else is passed on.
  Config kafka{};

  // Default kSamePartition.
  Partitioning partitioning = Partitioning::kSamePartition;

  // The weir consumer group that reads the topic for the mirror: its name
  // (default "<topic>.kafka-mirror"), workers, max_batch (events produced per
  // delivery wait), retry backoff and max_attempts (a batch Kafka did not
  // acknowledge is retried with the group's backoff; default here 1000
  // attempts, the most weir allows, so an outage of Kafka does not dead-letter
  // events), dead_letter (events Kafka refused permanently, e.g. over
  // message.max.bytes, go to "<group>.dlq"), breaker, on_failure. dedupe is
  // not available (the mirror's handler is a batch handler).
  SubscribeOptions group{.max_attempts = 1000};

  // Longest the mirror waits for Kafka's metadata at start (the topic must
  // exist there with kSamePartition). Default 10 s. REQUIRES: > 0.
  std::chrono::milliseconds start_timeout{10000};

  // Told of errors the mirror recovers from (see ErrorCallback). Default none.
  ErrorCallback on_error{};
};

// Counters of one mirror (approximate while it runs).
struct MirrorStats {
  std::uint64_t delivered = 0;        // events Kafka acknowledged
  std::uint64_t delivery_errors = 0;  // delivery reports with an error (each retried or dead-lettered)
  std::uint64_t producer_restarts = 0;  // producers replaced after a fatal error
  Status last_error{};                // the latest error seen, ok if none
};

// Forwards one weir topic to one Kafka topic, at least once.
//
// A weir consumer group (MirrorOptions::group) hands batches of events to
// the mirror, which produces them with the same key, headers (plus ce_id,
// ce_specversion and ce_time where the event has none) and timestamp, and
// returns only when Kafka's delivery report arrived for each: the group's
// offset then moves past them. A delivery error retries the rest of the batch
// (per the group's policy), so Kafka may receive an event twice; both copies
// carry the same ce_id. The producer is idempotent (no duplicates from
// librdkafka's own retries). A fatal producer error replaces the producer.
//
// Thread-safety: thread-safe; stop() must not be called from a handler.
class Mirror {
 public:
  // Checks the options and the Kafka topic, then starts forwarding.
  // Errors: kInvalidArgument (bad or refused property, with librdkafka's
  // message; bad options), kNotFound (weir topic, or the Kafka topic for
  // kSamePartition), kFailedPrecondition (partition counts differ),
  // kDeadlineExceeded (no metadata from Kafka within start_timeout), and
  // Bus::subscribe's errors for the group. Thread-safe.
  static Result<std::unique_ptr<Mirror>> start(Bus& bus, MirrorOptions options);

  // stop() with the default CloseOptions (drain).
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Stops the mirror's group (kDrain: forwards what is published first,
  // bounded by the timeout), then closes the producer. Idempotent (a second
  // call returns an empty report). Thread-safe.
  Result<CloseReport> stop(const CloseOptions& options = {});

  // The name of the weir group the mirror runs as (for describe_group,
  // seek). Thread-safe.
  const std::string& group() const noexcept;

  MirrorStats stats() const;

  // Test hook: makes the producer raise a fatal error (librdkafka's
  // rd_kafka_test_fatal_error), as an idempotent producer does on an
  // unrecoverable sequence error. Thread-safe.
  void TEST_fatal_error();

  class Impl;

 private:
  explicit Mirror(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Options of Group::start.
struct GroupOptions {
  // --- affects behaviour -----------------------------------------------------
  // The Kafka topic to consume. REQUIRES: it exists (its partition count is
  // read at start).
  std::string topic{};

  // Consumer properties, e.g. {"bootstrap.servers", "host:9092"}. group.id
  // defaults to the weir group's name. The bridge sets
  // enable.auto.offset.store=false (refusing true) and, unless given,
  // enable.auto.commit=false (the bridge commits itself, see commit_interval)
  // and auto.offset.reset from group.start_from (earliest / latest).
  Config kafka{};

  // The weir consumer group, exactly as for Bus::subscribe: name (REQUIRED),
  // workers, retries, backoff, DLQ, breaker, dedupe, alerts, callbacks.
  SubscribeOptions group{};

  // The weir topic the group actually runs on: each Kafka partition p is
  // fed into its partition p. Default "kafka.<topic>.<group>". Created with
  // the Kafka topic's partition count.
  std::string staging_topic{};

  // The staging topic's durability. Default: kJournaled when group.dedupe is
  // set, a StateHandler is used, or dlq_kafka_topic is set (REQUIRES then a
  // bus with a data_dir), else kMemory. Kafka keeps every event not yet
  // committed, so a memory staging topic loses nothing on a crash; a
  // journaled one is what weir's dedupe store and state tables need.
  std::optional<Durability> staging_durability{};

  // Dead letters: empty (default) keeps them in weir's "<group>.dlq" topic
  // (see Bus::dlq_list); a name forwards that topic to this Kafka topic with
  // a Mirror (kByKey, group "<group>.dlq.kafka-mirror"), so they are visible
  // to Kafka tooling. REQUIRES: group.dead_letter.
  std::string dlq_kafka_topic{};
  // Producer properties for dlq_kafka_topic. Default: bootstrap.servers,
  // client.id and the security.* / ssl.* / sasl.* properties of `kafka`.
  Config dlq_kafka{};

  // How often stored offsets (those the group has handled) are committed to
  // Kafka. They are also committed synchronously when partitions are revoked
  // and at stop(). Default 1 s. REQUIRES: > 0.
  std::chrono::milliseconds commit_interval{1000};

  // When Kafka revokes partitions (a rebalance), how long the bridge waits
  // for the group to handle what it staged from them before committing and
  // letting go; events still pending after that are handled here anyway and
  // may also be handled by the partition's next owner (a duplicate with the
  // same id). Default 10 s. REQUIRES: > 0.
  std::chrono::milliseconds revoke_timeout{10000};

  // Longest start() waits for the Kafka topic's metadata. Default 10 s.
  std::chrono::milliseconds start_timeout{10000};

  // Told of errors the bridge recovers from or can only report: a failed
  // commit (retried), an event the staging topic refuses (its partition is
  // paused and the event retried every second; nothing is skipped), broker
  // errors. Default none.
  ErrorCallback on_error{};

  // --- affects performance ---------------------------------------------------
  // Events of one partition staged but not yet handled; beyond it the Kafka
  // partition is paused until the group catches up. Bounds RAM and the
  // redelivery after a crash. Default 4096. REQUIRES: 1..1,000,000.
  std::uint32_t max_in_flight = 4096;

  // Capacity of each staging partition's ring (TopicOptions::capacity).
  // Default 8192.
  std::uint32_t staging_capacity = 8192;
};

// One Kafka partition as a kafka::Group sees it.
struct KafkaPartitionStatus {
  std::int32_t partition = 0;
  std::int64_t committed = -1;  // the latest offset committed to Kafka (next to read), -1 if none yet
  std::int64_t stored = -1;     // the latest offset the group handled past (next to commit), -1 if none
  std::uint64_t in_flight = 0;  // staged, not yet handled
  std::uint64_t pending = 0;    // fetched, not yet staged (staging full or paused)
};

struct KafkaGroupStats {
  std::vector<KafkaPartitionStatus> assigned{};  // the partitions this member owns now
  std::uint64_t staged = 0;        // events fed into the staging topic
  std::uint64_t rebalances = 0;    // assignments and revocations served
  std::uint64_t commits = 0;       // successful commits to Kafka
  std::uint64_t commit_errors = 0;
  Status last_error{};
};

// A weir consumer group running on a Kafka topic, a member of the Kafka
// consumer group of the same name.
//
// Threads: one poll thread per Group (fetches, stages, stores and commits
// offsets, serves rebalances), the weir group's workers (run the handler),
// librdkafka's own threads. The handler sees a Message whose topic() is the
// staging topic and whose offset() is the staging offset; kafka_offset(m)
// gives the Kafka offset, the key, payload, headers, envelope and time are
// Kafka's. An event is committed to Kafka only after the weir group's offset
// passed it (done, or dead-lettered); so a crash redelivers, never loses.
//
// Thread-safety: thread-safe; stop() must not be called from a handler.
class Group {
 public:
  // Creates the staging topic, joins the Kafka consumer group and starts the
  // weir group. Errors: kInvalidArgument (bad or refused property, with
  // librdkafka's message; bad options), kNotFound (the Kafka topic),
  // kDeadlineExceeded (no metadata within start_timeout), kAlreadyExists
  // (a staging topic with other options), Bus::subscribe's errors.
  static Result<std::unique_ptr<Group>> start(Bus& bus, GroupOptions options, Handler handler);
  static Result<std::unique_ptr<Group>> start(Bus& bus, GroupOptions options, BatchHandler handler);
  static Result<std::unique_ptr<Group>> start(Bus& bus, GroupOptions options, StateHandler handler);

  // stop() with the default CloseOptions.
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Leaves the Kafka group: with kDrain the weir group first handles what
  // was staged (bounded by the timeout), then the handled offsets are
  // committed synchronously, the consumer closes, and the weir group is
  // unsubscribed (its report is returned). Idempotent. Thread-safe.
  Result<CloseReport> stop(const CloseOptions& options = {});

  // Commits the handled offsets now, synchronously, from the poll thread.
  // kDeadlineExceeded if the poll thread did not get to it within `timeout`.
  // Thread-safe.
  Status commit(std::chrono::milliseconds timeout = std::chrono::milliseconds{10000});

  const std::string& staging_topic() const noexcept;
  KafkaGroupStats stats() const;

  // Test hook: a crash as Kafka sees it. Stops fetching, leaves the Kafka
  // group WITHOUT storing or committing anything more, and stops the weir
  // group at a batch boundary. Kafka then hands everything past the last
  // commit to the partitions' next owner. Thread-safe.
  void TEST_crash();

  class Impl;

 private:
  explicit Group(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::kafka
