// Topic and group lifecycle: alter_topic, delete_topic, delete_group.
#include "bus/core.hpp"

#include <algorithm>
#include <optional>

#include "base/names.hpp"
#include "bus/checks.hpp"

namespace weir::internal {

namespace {

// Fields that a running bus cannot change: stored for the next start.
bool next_start_field(std::string_view f) {
  return f == "partitions" || f == "capacity" || f == "max_payload_bytes" || f == "max_key_bytes";
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

}  // namespace

Result<std::vector<TopicChange>> BusCore::alter_topic(std::string_view name, const TopicChanges& c) {
  MutexLock lock(mu_);
  if (closing_) return Status::closed("bus is closed; cannot alter topic '" + std::string(name) + "'");
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    if (std::string p = name_problem("topic", name); !p.empty()) return Status::invalid_argument(p);
    return Status::not_found("topic '" + std::string(name) + "' not found");
  }
  TopicState& t = *it->second;
  const TopicOptions cur = t.options();
  TopicOptions next = cur;
  if (c.partitions) next.partitions = *c.partitions;
  if (c.capacity) next.capacity = *c.capacity;
  if (c.full_policy) next.full_policy = *c.full_policy;
  if (c.block_timeout) next.block_timeout = *c.block_timeout;
  if (c.max_payload_bytes) next.max_payload_bytes = *c.max_payload_bytes;
  if (c.max_key_bytes) next.max_key_bytes = *c.max_key_bytes;
  if (c.durability) next.durability = *c.durability;
  if (c.default_ack) next.default_ack = *c.default_ack;
  if (c.retention_age) next.retention_age = *c.retention_age;
  if (c.retention_bytes) next.retention_bytes = *c.retention_bytes;
  if (c.retention_events) next.retention_events = *c.retention_events;
  if (c.quota_bytes) next.quota_bytes = *c.quota_bytes;
  const auto diffs = option_diffs(cur, next);
  std::vector<std::string> cannot;
  for (const OptionDiff& d : diffs) {
    const std::string what = d.field + " (" + d.a + " -> " + d.b + ")";
    if (d.field == "durability")
      cannot.push_back(what + ": a topic's durability is fixed at creation; create a new topic");
    else if (d.field == "partitions" && next.partitions < cur.partitions)
      cannot.push_back(what + ": partitions can only grow");
    else if (!t.journaled() && next_start_field(d.field))
      cannot.push_back(what + ": a memory topic is not stored, so it cannot change at the next start; "
                              "create a new topic");
    else if (!t.journaled() && d.field.rfind("retention_", 0) == 0)
      cannot.push_back(what + ": retention applies to journaled topics");
    else if (!t.journaled() && d.field == "quota_bytes")
      cannot.push_back(what + ": quota_bytes applies to journaled topics");
  }
  if (!cannot.empty())
    return Status::invalid_argument("topic '" + t.name() + "': cannot change " + join(cannot, "; "));
  if (diffs.empty()) return std::vector<TopicChange>{};
  if (Status s = check_topic_options(next); !s) return Status(s.code(), "topic '" + t.name() + "': " + s.message());
  if (next.partitions > cur.partitions) {
    // The next start must be able to open them all.
    std::uint64_t total = 0;
    for (const auto& [n, other] : topics_)
      if (other->journaled()) total += other.get() == &t ? next.partitions : other->options().partitions;
    if (total > options_.journal_max_partitions)
      return Status::invalid_argument("topic '" + t.name() + "': partitions " + std::to_string(next.partitions) +
                                      " would make " + std::to_string(total) +
                                      " journaled partitions in all, over Options::journal_max_partitions = " +
                                      std::to_string(options_.journal_max_partitions));
  }
  // Under mu_: one synced write transaction (it waits for LMDB's write
  // lock, never for the writer's cycle), atomic with the read of the
  // current options above and apply_live below, so two alters of a topic
  // store and apply in the same order, and the partition total checked
  // above is the one stored.
  if (t.journaled())
    if (Status s = journal_->store_topic_options(t.name(), next); !s) return s;
  t.apply_live(next);
  const TopicOptions running = t.running_options();
  const auto still_old = option_diffs(running, next);
  std::vector<TopicChange> out;
  for (const OptionDiff& d : diffs) {
    const bool pending = std::any_of(still_old.begin(), still_old.end(),
                                     [&](const OptionDiff& o) { return o.field == d.field; });
    out.push_back(TopicChange{d.field, d.a, d.b, pending});
  }
  return out;
}

Result<TopicOptions> BusCore::topic_options(std::string_view name) const {
  auto t = find_topic(name);
  if (!t) return t.status();
  return (*t)->options();
}

Result<TopicDeletion> BusCore::delete_topic(std::string_view name) {
  TopicRemoval r;
  {
    MutexLock lock(mu_);
    if (closing_) return Status::closed("bus is closed; cannot delete topic '" + std::string(name) + "'");
    auto removed = remove_topic_locked(name);
    if (!removed) return removed.status();
    r = std::move(removed).value();
  }
  return finish_delete_topic(std::move(r));
}

Status BusCore::check_not_deleting(std::string_view name, std::string_view then) const {
  if (deleting_.count(name) == 0) return Status::ok();
  return Status::failed_precondition("topic '" + std::string(name) + "' is being deleted; " + std::string(then));
}

Result<std::shared_ptr<TopicState>> BusCore::removable_locked(std::string_view name) const {
  if (Status s = check_not_deleting(name, "it is gone when that delete_topic returns"); !s) return s;
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    if (std::string p = name_problem("topic", name); !p.empty()) return Status::invalid_argument(p);
    return Status::not_found("topic '" + std::string(name) + "' not found");
  }
  std::shared_ptr<TopicState> t = it->second;
  std::vector<std::string> running;
  for (const auto& [g, group] : groups_)
    if (group->topic() == t || g + ".dlq" == name) running.push_back(g);
  for (const auto& [g, set] : sets_)
    if (set->members.count(t->name()) || g + ".dlq" == name) running.push_back(g);
  if (!running.empty())
    return Status::failed_precondition("topic '" + t->name() + "' is in use by subscribed group" +
                                       (running.size() > 1 ? "s " : " ") + join(running, ", ") +
                                       "; unsubscribe " + (running.size() > 1 ? "them" : "it") + " first");
  return t;
}

