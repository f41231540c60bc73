// Journal: opening the environment, the topic catalog, group offsets and
// log reads (see journal.hpp); its group-commit writer is journal/writer.cpp.
#include "journal/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "journal/batch.hpp"
#include "journal/format.hpp"
#include "journal/migrate.hpp"
#include "record/record.hpp"

namespace weir::internal {

Result<std::unique_ptr<Journal>> Journal::open(const Options& o) {
  EnvConfig c;
  c.dir = o.data_dir;
  c.max_dbs = o.journal_max_partitions + kInternalDbis;
  c.max_readers = o.journal_max_readers;
  c.map_bytes = o.journal_initial_map_bytes;
  auto env = Env::open(c);
  if (!env) return env.status();
  std::unique_ptr<Journal> j(new Journal(o, std::move(env).value()));
  {
    MutexLock lock(j->mu_);
    j->open_bounds_ = j->env_->take_log_bounds();
  }
  MDB_envinfo info;
  if (mdb_env_info(j->env_->get(), &info) == 0) j->map_size_ = std::max(j->map_size_, info.me_mapsize);
  MDB_stat st;
  if (int rc = mdb_env_stat(j->env_->get(), &st)) return lmdb_status(rc, "mdb_env_stat");
  j->batch_limit_ = inline_value_limit(st.ms_psize, 8);
  if (Status s = j->init_meta(); !s) return s;
  j->writer_ = std::thread([p = j.get()] { p->writer_main(); });
  return j;
}

Journal::Journal(const Options& o, std::unique_ptr<Env> env)
    : options_(o), env_(std::move(env)), map_size_(o.journal_initial_map_bytes) {}

Journal::~Journal() {
  stop();
  for (MDB_txn* t : read_pool_) mdb_txn_abort(t);
  WriteSet* left;
  while (ws_queue_.try_dequeue(left)) delete left;  // never committed (stalled journal)
}

Status Journal::init_meta() {
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  const std::pair<const char*, MDB_dbi*> dbis[] = {{kMetaDbi, &meta_dbi_},
                                                   {kOffsetsDbi, &offsets_dbi_},
                                                   {kDedupeDbi, &dedupe_dbi_},
                                                   {kDedupeTimeDbi, &dedupe_time_dbi_},
                                                   {kStateDbi, &state_dbi_},
                                                   {kInternalDbi, &internal_dbi_}};
  // The journal is made only in an environment with no database at all (a
  // new one, or one whose first open was cut off before its first commit):
  // never added to another program's LMDB data.
  if (int rc = mdb_dbi_open(txn.get(), kMetaDbi, 0, &meta_dbi_); rc == MDB_NOTFOUND) {
    MDB_dbi main_dbi;
    MDB_stat st{};
    if ((rc = mdb_dbi_open(txn.get(), nullptr, 0, &main_dbi)) || (rc = mdb_stat(txn.get(), main_dbi, &st)))
      return lmdb_status(rc, "read the environment's databases");
    if (st.ms_entries != 0)
      return Status::failed_precondition("data_dir '" + options_.data_dir +
                                         "' holds an LMDB environment that is not a weir journal");
  } else if (rc) {
    return lmdb_status(rc, std::string("open ") + kMetaDbi);
  }
  for (const auto& [name, dbi] : dbis)
    if (int rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi))
      return lmdb_status(rc, std::string("open ") + name);
  auto format = check_format(txn.get(), meta_dbi_, options_.data_dir, true);
  if (!format) return format.status();
  id_ = format->id;
  // An older journal is upgraded in this same transaction: whole or not at all.
  auto moved = migrate_journal(txn.get(), format->version, {meta_dbi_, state_dbi_, internal_dbi_});
  if (!moved) return Status(moved.status().code(), "upgrade journal in '" + options_.data_dir + "' from format version " +
                                                       std::to_string(format->version) + ": " + moved.status().message());
  return env_->commit(txn, Env::MetaFlush::kNow);
}

