#include "journal/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "journal/batch.hpp"
#include "journal/format.hpp"
#include "topic/topic.hpp"

namespace weir::internal {

namespace {

constexpr std::string_view kFormat = kJournalFormat;
constexpr std::uint32_t kVersion = kJournalVersion;
constexpr std::size_t kMaxTxnBytes = 64u << 20;
constexpr auto kStalledRetry = std::chrono::milliseconds(100);
constexpr auto kRetentionInterval = std::chrono::milliseconds(100);

}  // namespace

namespace {

Status errno_status(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(const Options& o, std::shared_ptr<BusShared> bus) {
  namespace fs = std::filesystem;
  const fs::path dir(o.data_dir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // Missing parents are created too; the journal directory itself is 0700.
    if (dir.has_parent_path() && !fs::exists(dir.parent_path(), ec)) {
      fs::create_directories(dir.parent_path(), ec);
      if (ec)
        return Status::io_error("cannot create the parent of data directory '" + o.data_dir +
                                "': " + ec.message());
    }
    if (::mkdir(o.data_dir.c_str(), 0700) != 0 && errno != EEXIST)
      return errno_status("cannot create data directory '" + o.data_dir + "'");
  } else if (!fs::is_directory(dir, ec)) {
    return Status::invalid_argument("data_dir '" + o.data_dir + "' is not a directory");
  }
  const bool has_journal = fs::exists(dir / "data.mdb", ec);
  if (!has_journal) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto name = entry.path().filename().string();
      if (name != "weir.lock" && name != "lock.mdb")
        return Status::failed_precondition("data_dir '" + o.data_dir +
                                           "' is not empty and holds no weir journal (found '" +
                                           name + "')");
    }
  }

  // One process at a time owns the journal for writing.
  const std::string lock_path = (dir / "weir.lock").string();
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot open '" + lock_path + "'");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::failed_precondition("data_dir '" + o.data_dir +
                                       "' is in use by another weir bus (weir.lock is held)");
  }

  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc) {
    ::close(fd);
    return lmdb_status(rc, "mdb_env_create");
  }
  auto fail = [&](int code, const char* what) -> Status {
    mdb_env_close(env);
    ::close(fd);
    return lmdb_status(code, what);
  };
  if ((rc = mdb_env_set_maxdbs(env, o.journal_max_partitions + 5))) return fail(rc, "mdb_env_set_maxdbs");
  if ((rc = mdb_env_set_maxreaders(env, o.journal_max_readers))) return fail(rc, "mdb_env_set_maxreaders");
  if ((rc = mdb_env_set_mapsize(env, o.journal_initial_map_bytes))) return fail(rc, "mdb_env_set_mapsize");
  rc = mdb_env_open(env, o.data_dir.c_str(), MDB_NOTLS, 0600);
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
    mdb_env_close(env);
    ::close(fd);
    return Status::data_loss("data_dir '" + o.data_dir +
                             "' holds a data.mdb that is not a readable LMDB journal: " +
                             mdb_strerror(rc));
  }
  if (rc) return fail(rc, "mdb_env_open");
  int dead = 0;
  mdb_reader_check(env, &dead);  // reclaim reader slots of crashed processes

  std::unique_ptr<Journal> j(new Journal(o, std::move(bus), env));
  j->lock_fd_ = fd;
  MDB_envinfo info;
  if (mdb_env_info(env, &info) == 0) j->map_size_ = std::max(j->map_size_, info.me_mapsize);
  if (Status s = j->init_meta(); !s) return s;
  j->writer_ = std::thread([p = j.get()] { p->writer_main(); });
  return j;
}

Journal::Journal(const Options& o, std::shared_ptr<BusShared> bus, MDB_env* env)
    : options_(o), bus_(std::move(bus)), env_(env), map_size_(o.journal_initial_map_bytes) {}

