// The control protocol's verbs over the public Bus API. Requests and
// responses are JSON objects; docs/control-protocol.md is the reference.
#include "control/verbs.hpp"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/request.hpp"
#include "weir/control.hpp"

namespace weir::internal {

using nlohmann::json;

// --- ConsumeLeases -----------------------------------------------------------

std::string ConsumeLeases::claim(const std::string& group, std::uint64_t connection) {
  MutexLock lock(mu_);
  auto [it, inserted] = holder_.emplace(group, connection);
  if (inserted || it->second == connection) return {};
  return "group '" + group + "' is being consumed by another `weir consume`; one consumer per group at a time";
}

bool ConsumeLeases::held_by(const std::string& group, std::uint64_t connection) const {
  MutexLock lock(mu_);
  auto it = holder_.find(group);
  return it != holder_.end() && it->second == connection;
}

bool ConsumeLeases::held_by_other(const std::string& group, std::uint64_t connection) const {
  MutexLock lock(mu_);
  auto it = holder_.find(group);
  return it != holder_.end() && it->second != connection;
}

void ConsumeLeases::release_all(std::uint64_t connection) {
  MutexLock lock(mu_);
  std::erase_if(holder_, [&](const auto& kv) { return kv.second == connection; });
}

namespace {

using namespace request;  // the verbs read requests with control/request.hpp

constexpr std::size_t kMaxPublishEvents = 4096;
constexpr auto kAckTimeout = std::chrono::seconds(30);

struct Context {
  Bus& bus;
  ConsumeLeases& leases;
  std::uint64_t connection;
  const EmitLine& emit;
};

json ok() { return json{{"ok", true}}; }

void refuse_if_consumed(Context& c, const std::string& group) {
  if (c.leases.held_by_other(group, c.connection))
    throw BadRequest{Status::failed_precondition("group '" + group +
                                                 "' is being consumed by a `weir consume`; stop it first")};
}

// --- verbs -------------------------------------------------------------------

json verb_ping(Context&, const json&) {
  return json{{"ok", true}, {"protocol", kControlProtocolVersion}};
}

json verb_topics(Context& c, const json&) {
  json list = json::array();
  for (const std::string& name : c.bus.topics()) {
    auto t = c.bus.topic(name);
    if (t) list.push_back(json{{"topic", name}, {"partitions", t->partitions()}});
  }
  json r = ok();
  r["topics"] = std::move(list);
  return r;
}

json verb_create_topic(Context& c, const json& req) {
  TopicOptions o;
  o.partitions = static_cast<std::uint32_t>(need_uint(req, "partitions", 0xFFFFFFFFu));
  const std::string d = opt_string(req, "durability").value_or("journaled");
  if (d == "journaled") o.durability = Durability::kJournaled;
  else if (d != "memory") bad("field \"durability\" must be journaled or memory, not '" + d + "'");
  o.priority_levels = static_cast<std::uint32_t>(opt_uint(req, "priority_levels", 0xFFFFFFFFu).value_or(1));
  check(c.bus.create_topic(need_string(req, "topic"), o));
  return ok();
}

json verb_publish(Context& c, const json& req) {
  auto topic = c.bus.topic(need_string(req, "topic"));
  check(topic.status());
  const Ack ack = ack_of(req);
  const auto priority = static_cast<std::uint32_t>(opt_uint(req, "priority", 0xFFFFFFFFu).value_or(0));
  const json* events = field(req, "events");
  if (!events || !events->is_array()) bad("field \"events\" must be an array of {key, value} objects");
  if (events->size() > kMaxPublishEvents)
    bad("at most " + std::to_string(kMaxPublishEvents) + " events per publish request, not " +
        std::to_string(events->size()));
  // Parse all first: a malformed event publishes nothing.
  std::vector<std::pair<std::string, std::string>> kv;
  std::vector<std::string> types;
  for (const json& e : *events) {
    if (!e.is_object()) bad("each event must be an object with key and value");
    kv.emplace_back(bytes_field(e, "key"), bytes_field(e, "value"));
    types.push_back(opt_string(e, "type").value_or(""));
  }
  std::vector<PublishReceipt> receipts;
  Status failed;
  for (std::size_t i = 0; i < kv.size(); ++i) {
    Event ev;
    ev.key = kv[i].first;
    ev.payload = kv[i].second;
    ev.type = types[i];
    ev.priority = priority;
    auto r = topic->publish(ev, PublishOptions{.ack = Ack::kNone});
    if (!r) {
      failed = r.status();
      break;
    }
    receipts.push_back(*r);
  }
  if (ack != Ack::kNone)
    if (Status s = topic->wait_all_acked(receipts, ack, kAckTimeout); !s) {
      json e = error_json(s);
      e["published"] = receipts.size();
      e["acknowledged"] = false;
      return e;
    }
  json list = json::array();
  for (const auto& r : receipts) list.push_back(json::array({r.partition, r.offset}));
  json out = failed ? ok() : error_json(failed);
  out["published"] = receipts.size();
  out["receipts"] = std::move(list);
  return out;
}

json verb_seek(Context& c, const json& req) {
  const std::string group = need_string(req, "group");
  refuse_if_consumed(c, group);
  check(c.bus.seek(group, need_string(req, "topic"), seek_to_of(req), opt_partition(req)));
  return ok();
}

json verb_consume_begin(Context& c, const json& req) {
  const std::string group = need_string(req, "group");
  const std::string topic = need_string(req, "topic");
  check(c.bus.topic(topic).status());
  if (c.bus.describe_group(group))
    throw BadRequest{Status::failed_precondition("group '" + group +
                                                 "' is subscribed in the owning process; `weir consume` cannot "
                                                 "consume it at the same time (use another group)")};
  if (std::string why = c.leases.claim(group, c.connection); !why.empty())
    throw BadRequest{Status::failed_precondition(why)};
  return ok();
}

json verb_commit(Context& c, const json& req) {
  const std::string group = need_string(req, "group");
  const std::string topic = need_string(req, "topic");
  const auto partition = opt_partition(req);
  if (!partition) bad("missing field \"partition\"");
  const Offset offset = need_uint(req, "offset");
  if (!c.leases.held_by(group, c.connection))
    throw BadRequest{Status::failed_precondition("commit for group '" + group +
                                                 "' without consume_begin on this connection")};
  // A consumer's commit positions its group, new or not (as offline).
  Status s = c.bus.seek(group, topic, SeekTo::to_offset(offset).creating_group(), partition);
  if (s.code() == Code::kInvalidArgument)  // retention passed it meanwhile
    s = c.bus.seek(group, topic, SeekTo::earliest().creating_group(), partition);
  check(s);
  return ok();
}

json verb_dlq_list(Context& c, const json& req) {
  const std::string group = need_string(req, "group");
  auto letters = c.bus.dlq_list(group, filter_of(req), opt_uint(req, "limit").value_or(1000));
  check(letters.status());
  for (const DeadLetter& d : *letters)
    if (!c.emit(json{{"letter", letter_json(d)}}.dump())) return ok();
  json r = ok();
  r["count"] = letters->size();
  return r;
}

json verb_dlq_show(Context& c, const json& req) {
  auto e = c.bus.dlq_show(need_string(req, "group"), need_uint(req, "dlq_offset"));
  check(e.status());
  json headers = json::array();
  for (const auto& [name, value] : e->headers) {
    json h{{"name", name}};
    put_bytes(h, "value", value);
    headers.push_back(std::move(h));
  }
  json letter = letter_json(e->letter);
  put_bytes(letter, "payload", e->payload);
  letter["headers"] = std::move(headers);
  json r = ok();
  r["letter"] = std::move(letter);
  return r;
}

json verb_dlq_redrive(Context& c, const json& req) {
  const std::string group = need_string(req, "group");
  RedriveOptions o;
  o.dry_run = opt_bool(req, "dry_run");
  if (const json* rate = field(req, "rate")) {
    if (!rate->is_number() || rate->get<double>() < 0) bad("field \"rate\" must be a number >= 0");
    o.max_per_second = rate->get<double>();
  }
  if (auto l = opt_uint(req, "limit")) o.limit = *l;
  auto report = c.bus.dlq_redrive(group, filter_of(req), o);
  check(report.status());
  for (const DeadLetter& d : report->letters)
    if (!c.emit(json{{"letter", letter_json(d)}}.dump())) break;
  json r = ok();
  r["matched"] = report->matched;
  r["moved"] = report->moved;
  return r;
}

json verb_dlq_purge(Context& c, const json& req) {
  auto n = c.bus.dlq_purge(need_string(req, "group"), filter_of(req));
  check(n.status());
  json r = ok();
  r["purged"] = *n;
  return r;
}

// pause / resume: the whole group, or one topic of it ("topic").
json set_paused(Context& c, const json& req, bool paused) {
  const std::string group = need_string(req, "group");
  if (const auto topic = opt_string(req, "topic")) {
    check(paused ? c.bus.pause_topic(group, *topic, opt_partition(req))
                 : c.bus.resume_topic(group, *topic, opt_partition(req)));
  } else {
    check(paused ? c.bus.pause(group, opt_partition(req)) : c.bus.resume(group, opt_partition(req)));
  }
  return ok();
}

json verb_pause(Context& c, const json& req) { return set_paused(c, req, true); }

json verb_resume(Context& c, const json& req) { return set_paused(c, req, false); }

json verb_set_workers(Context& c, const json& req) {
  check(c.bus.set_workers(need_string(req, "group"),
                          static_cast<std::uint32_t>(need_uint(req, "workers", 0xFFFFFFFFu))));
  return ok();
}

json verb_describe_group(Context& c, const json& req) {
  auto g = c.bus.describe_group(need_string(req, "group"));
  check(g.status());
  json parts = json::array();
  for (const PartitionStatus& p : g->partitions)
    parts.push_back(json{{"topic", p.topic}, {"partition", p.partition}, {"committed", p.committed}, {"end", p.end},
                         {"lag", p.lag}, {"stopped", p.stopped}, {"parked", p.parked}});
  json r = ok();
  r["group"] = g->group;
  r["topic"] = g->topic;
  r["topics"] = g->topics;
  r["partitions"] = std::move(parts);
  return r;
}

// --- lifecycle ---------------------------------------------------------------

template <typename E>
E enum_field(const json& ch, const char* name, std::initializer_list<std::pair<const char*, E>> values) {
  const std::string v = need_string(ch, name);
  std::string names;
  for (const auto& [n, e] : values) {
    if (v == n) return e;
    names += (names.empty() ? "" : ", ") + std::string(n);
  }
  bad(std::string("field \"") + name + "\" must be one of " + names + ", not '" + v + "'");
}

TopicChanges topic_changes_of(const json& req) {
  const json* ch = field(req, "changes");
  if (!ch || !ch->is_object()) bad("field \"changes\" must be an object of the fields to change");
  static const char* const kKnown[] = {"partitions",      "capacity",        "full_policy",     "block_timeout_ms",
                                       "max_payload_bytes", "max_key_bytes", "durability",      "default_ack",
                                       "retention_age_s", "retention_bytes", "retention_events", "quota_bytes"};
  for (const auto& [k, v] : ch->items())
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
      std::string known;
      for (const char* n : kKnown) known += (known.empty() ? "" : ", ") + std::string(n);
      bad("unknown field \"" + k + "\" in \"changes\" (known: " + known + ")");
    }
  TopicChanges c;
  auto u32 = [&](const char* n) -> std::optional<std::uint32_t> {
    auto v = opt_uint(*ch, n, 0xFFFFFFFFu);
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  };
  c.partitions = u32("partitions");
  c.capacity = u32("capacity");
  c.max_payload_bytes = u32("max_payload_bytes");
  c.max_key_bytes = u32("max_key_bytes");
  if (field(*ch, "full_policy"))
    c.full_policy = enum_field<FullPolicy>(*ch, "full_policy", {{"block", FullPolicy::kBlock}, {"reject", FullPolicy::kReject}});
  if (auto t = opt_int(*ch, "block_timeout_ms")) c.block_timeout = std::chrono::milliseconds(*t);
  if (field(*ch, "durability"))
    c.durability = enum_field<Durability>(*ch, "durability",
                                          {{"memory", Durability::kMemory}, {"journaled", Durability::kJournaled}});
  if (field(*ch, "default_ack"))
    c.default_ack =
        enum_field<Ack>(*ch, "default_ack", {{"none", Ack::kNone}, {"journal", Ack::kJournal}, {"fsync", Ack::kFsync}});
  if (auto a = opt_int(*ch, "retention_age_s")) c.retention_age = std::chrono::seconds(*a);
  c.retention_bytes = opt_uint(*ch, "retention_bytes");
  c.retention_events = opt_uint(*ch, "retention_events");
  c.quota_bytes = opt_uint(*ch, "quota_bytes");
  return c;
}

json verb_alter_topic(Context& c, const json& req) {
  auto changes = c.bus.alter_topic(need_string(req, "topic"), topic_changes_of(req));
  check(changes.status());
  for (const TopicChange& tc : *changes)
    if (!c.emit(json{{"change", json{{"field", tc.field}, {"from", tc.from}, {"to", tc.to},
                                     {"at_next_start", tc.at_next_start}}}}.dump()))
      break;
  json r = ok();
  r["changed"] = changes->size();
  return r;
}

json verb_delete_topic(Context& c, const json& req) {
  auto d = c.bus.delete_topic(need_string(req, "topic"));
  check(d.status());
  json r = ok();
  r["partitions"] = d->partitions;
  r["events"] = d->events;
  r["groups"] = d->groups;
  return r;
}

json verb_delete_group(Context& c, const json& req) {
  const std::string group = need_string(req, "group");
  refuse_if_consumed(c, group);
  auto d = c.bus.delete_group(group);
  check(d.status());
  json r = ok();
  r["offsets"] = d->offsets;
  r["dedupe_records"] = d->dedupe_records;
  r["state_values"] = d->state_values;
  r["dead_letter_topic"] = d->dead_letter_topic;
  r["dead_letters"] = d->dead_letters;
  r["remembered_offsets"] = d->remembered_offsets;
  return r;
}

json verb_locate(Context& c, const json& req) {
  EventRef ref;
  ref.id = opt_string(req, "id").value_or("");
  if (field(req, "key") || field(req, "key_b64")) ref.key = bytes_field(req, "key");
  auto found = c.bus.locate(need_string(req, "group"), need_string(req, "topic"), ref,
                            opt_uint(req, "limit").value_or(100));
  check(found.status());
  for (const EventLocation& l : *found)
    if (!c.emit("{\"location\":" + to_json(l) + "}")) break;
  json r = ok();
  r["count"] = found->size();
  return r;
}

using Verb = json (*)(Context&, const json&);

const std::map<std::string, Verb, std::less<>>& verbs() {
  static const std::map<std::string, Verb, std::less<>> v = {
      {"ping", verb_ping},
      {"topics", verb_topics},
      {"create_topic", verb_create_topic},
      {"publish", verb_publish},
      {"seek", verb_seek},
      {"consume_begin", verb_consume_begin},
      {"commit", verb_commit},
      {"dlq_list", verb_dlq_list},
      {"dlq_show", verb_dlq_show},
      {"dlq_redrive", verb_dlq_redrive},
      {"dlq_purge", verb_dlq_purge},
      {"pause", verb_pause},
      {"resume", verb_resume},
      {"set_workers", verb_set_workers},
      {"describe_group", verb_describe_group},
      {"alter_topic", verb_alter_topic},
      {"delete_topic", verb_delete_topic},
      {"delete_group", verb_delete_group},
      {"locate", verb_locate},
  };
  return v;
}

}  // namespace

