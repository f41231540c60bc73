// Retention (deleting whole record batches from the front) and seeking
// (offsets by time, storing a stopped group's offsets).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "journal/batch.hpp"
#include "journal/journal.hpp"
#include "journal/format.hpp"

namespace weir::internal {

namespace {
// Each pass deletes at most this many bytes of batches per partition, so
// that it stays short (the writer's commits wait for it); the writer comes
// back at once while a pass deleted something.
constexpr std::uint64_t kRetentionBytesPerPass = 16u << 20;
}  // namespace

Result<std::size_t> Journal::enforce_retention() {
  std::vector<CommitSource*> logs;
  {
    MutexLock lock(mu_);
    logs = logs_;
  }
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  struct Cut {
    CommitSource* src;
    Offset new_start;
    std::uint64_t freed;
  };
  std::vector<Cut> cuts;
  std::size_t deleted = 0;
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  for (CommitSource* src : logs) {
    const RetentionLimits o = src->retention();
    if (!o.any()) continue;
    const std::int64_t min_time = now_us - std::chrono::duration_cast<std::chrono::microseconds>(o.age).count();
    const JournalLog& log = src->journal_log();
    std::uint64_t bytes = log.bytes();
    const Offset end = log.committed();
    Offset start = log.start();
    const std::uint64_t bytes_before = bytes;
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(txn.get(), log.dbi(), &cur)) return lmdb_status(rc, "mdb_cursor_open");
    MDB_val k, v;
    while (bytes_before - bytes < kRetentionBytesPerPass && mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
      if (v.mv_size < sizeof(BatchHeader)) break;
      BatchHeader h;
      std::memcpy(&h, v.mv_data, sizeof h);
      const Offset next_start = h.base_offset + h.count;
      if (next_start >= end) break;  // never delete the newest batch
      // Keep at least the limit: delete a batch only if what remains
      // still meets it (as Kafka deletes whole segments).
      const bool too_old = o.age.count() && h.max_time_us < min_time;
      const bool too_big = o.bytes && bytes - v.mv_size >= o.bytes;
      const bool too_many = o.events && end - next_start >= o.events;
      if (!too_old && !too_big && !too_many) break;
      bytes -= v.mv_size;
      if (int rc = mdb_cursor_del(cur, 0)) {
        mdb_cursor_close(cur);
        return lmdb_status(rc, "retention delete");
      }
      start = next_start;
      ++deleted;
    }
    mdb_cursor_close(cur);
    if (bytes != bytes_before) cuts.push_back({src, start, bytes_before - bytes});
  }
  if (cuts.empty()) return std::size_t{0};
  if (Status s = env_->commit(txn, Env::MetaFlush::kLater); !s) return s;
  for (const Cut& c : cuts) {
    JournalLog& log = c.src->journal_log();
    log.start_.store(c.new_start, std::memory_order_release);
    log.bytes_.fetch_sub(c.freed, std::memory_order_acq_rel);
    c.src->retained();  // quota waiters
  }
  return deleted;
}

Result<Offset> Journal::offset_for_time(const JournalLog& log, std::int64_t time_us) const {
  const Offset end = log.committed();
  ReaderLock gate(log.gate_);
  if (log.dropped_) return dropped(log);
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), MDB_RDONLY); !s) return s;
  return log_offset_for_time(txn.get(), log.dbi(), log.topic(), log.partition(), end, time_us);
}

Status Journal::store_offsets(const std::string& group, const std::string& topic,
                              const std::vector<std::pair<std::uint32_t, Offset>>& offsets) {
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  for (const auto& [p, off] : offsets)
    if (Status s = put_offset(txn.get(), offsets_key(group, topic, p), off); !s)
      return Status(s.code(), "store offsets of group '" + group + "': " + s.message());
  return env_->commit(txn, Env::MetaFlush::kNow);
}

}  // namespace weir::internal
