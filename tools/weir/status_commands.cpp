// Questions an operator asks of one group: weir status (where events stand
// for it: Bus::locate, through the live owner when a process owns the
// directory, otherwise from a bus this command opens on it), weir dlq stats
// (its dead letters counted by reason, type and age) and weir state get
// (one value of its state tables); the last two read with the Inspector.
#include <algorithm>
#include <cstdio>
#include <map>

#include "commands.hpp"
#include "live.hpp"

namespace weir::cli {

namespace {

// "1.5 s ago" for a time in the past.
std::string seconds_ago(std::int64_t time_us) {
  const double s = static_cast<double>(std::max<std::int64_t>(0, now_us() - time_us)) / 1e6;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s ago", s);
  return buf;
}

// One line for people: what the state means for this event.
std::string detail(const Row& l) {
  const std::string state = l["state"];
  std::string d;
  if (state == "done") {
    d = "handled: the group's committed offset " + std::to_string(l["committed"].get<std::uint64_t>()) + " is past it";
  } else if (state == "in_flight") {
    d = "in flight: handed to worker " + std::to_string(l["worker"].get<int>());
    if (const std::int64_t since = l["in_flight_since_us"].get<std::int64_t>(); since > 0)
      d += " at " + iso_time(since) + " (" + seconds_ago(since) + ")";
    d += ", not yet acknowledged";
  } else if (state == "retrying") {
    d = "retrying: on attempt " + std::to_string(l["attempt"].get<std::uint32_t>());
    if (const std::int64_t next = l["next_try_us"].get<std::int64_t>(); next > 0)
      d += ", next try at " + iso_time(next);
    else
      d += ", next try when the group runs again";
  } else if (state == "parked") {
    d = "parked behind offset " + std::to_string(l["parked_behind"].get<std::uint64_t>()) +
        ", a failing event of the same key";
  } else if (state == "scheduled") {
    d = "scheduled for " + iso_time(l["scheduled_us"].get<std::int64_t>()) + ": no handler sees it before then";
  } else if (state == "dead_lettered") {
    d = "dead-lettered " + iso_time(l["dead_lettered_us"].get<std::int64_t>()) + " after " +
        std::to_string(l["attempt"].get<std::uint32_t>()) + " attempt(s): " + l["reason"].get<std::string>() +
        " (dlq offset " + std::to_string(l["dlq_offset"].get<std::uint64_t>()) + ")";
  } else {
    d = "not yet reached: " + std::to_string(l["ahead"].get<std::uint64_t>()) + " event(s) of the partition ahead of it";
  }
  if (!l["group_running"].get<bool>()) d += " (group not running)";
  if (l["paused"].get<bool>()) d += " (partition paused)";
  if (l["stopped"].get<bool>()) d += " (partition stopped by a permanent failure)";
  return d;
}

}  // namespace

int cmd_status(const Common& c, const StatusOptions& o) {
  if (o.id.empty() == o.key.empty()) fail("status needs exactly one of --id and --key", kExitUsage);
  if (!valid_name(o.group))
    fail("group name '" + o.group + "' is invalid: 1..249 characters of [A-Za-z0-9._-]", kExitUsage);
  open_inspector(c.dir);
  std::vector<Row> found;
  if (auto owner = LiveOwner::connect(c.dir, "status")) {
    Row req{{"verb", "locate"}, {"group", o.group}, {"topic", o.topic}, {"limit", o.limit}};
    if (!o.id.empty()) req["id"] = o.id;
    else req["key"] = o.key;
    std::vector<Row> lines;
    owner->request(req, &lines);
    for (Row& l : lines)
      if (l.contains("location")) found.push_back(std::move(l["location"]));
  } else {
    auto bus = open_bus(c.dir, "status");
    EventRef ref;
    ref.id = o.id;
    ref.key = o.key;
    auto r = bus->locate(o.group, o.topic, ref, o.limit);
    if (!r) fail_status(r.status(), c.dir);
    for (const EventLocation& l : *r) found.push_back(Row::parse(to_json(l)));
    close_bus(*bus);
  }
  if (found.empty())
    fail("no event with " + (o.id.empty() ? "key '" + o.key + "'" : "id '" + o.id + "'") + " in topic '" + o.topic +
         "' (retention may have deleted it)");
  Table t({"topic", "partition", "offset", "key", "id", "state", "detail"}, c.json);
  for (Row& l : found) {
    l["group"] = o.group;
    if (!c.json) l["detail"] = detail(l);
    t.add(std::move(l));
  }
  t.flush();
  return kExitOk;
}

int cmd_dlq_stats(const Common& c, const DlqOptions& o) {
  auto in = open_inspector(c.dir);
  const DeadLetterFilter f = filter_of(o);
  const std::int64_t now = now_us();
  // Age since the last failure, in buckets an SLA is stated in.
  auto age_bucket = [now](std::int64_t last_us) -> const char* {
    const std::int64_t h = (now - last_us) / 3600000000;
    return h < 1 ? "<1h" : h < 24 ? "1h-1d" : h < 24 * 7 ? "1d-7d" : ">=7d";
  };
  struct Count {
    std::uint64_t n = 0;
    std::int64_t oldest_us = 0;
  };
  Table t({"group", "by", "value", "count", "oldest_failure"}, c.json);
  for (const std::string& g : dlq_groups(*in, o.group)) {
    auto letters = in->dlq_list(g, f, ~std::size_t{0});
    if (!letters) fail_status(letters.status());
    std::map<std::pair<std::string, std::string>, Count> counts;
    auto add = [&](const char* by, const std::string& value, const DeadLetter& d) {
      Count& k = counts[{by, value}];
      ++k.n;
      if (k.oldest_us == 0 || d.last_failure_us < k.oldest_us) k.oldest_us = d.last_failure_us;
    };
    for (const DeadLetter& d : *letters) {
      add("total", "", d);
      add("reason", d.reason, d);
      add("type", d.type, d);
      add("age", age_bucket(d.last_failure_us), d);
    }
    // total first, then age, reason and type, each by count (most first).
    for (const char* by : {"total", "age", "reason", "type"}) {
      std::vector<std::pair<std::string, Count>> rows;
      for (const auto& [k, v] : counts)
        if (k.first == by) rows.emplace_back(k.second, v);
      std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.n > b.second.n; });
      for (const auto& [value, k] : rows) {
        Row r;
        r["group"] = g;
        r["by"] = by;
        r["value"] = value;
        r["count"] = k.n;
        r["oldest_failure"] = iso_time(k.oldest_us);
        t.add(std::move(r));
      }
    }
  }
  t.flush();
  return kExitOk;
}

int cmd_state_get(const Common& c, const std::string& group, const std::string& table, const std::string& key) {
  if (!valid_name(group))
    fail("group name '" + group + "' is invalid: 1..249 characters of [A-Za-z0-9._-]", kExitUsage);
  if (table.empty()) fail("state table name is empty", kExitUsage);
  auto in = open_inspector(c.dir);
  auto v = in->state_get(group, table, key);
  if (!v) fail_status(v.status());
  if (!*v) fail("no value for key '" + key + "' in state table '" + table + "' of group '" + group + "'");
  Table t({"group", "table", "key", "value"}, c.json);
  Row r;
  r["group"] = group;
  r["table"] = table;
  put_bytes(r, "key", key);
  put_bytes(r, "value", **v);
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

}  // namespace weir::cli
