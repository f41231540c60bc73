// The registry: opening the journal, creating topics, subscribing and
// unsubscribing groups, closing.
#include "bus/core.hpp"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/names.hpp"
#include "bus/checks.hpp"
#include "journal/format.hpp"

namespace weir::internal {

Status BusCore::open_journal() {
  if (options_.data_dir.empty()) return Status::ok();
  auto j = Journal::open(options_);
  if (!j) return j.status();
  journal_ = std::move(j).value();
  journal_storage_ = std::make_unique<JournalStorage>(*journal_);
  auto stored = journal_->stored_topics();
  if (!stored) return stored.status();
  for (auto& [name, o] : *stored) {
    auto t = TopicState::create(shared_, name, o, *journal_storage_);
    if (!t) return t.status();
    MutexLock lock(mu_);  // uncontended: the bus is not shared yet
    topics_.emplace(name, std::move(t).value());
  }
  return Status::ok();
}

Storage* BusCore::storage_for(const TopicOptions& o) {
  if (o.durability == Durability::kJournaled) return journal_storage_.get();
  return &memory_;
}

Status BusCore::create_topic(std::string_view name, const TopicOptions& o) {
  if (std::string p = name_problem("topic", name); !p.empty()) return Status::invalid_argument(p);
  if (Status s = check_topic_options(o); !s) return s;
  Storage* storage = storage_for(o);
  if (!storage)
    return Status::invalid_argument("topic '" + std::string(name) +
                                    "' is journaled, but the bus has no Options::data_dir");
  // Claim the name: once claimed, no other caller creates, finds or
  // deletes it until it is inserted below. A caller that finds it being
  // created waits for that outcome (milliseconds), then compares options.
  for (;;) {
    {
      MutexLock lock(mu_);
      if (closing_) return Status::closed("bus is closed; cannot create topic '" + std::string(name) + "'");
      if (Status s = check_not_deleting(name, "create it again"); !s) return s;
      if (auto it = topics_.find(name); it != topics_.end()) {
        const auto diffs = option_diffs(it->second->options(), o);
        if (diffs.empty()) return Status::ok();
        std::string list;
        for (const OptionDiff& d : diffs)
          list += (list.empty() ? "" : ", ") + d.field + " (stored " + d.a + ", given " + d.b + ")";
        return Status::already_exists("topic '" + std::string(name) + "' exists with different options: " + list +
                                      "; change them with Bus::alter_topic (`weir alter-topic`), or declare the "
                                      "stored values");
      }
      if (creating_.insert(std::string(name)).second) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Without mu_: a journaled topic's catalog entry and partition databases
  // are written in a synced transaction, which waits for LMDB's write lock
  // (the writer's commit, fsync included). close() waits for this call.
  auto t = TopicState::create(shared_, std::string(name), o, *storage);
  MutexLock lock(mu_);
  creating_.erase(std::string(name));
  if (!t) return t.status();
  if (closing_) {
    (*t)->close_partitions();
    return Status::closed("bus is closed; topic '" + std::string(name) + "' was stored but not opened (it opens "
                          "at the next start)");
  }
  topics_.emplace(std::string(name), *t);
  return join_new_topic(*t);
}

Result<std::shared_ptr<TopicState>> BusCore::find_topic(std::string_view name) const {
  MutexLock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    if (std::string p = name_problem("topic", name); !p.empty()) return Status::invalid_argument(p);
    return Status::not_found("topic '" + std::string(name) + "' not found");
  }
  return it->second;
}

std::vector<std::string> BusCore::topic_names() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, t] : topics_) out.push_back(name);
  return out;
}

Status BusCore::subscribe(std::string_view topic, const SubscribeOptions& o, Group::AnyHandler h) {
  if (Status s = check_subscribe_options(o); !s) return s;
  MutexLock lock(mu_);
  if (closing_) return Status::closed("bus is closed; cannot subscribe group '" + o.group + "'");
  if (Status s = check_not_deleting(topic, "subscribe after delete_topic returns"); !s) return s;
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    if (std::string p = name_problem("topic", topic); !p.empty()) return Status::invalid_argument(p);
    return Status::not_found("topic '" + std::string(topic) + "' not found");
  }
  if (Status s = check_not_subscribed(o.group); !s) return s;
  if (Status s = check_handler_fits(o, h, *it->second); !s) return s;
  DeadLetterTarget dlq;
  if (o.dead_letter) {
    auto d = dead_letter_topic(o.group, *it->second);
    if (!d) return d.status();
    dlq = DeadLetterTarget{*d, dead_letter_log(o.group, **d)};
  }
  auto g = start_group(it->second, o, std::move(h), std::move(dlq));
  if (!g) return g.status();
  groups_.emplace(o.group, std::move(g).value());
  return Status::ok();
}