Result<BusCore::TopicRemoval> BusCore::remove_topic_locked(std::string_view name) {
  auto removable = removable_locked(name);
  if (!removable) return removable.status();
  std::shared_ptr<TopicState> t = std::move(removable).value();
  TopicRemoval r;
  r.out.partitions = t->partitions();
  for (std::uint32_t p = 0; p < t->partitions(); ++p)
    r.out.events += t->partition(p).readable_end() - t->partition(p).start();
  r.out.groups = registry_groups_of(*t);
  t->close_partitions(/*deleted=*/true);
  topics_.erase(topics_.find(name));
  for (auto rem = remembered_.begin(); rem != remembered_.end();) {
    rem->second.erase(t->name());
    rem = rem->second.empty() ? remembered_.erase(rem) : std::next(rem);
  }
  std::erase_if(dlq_logs_, [&](const auto& kv) { return kv.first + ".dlq" == t->name(); });
  if (t->journaled()) deleting_.insert(t->name());
  r.topic = std::move(t);
  return r;
}

Result<TopicDeletion> BusCore::finish_delete_topic(TopicRemoval r) {
  const TopicState& t = *r.topic;
  if (!t.journaled()) {
    std::sort(r.out.groups.begin(), r.out.groups.end());
    r.out.groups.erase(std::unique(r.out.groups.begin(), r.out.groups.end()), r.out.groups.end());
    return std::move(r.out);
  }
  // Without mu_: the walk of the stored offsets, and drop_topic's wait for
  // the writer's cycle (journal/lifecycle.cpp). No group can store offsets
  // on the topic meanwhile: none runs on it, and seek and subscribe no
  // longer find it.
  Status s = Status::ok();
  if (auto stored = journal_->groups_of(t.name()); stored) {
    r.out.groups.insert(r.out.groups.end(), stored->begin(), stored->end());
    std::sort(r.out.groups.begin(), r.out.groups.end());
    r.out.groups.erase(std::unique(r.out.groups.begin(), r.out.groups.end()), r.out.groups.end());
    // "<g>.dlq" is group g's dead-letter topic (dead_letter_topic), whose
    // settled ledger is keyed by its offsets: it goes with the topic, as
    // delete_group drops both (either is refused while g is subscribed).
    const std::string_view name = t.name();
    const bool dead_letters = name.size() > 4 && name.substr(name.size() - 4) == ".dlq";
    s = journal_->drop_topic(name, t.partitions(), r.out.groups,
                             dead_letters ? name.substr(0, name.size() - 4) : std::string_view());
  } else {
    s = stored.status();
  }
  {
    MutexLock lock(mu_);
    deleting_.erase(t.name());
  }
  if (!s)
    return Status(s.code(), "topic '" + t.name() + "' is gone from the running bus, but the journal kept it (it "
                            "returns at the next start; delete it again then): " + s.message());
  return std::move(r.out);
}