Journal::~Journal() {
  stop();
  for (MDB_txn* t : read_pool_) mdb_txn_abort(t);
  WriteSet* left;
  while (ws_queue_.try_dequeue(left)) delete left;  // never committed (stalled journal)
  mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Journal::init_meta() {
  Txn txn;
  if (Status s = txn.begin(env_, 0); !s) return s;
  int rc = mdb_dbi_open(txn.get(), "weir.meta", MDB_CREATE, &meta_dbi_);
  if (rc) return lmdb_status(rc, "open weir.meta");
  rc = mdb_dbi_open(txn.get(), "weir.offsets", MDB_CREATE, &offsets_dbi_);
  if (rc) return lmdb_status(rc, "open weir.offsets");
  if ((rc = mdb_dbi_open(txn.get(), "weir.dedupe", MDB_CREATE, &dedupe_dbi_)))
    return lmdb_status(rc, "open weir.dedupe");
  if ((rc = mdb_dbi_open(txn.get(), "weir.dedupe.time", MDB_CREATE, &dedupe_time_dbi_)))
    return lmdb_status(rc, "open weir.dedupe.time");
  if ((rc = mdb_dbi_open(txn.get(), "weir.state", MDB_CREATE, &state_dbi_)))
    return lmdb_status(rc, "open weir.state");
  MDB_val k = as_val("format"), v;
  rc = mdb_get(txn.get(), meta_dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) {
    // A new journal: the directory was empty (checked in open()).
    MDB_val fv = as_val(kFormat);
    if ((rc = mdb_put(txn.get(), meta_dbi_, &k, &fv, 0))) return lmdb_status(rc, "write format");
    MDB_val vk = as_val("version");
    MDB_val vv{sizeof kVersion, const_cast<std::uint32_t*>(&kVersion)};
    if ((rc = mdb_put(txn.get(), meta_dbi_, &vk, &vv, 0))) return lmdb_status(rc, "write version");
    id_ = BusShared::random_id();
    MDB_val ik = as_val("id"), iv{sizeof id_, &id_};
    if ((rc = mdb_put(txn.get(), meta_dbi_, &ik, &iv, 0))) return lmdb_status(rc, "write id");
    return txn.commit();
  }
  if (rc) return lmdb_status(rc, "read format");
  if (as_view(v) != kFormat)
    return Status::failed_precondition("data_dir '" + options_.data_dir +
                                       "' holds an LMDB environment that is not a weir journal");
  MDB_val vk = as_val("version"), vv;
  rc = mdb_get(txn.get(), meta_dbi_, &vk, &vv);
  std::uint32_t version = 0;
  if (rc == 0 && vv.mv_size == sizeof version) std::memcpy(&version, vv.mv_data, sizeof version);
  if (version == 0) return Status::data_loss("journal in '" + options_.data_dir + "' has no valid version");
  if (version > kVersion)
    return Status::failed_precondition("journal in '" + options_.data_dir + "' has format version " +
                                       std::to_string(version) + "; this weir reads up to version " +
                                       std::to_string(kVersion));
  MDB_val ik = as_val("id"), iv;
  if (mdb_get(txn.get(), meta_dbi_, &ik, &iv) != 0 || iv.mv_size != sizeof id_)
    return Status::data_loss("journal in '" + options_.data_dir + "' has no valid id");
  std::memcpy(&id_, iv.mv_data, sizeof id_);
  return txn.commit();
}

Result<std::vector<std::pair<std::string, TopicOptions>>> Journal::stored_topics() const {
  std::vector<std::pair<std::string, TopicOptions>> out;
  std::shared_lock<std::shared_mutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_, MDB_RDONLY); !s) return s;
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

