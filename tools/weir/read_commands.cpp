// Read-only subcommands: they open the journal with weir::Inspector and may
// run while the owning process is live.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "commands.hpp"

namespace weir::cli {

namespace {

std::vector<PartitionInfo> partitions_of(Inspector& in, const std::string& topic) {
  auto parts = in.partitions(topic);
  if (!parts) fail_status(parts.status());
  return std::move(parts).value();
}

void sleep_unless_stopped(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
}

Row dead_letter_row(const std::string& group, const DeadLetter& d) {
  Row r;
  r["group"] = group;
  r["dlq_offset"] = d.dlq_offset;
  r["topic"] = d.topic;
  r["partition"] = d.partition;
  r["offset"] = d.offset;
  put_bytes(r, "key", d.key);
  r["type"] = d.type;
  r["reason"] = d.reason;
  r["attempts"] = d.attempts;
  r["last_failure"] = d.last_failure_us ? Row(iso_time(d.last_failure_us)) : Row();
  r["id"] = d.id;
  return r;
}

}  // namespace

int cmd_topics(const Common& c) {
  auto in = open_inspector(c.dir);
  auto topics = in->topics();
  if (!topics) fail_status(topics.status());
  Table t({"topic", "partitions", "events", "bytes", "retention_age_s", "retention_bytes", "retention_events",
           "quota_bytes", "priority_levels"},
          c.json);
  for (const TopicInfo& ti : *topics) {
    Row r;
    r["topic"] = ti.name;
    r["partitions"] = ti.options.partitions;
    r["events"] = ti.events;
    r["bytes"] = ti.bytes;
    r["retention_age_s"] = ti.options.retention_age.count();
    r["retention_bytes"] = ti.options.retention_bytes;
    r["retention_events"] = ti.options.retention_events;
    r["quota_bytes"] = ti.options.quota_bytes;
    r["priority_levels"] = ti.options.priority_levels;
    t.add(std::move(r));
  }
  t.flush();
  return kExitOk;
}

int cmd_describe(const Common& c, const std::string& topic) {
  auto in = open_inspector(c.dir);
  Table t({"topic", "partition", "start", "end", "bytes"}, c.json);
  for (const PartitionInfo& p : partitions_of(*in, topic)) {
    Row r;
    r["topic"] = p.topic;
    r["partition"] = p.partition;
    r["start"] = p.start;
    r["end"] = p.end;
    r["bytes"] = p.bytes;
    t.add(std::move(r));
  }
  t.flush();
  return kExitOk;
}

int cmd_groups(const Common& c, const std::string& group, const std::string& topic) {
  auto in = open_inspector(c.dir);
  if (!topic.empty()) partitions_of(*in, topic);  // an unknown topic is an error, not an empty table
  auto lags = in->group_lags();
  if (!lags) fail_status(lags.status());
  Table t({"group", "topic", "partition", "committed", "end", "lag", "skewed"}, c.json);
  bool any = false;
  std::set<std::string> known;
  for (const GroupLag& g : *lags) {
    known.insert(g.group);
    if ((!group.empty() && g.group != group) || (!topic.empty() && g.topic != topic)) continue;
    any = true;
    t.add(group_lag_row(g));
  }
  if (!any && !group.empty()) {
    if (known.count(group)) fail("group '" + group + "' has no committed offsets on topic '" + topic + "'");
    fail("group '" + group + "' has no committed offsets in '" + c.dir + "' " + known_groups(known));
  }
  t.flush();
  return kExitOk;
}

int cmd_tail(const Common& c, const ReadOptions& o) {
  auto in = open_inspector(c.dir);
  const Position from = *parse_position(o.from);
  std::vector<PartitionInfo> parts = partitions_of(*in, o.topic);
  if (o.partition) {
    if (*o.partition >= parts.size())
      fail("partition " + std::to_string(*o.partition) + " out of range: topic '" + o.topic + "' has " +
           std::to_string(parts.size()) + " partitions");
    parts = {parts[*o.partition]};
  }
  std::vector<std::uint64_t> next;
  for (const auto& p : parts) next.push_back(start_offset(*in, p, from));
  Table t(event_columns(), c.json);
  std::uint64_t printed = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    bool got = false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (o.max && printed >= o.max) break;
      const std::size_t want = o.max ? std::min<std::uint64_t>(256, o.max - printed) : 256;
      const std::uint64_t at = next[i];
      const std::vector<Record> recs = read_on(*in, o.topic, parts[i].partition, next[i], want);
      if (next[i] != at) got = true;  // moved past a retention gap
      for (const Record& r : recs) {
        t.add(event_row(r));
        next[i] = r.offset + 1;
        ++printed;
        got = true;
      }
      if (!recs.empty() && !t.flush()) return kExitOk;  // stdout closed: the reader chose to stop
    }
    if (o.max && printed >= o.max) break;
    if (!got) {
      if (!o.follow) break;
      sleep_unless_stopped(std::chrono::milliseconds(100));
    }
  }
  t.flush();
  return kExitOk;
}

