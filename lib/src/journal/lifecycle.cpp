// Topic and group lifecycle in the journal: rewriting a topic's catalog
// entry (alter), dropping a topic's partition databases (delete_topic), and
// removing a group's offsets, dedupe records and state (delete_group).
#include <algorithm>

#include "journal/format.hpp"
#include "journal/journal.hpp"

namespace weir::internal {

namespace {

// Deletes every key of `dbi` that starts with `prefix`; returns how many.
Result<std::uint64_t> delete_prefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, const char* what) {
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, dbi, &cur)) return lmdb_status(rc, std::string("open cursor on ") + what);
  std::uint64_t n = 0;
  MDB_val k = as_val(prefix), v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && as_view(k).substr(0, prefix.size()) == prefix) {
    if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
    ++n;
    // Seek again rather than trust the cursor's position after a delete
    // (a page may have been merged under it).
    k = as_val(prefix);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, std::string("delete from ") + what);
  return n;
}

}  // namespace

Status Journal::store_topic_options(std::string_view topic, const TopicOptions& o) {
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  StoredTopic st = encode_topic_options(o);
  const std::string mk = topic_meta_key(topic);
  MDB_val k = as_val(mk), v{sizeof st, &st};
  if (int rc = mdb_put(txn.get(), meta_dbi_, &k, &v, 0))
    return lmdb_status(rc, "record options of topic '" + std::string(topic) + "'");
  // Partitions added by a grow exist at once, empty (the catalog and the
  // databases agree, as `weir verify` and the next open check); the
  // running bus publishes to them from its next start.
  for (std::uint32_t p = 0; p < o.partitions; ++p) {
    MDB_dbi dbi;
    const int rc = mdb_dbi_open(txn.get(), partition_dbi_name(topic, p).c_str(), MDB_CREATE, &dbi);
    if (rc == MDB_DBS_FULL)
      return Status::resource_exhausted("journal holds at most Options::journal_max_partitions = " +
                                        std::to_string(options_.journal_max_partitions) + " partitions; topic '" +
                                        std::string(topic) + "' needs more");
    if (rc) return lmdb_status(rc, "create partition " + std::to_string(p) + " of '" + std::string(topic) + "'");
  }
  return env_->commit(txn, Env::MetaFlush::kNow);
}

Status Journal::drop_topic(std::string_view topic, std::uint32_t partitions,
                           const std::vector<std::string>& groups, std::string_view dead_letter_group) {
  // Detach its partitions: the writer copies logs_ at the start of each
  // cycle and of each retention pass (which runs between cycles), and drops
  // them from earlier takes then, so once a cycle that started after this
  // removal has ended (committed or not), nothing holds them.
  std::vector<JournalLog*> gone;
  {
    MutexLock lock(mu_);
    std::erase_if(logs_, [&](CommitSource* src) {
      if (src->journal_log().topic() != topic) return false;
      gone.push_back(&src->journal_log());
      return true;
    });
    ++detached_;  // the next cycle drops them from earlier takes (forget_detached)
    for (std::uint32_t p = 0; p < partitions; ++p) open_bounds_.erase(partition_dbi_name(topic, p));
  }
  // Waits for reads in flight on the handles (not under mu_: a reader may
  // wait for resize_mu_ behind the writer); later ones get kNotFound.
  for (JournalLog* log : gone) {
    WriterLock gate(log->gate_);
    log->dropped_ = true;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // A cycle that ended, not one that committed: at the size cap or on a
  // full disk every commit may fail until this drop frees the space.
  if (Status s = wait_cycle_ended(cycle_started_.load(std::memory_order_seq_cst) + 1, std::chrono::seconds(30)); !s)
    return Status(s.code(), "delete topic '" + std::string(topic) + "': the journal writer did not finish a cycle: " +
                                s.message());
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  const std::string name(topic);
  for (std::uint32_t p = 0; p < partitions; ++p) {
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn.get(), partition_dbi_name(name, p).c_str(), 0, &dbi);
    if (rc == MDB_NOTFOUND) continue;
    if (rc == 0) rc = mdb_drop(txn.get(), dbi, 1);
    if (rc) return lmdb_status(rc, "drop partition " + std::to_string(p) + " of topic '" + name + "'");
  }
  const std::string mk = topic_meta_key(name);
  MDB_val k = as_val(mk);
  if (int rc = mdb_del(txn.get(), meta_dbi_, &k, nullptr); rc && rc != MDB_NOTFOUND)
    return lmdb_status(rc, "delete catalog entry of topic '" + name + "'");
  for (const std::string& g : groups) {
    std::string prefix = g;
    prefix.push_back('\0');
    prefix += name;
    prefix.push_back('\0');
    if (auto n = delete_prefix(txn.get(), offsets_dbi_, prefix, "group offsets"); !n) return n.status();
    // Attempt counts of the group's failing events on this topic.
    if (auto n = delete_prefix(txn.get(), internal_dbi_, attempts_prefix(g, name), "attempt records"); !n)
      return n.status();
  }
  if (!dead_letter_group.empty())
    if (auto n = delete_prefix(txn.get(), internal_dbi_, settled_prefix(dead_letter_group), "dead-letter ledger"); !n)
      return n.status();
  if (Status s = env_->commit(txn, Env::MetaFlush::kNow); !s) return s;
  // At the size cap the writer's next commit must be able to use the space
  // this drop freed.
  reuse_freed_pages();
  return Status::ok();
}

Result<DroppedGroup> Journal::drop_group(std::string_view group) {
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  DroppedGroup out;
  const std::string g(group);
  const std::string own = g + std::string(1, '\0');
  auto offsets = delete_prefix(txn.get(), offsets_dbi_, own, "group offsets");
  if (!offsets) return offsets.status();
  out.offsets = *offsets;
  // Dedupe records, and their entries in the purge-order index (be64
  // expiry + dedupe key), which has to be walked whole.
  auto dedupe = delete_prefix(txn.get(), dedupe_dbi_, own, "dedupe records");
  if (!dedupe) return dedupe.status();
  out.dedupe_records = *dedupe;
  if (*dedupe > 0) {
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(txn.get(), dedupe_time_dbi_, &cur)) return lmdb_status(rc, "open dedupe index");
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
      const std::string_view key = as_view(k);
      if (key.size() > 8 && key.substr(8, own.size()) == own) {
        const std::string at(key);
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
        k = as_val(at);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
      } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
      }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return lmdb_status(rc, "delete from the dedupe index");
  }
  // State tables; attempt counts and the dead-letter settled ledger.
  for (const MDB_dbi dbi : {state_dbi_, internal_dbi_}) {
    auto n = delete_prefix(txn.get(), dbi, own, dbi == state_dbi_ ? "state" : "internal records");
    if (!n) return n.status();
    out.state_values += *n;
  }
  if (Status s = env_->commit(txn, Env::MetaFlush::kNow); !s) return s;
  return out;
}

}  // namespace weir::internal