Status Journal::attach_topic(const std::shared_ptr<TopicState>& topic) {
  const TopicOptions& o = topic->options();
  {
    std::shared_lock<std::shared_mutex> rl(resize_mu_);  // no resize while we hold a txn
    Txn txn;
    if (Status s = txn.begin(env_, 0); !s) return s;
    StoredTopic st = encode_topic_options(o);
    const std::string mk = topic_meta_key(topic->name());
    MDB_val k = as_val(mk), v{sizeof st, &st}, old;
    // A stored topic re-attached at open changes nothing, so its transaction
    // commits without a sync.
    int rc = mdb_get(txn.get(), meta_dbi_, &k, &old);
    if (rc == MDB_NOTFOUND || (rc == 0 && (old.mv_size != sizeof st || std::memcmp(old.mv_data, &st, sizeof st) != 0)))
      rc = mdb_put(txn.get(), meta_dbi_, &k, &v, 0);
    if (rc) return lmdb_status(rc, "record topic '" + topic->name() + "'");
    for (std::uint32_t p = 0; p < o.partitions; ++p) {
      MDB_dbi dbi;
      rc = mdb_dbi_open(txn.get(), partition_dbi_name(topic->name(), p).c_str(), MDB_CREATE, &dbi);
      if (rc == MDB_DBS_FULL)
        return Status::resource_exhausted("journal holds at most Options::journal_max_partitions = " +
                                          std::to_string(options_.journal_max_partitions) +
                                          " partitions; topic '" + topic->name() + "' needs more");
      if (rc) return lmdb_status(rc, "open partition " + std::to_string(p) + " of '" + topic->name() + "'");
      // Where appends continue: one past the last stored offset.
      auto bounds = partition_bounds(txn.get(), dbi);
      if (!bounds) return bounds.status();
      topic->attach_journal_partition(p, dbi, bounds->start, bounds->end, bounds->bytes);
    }
    if (Status s = txn.commit(); !s) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  topics_.push_back(topic);
  return Status::ok();
}

Result<std::vector<Offset>> Journal::load_offsets(const std::string& group, const std::string& topic,
                                                  std::uint32_t partitions) const {
  std::shared_lock<std::shared_mutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_, MDB_RDONLY); !s) return s;
  std::vector<Offset> out(partitions, kUnsetOffset);
  bool any = false;
  for (std::uint32_t p = 0; p < partitions; ++p) {
    const std::string key = Journal::offsets_key(group, topic, p);
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

void Journal::track(OffsetSource* src) {
  std::lock_guard<std::mutex> lock(mu_);
  sources_.push_back(src);
}

Status Journal::untrack(OffsetSource* src) {
  std::uint64_t target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sources_.erase(std::remove(sources_.begin(), sources_.end(), src), sources_.end());
    const auto offs = src->offsets_in_write_sets() ? std::vector<Offset>{} : src->current_offsets();
    for (std::uint32_t p = 0; p < offs.size(); ++p)
      final_offsets_.emplace_back(Journal::offsets_key(src->group_name(), src->topic_name(), p), offs[p]);
    persisted_.erase(std::remove_if(persisted_.begin(), persisted_.end(),
                                    [&](const auto& e) { return e.first == src; }),
                     persisted_.end());
    // The next cycle to start takes final_offsets_ (under mu_).
    target = cycle_started_.load(std::memory_order_acquire) + 1;
  }
  return wait_cycle(target, std::chrono::seconds(30));
}

Status Journal::wait_offsets_durable(std::chrono::milliseconds timeout) {
  // Pairs with the writer's seq_cst increment of cycle_started_ before it
  // reads the offsets: a cycle numbered after what we load here reads every
  // cursor stored before this fence.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return wait_cycle(cycle_started_.load(std::memory_order_seq_cst) + 1, timeout);
}

Status Journal::wait_cycle(std::uint64_t target, std::chrono::milliseconds timeout) {
  if (stop_.load(std::memory_order_acquire)) return Status::closed("journal is stopped");
  // Tell the writer a cycle is wanted (it re-checks this after announcing
  // itself asleep, so the ring below cannot be missed).
  std::uint64_t wanted = cycle_wanted_.load(std::memory_order_relaxed);
  while (wanted < target &&
         !cycle_wanted_.compare_exchange_weak(wanted, target, std::memory_order_seq_cst)) {
  }
  bell_.ring();
  std::unique_lock<std::mutex> lock(commit_mu_);
  const bool done = commit_cv_.wait_for(lock, timeout, [&] {
    return cycle_done_.load(std::memory_order_acquire) >= target || stop_.load(std::memory_order_acquire);
  });
  if (cycle_done_.load(std::memory_order_acquire) >= target) return Status::ok();
  if (!done) {
    std::string why = "offsets were not persisted within " + std::to_string(timeout.count()) + " ms";
    if (Status e = bus_->journal_error(); !e) why += " (journal: " + e.to_string() + ")";
    return Status::deadline_exceeded(why);
  }
  return Status::closed("journal stopped before the offsets were persisted");
}

