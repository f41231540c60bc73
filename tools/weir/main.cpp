// weir: the command line tool over a bus's data directory.
//
// Exit codes: 0 ok; 1 runtime error ("weir: <reason>" on stderr); 2 usage
// error (bad arguments); 3 `weir verify` found problems.
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace {

using namespace weir::cli;

// run()'s answer when a required argument is missing and $WEIR_DIR may
// supply DIR (not an exit code: main retries).
constexpr int kRetryWithWeirDir = -1;

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed stdout shows up as a failed write (consume then commits only
  // what was written), not as a silent death.
  std::signal(SIGPIPE, SIG_IGN);
}

// DIR and --json on a subcommand.
CLI::App* with_common(CLI::App* sub, Common& c) {
  sub->add_option("DIR", c.dir, "data directory of the bus (its LMDB journal); default $WEIR_DIR")->required();
  sub->add_flag("--json", c.json, "machine output: JSON lines, one object per row");
  return sub;
}

const auto kPosition = CLI::Validator(position_problem, "earliest|latest|OFFSET|TIME", "position");
const auto kTime = CLI::Validator(time_problem, "TIME", "time");
// Counts, offsets and sizes: CLI11 reads "-1" into an unsigned option as its
// largest value, so a negative number is refused here, by name.
const auto kNotNegative = CLI::Validator(
    [](const std::string& s) { return s.rfind('-', 0) == 0 ? s + " is negative; give 0 or more" : std::string(); },
    "", "not-negative");

// A whole number in [lo, hi]: names what is wrong with the value (CLI11's
// Range says "not in range" also for a word). alter-topic's ranges are the
// library's own (weir/options.hpp: kMaxTopicCapacity, ...).
CLI::Validator whole_number_in(unsigned lo, unsigned hi) {
  return CLI::Validator(
      [lo, hi](const std::string& s) -> std::string {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
          return s + " is not a whole number (give " + std::to_string(lo) + ".." + std::to_string(hi) + ")";
        if (s.size() > 9 || std::stoul(s) < lo || std::stoul(s) > hi)
          return s + " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
        return {};
      },
      "", "whole-number");
}

// --rate of dlq redrive: events per second, 0 for no limit.
const auto kRate = CLI::Validator(
    [](const std::string& s) -> std::string {
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
        return s + " is not a number (give events per second, or 0 for no limit)";
      if (v < 0) return s + " is negative (give events per second, or 0 for no limit)";
      return {};
    },
    "", "rate");

void add_filters(CLI::App* sub, DlqOptions& d, bool with_offset) {
  if (with_offset) sub->add_option("--offset", d.offset, "only the dead letter at this DLQ offset")->check(kNotNegative);
  sub->add_option("--key", d.key, "only dead letters with this key");
  sub->add_option("--type", d.type, "only dead letters of this event type");
  sub->add_option("--reason", d.reason, "only dead letters whose reason contains this text");
  sub->add_option("--failed-from", d.failed_from, "only those whose last failure is at or after TIME")
      ->check(kTime);
  sub->add_option("--failed-to", d.failed_to, "only those whose last failure is before TIME")->check(kTime);
}

// "unknown command 'X' (commands: a, b, ...)" when the first word that is
// not an option, at the top level or under a command that takes commands
// (dlq), names none of them; empty otherwise. CLI11 itself would only say
// that a subcommand is required.
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return {};
    if (level->get_require_subcommand_min() == 0) return {};
    std::string names;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : level->get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == word) next = sub;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    path += (path.empty() ? "" : " ") + word;
    if (!next) return "unknown command '" + path + "' (commands: " + names + ")";
    level = next;
  }
  return {};
}

}  // namespace

