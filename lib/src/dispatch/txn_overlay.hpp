// TxnOverlay: a transactional group's handled-but-uncommitted work.
//
// In a transactional group (dedupe on, or a StateHandler; journaled topics
// only) every event the handler finishes becomes part of a WriteSet (state
// writes, dedupe record, the offset past the event), one per batch,
// submitted to the journal writer, which commits it in its next group
// commit. Until then its writes stay in this overlay, so later events read
// them (read-your-writes) and a redelivered duplicate is recognised before
// its dedupe record is committed. The writer reports commits back through
// committed() (the overlay is the group's TxnSink); a key leaves the overlay
// when every write set that wrote it is committed (until then reads see the
// newest value, which is then also the journal's).
//
// Back-pressure: at most 4,096 write sets wait for the writer; opening
// another waits (up to 30 s) for commits.
//
// Dedupe records are looked up in every overlay of the group's DedupeScope
// (below): a group over several topics has one overlay per topic, and an id
// handled on one topic and not yet committed counts as handled on all.
//
// Thread-safety: thread-safe. One mutex guards every map, the entry pool
// and every counter; the condition variable is signalled on each commit
// report (writer thread). Lock order: DedupeScope::mu_, then one overlay's
// mu_ at a time; an overlay's mu_ is never held while taking another lock.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dispatch/key_table.hpp"
#include "journal/journal.hpp"

namespace weir::internal {

class TxnOverlay;

// The overlays whose dedupe records one group's checks see: a one-topic
// group's one overlay, or every member topic's of a group over several
// topics (subscribe.hpp: an id handled on one of its topics counts as
// handled on all of them). And the generation they share: the count of
// commit reports any member received, which TxnOverlay::in_overlay checks
// (a record may leave any member's overlay once committed).
//
// Thread-safety: thread-safe. members_ is guarded by mu_ (shared for the
// lookups, exclusive to join or leave). commits_: each member increments
// it in committed() under its own mutex, after erasing the committed
// entries (release); lookups load it (acquire) before they look at any
// overlay (seen_many's generation) or after (in_overlay's check), so a
// record erased before a member's lookup is seen as a changed generation.
class DedupeScope {
 public:
  // Adds / removes a member (TxnOverlay::attach / detach; idempotent).
  void join(const TxnOverlay* o);
  void leave(const TxnOverlay* o);
  // Sets seen[i] for every keys[i] (hashes[i] its hash; empty: skipped)
  // held by a member other than `self`. Thread-safe.
  void find_in_others(const TxnOverlay* self, std::span<const std::string> keys,
                      std::span<const std::uint64_t> hashes, std::span<char> seen) const;
  // Whether a member other than `self` holds `key`. Thread-safe.
  bool others_hold(const TxnOverlay* self, std::string_view key, std::uint64_t hash) const;
  std::uint64_t generation() const noexcept { return commits_.load(std::memory_order_acquire); }
  void count_commit() noexcept { commits_.fetch_add(1, std::memory_order_release); }

 private:
  // Whether any member besides one overlay exists (a relaxed hint that
  // spares a one-topic group the shared lock: a member that joins later
  // starts empty, and events it hands out race with this check as any two
  // events with one id handled at the same moment do).
  bool has_others() const noexcept { return members_n_.load(std::memory_order_relaxed) > 1; }

  mutable std::shared_mutex mu_;
  std::vector<const TxnOverlay*> members_;  // GUARDED_BY(mu_)
  std::atomic<std::size_t> members_n_{0};  // members_.size(), written under mu_
  std::atomic<std::uint64_t> commits_{0};
};

class TxnOverlay final : public TxnSink {
 public:

  // `journal`: where write sets go and what is read past the overlay.
  // `scope`: the group's DedupeScope (shared by the topics of a group over
  // several; null: one of its own).
  TxnOverlay(Journal* journal, std::string group, std::string topic, std::chrono::seconds dedupe_window,
             std::uint32_t partitions, std::shared_ptr<DedupeScope> scope = nullptr);
  ~TxnOverlay() override;
  TxnOverlay(const TxnOverlay&) = delete;
  TxnOverlay& operator=(const TxnOverlay&) = delete;

  // Registers / unregisters the overlay as the sink of its write sets'
  // commit reports (write sets still queued after detach() report to
  // nobody) and as a member of its DedupeScope. Thread-safe.
  void attach();
  void detach();

  // The overlay's view of a state key (nullopt: not in the overlay;
  // optional<nullopt>: erased there). Thread-safe.
  std::optional<std::optional<std::string>> get(std::string_view key) const;