Status Journal::persist_offsets(MDB_txn* txn, std::vector<std::pair<std::string, Offset>>& taken) {
  std::vector<std::pair<std::string, Offset>> writes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Take the final offsets of untracked groups: they are ours now, and go
    // back to final_offsets_ if this transaction does not commit.
    taken.swap(final_offsets_);
    writes = taken;
    for (OffsetSource* src : sources_) {
      if (src->offsets_in_write_sets()) continue;
      auto now = src->current_offsets();
      auto it = std::find_if(persisted_.begin(), persisted_.end(),
                             [&](const auto& e) { return e.first == src; });
      for (std::uint32_t p = 0; p < now.size(); ++p) {
        if (it != persisted_.end() && p < it->second.size() && it->second[p] == now[p]) continue;
        writes.emplace_back(Journal::offsets_key(src->group_name(), src->topic_name(), p), now[p]);
      }
      if (it == persisted_.end()) {
        persisted_.emplace_back(src, std::move(now));
      } else {
        it->second = std::move(now);
      }
    }
  }
  for (const auto& [key, off] : writes)
    if (Status s = put_offset(txn, key, off); !s) return s;
  return Status::ok();
}

Status Journal::put_offset(MDB_txn* txn, std::string_view key, Offset next) {
  char be[8];
  put_be64(be, next);
  MDB_val k = as_val(key), v{8, be};
  if (int rc = mdb_put(txn, offsets_dbi_, &k, &v, 0)) return lmdb_status(rc, "persist group offsets");
  return Status::ok();
}

void Journal::offsets_not_committed(std::vector<std::pair<std::string, Offset>>& taken) {
  std::lock_guard<std::mutex> lock(mu_);
  // Forget what we believed persisted so the next commit writes it again,
  // and put the final offsets back in front of any newer ones.
  persisted_.clear();
  taken.insert(taken.end(), final_offsets_.begin(), final_offsets_.end());
  final_offsets_.swap(taken);
  taken.clear();
}