int run(int argc, char** argv, bool quiet_missing) {
  CLI::App app{
      "weir: inspect and operate a weir bus's data directory.\n"
      "Read-only commands (topics, describe, groups, tail, verify, stats, top, dlq list/show/stats, state get, dlq redrive "
      "--dry-run) read the directory while the owning process runs. Changing commands (produce, consume, seek "
      "--execute, dlq redrive/purge, alter-topic, delete-topic, delete-group, pause, resume, set-workers) go through the owning process's control socket "
      "(DIR/weir.sock) when it runs, and open the directory themselves when it does not; pause, resume and "
      "set-workers need it running.\n"
      "DIR may be left out when the WEIR_DIR environment variable names it.\n"
      "TIME is ISO-8601 with a zone (2026-11-27T10:00:00Z, 2026-11-27T11:00:00.5+01:00) or @unix-ms.\n"
      "Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 verify found problems or salvage lost data.",
      "weir"};
  app.set_version_flag("--version", std::string("weir ") + WEIR_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  weir groups /var/lib/shop/bus                     lag per group and partition\n"
      "  export WEIR_DIR=/var/lib/shop/bus\n"
      "  weir dlq list --group billing                     what billing dead-lettered\n"
      "  weir dlq redrive --group billing --reason declined --dry-run\n"
      "  weir dlq redrive --group billing --reason declined\n"
      "  weir seek orders --group billing --to-duration -PT10M            dry run: old -> new\n"
      "  weir seek orders --group billing --to-duration -PT10M --execute\n"
      "  weir pause billing; weir resume billing; weir set-workers billing 4\n"
      "  printf 'k1\\thello\\n' | weir produce orders --ack fsync");
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("weir: ") + e.what() + " (see --help)\n";
  });

  Common c;
  std::string topic, group_filter, topic_filter;
  ReadOptions ro;
  ProduceOptions po;
  ConsumeOptions co;
  SeekOptions so;
  DlqOptions dq;
  TopOptions top;
  std::int64_t idle_ms = -1;

  auto* topics = with_common(app.add_subcommand("topics", "topics stored in DIR, with sizes and retention"), c);
  auto* describe = with_common(app.add_subcommand("describe", "partitions of TOPIC: start, end, bytes"), c);
  describe->add_option("TOPIC", topic, "topic name")->required();
  auto* groups = with_common(
      app.add_subcommand("groups", "committed offset, end, lag and skew flag per group and partition"), c);
  groups->add_option("--group", group_filter, "only this group");
  groups->add_option("--topic", topic_filter, "only this topic");

  auto* tail = with_common(app.add_subcommand("tail", "print events of TOPIC (read-only: commits nothing)"), c);
  tail->add_option("TOPIC", ro.topic, "topic name")->required();
  tail->add_option("--from", ro.from, "where to start in each partition (default earliest)")->check(kPosition);
  tail->add_option("--partition", ro.partition, "only this partition");
  tail->add_flag("--follow,-f", ro.follow, "keep printing new events until interrupted");
  tail->add_option("--max", ro.max, "stop after N events (0: no limit)")->check(kNotNegative);

  auto* produce = with_common(
      app.add_subcommand("produce",
                         "publish stdin lines key<TAB>value; prints partition<TAB>offset per line once acked"),
      c);
  produce->add_option("TOPIC", po.topic, "topic name")->required();
  produce->add_option("--partitions", po.partitions, "create the topic (journaled) with N partitions if absent")
      ->check(whole_number_in(1, weir::kMaxTopicPartitions));
  produce->add_option("--ack", po.ack, "ack level to wait for before printing (default journal)")
      ->check(CLI::IsMember({"none", "journal", "fsync"}));
  produce->add_option("--priority", po.priority,
                      "priority of every line's event: 0 (default) .. the topic's priority levels - 1");
  produce->add_option("--priority-levels", po.priority_levels,
                      "with --partitions: create the topic with this many priority levels (default 1)")
      ->check(whole_number_in(1, 8));

  auto* consume = with_common(
      app.add_subcommand("consume", "print events for group G from its committed offsets, then commit them"), c);
  consume->add_option("TOPIC", co.topic, "topic name")->required();
  consume->add_option("--group", co.group, "consumer group")->required();
  consume->add_option("--from", co.from, "start here instead of the group's committed offsets")->check(kPosition);
  consume->add_option("--max", co.max, "stop after printing N events (0: no limit)")->check(kNotNegative);
  consume->add_option("--idle-exit-ms", idle_ms, "stop when no new event arrived for T ms")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86400000}));

  auto* seek = with_common(app.add_subcommand("seek", "move group G's committed offsets on TOPIC"), c);
  seek->add_option("TOPIC", so.topic, "topic name")->required();
  seek->add_option("--group", so.group, "consumer group")->required();
  seek->add_option("--to", so.to, "earliest, latest, an offset or a time")->check(kPosition);
  seek->add_option("--shift-by", so.shift_by, "move N events from the committed offsets (negative: back)");
  seek->add_option("--to-duration", so.to_duration, "the first event at or after now minus D (ISO-8601: -PT10M)");
  seek->add_option("--partition", so.partition, "only this partition (default: all)");
  seek->add_flag("--create", so.create, "create group G if it never consumed TOPIC (otherwise an error names the known groups)");
  seek->add_flag("--execute", so.execute, "apply the move (without it: a dry run that prints old -> new)");
  seek->footer("Prints old -> new per partition and changes nothing without --execute.\n"
               "Examples:\n  weir seek DIR orders --group billing --to earliest\n"
               "  weir seek DIR orders --group billing --shift-by -100 --partition 3 --execute\n"
               "  weir seek DIR orders --group billing --to 2026-11-27T10:00:00Z --execute");

  GroupControlOptions gc;
  auto* pause = with_common(app.add_subcommand("pause", "pause group GROUP in the running owner (needs a live owner)"), c);
  pause->add_option("GROUP", gc.group, "consumer group")->required();
  pause->add_option("--topic", gc.topic, "only this topic of the group (default: all; a group over several topics needs it with --partition)");
  pause->add_option("--partition", gc.partition, "only this partition (default: all)");
  pause->footer("Example:\n  weir pause DIR billing --partition 2\n  weir pause DIR audit --topic shop.orders --partition 1");
  auto* resume = with_common(app.add_subcommand("resume", "resume a paused group (needs a live owner)"), c);
  resume->add_option("GROUP", gc.group, "consumer group")->required();
  resume->add_option("--topic", gc.topic, "only this topic of the group (default: all)");
  resume->add_option("--partition", gc.partition, "only this partition (default: all)");
  resume->footer("Example:\n  weir resume DIR billing");
  auto* set_workers =
      with_common(app.add_subcommand("set-workers", "set a running group's worker count (needs a live owner)"), c);
  set_workers->add_option("GROUP", gc.group, "consumer group")->required();
  set_workers->add_option("N", gc.workers, "worker threads (clamped to the partition count)")
      ->required()
      ->check(whole_number_in(1, weir::kMaxTopicPartitions));
  set_workers->footer("Example:\n  weir set-workers DIR billing 4");
  auto* console_url = with_common(
      app.add_subcommand("console-url", "the web console's URL, with its access token (needs a live owner)"), c);
  console_url->footer("Example:\n  xdg-open \"$(weir console-url DIR)\"");

  AlterTopicOptions at;
  auto* alter_topic = with_common(
      app.add_subcommand("alter-topic", "change a topic's options (some at once, some at the next start)"), c);
  alter_topic->add_option("TOPIC", at.topic, "topic name")->required();
  alter_topic->add_option("--partitions", at.partitions, "grow to N partitions (next start; keys map differently)")
      ->check(whole_number_in(1, weir::kMaxTopicPartitions));
  alter_topic->add_option("--capacity", at.capacity, "ring slots per partition, 16..16777216 (next start)")
      ->check(whole_number_in(weir::kMinTopicCapacity, weir::kMaxTopicCapacity));
  alter_topic->add_option("--full-policy", at.full_policy, "when a partition or the quota is full (now)")
      ->check(CLI::IsMember({"block", "reject"}));
  alter_topic->add_option("--block-timeout-ms", at.block_timeout_ms, "how long a blocked publish waits (now)")
      ->check(kNotNegative);
  alter_topic->add_option("--max-payload-bytes", at.max_payload_bytes, "largest payload, 1..67108864 (next start)")
      ->check(whole_number_in(1, weir::kMaxPayloadBytesLimit));
  alter_topic->add_option("--max-key-bytes", at.max_key_bytes, "largest key, 0..65536 (next start)")
      ->check(whole_number_in(0, weir::kMaxKeyBytesLimit));
  alter_topic->add_option("--default-ack", at.default_ack, "ack level of publishes that name none (now)")
      ->check(CLI::IsMember({"none", "journal", "fsync"}));
  alter_topic->add_option("--durability", at.durability, "cannot change; refused with the reason")
      ->check(CLI::IsMember({"memory", "journaled"}));
  alter_topic->add_option("--retention-age", at.retention_age,
                          "delete batches older than this ISO-8601 duration, e.g. P7D (now; 0: no limit)");
  alter_topic->add_option("--retention-bytes", at.retention_bytes, "keep at most N bytes per partition (now; 0: no limit)")
      ->check(kNotNegative);
  alter_topic->add_option("--retention-events", at.retention_events, "keep at most N events per partition (now; 0: no limit)")
      ->check(kNotNegative);
  alter_topic->add_option("--quota-bytes", at.quota_bytes, "most bytes the topic may hold (now; 0: none)")
      ->check(kNotNegative);
  alter_topic->footer(
      "Prints one row per changed field: topic, field, from, to, in_force (now | next start).\n"
      "Examples:\n  weir alter-topic DIR orders --retention-age P7D --quota-bytes 10000000000\n"
      "  weir alter-topic DIR billing.dlq --retention-age P30D\n"
      "  weir alter-topic DIR orders --partitions 16      (at the next start of the owner)");
  DeleteOptions del;
  auto* delete_topic = with_common(
      app.add_subcommand("delete-topic", "delete TOPIC, its events and every group's offsets on it (needs --yes)"), c);
  delete_topic->add_option("TOPIC", del.name, "topic name")->required();
  delete_topic->add_flag("--yes", del.yes, "confirm: this cannot be undone");
  delete_topic->footer("Refused while a group is subscribed to the topic in the owning process.\n"
                       "Example:\n  weir delete-topic DIR orders-old --yes");
  auto* delete_group = with_common(
      app.add_subcommand("delete-group",
                         "delete GROUP: its offsets, dedupe records, state tables and dead letters (needs --yes)"),
      c);
  delete_group->add_option("GROUP", del.name, "consumer group")->required();
  delete_group->add_flag("--yes", del.yes, "confirm: this cannot be undone");
  delete_group->footer("Refused while the group is subscribed in the owning process.\n"
                       "Example:\n  weir delete-group DIR bililng --yes     (a typo'd group left by seek --create)");

  StatusOptions st;
  auto* status = with_common(
      app.add_subcommand("status", "where an event stands for group G: done, in flight (worker, since when), "
                                   "retrying (attempt, next try at), parked, dead-lettered (reason, when) or "
                                   "not yet reached"),
      c);
  status->add_option("TOPIC", st.topic, "topic name")->required();
  status->add_option("--group", st.group, "consumer group")->required();
  status->add_option("--id", st.id, "the event's id (every partition is searched)");
  status->add_option("--key", st.key, "every retained event of this key (its partition)");
  status->add_option("--limit", st.limit, "at most N events (default 100)")->check(CLI::Range(1, 100000));
  status->footer("Prints topic, partition, offset, key, id, state, detail per matching event, oldest first.\n"
                 "Examples:\n  weir status DIR orders --group billing --key order-7\n"
                 "  weir status DIR orders --group billing --id 01a21bc6-59b2-7815-aa3b-d7f222f22b00 --json");

  auto* dlq = app.add_subcommand("dlq", "dead letters: list, show, redrive, purge, stats");
  dlq->require_subcommand(1);
  dlq->footer("Examples:\n  weir dlq list DIR --group billing\n  weir dlq show DIR 12 --group billing\n"
              "  weir dlq redrive DIR --group billing --reason declined --dry-run");
  auto* dlq_list = with_common(dlq->add_subcommand("list", "unsettled dead letters, oldest first"), c);
  dlq_list->add_option("--group", dq.group, "only this group (default: every group)");
  dlq_list->add_option("--limit", dq.limit, "at most N (default 1000)")->check(kNotNegative);
  add_filters(dlq_list, dq, true);
  auto* dlq_show = with_common(dlq->add_subcommand("show", "one dead letter in full"), c);
  dlq_show->add_option("DLQ_OFFSET", dq.offset, "its offset in <group>.dlq")->required()->check(kNotNegative);
  dlq_show->add_option("--group", dq.group, "consumer group")->required();
  auto* dlq_redrive = with_common(
      dlq->add_subcommand("redrive", "republish matching dead letters to their topic, for their group only"), c);
  dlq_redrive->add_option("--group", dq.group, "consumer group")->required();
  dlq_redrive->add_option("--limit", dq.limit, "at most N (default: all that match)")->check(kNotNegative);
  dlq_redrive->add_option("--rate", dq.rate, "at most this many per second (default 1000; 0: no limit)")
      ->check(kRate);
  dlq_redrive->add_flag("--dry-run", dq.dry_run, "list what would move, move nothing (read-only)");
  add_filters(dlq_redrive, dq, true);
  auto* dlq_purge = with_common(dlq->add_subcommand("purge", "mark matching dead letters purged"), c);
  dlq_purge->add_option("--group", dq.group, "consumer group")->required();
  dlq_purge->add_flag("--all", dq.all, "purge every dead letter of the group (needed when no filter is given)");
  add_filters(dlq_purge, dq, true);

  auto* dlq_stats = with_common(
      dlq->add_subcommand("stats", "unsettled dead letters counted by reason, type and age (since the last failure)"),
      c);
  dlq_stats->add_option("--group", dq.group, "only this group (default: every group)");
  add_filters(dlq_stats, dq, false);
  dlq_stats->footer("Rows: group, by (total | age | reason | type), value, count, oldest_failure; ages are <1h, "
                    "1h-1d, 1d-7d, >=7d.\nExample:\n  weir dlq stats DIR --group billing --json");

  std::string state_group, state_table, state_key;
  auto* state = app.add_subcommand("state", "transactional state tables of a group: get");
  state->require_subcommand(1);
  state->footer("Example:\n  weir state get DIR billing balances customer-42");
  auto* state_get = with_common(state->add_subcommand("get", "the committed value of KEY in TABLE of GROUP"), c);
  state_get->add_option("GROUP", state_group, "consumer group")->required();
  state_get->add_option("TABLE", state_table, "state table name")->required();
  state_get->add_option("KEY", state_key, "key")->required();
  state_get->footer("Read-only (what the owner committed); no value: exit 1.\n"
                    "Example:\n  weir state get DIR billing balances customer-42 --json");

  auto* verify = with_common(
      app.add_subcommand("verify",
                         "check data.mdb page by page, every record checksum and the journal's invariants; one row "
                         "per problem with its location (exit 3 on problems)"),
      c);
  std::string salvage_out;
  auto* salvage = with_common(
      app.add_subcommand("salvage",
                         "copy every readable, checksum-valid record (same offsets), topic options, group offsets "
                         "and state into the new directory OUT; report recovered and lost offset ranges per "
                         "partition (exit 3 if anything was lost)"),
      c);
  salvage->add_option("OUT", salvage_out, "new data directory to create (must not exist, or be empty)")->required();
  salvage->footer("Example:\n  weir verify DIR || weir salvage DIR DIR.salvaged");
  auto* stats = with_common(
      app.add_subcommand("stats", "events and bytes per topic, lag per group, DLQ depths, journal size"), c);
  auto* topc = with_common(
      app.add_subcommand("top", "live view: lag per partition, publish/consume rates, DLQ depths"), c);
  topc->add_option("--interval-ms", top.interval_ms, "refresh period (default 1000)")
      ->check(whole_number_in(10, 3600000));
  topc->add_option("--iterations", top.iterations, "stop after N refreshes (default: until interrupted)")
      ->check(kNotNegative);

  // Examples at the end of each subcommand's --help.
  const std::pair<CLI::App*, const char*> examples[] = {
      {topics, "weir topics /var/lib/shop/bus --json"},
      {describe, "weir describe DIR orders"},
      {groups, "weir groups DIR --group billing"},
      {tail, "weir tail DIR orders --from 2026-11-27T10:00:00Z --max 20\n  weir tail DIR orders --from latest --follow"},
      {produce, "printf 'order-7\\t{\"amount\":5}\\n' | weir produce DIR orders --ack fsync\n"
                "  weir produce DIR audit --partitions 4 < lines.tsv\n"
                "  weir produce DIR jobs --partitions 2 --priority-levels 3 --priority 2 < urgent.tsv"},
      {consume, "weir consume DIR orders --group audit --max 100 --json\n"
                "  weir consume DIR orders --group audit --idle-exit-ms 0"},
      {dlq_list, "weir dlq list DIR --group billing --reason declined"},
      {dlq_show, "weir dlq show DIR 12 --group billing"},
      {dlq_redrive, "weir dlq redrive DIR --group billing --reason declined --dry-run\n"
                    "  weir dlq redrive DIR --group billing --reason declined --rate 50"},
      {dlq_purge, "weir dlq purge DIR --group billing --key order-7\n  weir dlq purge DIR --group billing --all"},
      {verify, "weir verify DIR || echo damaged"},
      {stats, "weir stats DIR --json"},
      {topc, "weir top DIR --interval-ms 500"},
  };
  for (const auto& [sub, text] : examples) sub->footer(std::string("Example:\n  ") + text);
  if (std::string bad = unknown_command(app, argc, argv); !bad.empty()) {
    std::fprintf(stderr, "weir: %s (see --help)\n", bad.c_str());
    return kExitUsage;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::RequiredError& e) {
    if (quiet_missing) return kRetryWithWeirDir;
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  try {
    if (topics->parsed()) return cmd_topics(c);
    if (describe->parsed()) return cmd_describe(c, topic);
    if (groups->parsed()) return cmd_groups(c, group_filter, topic_filter);
    if (tail->parsed()) return cmd_tail(c, ro);
    if (produce->parsed()) return cmd_produce(c, po);
    if (consume->parsed()) {
      if (idle_ms >= 0) co.idle_exit_ms = idle_ms;
      return cmd_consume(c, co);
    }
    if (seek->parsed()) return cmd_seek(c, so);
    if (pause->parsed()) return cmd_pause(c, gc, true);
    if (resume->parsed()) return cmd_pause(c, gc, false);
    if (set_workers->parsed()) return cmd_set_workers(c, gc);
    if (console_url->parsed()) return cmd_console_url(c);
    if (alter_topic->parsed()) return cmd_alter_topic(c, at);
    if (status->parsed()) return cmd_status(c, st);
    if (delete_topic->parsed()) return cmd_delete_topic(c, del);
    if (delete_group->parsed()) return cmd_delete_group(c, del);
    if (dlq_list->parsed()) return cmd_dlq_list(c, dq);
    if (dlq_show->parsed()) return cmd_dlq_show(c, dq);
    if (dlq_redrive->parsed()) return cmd_dlq_redrive(c, dq);
    if (dlq_purge->parsed()) return cmd_dlq_purge(c, dq);
    if (dlq_stats->parsed()) return cmd_dlq_stats(c, dq);
    if (state_get->parsed()) return cmd_state_get(c, state_group, state_table, state_key);
    if (verify->parsed()) return cmd_verify(c);
    if (salvage->parsed()) return cmd_salvage(c, salvage_out);
    if (stats->parsed()) return cmd_stats(c);
    if (topc->parsed()) return cmd_top(c, top);
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "weir: %s\n", e.message.c_str());
    return e.code;
  }
  return kExitUsage;
}

int main(int argc, char** argv) {
  install_signals();
  const char* env_dir = std::getenv("WEIR_DIR");
  if (env_dir == nullptr || *env_dir == '\0') return run(argc, argv, false);
  const int rc = run(argc, argv, true);
  if (rc != kRetryWithWeirDir) return rc;
  // A required argument is missing: DIR, taken from $WEIR_DIR, goes right
  // after the subcommand's name(s) ("dlq" has its own).
  std::vector<char*> args(argv, argv + argc);
  std::size_t at = 1;
  while (at < args.size() && args[at][0] == '-') ++at;
  if (at < args.size() && (std::string_view(args[at]) == "dlq" || std::string_view(args[at]) == "state")) ++at;
  if (at < args.size()) ++at;
  std::string dir = env_dir;
  args.insert(args.begin() + static_cast<std::ptrdiff_t>(std::min(at, args.size())), dir.data());
  return run(static_cast<int>(args.size()), args.data(), false);
}