std::string error_line(std::string_view code, std::string_view message) {
  return json{{"ok", false}, {"code", std::string(code)}, {"error", std::string(message)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

void serve_request(Bus& bus, ConsumeLeases& leases, std::uint64_t connection, std::string_view line,
                   const EmitLine& emit) {
  json out;
  try {
    json req;
    try {
      req = json::parse(line);
    } catch (const json::parse_error& e) {
      bad(std::string("request is not JSON: ") + e.what());
    }
    if (!req.is_object()) bad("request must be a JSON object with a \"verb\"");
    const std::string verb = need_string(req, "verb");
    auto it = verbs().find(verb);
    if (it == verbs().end()) {
      std::string known;
      for (const auto& [name, f] : verbs()) known += (known.empty() ? "" : ", ") + name;
      bad("unknown verb '" + verb + "' (known: " + known + ")");
    }
    Context c{bus, leases, connection, emit};
    out = it->second(c, req);
  } catch (const BadRequest& b) {
    out = error_json(b.status);
  } catch (const std::exception& e) {
    // Out of memory, or a JSON type error this code did not foresee: the
    // request fails, the bus goes on.
    out = error_json(Status::internal(std::string("control request failed: ") + e.what()));
  }
  emit(out.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace weir::internal

namespace weir {

std::string to_json(const EventLocation& l) {
  using nlohmann::json;
  json j{{"topic", l.topic}, {"partition", l.partition}, {"offset", l.offset}, {"id", l.id}};
  internal::put_bytes(j, "key", l.key);
  j["time_us"] = l.time_us;
  j["state"] = std::string(state_name(l.state));
  j["committed"] = l.committed ? json(*l.committed) : json();
  j["ahead"] = l.ahead;
  j["attempt"] = l.attempt;
  j["next_try_us"] = l.next_try_us;
  j["parked_behind"] = l.parked_behind;
  j["scheduled_us"] = l.scheduled_us;
  j["worker"] = l.worker;
  j["in_flight_since_us"] = l.in_flight_since_us;
  j["reason"] = l.reason;
  j["dead_lettered_us"] = l.dead_lettered_us;
  j["dlq_offset"] = l.dlq_offset;
  j["group_running"] = l.group_running;
  j["paused"] = l.paused;
  j["stopped"] = l.stopped;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace weir