int cmd_stats(const Common& c) {
  auto in = open_inspector(c.dir);
  auto topics = in->topics();
  if (!topics) fail_status(topics.status());
  auto lags = in->group_lags();
  if (!lags) fail_status(lags.status());
  auto dlqs = in->dlq_depths();
  if (!dlqs) fail_status(dlqs.status());
  auto usage = in->usage();
  if (!usage) fail_status(usage.status());

  Table tt({"topic", "partitions", "events", "bytes"}, c.json);
  for (const TopicInfo& ti : *topics) {
    Row r;
    r["kind"] = "topic";
    r["topic"] = ti.name;
    r["partitions"] = ti.options.partitions;
    r["events"] = ti.events;
    r["bytes"] = ti.bytes;
    tt.add(std::move(r));
  }
  tt.flush();
  // Per group and topic: total lag, and how many partitions are skewed.
  std::map<std::pair<std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> by_group;
  for (const GroupLag& g : *lags) {
    auto& [lag, skewed] = by_group[{g.group, g.topic}];
    lag += g.lag;
    skewed += g.skewed ? 1 : 0;
  }
  if (!c.json) std::printf("\n");
  Table gt({"group", "topic", "lag", "skewed_partitions"}, c.json);
  for (const auto& [gtopic, v] : by_group) {
    Row r;
    r["kind"] = "group";
    r["group"] = gtopic.first;
    r["topic"] = gtopic.second;
    r["lag"] = v.first;
    r["skewed_partitions"] = v.second;
    gt.add(std::move(r));
  }
  gt.flush();
  if (!c.json) std::printf("\n");
  Table dt({"dlq_group", "depth", "oldest_failure"}, c.json);
  for (const DeadLetterDepth& d : *dlqs) dt.add(dlq_depth_row(d));
  dt.flush();
  if (!c.json) std::printf("\n");
  Table jt({"journal_file_bytes", "map_bytes", "used_bytes", "map_used_pct", "readers"}, c.json);
  Row r;
  r["kind"] = "journal";
  r["journal_file_bytes"] = usage->file_bytes;
  r["map_bytes"] = usage->map_bytes;
  r["used_bytes"] = usage->used_bytes;
  r["map_used_pct"] = usage->map_bytes ? 100.0 * static_cast<double>(usage->used_bytes) /
                                             static_cast<double>(usage->map_bytes)
                                       : 0.0;
  r["readers"] = usage->readers;
  jt.add(std::move(r));
  jt.flush();
  return kExitOk;
}

