// weir status: where events stand for a group (Bus::locate), through the
// live owner when a process owns the directory, otherwise from a bus this
// command opens on it (the states then come from what is stored).
#include "commands.hpp"
#include "live.hpp"

namespace weir::cli {

namespace {

// The control protocol's "location" object (docs/control-protocol.md).
Row location_row(const EventLocation& l) {
  Row j{{"topic", l.topic}, {"partition", l.partition}, {"offset", l.offset}, {"id", l.id}};
  put_bytes(j, "key", l.key);
  j["time_us"] = l.time_us;
  j["state"] = std::string(state_name(l.state));
  j["committed"] = l.committed ? Row(*l.committed) : Row();
  j["ahead"] = l.ahead;
  j["attempt"] = l.attempt;
  j["parked_behind"] = l.parked_behind;
  j["worker"] = l.worker;
  j["reason"] = l.reason;
  j["dead_lettered_us"] = l.dead_lettered_us;
  j["dlq_offset"] = l.dlq_offset;
  j["group_running"] = l.group_running;
  j["paused"] = l.paused;
  j["stopped"] = l.stopped;
  return j;
}

// One line for people: what the state means for this event.
std::string detail(const Row& l) {
  const std::string state = l["state"];
  std::string d;
  if (state == "done") {
    d = "handled: the group's committed offset " + std::to_string(l["committed"].get<std::uint64_t>()) + " is past it";
  } else if (state == "in_flight") {
    d = "in flight: handed to worker " + std::to_string(l["worker"].get<int>()) + ", not yet acknowledged";
  } else if (state == "retrying") {
    d = "retrying: on attempt " + std::to_string(l["attempt"].get<std::uint32_t>());
  } else if (state == "parked") {
    d = "parked behind offset " + std::to_string(l["parked_behind"].get<std::uint64_t>()) +
        ", a failing event of the same key";
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
    if (!r) fail_status(r.status());
    for (const EventLocation& l : *r) found.push_back(location_row(l));
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

}  // namespace weir::cli