Result<std::size_t> Journal::commit_once(bool final_pass) {
  struct Work {
    TopicState* topic;
    std::uint32_t partition;
    Offset from;
    std::uint32_t n;
    std::size_t bytes;
  };
  std::vector<std::shared_ptr<TopicState>> topics;
  bool offsets_pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    topics = topics_;
    offsets_pending = !final_offsets_.empty() || !sources_.empty();
  }
  std::vector<Work> work;
  std::size_t total_bytes = 0, total_events = 0;
  for (const auto& t : topics) {
    for (std::uint32_t p = 0; p < t->partitions() && total_bytes < kMaxTxnBytes; ++p) {
      PartitionLog& log = t->log(p);
      const Offset from = t->journal_part(p).writer.next.load(std::memory_order_relaxed);
      const std::uint32_t limit = static_cast<std::uint32_t>(
          std::min<std::size_t>(options_.journal_max_batch_events, log.capacity()));
      const std::uint32_t n = log.readable(from, limit);
      if (n == 0) continue;
      std::size_t bytes = sizeof(BatchHeader);
      std::uint32_t take = 0;
      while (take < n && total_bytes + bytes < kMaxTxnBytes) {
        bytes += kRecordFrame + log.record_bytes(from + take);
        ++take;
      }
      work.push_back(Work{t.get(), p, from, take, bytes});
      total_bytes += bytes;
      total_events += take;
    }
  }
  // Take the write sets handed in so far (bounded per commit).
  {
    WriteSet* taken[256];
    std::size_t n;
    while (pending_ws_.size() < 65536 && (n = ws_queue_.try_dequeue_bulk(taken, 256)) > 0) {
      for (std::size_t i = 0; i < n; ++i) pending_ws_.emplace_back(taken[i]);
      ws_taken_.fetch_add(n, std::memory_order_acq_rel);
    }
  }
  if (work.empty() && !offsets_pending && pending_ws_.empty() && !final_pass) return std::size_t{0};

  for (int attempt = 0;; ++attempt) {
    Status failed;
    std::vector<std::pair<std::string, Offset>> taken;
    {
      std::shared_lock<std::shared_mutex> rl(resize_mu_);
      Txn txn;
      if (Status s = txn.begin(env_, 0); !s) return s;
      for (const Work& w : work) {
        char key[8];
        put_be64(key, w.from);
        MDB_val k{8, key}, v{w.bytes, nullptr};
        int rc = mdb_put(txn.get(), w.topic->journal_part(w.partition).dbi, &k, &v,
                         MDB_RESERVE | MDB_APPEND);
        if (rc) {
          failed = lmdb_status(rc, "append to topic '" + w.topic->name() + "' partition " +
                                       std::to_string(w.partition));
          break;
        }
        char* out = static_cast<char*>(v.mv_data);
        PartitionLog& log = w.topic->log(w.partition);
        BatchHeader h{kBatchMagic, w.n, w.from, 0, static_cast<std::uint32_t>(w.bytes), 0};
        std::size_t pos = sizeof h;
        for (std::uint32_t i = 0; i < w.n; ++i) {
          const char* rec = log.record(w.from + i);
          std::int64_t t;
          std::memcpy(&t, rec, sizeof t);
          h.max_time_us = std::max(h.max_time_us, t);
          pos += frame_record(out + pos, rec, log.record_bytes(w.from + i));
        }
        seal_batch_header(h);
        std::memcpy(out, &h, sizeof h);
      }
      if (failed.is_ok()) failed = apply_write_sets(txn.get());
      if (failed.is_ok()) {
        failed = persist_offsets(txn.get(), taken);
        if (failed.is_ok()) failed = txn.commit();
        if (!failed.is_ok()) offsets_not_committed(taken);
      }
    }
    if (failed.is_ok()) break;
    // MAP_FULL: grow and retry; anything else: report (the caller retries).
    if (failed.code() == Code::kResourceExhausted &&
        failed.message().find("MDB_MAP_FULL") != std::string::npos && attempt < 8) {
      if (Status g = grow_map(total_bytes); !g) return g;
      continue;
    }
    return failed;
  }

  for (const Work& w : work) {
    TopicState::JournalPart& jp = w.topic->journal_part(w.partition);
    jp.bytes.fetch_add(w.bytes, std::memory_order_acq_rel);
    jp.committed.store(w.from + w.n, std::memory_order_release);
    jp.writer.next.store(w.from + w.n, std::memory_order_release);
    w.topic->log(w.partition).reader_advanced();
  }
  for (const auto& t : topics) t->notify_committed();
  // One report per sink per commit (each takes the sink's lock once).
  std::unordered_map<SinkRef*, std::vector<std::uint64_t>> by_sink;
  for (const auto& ws : pending_ws_) by_sink[ws->sink.get()].push_back(ws->seq);
  for (auto& [ref, seqs] : by_sink) {
    std::lock_guard<std::mutex> lock(ref->mu);
    if (ref->sink) ref->sink->committed(seqs);
  }
  total_events += pending_ws_.size();
  pending_ws_.clear();
  return total_events;
}

Status Journal::grow_map(std::size_t needed_hint) {
  std::unique_lock<std::shared_mutex> wl(resize_mu_);  // no transaction is active now
  std::size_t next = std::max(map_size_ * 2, map_size_ + needed_hint * 2);
  if (options_.journal_max_bytes && next > options_.journal_max_bytes) next = options_.journal_max_bytes;
  if (next <= map_size_)
    return Status::resource_exhausted("journal is full: it reached Options::journal_max_bytes = " +
                                      std::to_string(options_.journal_max_bytes) + " bytes");
  if (int rc = mdb_env_set_mapsize(env_, next)) return lmdb_status(rc, "grow journal map");
  map_size_ = next;
  return Status::ok();
}

std::size_t Journal::TEST_map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