int cmd_top(const Common& c, const TopOptions& o) {
  auto in = open_inspector(c.dir);
  const bool tty = !c.json && ::isatty(STDOUT_FILENO);
  std::map<std::string, std::uint64_t> prev_topic_end;                          // topic -> sum of ends
  std::map<std::tuple<std::string, std::string, std::uint32_t>, std::uint64_t> prev_pos;  // group position
  auto prev_t = std::chrono::steady_clock::now();
  for (std::uint64_t it = 1; !g_stop.load(std::memory_order_relaxed); ++it) {
    auto topics = in->topics();
    if (!topics) fail_status(topics.status());
    auto lags = in->group_lags();
    if (!lags) fail_status(lags.status());
    auto dlqs = in->dlq_depths();
    if (!dlqs) fail_status(dlqs.status());
    const auto t = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(t - prev_t).count();
    prev_t = t;
    auto rate = [&](bool first, std::uint64_t now, std::uint64_t before) -> Row {
      if (first || secs <= 0) return Row();
      return static_cast<double>(now >= before ? now - before : 0) / secs;
    };

    if (tty) std::fputs("\x1b[H\x1b[2J", stdout);
    if (!c.json)
      std::printf("weir top  %s  %s  (every %lld ms; ctrl-c quits)\n\n", c.dir.c_str(), iso_time(now_us()).c_str(),
                  static_cast<long long>(o.interval_ms));
    Table tt({"topic", "events", "end", "publish_per_s"}, c.json);
    std::map<std::string, std::uint64_t> topic_end;
    for (const TopicInfo& ti : *topics) {
      auto parts = in->partitions(ti.name);
      if (!parts) fail_status(parts.status());
      std::uint64_t end = 0;
      for (const auto& p : *parts) end += p.end;
      topic_end[ti.name] = end;
      auto before = prev_topic_end.find(ti.name);
      Row r;
      r["kind"] = "topic";
      r["iteration"] = it;
      r["topic"] = ti.name;
      r["events"] = ti.events;
      r["end"] = end;
      r["publish_per_s"] = rate(before == prev_topic_end.end(), end, before == prev_topic_end.end() ? 0 : before->second);
      tt.add(std::move(r));
    }
    tt.flush();
    if (!c.json) std::printf("\n");
    Table gt({"group", "topic", "partition", "committed", "end", "lag", "skewed", "consume_per_s"}, c.json);
    std::map<std::tuple<std::string, std::string, std::uint32_t>, std::uint64_t> pos;
    for (const GroupLag& g : *lags) {
      const auto key = std::make_tuple(g.group, g.topic, g.partition);
      const std::uint64_t at = std::max(g.committed.value_or(g.start), g.start);
      pos[key] = at;
      auto before = prev_pos.find(key);
      Row r = group_lag_row(g);
      r["kind"] = "partition";
      r["iteration"] = it;
      r["consume_per_s"] = rate(before == prev_pos.end(), at, before == prev_pos.end() ? 0 : before->second);
      gt.add(std::move(r));
    }
    gt.flush();
    if (!c.json) std::printf("\n");
    Table dt({"dlq_group", "depth", "oldest_failure"}, c.json);
    for (const DeadLetterDepth& d : *dlqs) {
      Row r = dlq_depth_row(d);
      r["iteration"] = it;
      dt.add(std::move(r));
    }
    if (!dt.flush()) return kExitOk;  // stdout closed: the reader chose to stop
    prev_topic_end = std::move(topic_end);
    prev_pos = std::move(pos);
    if (o.iterations && it >= o.iterations) break;
    if (!c.json && !tty) std::printf("\n");  // snapshots apart
    std::fflush(stdout);
    sleep_unless_stopped(std::chrono::milliseconds(o.interval_ms));
  }
  return kExitOk;
}

int cmd_dlq_list(const Common& c, const DlqOptions& o) {
  auto in = open_inspector(c.dir);
  const DeadLetterFilter f = filter_of(o);
  const std::vector<std::string> groups = dlq_groups(*in, o.group);
  Table t({"group", "dlq_offset", "topic", "partition", "offset", "key", "type", "reason", "attempts",
           "last_failure", "id"},
          c.json);
  std::size_t left = o.limit.value_or(1000);
  for (const std::string& g : groups) {
    auto letters = in->dlq_list(g, f, left);
    if (!letters) fail_status(letters.status());
    for (const DeadLetter& d : *letters) t.add(dead_letter_row(g, d));
    left -= letters->size();
    if (left == 0) break;
  }
  t.flush();
  return kExitOk;
}

int cmd_dlq_show(const Common& c, const DlqOptions& o) {
  auto in = open_inspector(c.dir);
  auto e = in->dlq_show(o.group, *o.offset);
  if (!e) fail_status(e.status());
  Row r = dead_letter_row(o.group, e->letter);
  r["first_failure"] = e->letter.first_failure_us ? Row(iso_time(e->letter.first_failure_us)) : Row();
  r["time"] = iso_time(e->letter.time_us);
  put_bytes(r, "value", e->payload);
  Row headers = Row::array();
  for (const auto& [name, value] : e->headers) {
    Row h;
    h["name"] = valid_utf8(name) ? name : base64(name);
    put_bytes(h, "value", value);
    headers.push_back(std::move(h));
  }
  r["headers"] = std::move(headers);
  if (c.json) {
    Table t({}, true);
    t.add(std::move(r));
    t.flush();
    return kExitOk;
  }
  // One event: a field per line reads better than one very wide row.
  Table t({"field", "value"}, false);
  for (const char* f : {"group", "dlq_offset", "topic", "partition", "offset", "key", "type", "reason", "attempts",
                        "first_failure", "last_failure", "time", "id", "value", "headers"}) {
    Row line;
    line["field"] = f;
    if (r.contains(f)) line["value"] = r[f];
    else if (r.contains(std::string(f) + "_b64")) line["value_b64"] = r[std::string(f) + "_b64"];
    t.add(std::move(line));
  }
  t.flush();
  return kExitOk;
}

}  // namespace weir::cli