std::string BusCore::subscription_of(std::string_view group) const {
  if (auto g = groups_.find(group); g != groups_.end()) return "topic '" + g->second->topic()->name() + "'";
  if (auto s = sets_.find(group); s != sets_.end()) return "topics " + s->second->describe();
  return {};
}

Status BusCore::check_not_subscribed(const std::string& group) const {
  if (std::string what = subscription_of(group); !what.empty())
    return Status::already_exists("group '" + group + "' is already subscribed (to " + what + ")");
  return Status::ok();
}

Status BusCore::check_handler_fits(const SubscribeOptions& o, const Group::AnyHandler& h, const TopicState& t) {
  const bool stateful = std::holds_alternative<StateHandler>(h);
  if ((o.dedupe || stateful) && !t.journaled())
    return Status::invalid_argument("group '" + o.group + "': dedupe and state tables need a journaled topic; '" +
                                    t.name() + "' is a memory topic");
  if (o.dedupe && std::holds_alternative<BatchHandler>(h))
    return Status::invalid_argument("group '" + o.group + "': dedupe works with per-event handlers, not batch handlers");
  return Status::ok();
}

Result<std::shared_ptr<Group>> BusCore::start_group(const std::shared_ptr<TopicState>& t, const SubscribeOptions& o,
                                                    Group::AnyHandler h, DeadLetterTarget dlq,
                                                    std::shared_ptr<WorkerPool> pool,
                                                    std::shared_ptr<DedupeScope> dedupe) {
  const bool journaled = t->journaled();
  std::vector<Offset> resume;
  if (journaled) {
    // Under mu_: the offsets read must be those the group starts from, so
    // no seek or delete_group of it (which change them under mu_) may come
    // between the read and the insert. One read transaction: it never
    // waits for the writer's commit, only for a map growth under way.
    auto stored = journal_->load_offsets(o.group, t->name(), t->partitions());
    if (!stored) return stored.status();
    resume = std::move(stored).value();
  } else if (auto r = remembered_.find(o.group); r != remembered_.end()) {
    if (auto at = r->second.find(t->name()); at != r->second.end()) resume = at->second;
  }
  auto slot = t->acquire_group_slot(journaled, pool ? &pool->bell() : nullptr);
  if (!slot) return slot.status();
  auto g = std::make_shared<Group>(t, o, std::move(h), *slot, shared_.get(), options_.idle_spin,
                                   journaled ? journal_.get() : nullptr, std::move(dlq), std::move(pool),
                                   std::move(dedupe));
  if (Status s = g->start(resume); !s) {
    g->stop(CloseOptions{CloseMode::kStopAtBatch, std::chrono::seconds(5)});
    t->release_group_slot(*slot);
    return s;
  }
  return g;
}

Result<std::shared_ptr<TopicState>> BusCore::dead_letter_topic(const std::string& group, const TopicState& source) {
  return dead_letter_topic(group, source.journaled(), source.options().max_payload_bytes,
                           source.options().max_key_bytes);
}

Result<std::shared_ptr<TopicState>> BusCore::dead_letter_topic(const std::string& group, bool journaled,
                                                               std::uint32_t max_payload_bytes,
                                                               std::uint32_t max_key_bytes) {
  const std::string name = group + ".dlq";
  if (name.size() > 249)
    return Status::invalid_argument("group name '" + group + "' is too long for its dead-letter topic '" +
                                    name + "' (at most 245 characters)");
  if (auto it = topics_.find(name); it != topics_.end()) return it->second;
  if (Status s = check_not_deleting(name, "subscribe group '" + group + "' after delete_topic returns"); !s)
    return s;
  // Created under mu_, with the subscribe that needs it, so the group and
  // its dead-letter topic appear together (a journaled one: one synced
  // write transaction, once per group and data directory; it waits for
  // LMDB's write lock, never for the writer's cycle).
  if (creating_.count(name))
    return Status::failed_precondition("topic '" + name + "' is being created by create_topic; subscribe group '" +
                                       group + "' after it returns");
  // A memory one holds 4,096 letters and refuses at once when full, so the
  // group drops its oldest letter (DeadLetterLog::make_room) instead of
  // waiting; a journaled one's ring only waits for the writer.
  TopicOptions to{.partitions = 1, .capacity = 4096,
                  .full_policy = journaled ? FullPolicy::kBlock : FullPolicy::kReject,
                  .max_payload_bytes = max_payload_bytes,
                  .max_key_bytes = max_key_bytes};
  if (journaled) {
    to.durability = Durability::kJournaled;
    to.retention_age = options_.dead_letter_retention_age;  // alterable: alter_topic("<group>.dlq")
  }
  auto t = TopicState::create(shared_, name, to, *storage_for(to));
  if (!t) return t.status();
  topics_.emplace(name, *t);
  return t;
}