void Journal::writer_main() {
  auto next_retention = std::chrono::steady_clock::now();
  while (true) {
    const bool stopping = stop_.load(std::memory_order_acquire);
    // seq_cst: see wait_offsets_durable().
    const std::uint64_t cycle = cycle_started_.fetch_add(1, std::memory_order_seq_cst) + 1;
    auto r = commit_once(stopping);
    if (!r) {
      bus_->set_journal_error(r.status());
      if (stopping) break;  // give up: what is unwritten was never acknowledged
      const std::uint32_t e = bell_.prepare();
      bell_.wait(e, kStalledRetry);
      bell_.finish();
      continue;
    }
    bus_->set_journal_error(Status::ok());
    {
      std::lock_guard<std::mutex> lock(commit_mu_);
      cycle_done_.store(cycle, std::memory_order_release);
    }
    commit_cv_.notify_all();
    if (*r > 0) continue;  // more may be waiting
    if (stopping) break;
    if (std::chrono::steady_clock::now() >= next_retention) {
      auto cut = enforce_retention();
      if (!cut) bus_->set_journal_error(cut.status());
      if (auto purged = purge_dedupe(); !purged) bus_->set_journal_error(purged.status());
      // Keep going soon while there is more to delete.
      next_retention = std::chrono::steady_clock::now() +
                       (cut && *cut > 0 ? std::chrono::milliseconds(0) : kRetentionInterval);
      if (cut && *cut > 0) continue;
    }
    const std::uint32_t e = bell_.prepare();
    bool work = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& t : topics_)
        for (std::uint32_t p = 0; p < t->partitions() && !work; ++p)
          work = t->log(p).end_seq_cst() > t->journal_part(p).writer.next.load(std::memory_order_relaxed);
      work = work || !final_offsets_.empty() ||
             ws_submitted_.load(std::memory_order_seq_cst) > ws_taken_.load(std::memory_order_acquire) ||
             cycle_wanted_.load(std::memory_order_seq_cst) > cycle_done_.load(std::memory_order_acquire);
    }
    if (!work && !stop_.load(std::memory_order_acquire))
      bell_.wait(e, options_.offset_commit_interval);
    bell_.finish();
  }
  {
    std::lock_guard<std::mutex> lock(commit_mu_);  // waiters see stop_ and leave
  }
  commit_cv_.notify_all();
}

void Journal::stop() {
  if (stop_.exchange(true, std::memory_order_acq_rel)) {
    if (writer_.joinable()) writer_.join();
    return;
  }
  bell_.ring();
  if (writer_.joinable()) writer_.join();
}

Journal::ReadLease::ReadLease(const Journal& j) : j_(j), lock_(j.resize_mu_) {
  {
    std::lock_guard<std::mutex> pool(j.pool_mu_);
    if (!j.read_pool_.empty()) {
      txn_ = j.read_pool_.back();
      j.read_pool_.pop_back();
    }
  }
  int rc = txn_ ? mdb_txn_renew(txn_) : mdb_txn_begin(j.env_, nullptr, MDB_RDONLY, &txn_);
  if (rc) {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
    status_ = lmdb_status(rc, "begin read transaction");
  }
}

Journal::ReadLease::~ReadLease() {
  if (!txn_) return;
  mdb_txn_reset(txn_);
  std::lock_guard<std::mutex> pool(j_.pool_mu_);
  j_.read_pool_.push_back(txn_);
}

Status Journal::read(const TopicState& topic, std::uint32_t partition, Offset from, std::uint32_t max,
                     ReadBatch& out) const {
  out.clear();
  const TopicState::JournalPart& jp = topic.journal_part(partition);
  const Offset committed = jp.committed.load(std::memory_order_acquire);
  if (from >= committed || max == 0) return Status::ok();
  max = static_cast<std::uint32_t>(std::min<Offset>(max, committed - from));

  ReadLease lease(*this);
  if (!lease.txn()) return lease.status();
  return read_log(lease.txn(), jp.dbi, topic.name(), partition, from, committed, max, out);
}

}  // namespace weir::internal
