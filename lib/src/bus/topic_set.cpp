// Groups over several topics (Bus::subscribe with a TopicSet): one Group
// per topic under the group's name, and topics created later joined by
// create_topic when the pattern takes them.
#include "bus/topic_set.hpp"

#include <algorithm>
#include <set>

#include "base/names.hpp"
#include "bus/checks.hpp"
#include "bus/core.hpp"

namespace weir::internal {

namespace {
constexpr std::size_t kMaxListedTopics = 64;

bool is_dead_letter_topic(std::string_view name) {
  return name.size() > 4 && name.substr(name.size() - 4) == ".dlq";
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", '" : "'") + names[i] + "'";
  return out;
}
}  // namespace

bool TopicSetGroup::transactional() const noexcept {
  return options.dedupe || std::holds_alternative<StateHandler>(handler);
}

bool TopicSetGroup::pattern_takes(const TopicState& t) const {
  if (!pattern || is_dead_letter_topic(t.name())) return false;
  if (transactional() && !t.journaled()) return false;
  return std::regex_match(t.name(), *pattern);
}

std::string TopicSetGroup::describe() const {
  std::string out = quoted_list(listed);
  if (!pattern_text.empty()) out += (out.empty() ? "pattern '" : " and pattern '") + pattern_text + "'";
  return out;
}

std::vector<Group*> TopicSetGroup::groups() const {
  std::vector<Group*> out;
  for (const auto& [topic, g] : members) out.push_back(g.get());
  return out;
}

GroupStatus TopicSetGroup::status() const {
  GroupStatus out;
  out.group = options.group;
  for (const auto& [topic, g] : members) {  // the map keeps them sorted by topic
    GroupStatus s = g->status();
    out.topics.push_back(topic);
    out.partitions.insert(out.partitions.end(), s.partitions.begin(), s.partitions.end());
    out.duplicates_skipped += s.duplicates_skipped;
    out.breaker_trips += s.breaker_trips;
    // The most open breaker of its topics.
    if (s.breaker == BreakerState::kOpen ||
        (s.breaker == BreakerState::kHalfOpen && out.breaker == BreakerState::kClosed))
      out.breaker = s.breaker;
  }
  return out;
}