Result<std::vector<std::pair<std::string, TopicOptions>>> Journal::stored_topics() const {
  std::vector<std::pair<std::string, TopicOptions>> out;
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), MDB_RDONLY); !s) return s;
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), meta_dbi_, &cur)) return lmdb_status(rc, "mdb_cursor_open");
  MDB_val k = as_val("topic/"), v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const std::string_view key = as_view(k);
    if (key.substr(0, 6) != "topic/") break;
    const auto o = decode_topic_options(as_view(v));
    if (!o) {
      mdb_cursor_close(cur);
      return Status::data_loss("journal in '" + options_.data_dir + "': metadata of topic '" +
                               std::string(key.substr(6)) + "' is malformed");
    }
    out.emplace_back(std::string(key.substr(6)), *o);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "read topic metadata");
  return out;
}

Result<std::vector<std::unique_ptr<JournalLog>>> Journal::open_topic(std::string_view topic,
                                                                     const TopicOptions& o) {
  std::vector<std::unique_ptr<JournalLog>> logs;
  const std::string name(topic);
  // Bounds the open check found, for logs not written since.
  std::vector<std::optional<PartitionBounds>> found(o.partitions);
  {
    MutexLock lock(mu_);
    for (std::uint32_t p = 0; p < o.partitions; ++p)
      if (auto it = open_bounds_.find(partition_dbi_name(name, p)); it != open_bounds_.end()) {
        found[p] = it->second;
        open_bounds_.erase(it);
      }
  }
  std::shared_lock<ResizeMutex> rl(resize_mu_);  // no resize while we hold a txn
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  StoredTopic st = encode_topic_options(o);
  const std::string mk = topic_meta_key(name);
  MDB_val k = as_val(mk), v{sizeof st, &st}, old;
  // A stored topic re-opened at start changes nothing, so its transaction
  // commits without a sync.
  int rc = mdb_get(txn.get(), meta_dbi_, &k, &old);
  if (rc == MDB_NOTFOUND || (rc == 0 && (old.mv_size != sizeof st || std::memcmp(old.mv_data, &st, sizeof st) != 0)))
    rc = lmdb_put(txn.get(), meta_dbi_, &k, &v, 0);
  if (rc) return lmdb_status(rc, "record topic '" + name + "'");
  for (std::uint32_t p = 0; p < o.partitions; ++p) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn.get(), partition_dbi_name(name, p).c_str(), MDB_CREATE, &dbi);
    if (rc == MDB_DBS_FULL)
      return Status::resource_exhausted("journal holds at most Options::journal_max_partitions = " +
                                        std::to_string(options_.journal_max_partitions) + " partitions; topic '" +
                                        name + "' needs more");
    if (rc) return lmdb_status(rc, "open partition " + std::to_string(p) + " of '" + name + "'");
    // Where appends continue: one past the last stored offset.
    auto bounds = found[p] ? Result<PartitionBounds>(*found[p]) : partition_bounds(txn.get(), dbi);
    if (!bounds) return bounds.status();
    logs.push_back(std::make_unique<JournalLog>(name, p, dbi, bounds->start, bounds->end, bounds->bytes));
  }
  if (Status s = env_->commit(txn, Env::MetaFlush::kNow); !s) return s;
  return logs;
}

void Journal::attach(CommitSource* src) {
  MutexLock lock(mu_);
  logs_.push_back(src);
}

Result<std::vector<Offset>> Journal::load_offsets(const std::string& group, const std::string& topic,
                                                  std::uint32_t partitions) const {
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), MDB_RDONLY); !s) return s;
  std::vector<Offset> out(partitions, kUnsetOffset);
  bool any = false;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    const std::string key = offsets_key(group, topic, p);
    MDB_val k = as_val(key), v;
    int rc = mdb_get(txn.get(), offsets_dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) continue;
    if (rc) return lmdb_status(rc, "read offsets of group '" + group + "'");
    if (v.mv_size != 8) return Status::data_loss("offset of group '" + group + "' partition " + std::to_string(p) + " is malformed");
    out[p] = get_be64(static_cast<const char*>(v.mv_data));
    any = true;
  }
  if (!any) return std::vector<Offset>{};
  return out;
}

Result<std::vector<std::string>> Journal::groups_of(std::string_view topic) const {
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), MDB_RDONLY); !s) return s;
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), offsets_dbi_, &cur)) return lmdb_status(rc, "open offsets cursor");
  std::vector<std::string> out;
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    auto key = parse_offsets_key(as_view(k));
    if (!key || key->topic != topic) continue;
    if (out.empty() || out.back() != key->group) out.push_back(std::move(key->group));
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "walk group offsets");
  return out;
}