Result<GroupDeletion> BusCore::delete_group(std::string_view group) {
  if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
  const std::string g(group);
  GroupDeletion out;
  std::optional<TopicRemoval> dlq;
  bool found = false;
  std::vector<std::shared_ptr<TopicState>> topics;  // for the "not found" message
  {
    MutexLock lock(mu_);
    if (closing_) return Status::closed("bus is closed; cannot delete group '" + g + "'");
    if (std::string what = subscription_of(g); !what.empty())
      return Status::failed_precondition("group '" + g + "' is subscribed (to " + what + "); unsubscribe it first");
    // Everything that can refuse is checked before anything is removed: a
    // group reading g's dead-letter topic keeps the whole group (its offsets,
    // dedupe records and state included), not only the topic.
    if (topics_.count(g + ".dlq"))
      if (auto removable = removable_locked(g + ".dlq"); !removable)
        return Status(removable.status().code(),
                      "group '" + g + "' is kept whole: its dead-letter " + removable.status().message());
    if (remembered_.erase(g) > 0) found = out.remembered_offsets = true;
    if (journal_) {
      // Under mu_: one synced write transaction that must be atomic with the
      // check above (no subscribe of the group may read the records it
      // removes); it waits for LMDB's write lock, never the writer's cycle.
      auto d = journal_->drop_group(g);
      if (!d) return d.status();
      out.offsets = d->offsets;
      out.dedupe_records = d->dedupe_records;
      out.state_values = d->state_values;
      found = found || d->offsets || d->dedupe_records || d->state_values;
    }
    if (topics_.count(g + ".dlq")) {
      // Taken out now; its databases are dropped below, without mu_.
      auto r = remove_topic_locked(g + ".dlq");
      if (!r) return r.status();
      dlq = std::move(r).value();
      found = true;
    }
    found = dlq_logs_.erase(g) > 0 || found;
    if (!found)
      for (const auto& [n, t] : topics_) topics.push_back(t);
  }
  if (dlq) {
    auto d = finish_delete_topic(std::move(*dlq));
    if (!d) return d.status();
    out.dead_letter_topic = true;
    out.dead_letters = d->events;
  }
  if (!found) {
    // The stored groups are walked without mu_.
    std::vector<std::string> known;
    for (const auto& t : topics) {
      auto gs = groups_of(*t);
      if (gs) known.insert(known.end(), gs->begin(), gs->end());
    }
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    return Status::not_found("group '" + g + "' not found: nothing is stored under it (known groups: " +
                             (known.empty() ? std::string("none") : join(known, ", ")) + ")");
  }
  return out;
}

}  // namespace weir::internal
