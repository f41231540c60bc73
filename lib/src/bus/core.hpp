// BusCore: the registry behind the public Bus: topics, groups, the
// offsets of unsubscribed groups, dead-letter logs and the journal.
//
// Thread-safety: every method is thread-safe. mu_ guards the maps, the
// names being created or deleted and closing_. It is held for lookups,
// inserts and the short LMDB transactions named below only, never for a
// wait on the journal writer or a walk of every group:
//   - metrics() copies the registry (shared pointers) under it and walks
//     the copy outside;
//   - create_topic marks the name being created under it, opens the
//     topic's databases (a synced write transaction) without it, then
//     inserts the topic; a concurrent create of the same name waits for it;
//   - delete_topic takes the topic out and marks its name being deleted
//     under it, then lists its stored groups, waits for the writer's cycle
//     and drops its databases without it, and clears the mark; meanwhile
//     create_topic, subscribe and dead-lettering to that name fail with
//     kFailedPrecondition "topic '...' is being deleted".
// What still runs LMDB under mu_, and why, is said at each site
// (start_group, dead_letter_topic, seek, alter_topic, delete_group,
// groups_of): each is one short transaction that must be atomic with a
// check of the maps (a group is not subscribed, a topic exists), and none
// waits for the writer's cycle.
// Publishing never takes mu_ (it goes through a TopicState held by a Topic
// handle or looked up under mu_).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bus/topic_set.hpp"
#include "dispatch/group.hpp"
#include "dlq/log.hpp"
#include "journal/journal.hpp"
#include "log/storage.hpp"
#include "topic/topic.hpp"
#include "weir/bus.hpp"

namespace weir::internal {

class BusCore {
 public:
  explicit BusCore(const Options& o)
      : options_(o), shared_(std::make_shared<BusShared>()), memory_(shared_->instance_id) {
    shared_->metrics_sampling = o.metrics_sampling;
    shared_->find_topic = [this](std::string_view name) { return find_topic(name); };
  }

  // Opens the journal (if any) and restores its topics.
  Status open_journal();

  // Where a topic of these options keeps its partitions; null when a
  // journaled topic is asked of a memory-only bus.
  Storage* storage_for(const TopicOptions& o);

  Status create_topic(std::string_view name, const TopicOptions& o);

  Result<std::shared_ptr<TopicState>> find_topic(std::string_view name) const;

  std::vector<std::string> topic_names() const;

  Status subscribe(std::string_view topic, const SubscribeOptions& o, Group::AnyHandler h);

  // --- groups over several topics (bus/topic_set.cpp) ---------------------------
  Status subscribe(const TopicSet& topics, const SubscribeOptions& o, Group::AnyHandler h);
  // create_topic: every TopicSet group whose pattern matches the new topic
  // `t` joins it. Caller holds mu_.
  Status join_new_topic(const std::shared_ptr<TopicState>& t) REQUIRES(mu_);

  // What `group` is subscribed to ("topic 'a'", "topics 'a', 'b' and
  // pattern 'p'"), empty if it is not subscribed. Caller holds mu_.
  std::string subscription_of(std::string_view group) const REQUIRES(mu_);
  // kAlreadyExists if `group` is subscribed (one topic or a TopicSet).
  Status check_not_subscribed(const std::string& group) const REQUIRES(mu_);
  // kInvalidArgument if `h` with `o` cannot read `t` (dedupe or state on a
  // memory topic, dedupe with a batch handler).
  static Status check_handler_fits(const SubscribeOptions& o, const Group::AnyHandler& h, const TopicState& t);
  // A started group of `o` on `t`: its stored (journal) or remembered
  // (memory) offsets, a bell slot, the dead-letter target; served by `pool`
  // (a TopicSet group's, whose bell the slot rings) or a pool of its own;
  // its dedupe records seen by the overlays of `dedupe` (a TopicSet
  // group's) or its own. Caller holds mu_.
  Result<std::shared_ptr<Group>> start_group(const std::shared_ptr<TopicState>& t, const SubscribeOptions& o,
                                             Group::AnyHandler h, DeadLetterTarget dlq,
                                             std::shared_ptr<WorkerPool> pool = nullptr,
                                             std::shared_ptr<DedupeScope> dedupe = nullptr) REQUIRES(mu_);