void Journal::track(OffsetSource* src) {
  MutexLock lock(mu_);
  sources_.push_back(src);
}

std::vector<std::pair<std::string, std::uint64_t>> Journal::unwritten_events() const {
  std::map<std::string, std::uint64_t> by_topic;
  {
    MutexLock lock(mu_);
    for (CommitSource* src : logs_) {
      const std::uint32_t n = src->ready(src->journal_log().committed(), UINT32_MAX);
      if (n) by_topic[src->journal_log().topic()] += n;
    }
  }
  return {by_topic.begin(), by_topic.end()};
}

Status Journal::untrack(OffsetSource* src, std::chrono::milliseconds timeout) {
  std::uint64_t target;
  {
    MutexLock lock(mu_);
    sources_.erase(std::remove(sources_.begin(), sources_.end(), src), sources_.end());
    const auto offs = src->offsets_in_write_sets() ? std::vector<Offset>{} : src->current_offsets();
    for (std::uint32_t p = 0; p < offs.size(); ++p)
      final_offsets_.emplace_back(offsets_key(src->group_name(), src->topic_name(), p), offs[p]);
    persisted_.erase(std::remove_if(persisted_.begin(), persisted_.end(),
                                    [&](const auto& e) { return e.first == src; }),
                     persisted_.end());
    // The next cycle to start takes final_offsets_ (under mu_).
    target = cycle_started_.load(std::memory_order_acquire) + 1;
  }
  return wait_cycle(target, timeout);
}

Status Journal::wait_offsets_durable(std::chrono::milliseconds timeout) {
  // Store-buffering pattern, made safe by two seq_cst fences:
  //   caller:  cursor store (release)      ; fence F1 ; load cycle_started_ -> c
  //   writer:  cycle_started_ RMW -> c + 1 ; fence F2 ; cursor loads (acquire)
  // F1 and F2 are totally ordered. If F2 came first, the RMW (sequenced
  // before F2) would precede our load (sequenced after F1) in that order,
  // so the load would read c + 1 or later ([atomics.order]: a seq_cst load
  // after a fence sees the modification sequenced before an earlier fence)
  // and we would wait for a later cycle. So F1 precedes F2, and then the
  // cursor loads after F2 see every cursor stored before F1: cycle c + 1
  // persists them. The writer's fence is needed by the C++ model even
  // though x86 (locked RMW) and ARMv8 (LDADDAL) order the RMW before the
  // loads anyway: a seq_cst RMW alone does not order a later acquire load
  // of another object before it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return wait_cycle(cycle_started_.load(std::memory_order_seq_cst) + 1, timeout);
}

Journal::ReadLease::ReadLease(const Journal& j) : j_(j), lock_(j.resize_mu_) {
  {
    MutexLock pool(j.pool_mu_);
    if (!j.read_pool_.empty()) {
      txn_ = j.read_pool_.back();
      j.read_pool_.pop_back();
    }
  }
  int rc = txn_ ? mdb_txn_renew(txn_) : mdb_txn_begin(j.env_->get(), nullptr, MDB_RDONLY, &txn_);
  if (rc) {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
    status_ = lmdb_status(rc, "begin read transaction");
  }
}

Journal::ReadLease::~ReadLease() {
  if (!txn_) return;
  mdb_txn_reset(txn_);
  MutexLock pool(j_.pool_mu_);
  j_.read_pool_.push_back(txn_);
}

Status Journal::read(const JournalLog& log, Offset from, std::uint32_t max, ReadBatch& out) const {
  out.clear();
  const Offset committed = log.committed();
  if (from >= committed || max == 0) return Status::ok();
  max = static_cast<std::uint32_t>(std::min<Offset>(max, committed - from));

  ReaderLock gate(log.gate_);
  if (log.dropped_) return dropped(log);
  ReadLease lease(*this);
  if (!lease.txn()) return lease.status();
  return read_log(lease.txn(), log.dbi(), log.topic(), log.partition(), from, committed, max, out);
}

}  // namespace weir::internal