std::shared_ptr<DeadLetterLog> BusCore::dead_letter_log(const std::string& group, TopicState& dlq) {
  auto& log = dlq_logs_[group];
  if (!log) log = std::make_shared<DeadLetterLog>(group, dlq.partition(0), dlq.journaled() ? journal_.get() : nullptr);
  return log;
}

Result<CloseReport> BusCore::unsubscribe(std::string_view name, const CloseOptions& co) {
  // One group per topic: one for a one-topic group, one per topic of a
  // TopicSet group (whose pool the first one's stop stops for all).
  std::shared_ptr<Group> single;
  std::unique_ptr<TopicSetGroup> set;
  std::vector<Group*> members;
  {
    MutexLock lock(mu_);
    if (auto s = sets_.find(name); s != sets_.end()) {
      if (s->second->on_worker_thread())
        return Status::failed_precondition("group '" + std::string(name) +
                                           "' cannot be unsubscribed from its own handler");
      set = std::move(s->second);
      sets_.erase(s);
      members = set->groups();
    } else {
      auto it = groups_.find(name);
      if (it == groups_.end()) return Status::not_found("group '" + std::string(name) + "' not found");
      if (it->second->on_worker_thread())
        return Status::failed_precondition("group '" + std::string(name) +
                                           "' cannot be unsubscribed from its own handler");
      single = std::move(it->second);
      groups_.erase(it);
      members.push_back(single.get());
    }
  }
  // Each topic's group gets what is left of the timeout.
  const auto deadline = std::chrono::steady_clock::now() + co.timeout;
  CloseReport report;
  for (Group* g : members) {
    const auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()),
                               std::chrono::milliseconds(0));
    CloseReport r = g->stop(CloseOptions{co.mode, left});
    report.undelivered += r.undelivered;
    report.timed_out = report.timed_out || r.timed_out;
    if (!r.journal_status && report.journal_status.is_ok()) report.journal_status = r.journal_status;
  }
  MutexLock lock(mu_);
  for (Group* g : members) {
    remembered_[std::string(name)][g->topic()->name()] = g->offsets();
    g->topic()->release_group_slot(g->bell_slot());
  }
  return report;
}

Status BusCore::set_workers(std::string_view group, std::uint32_t workers) {
  MutexLock lock(mu_);
  if (auto s = sets_.find(group); s != sets_.end()) return s->second->pool->set_workers(workers);
  auto it = groups_.find(group);
  if (it == groups_.end()) return Status::not_found("group '" + std::string(group) + "' not found");
  return it->second->set_workers(workers);
}