  // The group's dead-letter topic "<group>.dlq", created on first use: one
  // partition, journaled when the source is. Caller holds mu_.
  Result<std::shared_ptr<TopicState>> dead_letter_topic(const std::string& group, const TopicState& source) REQUIRES(mu_);
  Result<std::shared_ptr<TopicState>> dead_letter_topic(const std::string& group, bool journaled,
                                                        std::uint32_t max_payload_bytes,
                                                        std::uint32_t max_key_bytes) REQUIRES(mu_);

  // The dead-letter log of `group` over its dead-letter topic `dlq`, made
  // on first use and kept for the bus's lifetime (a memory topic's
  // settlement lives in it). Caller holds mu_.
  std::shared_ptr<DeadLetterLog> dead_letter_log(const std::string& group, TopicState& dlq) REQUIRES(mu_);

  Result<CloseReport> unsubscribe(std::string_view name, const CloseOptions& co);

  // Bus::set_workers: the group's pool (a TopicSet group's, even before
  // its pattern took a topic).
  Status set_workers(std::string_view group, std::uint32_t workers);

  // --- lifecycle (bus/lifecycle.cpp) --------------------------------------------
  Result<std::vector<TopicChange>> alter_topic(std::string_view name, const TopicChanges& c);
  Result<TopicOptions> topic_options(std::string_view name) const;
  Result<TopicDeletion> delete_topic(std::string_view name);
  Result<GroupDeletion> delete_group(std::string_view group);
  // Where events stand for a group (bus/locate.cpp).
  Result<std::vector<EventLocation>> locate(std::string_view group, std::string_view topic, const EventRef& ref,
                                            std::size_t limit);

  Status seek(std::string_view group, std::string_view topic, const SeekTo& to,
              std::optional<std::uint32_t> partition);
  // Groups that have consumed `t`: subscribed, remembered after
  // unsubscribe or seek, or with offsets stored in the journal; sorted.
  // Takes mu_ for the registry's part and walks the journal without it.
  Result<std::vector<std::string>> groups_of(const TopicState& t) const EXCLUDES(mu_);

  // --- dead letters -------------------------------------------------------------

  // The dead-letter log of `group`; kNotFound if it never had a dead-letter topic.
  Result<std::shared_ptr<DeadLetterLog>> dlq_log(std::string_view group);

  // Unsettled dead letters matching `f`, oldest first, at most `limit`.
  Result<std::vector<DeadLetterEvent>> dlq_select(std::string_view group, const DeadLetterFilter& f,
                                                  std::size_t limit);

  Result<RedriveReport> dlq_redrive(std::string_view group, const DeadLetterFilter& f, const RedriveOptions& o);

  Result<std::size_t> dlq_purge(std::string_view group, const DeadLetterFilter& f);

  Result<std::optional<std::string>> read_state(std::string_view group, std::string_view table,
                                                std::string_view key) const;

  MetricsSnapshot metrics() const;

  // The group, under mu_ (for the operations below); kNotFound if none. A
  // TopicSet group: fn runs on each of its topics' groups (the first error
  // is returned), and a `partition` is refused as ambiguous.
  template <typename Fn>
  auto with_group(std::string_view name, Fn&& fn, std::optional<std::uint32_t> partition = std::nullopt) const
      -> decltype(fn(std::declval<Group&>())) {
    using R = decltype(fn(std::declval<Group&>()));
    MutexLock lock(mu_);
    if (auto s = sets_.find(name); s != sets_.end()) {
      if (partition)
        return Status::invalid_argument("group '" + std::string(name) + "' reads several topics (" +
                                        s->second->describe() + "): partition " + std::to_string(*partition) +
                                        " alone is ambiguous; act on the whole group");
      if constexpr (std::is_same_v<R, Status>) {
        for (const auto& [topic, g] : s->second->members)
          if (Status st = fn(*g); !st) return st;
        return Status::ok();
      } else {
        return Status::invalid_argument("group '" + std::string(name) + "' reads several topics (" +
                                        s->second->describe() + ")");
      }
    }
    auto it = groups_.find(name);
    if (it == groups_.end()) return Status::not_found("group '" + std::string(name) + "' not found");
    return fn(*it->second);
  }
  // Bus::pause_topic / resume_topic: `group`'s Group on `topic`.
  Status set_topic_paused(std::string_view group, std::string_view topic, std::optional<std::uint32_t> partition,
                          bool paused);
  static Status check_partition(const Group& g, std::optional<std::uint32_t> p) {
    if (p && *p >= g.topic()->partitions())
      return Status::invalid_argument("partition " + std::to_string(*p) + " out of range: topic '" +
                                      g.topic()->name() + "' has partitions 0.." +
                                      std::to_string(g.topic()->partitions() - 1));
    return Status::ok();
  }

