// The journal's key-value side: the dedupe store, state tables, and the
// write sets of transactional groups (see journal.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "journal/batch.hpp"
#include "journal/journal.hpp"
#include "journal/format.hpp"

namespace weir::internal {

void Journal::submit(std::unique_ptr<WriteSet> ws) {
  ws_queue_.enqueue(ws.release());
  ws_submitted_.fetch_add(1, std::memory_order_seq_cst);
}

namespace {

// One put (value) or delete (no value) into a DBI, from a write set.
struct KeyOp {
  std::string_view key;
  std::string_view value;
  bool erase = false;
};

// Applies `ops` to `dbi` in key order through one cursor. Keys ascend, so
// LMDB finds most keys on the leaf page the cursor is already on instead of
// descending from the root (and looking each page up in the dirty list)
// for every put. Of several ops on one key only the last counts, as it
// would in submission order: the sort is stable and earlier ones are
// skipped.
int put_sorted(MDB_txn* txn, MDB_dbi dbi, std::vector<KeyOp>& ops) {
  if (ops.empty()) return 0;
  std::stable_sort(ops.begin(), ops.end(), [](const KeyOp& a, const KeyOp& b) { return a.key < b.key; });
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, dbi, &cur)) return rc;
  int rc = 0;
  for (std::size_t i = 0; i < ops.size() && rc == 0; ++i) {
    if (i + 1 < ops.size() && ops[i + 1].key == ops[i].key) continue;  // a later op on this key wins
    MDB_val k = as_val(ops[i].key);
    if (ops[i].erase) {
      MDB_val v;
      rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
      if (rc == 0) rc = mdb_cursor_del(cur, 0);
      if (rc == MDB_NOTFOUND) rc = 0;
    } else {
      MDB_val v = as_val(ops[i].value);
      rc = injected_fault(FaultPoint::kPut);
      if (rc == 0) rc = mdb_cursor_put(cur, &k, &v, 0);
    }
  }
  mdb_cursor_close(cur);
  return rc;
}

}  // namespace

Status Journal::apply_write_sets(MDB_txn* txn, const std::vector<std::unique_ptr<WriteSet>>& write_sets) {
  // One offset per (group, topic, partition): write sets of one partition
  // arrive in offset order (one worker, one producer queue), so the last wins.
  std::unordered_map<std::string_view, Offset> offsets;
  std::vector<KeyOp> state, dedupe, index;
  // The time index's keys (big-endian expiry + dedupe key), built in one
  // buffer sized up front so the views into it stay valid.
  std::size_t n_dedupe = 0, index_bytes = 0;
  for (const auto& ws : write_sets) {
    n_dedupe += ws->dedupe_keys.size();
    for (std::size_t i = 0; i < ws->dedupe_keys.size(); ++i) index_bytes += 8 + ws->dedupe_keys[i].size();
  }
  dedupe.reserve(n_dedupe);
  index.reserve(n_dedupe);
  std::string index_keys;
  index_keys.reserve(index_bytes);
  for (const auto& ws : write_sets) {
    for (std::size_t i = 0; i < ws->writes.size(); ++i) {
      const std::optional<std::string_view> value = ws->writes.value(i);
      state.push_back(KeyOp{ws->writes.key(i), value.value_or(std::string_view()), !value});
    }
    char be[8];
    put_be64(be, static_cast<std::uint64_t>(ws->expire_us));
    for (std::size_t i = 0; i < ws->dedupe_keys.size(); ++i) {
      const std::string_view dk = ws->dedupe_keys[i];
      const std::size_t at = index_keys.size();
      index_keys.append(be, 8);
      index_keys.append(dk);
      const std::string_view ik = std::string_view(index_keys).substr(at, 8 + dk.size());
      dedupe.push_back(KeyOp{dk, ik.substr(0, 8)});  // the record's value: the expiry
      index.push_back(KeyOp{ik, {}});
    }
    offsets[ws->offsets_key] = ws->next;
  }
  if (int rc = put_sorted(txn, state_dbi_, state)) return lmdb_status(rc, "write state");
  if (int rc = put_sorted(txn, dedupe_dbi_, dedupe)) return lmdb_status(rc, "write dedupe record");
  if (int rc = put_sorted(txn, dedupe_time_dbi_, index)) return lmdb_status(rc, "write dedupe index");
  for (const auto& [key, next] : offsets)
    if (Status s = put_offset(txn, key, next); !s) return s;
  return Status::ok();
}

