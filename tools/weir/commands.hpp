// The weir tool's subcommands. Each returns an exit code or throws
// cli::Error (reported by main as "weir: <message>").
//
// Read-only commands open the directory with weir::Inspector (LMDB
// read-only), so they work while the owning process runs. Commands that
// change the directory (produce, consume, seek, dlq redrive/purge,
// alter-topic, delete-topic, delete-group) send
// their change to a live owner through its control socket (live.hpp), and
// otherwise open a weir::Bus on it for their changes. pause, resume and
// set-workers act on a running group, so they need a live owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "output.hpp"
#include "positions.hpp"
#include "weir/bus.hpp"
#include "weir/inspect.hpp"

namespace weir::cli {

// Set by SIGINT/SIGTERM: long-running commands finish cleanly.
extern std::atomic<bool> g_stop;

struct Common {
  std::string dir;
  bool json = false;
};

struct ReadOptions {  // tail
  std::string topic;
  std::string from = "earliest";
  std::optional<std::uint32_t> partition;
  bool follow = false;
  std::uint64_t max = 0;  // 0: no limit
};
struct ProduceOptions {
  std::string topic;
  std::uint32_t partitions = 0;  // 0: the topic must exist
  std::string ack = "journal";
  std::uint32_t priority = 0;         // Event::priority of every line
  std::optional<std::uint32_t> priority_levels;  // with --partitions: the new topic's levels (default 1)
};
struct ConsumeOptions {
  std::string topic;
  std::string group;
  std::string from;  // empty: the group's committed offsets
  std::uint64_t max = 0;
  std::optional<std::int64_t> idle_exit_ms;
};
struct SeekOptions {
  std::string topic;
  std::string group;
  std::string to;                       // a position, or
  std::optional<std::int64_t> shift_by;  // from the committed offsets, or
  std::string to_duration;               // ISO-8601, back from now
  std::optional<std::uint32_t> partition;
  bool create = false;  // --create: a group that never consumed TOPIC
  bool execute = false;  // without it: a dry run printing old -> new
};
struct GroupControlOptions {  // pause, resume, set-workers
  std::string group;
  std::optional<std::string> topic;  // pause/resume: one topic of the group
  std::optional<std::uint32_t> partition;
  std::uint32_t workers = 0;
};
struct DlqOptions {
  std::string group;
  std::optional<std::uint64_t> offset;  // filter (list/redrive/purge) or the one to show
  std::optional<std::string> key, type, reason;
  std::string failed_from, failed_to;
  std::optional<std::size_t> limit;  // list: default 1000; redrive: all
  double rate = 1000;
  bool dry_run = false;
  bool all = false;
};
struct AlterTopicOptions {
  std::string topic;
  std::optional<std::uint32_t> partitions, capacity, max_payload_bytes, max_key_bytes;
  std::optional<std::string> full_policy, default_ack, durability;
  std::optional<std::int64_t> block_timeout_ms;
  std::optional<std::string> retention_age;  // ISO-8601 duration, or 0
  std::optional<std::uint64_t> retention_bytes, retention_events, quota_bytes;
};
struct DeleteOptions {  // delete-topic, delete-group
  std::string name;
  bool yes = false;
};
struct StatusOptions {
  std::string topic;
  std::string group;
  std::string id, key;  // exactly one
  std::size_t limit = 100;
};
struct TopOptions {
  std::int64_t interval_ms = 1000;
  std::uint64_t iterations = 0;  // 0: until interrupted
};

int cmd_topics(const Common& c);
int cmd_describe(const Common& c, const std::string& topic);
int cmd_groups(const Common& c, const std::string& group, const std::string& topic);
int cmd_tail(const Common& c, const ReadOptions& o);
int cmd_verify(const Common& c);
int cmd_salvage(const Common& c, const std::string& out);
int cmd_stats(const Common& c);
int cmd_top(const Common& c, const TopOptions& o);
int cmd_produce(const Common& c, const ProduceOptions& o);
int cmd_consume(const Common& c, const ConsumeOptions& o);
int cmd_seek(const Common& c, const SeekOptions& o);
int cmd_dlq_list(const Common& c, const DlqOptions& o);
int cmd_dlq_show(const Common& c, const DlqOptions& o);
int cmd_dlq_redrive(const Common& c, const DlqOptions& o);
int cmd_dlq_purge(const Common& c, const DlqOptions& o);
int cmd_dlq_stats(const Common& c, const DlqOptions& o);
int cmd_state_get(const Common& c, const std::string& group, const std::string& table, const std::string& key);
int cmd_pause(const Common& c, const GroupControlOptions& o, bool pause);
int cmd_set_workers(const Common& c, const GroupControlOptions& o);
int cmd_console_url(const Common& c);
int cmd_alter_topic(const Common& c, const AlterTopicOptions& o);
int cmd_delete_topic(const Common& c, const DeleteOptions& o);
int cmd_delete_group(const Common& c, const DeleteOptions& o);
int cmd_status(const Common& c, const StatusOptions& o);

// --- shared helpers (common.cpp) ---------------------------------------------
std::unique_ptr<Inspector> open_inspector(const std::string& dir);
// Refuses (cli::Error) when a live bus owns `dir`: `command` needs it alone.
void refuse_if_owned(const std::string& dir, const std::string& command);
// Opens a bus on an existing journal for a changing command; a directory
// taken by another process in the meantime is refused like above.
std::unique_ptr<Bus> open_bus(const std::string& dir, const std::string& command);
// A topic or group name by Kafka's rule: 1..249 of [A-Za-z0-9._-].
bool valid_name(const std::string& s);
// The dead-letter filter of the --offset/--key/... options.
DeadLetterFilter filter_of(const DlqOptions& o);
// `group`, or every group with a dead-letter topic when it is empty.
std::vector<std::string> dlq_groups(Inspector& in, const std::string& group);
// Closes a bus from open_bus, failing the command if its last writes failed.
void close_bus(Bus& bus);
// Rows of events (tail, consume): topic, partition, offset, key, value, id,
// time, headers.
const std::vector<std::string>& event_columns();
Row event_row(const Record& r);
// One row of `groups` (also used by `seek` and `top`): group, topic,
// partition, committed (null if none), end, lag, skewed.
Row group_lag_row(const GroupLag& g);
// One row of the dead-letter tables of `stats` and `top`.
Row dlq_depth_row(const DeadLetterDepth& d);
// Where each selected partition starts for `from`; errors name the
// partition and the valid range.
std::uint64_t start_offset(Inspector& in, const PartitionInfo& p, const Position& from);
// Reads up to `want` records of `partition` from `next`. If retention
// deleted `next` meanwhile, moves `next` to the partition's start and
// returns an empty batch (the caller goes on, as the bus would); other
// errors end the command.
std::vector<Record> read_on(Inspector& in, const std::string& topic, std::uint32_t partition,
                            std::uint64_t& next, std::size_t want);
[[noreturn]] void fail_status(const Status& s);
// Like fail_status, but the bus's "topic 'x' not found" names `dir` as every
// command's message does: "topic 'x' not found in 'DIR'".
[[noreturn]] void fail_status(const Status& s, const std::string& dir);
std::string topic_not_found(const std::string& topic, const std::string& dir);
// `message` with " in 'DIR'" added when it is the bus's bare "topic 'x' not found".
std::string naming_dir(std::string message, const std::string& dir);
// "(known groups: a, b)" or "(known groups: none)", as the library's messages say it.
std::string known_groups(const std::set<std::string>& groups);
std::int64_t now_us();

}  // namespace weir::cli