Result<std::optional<std::string>> BusCore::read_state(std::string_view group, std::string_view table,
                                              std::string_view key) const {
  if (!journal_) return Status::failed_precondition("state tables live in the journal; the bus has no data_dir");
  if (std::string p = name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
  if (table.empty()) return Status::invalid_argument("state table name is empty");
  return journal_->state_get(state_key(group, table, key));
}

Result<GroupStatus> BusCore::describe_group(std::string_view name) const {
  MutexLock lock(mu_);
  if (auto s = sets_.find(name); s != sets_.end()) return s->second->status();
  auto it = groups_.find(name);
  if (it == groups_.end()) return Status::not_found("group '" + std::string(name) + "' not found");
  return it->second->status();
}

namespace {
// CloseReport::journal_status when the journal's last commit failed: the
// cause, then what was not persisted.
std::string not_persisted(const Status& cause, const std::vector<std::string>& groups,
                          const std::vector<std::pair<std::string, std::uint64_t>>& unwritten) {
  std::string why = "the journal could not commit (" + cause.to_string() + "); not persisted:";
  const char* sep = " ";
  if (!groups.empty()) {
    why += " the final offsets of group";
    why += groups.size() > 1 ? "s " : " ";
    for (std::size_t i = 0; i < groups.size(); ++i) why += (i ? ", " : "") + groups[i];
    why += " (events handled since their last persisted offsets are handed again after a restart)";
    sep = "; ";
  }
  for (const auto& [topic, n] : unwritten) {
    why += sep + std::to_string(n) + (n == 1 ? " event" : " events") + " published to topic '" + topic +
           "' (never acknowledged)";
    sep = "; ";
  }
  if (groups.empty() && unwritten.empty()) why += " nothing that was queued at the close";
  return why;
}
}  // namespace

Result<CloseReport> BusCore::close(const CloseOptions& co) {
  {
    MutexLock lock(mu_);
    for (const auto& [name, g] : groups_)
      if (g->on_worker_thread())
        return Status::failed_precondition("close() called from a handler of group '" + name +
                                           "'; it would wait for itself");
    for (const auto& [name, set] : sets_)
      if (set->on_worker_thread())
        return Status::failed_precondition("close() called from a handler of group '" + name +
                                           "'; it would wait for itself");
    if (closing_) return CloseReport{};
    closing_ = true;
  }
  // From here the maps only shrink under us (subscribe/create refuse).
  shared_->closing.store(true, std::memory_order_relaxed);
  CloseReport report;
  const auto deadline = std::chrono::steady_clock::now() + co.timeout;
  if (co.mode == CloseMode::kDrain) {
    // Handlers may publish onward to other topics while we drain, so wait
    // until every group is caught up at the same time, and (State::publish)
    // no write set placed follow-ups meanwhile nor waits to place them (see
    // Journal::write_sets_placed).
    for (;;) {
      bool all = true;
      const std::uint64_t placed = journal_ ? journal_->write_sets_placed() : 0;
      {
        MutexLock lock(mu_);
        for (const auto& [name, g] : groups_) all = all && g->caught_up();
        for (const auto& [name, set] : sets_)
          for (const auto& [topic, g] : set->members) all = all && g->caught_up();
      }
      if (all && journal_)
        all = journal_->write_sets_placed() == placed && journal_->write_sets_submitted() == placed;
      if (all) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        report.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // Calls of create_topic and delete_topic under way finish their journal
  // work (each bounded: a transaction, a wait for the writer's cycle).
  for (;;) {
    {
      MutexLock lock(mu_);
      if (creating_.empty() && deleting_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::map<std::string, std::shared_ptr<Group>, std::less<>> singles;
  std::map<std::string, std::unique_ptr<TopicSetGroup>, std::less<>> sets;
  std::vector<Group*> groups;  // every topic's group: a TopicSet group's members stop its pool together
  {
    MutexLock lock(mu_);
    for (auto& [name, t] : topics_) t->close_partitions();
    singles.swap(groups_);
    sets.swap(sets_);
    for (auto& [name, g] : singles) groups.push_back(g.get());
    for (auto& [name, set] : sets)
      for (Group* g : set->groups()) groups.push_back(g);
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  CloseOptions stop_opts{report.timed_out ? CloseMode::kStopAtBatch : co.mode,
                         std::max(left, std::chrono::milliseconds(0))};
  std::vector<std::string> unconfirmed;  // groups whose final offsets the journal had not confirmed
  for (Group* g : groups) {
    // Each group gets what is left of the timeout, so close() ends by it
    // even when the journal cannot commit.
    stop_opts.timeout = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     deadline - std::chrono::steady_clock::now()),
                                 std::chrono::milliseconds(0));
    CloseReport r = g->stop(stop_opts);
    report.undelivered += r.undelivered;
    report.timed_out = report.timed_out || r.timed_out;
    if (!r.journal_status && std::find(unconfirmed.begin(), unconfirmed.end(), "'" + g->name() + "'") ==
                                 unconfirmed.end())
      unconfirmed.push_back("'" + g->name() + "'");
    if (!r.journal_status && report.journal_status.is_ok()) report.journal_status = r.journal_status;
    g->topic()->release_group_slot(g->bell_slot());
  }
  if (journal_) {
    // The last commit takes everything still queued, the groups' final
    // offsets and write sets included.
    journal_->stop();
    if (Status e = journal_->error(); e) {
      report.journal_status = Status::ok();  // it wrote what the groups had not seen confirmed
    } else {
      report.journal_status = Status(e.code(), not_persisted(e, unconfirmed, journal_->unwritten_events()));
    }
  }
  return report;
}

}  // namespace weir::internal