namespace {

// Whether `key` has a dedupe record in `dbi`.
Result<bool> has_dedupe_record(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = as_val(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc) return lmdb_status(rc, "read dedupe record");
  return true;
}

}  // namespace

Result<bool> Journal::dedupe_seen(std::string_view key) const {
  ReadLease lease(*this);
  if (!lease.txn()) return lease.status();
  return has_dedupe_record(lease.txn(), dedupe_dbi_, key);
}

Status Journal::dedupe_seen_many(std::span<const std::string> keys, std::span<char> seen) const {
  ReadLease lease(*this);
  if (!lease.txn()) return lease.status();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (seen[i] || keys[i].empty()) continue;
    const Result<bool> has = has_dedupe_record(lease.txn(), dedupe_dbi_, keys[i]);
    if (!has) return has.status();
    seen[i] = *has;
  }
  return Status::ok();
}

namespace {

Result<std::optional<std::string>> get_value(MDB_txn* txn, MDB_dbi dbi, std::string_view key, const char* what) {
  MDB_val k = as_val(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
  if (rc) return lmdb_status(rc, what);
  return std::optional<std::string>(std::string(as_view(v)));
}

}  // namespace

Result<std::optional<std::string>> Journal::state_get(std::string_view key) const {
  ReadLease lease(*this);
  if (!lease.txn()) return lease.status();
  return get_value(lease.txn(), state_dbi_, key, "read state");
}

Result<std::optional<std::string>> Journal::internal_get(std::string_view key) const {
  ReadLease lease(*this);
  if (!lease.txn()) return lease.status();
  return get_value(lease.txn(), internal_dbi_, key, "read internal record");
}

Status Journal::internal_put(const std::vector<std::pair<std::string, std::string>>& values) {
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  for (const auto& [key, value] : values) {
    MDB_val k = as_val(key), v = as_val(value);
    if (int rc = lmdb_put(txn.get(), internal_dbi_, &k, &v, 0)) return lmdb_status(rc, "write internal record");
  }
  return env_->commit(txn, Env::MetaFlush::kNow);
}

Result<std::size_t> Journal::purge_dedupe() {
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::shared_lock<ResizeMutex> rl(resize_mu_);
  Txn txn;
  if (Status s = txn.begin(env_->get(), 0); !s) return s;
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn.get(), dedupe_time_dbi_, &cur)) return lmdb_status(rc, "mdb_cursor_open");
  std::size_t n = 0;
  MDB_val k, v;
  // The index is ordered by expiry: delete from the front, 4096 per pass.
  while (n < 4096 && mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size > 8 &&
         static_cast<std::int64_t>(get_be64(static_cast<const char*>(k.mv_data))) < now_us) {
    MDB_val dk{k.mv_size - 8, static_cast<char*>(k.mv_data) + 8};
    const int rc = mdb_del(txn.get(), dedupe_dbi_, &dk, nullptr);
    if (rc && rc != MDB_NOTFOUND) {
      mdb_cursor_close(cur);
      return lmdb_status(rc, "purge dedupe record");
    }
    if (int rc2 = mdb_cursor_del(cur, 0)) {
      mdb_cursor_close(cur);
      return lmdb_status(rc2, "purge dedupe index");
    }
    ++n;
  }
  mdb_cursor_close(cur);
  if (n == 0) return std::size_t{0};
  if (Status s = env_->commit(txn, Env::MetaFlush::kLater); !s) return s;
  return n;
}

}  // namespace weir::internal
