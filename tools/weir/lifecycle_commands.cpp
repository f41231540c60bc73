// Topic and group lifecycle: alter-topic, delete-topic, delete-group. Each
// goes through the live owner's control socket when a process owns the
// directory, and opens the directory itself otherwise; both paths print the
// same rows.
#include <chrono>

#include "commands.hpp"
#include "live.hpp"
#include "positions.hpp"

namespace weir::cli {

namespace {

// The requested changes as the control protocol's "changes" object
// (docs/control-protocol.md), which is also what the offline path reads.
Row changes_json(const AlterTopicOptions& o) {
  Row ch = Row::object();
  if (o.partitions) ch["partitions"] = *o.partitions;
  if (o.capacity) ch["capacity"] = *o.capacity;
  if (o.full_policy) ch["full_policy"] = *o.full_policy;
  if (o.block_timeout_ms) ch["block_timeout_ms"] = *o.block_timeout_ms;
  if (o.max_payload_bytes) ch["max_payload_bytes"] = *o.max_payload_bytes;
  if (o.max_key_bytes) ch["max_key_bytes"] = *o.max_key_bytes;
  if (o.durability) ch["durability"] = *o.durability;
  if (o.default_ack) ch["default_ack"] = *o.default_ack;
  if (o.retention_age) {
    // parse_duration_us reads a sign as a direction (seek's -PT10M: back); an
    // age is a length.
    if (o.retention_age->starts_with('-'))
      fail("--retention-age '" + *o.retention_age + "' is negative; give a duration like P7D (0: no limit)",
           kExitUsage);
    auto us = parse_duration_us(*o.retention_age);
    if (*o.retention_age == "0") us = 0;
    if (!us)
      fail("--retention-age '" + *o.retention_age + "' is not an ISO-8601 duration like P7D or PT12H (0: no limit)",
           kExitUsage);
    if (*us % 1000000 != 0) fail("--retention-age '" + *o.retention_age + "' must be whole seconds", kExitUsage);
    ch["retention_age_s"] = *us / 1000000;
  }
  if (o.retention_bytes) ch["retention_bytes"] = *o.retention_bytes;
  if (o.retention_events) ch["retention_events"] = *o.retention_events;
  if (o.quota_bytes) ch["quota_bytes"] = *o.quota_bytes;
  return ch;
}

TopicChanges changes_of(const Row& ch) {
  TopicChanges c;
  auto u32 = [&](const char* k, std::optional<std::uint32_t>& f) {
    if (ch.contains(k)) f = ch[k].get<std::uint32_t>();
  };
  u32("partitions", c.partitions);
  u32("capacity", c.capacity);
  u32("max_payload_bytes", c.max_payload_bytes);
  u32("max_key_bytes", c.max_key_bytes);
  if (ch.contains("full_policy"))
    c.full_policy = ch["full_policy"] == "reject" ? FullPolicy::kReject : FullPolicy::kBlock;
  if (ch.contains("block_timeout_ms")) c.block_timeout = std::chrono::milliseconds(ch["block_timeout_ms"].get<std::int64_t>());
  if (ch.contains("durability"))
    c.durability = ch["durability"] == "memory" ? Durability::kMemory : Durability::kJournaled;
  if (ch.contains("default_ack")) {
    const std::string a = ch["default_ack"];
    c.default_ack = a == "none" ? Ack::kNone : a == "fsync" ? Ack::kFsync : Ack::kJournal;
  }
  if (ch.contains("retention_age_s")) c.retention_age = std::chrono::seconds(ch["retention_age_s"].get<std::int64_t>());
  if (ch.contains("retention_bytes")) c.retention_bytes = ch["retention_bytes"].get<std::uint64_t>();
  if (ch.contains("retention_events")) c.retention_events = ch["retention_events"].get<std::uint64_t>();
  if (ch.contains("quota_bytes")) c.quota_bytes = ch["quota_bytes"].get<std::uint64_t>();
  return c;
}

void refuse_unconfirmed(const DeleteOptions& o, const std::string& what) {
  if (!o.yes) fail(what + " cannot be undone; add --yes to confirm", kExitUsage);
}

}  // namespace

int cmd_alter_topic(const Common& c, const AlterTopicOptions& o) {
  const Row ch = changes_json(o);
  if (ch.empty()) fail("alter-topic needs at least one option to change (see --help)", kExitUsage);
  open_inspector(c.dir);  // a weir journal, with a clear error if not
  std::vector<Row> changes;
  if (auto owner = LiveOwner::connect(c.dir, "alter-topic")) {
    std::vector<Row> lines;
    owner->request(Row{{"verb", "alter_topic"}, {"topic", o.topic}, {"changes", ch}}, &lines);
    for (Row& l : lines)
      if (l.contains("change")) changes.push_back(std::move(l["change"]));
  } else {
    auto bus = open_bus(c.dir, "alter-topic");
    auto r = bus->alter_topic(o.topic, changes_of(ch));
    if (!r) fail_status(r.status(), c.dir);
    for (const TopicChange& tc : *r)
      changes.push_back(Row{{"field", tc.field}, {"from", tc.from}, {"to", tc.to}, {"at_next_start", tc.at_next_start}});
    close_bus(*bus);
  }
  Table t({"topic", "field", "from", "to", "in_force"}, c.json);
  for (const Row& tc : changes) {
    Row r;
    r["topic"] = o.topic;
    r["field"] = tc["field"];
    r["from"] = tc["from"];
    r["to"] = tc["to"];
    r["in_force"] = tc["at_next_start"].get<bool>() ? "next start" : "now";
    t.add(std::move(r));
  }
  t.flush();
  if (changes.empty() && !c.json) std::fprintf(stderr, "weir: topic '%s' already has these values\n", o.topic.c_str());
  return kExitOk;
}

int cmd_delete_topic(const Common& c, const DeleteOptions& o) {
  refuse_unconfirmed(o, "delete-topic removes topic '" + o.name + "' with all its events and every group's offsets on it;");
  open_inspector(c.dir);
  Row r;
  r["topic"] = o.name;
  if (auto owner = LiveOwner::connect(c.dir, "delete-topic")) {
    Row res = owner->request(Row{{"verb", "delete_topic"}, {"topic", o.name}});
    r["partitions"] = res["partitions"];
    r["events"] = res["events"];
    r["groups"] = res["groups"];
  } else {
    auto bus = open_bus(c.dir, "delete-topic");
    auto d = bus->delete_topic(o.name);
    if (!d) fail_status(d.status(), c.dir);
    r["partitions"] = d->partitions;
    r["events"] = d->events;
    r["groups"] = d->groups;
    close_bus(*bus);
  }
  Table t({"topic", "partitions", "events", "groups"}, c.json);
  if (!c.json) {
    std::string g;
    for (const auto& n : r["groups"]) g += (g.empty() ? "" : ",") + n.get<std::string>();
    r["groups"] = g.empty() ? "-" : g;
  }
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

int cmd_delete_group(const Common& c, const DeleteOptions& o) {
  refuse_unconfirmed(o, "delete-group removes group '" + o.name +
                            "': its offsets, dedupe records, state tables and dead letters;");
  if (!valid_name(o.name))
    fail("group name '" + o.name + "' is invalid: 1..249 characters of [A-Za-z0-9._-]", kExitUsage);
  open_inspector(c.dir);
  static const char* const kFields[] = {"offsets", "dedupe_records", "state_values", "dead_letter_topic",
                                        "dead_letters"};
  Row r;
  r["group"] = o.name;
  if (auto owner = LiveOwner::connect(c.dir, "delete-group")) {
    Row res = owner->request(Row{{"verb", "delete_group"}, {"group", o.name}});
    for (const char* f : kFields) r[f] = res[f];
  } else {
    auto bus = open_bus(c.dir, "delete-group");
    auto d = bus->delete_group(o.name);
    if (!d) fail_status(d.status());
    r["offsets"] = d->offsets;
    r["dedupe_records"] = d->dedupe_records;
    r["state_values"] = d->state_values;
    r["dead_letter_topic"] = d->dead_letter_topic;
    r["dead_letters"] = d->dead_letters;
    close_bus(*bus);
  }
  Table t({"group", "offsets", "dedupe_records", "state_values", "dead_letter_topic", "dead_letters"}, c.json);
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

}  // namespace weir::cli