  // Was the event with this dedupe key handled: in the scope's overlays,
  // else in the journal (an error: the journal could not be read now).
  // Thread-safe.
  Result<bool> seen(std::string_view dedupe_key) const;
  // seen() for a batch: one lock and one read transaction for all keys.
  // Sets seen[i] (keys.size() elements, zeroed by the caller) for each
  // keys[i] handled; empty keys are skipped. Stores each key's hash in
  // hashes[i] (keys.size() elements), for in_overlay. `generation` receives
  // the commit count the answers hold for (see in_overlay). Thread-safe.
  Status seen_many(std::span<const std::string> keys, std::span<std::uint64_t> hashes, std::span<char> seen,
                   std::uint64_t& generation) const;
  // Whether the scope's overlays hold `dedupe_key`: true / false, or
  // nullopt when a commit was reported to any of them since `generation` (a
  // record may then have left an overlay after seen_many read the journal:
  // look it up again). `hash`: the key's hash as seen_many stored it.
  // Thread-safe.
  std::optional<bool> in_overlay(std::string_view dedupe_key, std::uint64_t hash, std::uint64_t generation) const;
  std::optional<bool> in_overlay(std::string_view dedupe_key, std::uint64_t generation) const {
    return in_overlay(dedupe_key, KeyTable<Entry>::hash_of(dedupe_key), generation);
  }

  // Adds one finished event of `partition` (`next`: the offset after it)
  // to the batch's write set `ws`, opening it if null; its writes and dedupe
  // key (empty: none) are copied into the write set and enter the overlay.
  // Thread-safe.
  void add(std::uint32_t partition, Offset next, std::string_view dedupe_key, const StateWrites& writes,
           std::unique_ptr<WriteSet>& ws);

  // TxnSink: these write sets are committed (writer thread).
  void committed(std::span<const std::uint64_t> seqs) override;

  // Waits up to `timeout`, nudging the writer, until no write set (of
  // `partition`, or of any) waits for a commit; returns how many still do.
  std::uint64_t wait_committed(std::optional<std::uint32_t> partition, std::chrono::milliseconds timeout);

 private:
  Journal* const journal_;
  const std::string group_, topic_;
  const std::chrono::seconds dedupe_window_;
  const std::shared_ptr<SinkRef> sink_ref_ = std::make_shared<SinkRef>();
  const std::shared_ptr<DedupeScope> scope_;

  // A key's newest uncommitted value and how many uncommitted write sets
  // wrote it: the entry leaves when the last of them is committed (so a
  // write set's entry list may point at it until then). Entries are pooled
  // (see free_): a reused one keeps its key and value buffers, so entering
  // a key allocates nothing once the pool is warm, and the writer's commit
  // report frees nothing another thread allocated.
  struct Entry {
    std::string key;
    std::uint64_t hash = 0;  // KeyTable::hash_of(key)
    std::string value;       // dedupe records: ""
    bool erased = false;     // the newest write erased the key
    std::uint64_t seq = 0;   // the newest write set that wrote it
    std::uint32_t refs = 0;  // uncommitted write sets that wrote it
  };
  // One uncommitted write set: its partition and the entries it wrote
  // (each once).
  struct Pending {
    std::uint32_t partition = 0;
    std::vector<Entry*> entries;
  };
  // Enters `key` (written by write set `seq`; value null: erased) into the
  // overlay.
  void enter(std::string_view key, std::optional<std::string_view> value, std::uint64_t seq, Pending& p);

  friend class DedupeScope;  // the other members' lookups
  // Whether the overlay holds `key` now. Takes mu_.
  bool holds(std::string_view key, std::uint64_t hash) const;
  // Sets seen[i] for each non-empty keys[i] (hashes[i] its hash) the
  // overlay holds now; one lock for all. Takes mu_.
  void mark_held(std::span<const std::string> keys, std::span<const std::uint64_t> hashes,
                 std::span<char> seen) const;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // commits reported
  KeyTable<Entry> table_;     // GUARDED_BY(mu_): key -> entry (entries owned by the overlay)
  std::vector<Entry*> free_;  // GUARDED_BY(mu_): idle entries, at most kMaxIdleEntries
  std::unordered_map<std::uint64_t, Pending> pending_;  // GUARDED_BY(mu_): seq -> what it wrote
  std::vector<std::uint64_t> partition_uncommitted_;  // GUARDED_BY(mu_): per partition
  std::uint64_t next_seq_ = 0;     // GUARDED_BY(mu_)
  std::uint64_t uncommitted_ = 0;  // GUARDED_BY(mu_): write sets submitted, not committed
};

}  // namespace weir::internal