  Result<GroupStatus> describe_group(std::string_view name) const;

  Result<CloseReport> close(const CloseOptions& co);

  ~BusCore() { close(CloseOptions{}).status().ignore(); }

 private:
  // A topic delete_topic took out of the registry, still to be dropped
  // from the journal.
  struct TopicRemoval {
    std::shared_ptr<TopicState> topic;
    TopicDeletion out;  // groups: those the registry knew (the journal's are added)
  };
  // The first half of delete_topic (delete_group drops "<group>.dlq" with
  // it): checks, takes the topic out of the maps, closes its partitions and
  // marks its name as being deleted.
  // seek's kFailedPrecondition if `group` is subscribed.
  Status check_not_running(std::string_view group) const REQUIRES(mu_);
  Result<TopicRemoval> remove_topic_locked(std::string_view name) REQUIRES(mu_);
  // remove_topic_locked's checks, which delete_group also makes for
  // "<group>.dlq" before it removes anything: the topic, or why it cannot
  // go (being deleted, not found, in use by subscribed groups, named).
  Result<std::shared_ptr<TopicState>> removable_locked(std::string_view name) const REQUIRES(mu_);
  // The second half, without mu_: the groups stored for it in the journal,
  // then its journal databases dropped (waiting for the writer's cycle, up
  // to 30 s); clears the mark.
  Result<TopicDeletion> finish_delete_topic(TopicRemoval r) EXCLUDES(mu_);
  // kFailedPrecondition if topic `name` is being deleted; `then` says
  // what the caller may do after ("create it again").
  Status check_not_deleting(std::string_view name, std::string_view then) const REQUIRES(mu_);
  // Groups the registry knows to have consumed `t` (subscribed, or
  // remembered offsets), unsorted: groups_of without the journal.
  std::vector<std::string> registry_groups_of(const TopicState& t) const REQUIRES(mu_);

  const Options options_;
  const std::shared_ptr<BusShared> shared_;
  mutable Mutex mu_;
  bool closing_ GUARDED_BY(mu_) = false;
  std::map<std::string, std::shared_ptr<TopicState>, std::less<>> topics_ GUARDED_BY(mu_);
  // Shared so that metrics() can walk a copy outside mu_ (a group
  // unsubscribed meanwhile lives until the walk is done; it is stopped, so
  // whoever drops the last reference only frees it).
  std::map<std::string, std::shared_ptr<Group>, std::less<>> groups_ GUARDED_BY(mu_);
  // Topics create_topic is opening in the journal, not yet in topics_.
  std::set<std::string, std::less<>> creating_ GUARDED_BY(mu_);
  // Topics taken out of topics_ whose journal databases delete_topic is
  // still dropping: creating, subscribing to and dead-lettering to the name
  // are refused until it is done.
  std::set<std::string, std::less<>> deleting_ GUARDED_BY(mu_);
  // Groups subscribed with a TopicSet, by name (never also in groups_).
  std::map<std::string, std::unique_ptr<TopicSetGroup>, std::less<>> sets_ GUARDED_BY(mu_);
  // Memory topics' offsets of groups that unsubscribed, for a later
  // subscribe: group -> topic -> offsets per partition.
  std::map<std::string, std::map<std::string, std::vector<Offset>, std::less<>>, std::less<>> remembered_
      GUARDED_BY(mu_);
  // Dead-letter logs by group, made on first use.
  std::map<std::string, std::shared_ptr<DeadLetterLog>, std::less<>> dlq_logs_ GUARDED_BY(mu_);
  MemoryStorage memory_;
  std::unique_ptr<Journal> journal_;  // null for a memory-only bus
  std::unique_ptr<JournalStorage> journal_storage_;  // with journal_
};

}  // namespace weir::internal