Status BusCore::subscribe(const TopicSet& ts, const SubscribeOptions& o, Group::AnyHandler h) {
  if (Status s = check_subscribe_options(o); !s) return s;
  const std::string& g = o.group;
  if (ts.topics.empty() && ts.pattern.empty())
    return Status::invalid_argument("TopicSet of group '" + g +
                                    "' is empty: give TopicSet::topics, TopicSet::pattern, or both");
  if (ts.topics.size() > kMaxListedTopics)
    return Status::invalid_argument("TopicSet of group '" + g + "' lists " + std::to_string(ts.topics.size()) +
                                    " topics; at most " + std::to_string(kMaxListedTopics));
  std::set<std::string_view> seen;
  for (const std::string& t : ts.topics) {
    if (std::string p = name_problem("topic", t); !p.empty())
      return Status::invalid_argument("TopicSet of group '" + g + "': " + p);
    if (!seen.insert(t).second)
      return Status::invalid_argument("TopicSet of group '" + g + "' lists topic '" + t + "' twice");
  }
  if (o.dedupe && std::holds_alternative<BatchHandler>(h))
    return Status::invalid_argument("group '" + g + "': dedupe works with per-event handlers, not batch handlers");

  auto set = std::make_unique<TopicSetGroup>(o, *shared_, options_.idle_spin, shared_->pool_bells);
  set->handler = std::move(h);
  set->listed = ts.topics;
  set->pattern_text = ts.pattern;
  if (!ts.pattern.empty()) {
    try {
      set->pattern.emplace(ts.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::invalid_argument("TopicSet::pattern '" + ts.pattern + "' of group '" + g +
                                      "' is not a valid regular expression (ECMAScript): " + e.what());
    }
  }

  // Groups started before a later one failed to: stopped after mu_ is
  // released (a handler may be waiting for mu_, e.g. in State::publish).
  std::vector<std::shared_ptr<Group>> undo;
  Status result = [&]() -> Status {
    MutexLock lock(mu_);
    if (closing_) return Status::closed("bus is closed; cannot subscribe group '" + g + "'");
    if (Status s = check_not_subscribed(g); !s) return s;
    std::vector<std::shared_ptr<TopicState>> topics;
    for (const std::string& name : ts.topics) {
      if (Status s = check_not_deleting(name, "subscribe group '" + g + "' after delete_topic returns"); !s) return s;
      auto it = topics_.find(name);
      if (it == topics_.end())
        return Status::not_found("topic '" + name + "' (listed in the TopicSet of group '" + g + "') not found" +
                                 (ts.pattern.empty() ? std::string()
                                                     : "; a listed topic must exist even beside a pattern, which "
                                                       "alone may wait for topics created later"));
      if (Status s = check_handler_fits(o, set->handler, *it->second); !s) return s;
      topics.push_back(it->second);
    }
    for (const auto& [name, t] : topics_)
      if (!seen.count(name) && set->pattern_takes(*t)) topics.push_back(t);

    if (o.dead_letter) {
      bool journaled = journal_ != nullptr;
      std::uint32_t max_payload = 0, max_key = 0;
      if (!topics.empty()) journaled = false;
      for (const auto& t : topics) {
        journaled = journaled || t->journaled();
        max_payload = std::max(max_payload, t->options().max_payload_bytes);
        max_key = std::max(max_key, t->options().max_key_bytes);
      }
      const TopicOptions defaults;
      auto d = dead_letter_topic(g, journaled, max_payload ? max_payload : defaults.max_payload_bytes,
                                 max_key ? max_key : defaults.max_key_bytes);
      if (!d) return d.status();
      set->dead_letters = DeadLetterTarget{*d, dead_letter_log(g, **d)};
    }
    for (const auto& t : topics) {
      auto member = start_group(t, o, set->handler, set->dead_letters, set->pool, set->dedupe);
      if (!member) {
        for (auto& [name, m] : set->members) undo.push_back(std::move(m));
        return Status(member.status().code(),
                      "group '" + g + "' could not start on topic '" + t->name() + "': " + member.status().message());
      }
      set->members.emplace(t->name(), std::move(member).value());
    }
    sets_.emplace(g, std::move(set));
    return Status::ok();
  }();
  for (auto& m : undo) {
    m->stop(CloseOptions{CloseMode::kStopAtBatch, std::chrono::seconds(5)});
    MutexLock lock(mu_);
    m->topic()->release_group_slot(m->bell_slot());
  }
  return result;
}

Status BusCore::join_new_topic(const std::shared_ptr<TopicState>& t) {
  Status result = Status::ok();
  for (auto& [name, set] : sets_) {
    if (set->members.count(t->name()) || !set->pattern_takes(*t)) continue;
    auto member = start_group(t, set->options, set->handler, set->dead_letters, set->pool, set->dedupe);
    if (!member) {
      if (result.is_ok())
        result = Status(member.status().code(), "topic '" + t->name() + "' was created, but group '" + name +
                                                    "' (pattern '" + set->pattern_text +
                                                    "') could not join it: " + member.status().message());
      continue;
    }
    set->members.emplace(t->name(), std::move(member).value());
  }
  return result;
}

Status BusCore::set_topic_paused(std::string_view group, std::string_view topic,
                                 std::optional<std::uint32_t> partition, bool paused) {
  MutexLock lock(mu_);
  Group* g = nullptr;
  if (auto s = sets_.find(group); s != sets_.end()) {
    if (auto m = s->second->members.find(topic); m != s->second->members.end()) g = m->second.get();
  } else if (auto it = groups_.find(group); it != groups_.end()) {
    if (it->second->topic()->name() == topic) g = it->second.get();
  } else {
    return Status::not_found("group '" + std::string(group) + "' not found");
  }
  if (!g)
    return Status::not_found("group '" + std::string(group) + "' does not read topic '" + std::string(topic) +
                             "' (it reads " + subscription_of(group) + ")");
  if (Status s = check_partition(*g, partition); !s) return s;
  g->set_paused(partition, paused);
  return Status::ok();
}

}  // namespace weir::internal
