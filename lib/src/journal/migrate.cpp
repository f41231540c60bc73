#include "journal/migrate.hpp"

#include <string>
#include <utility>
#include <vector>

#include "journal/env.hpp"
#include "journal/format.hpp"

namespace weir::internal {

namespace {

// Version 1 -> 2: internal records out of weir.state into weir.internal.
Result<std::uint64_t> move_internal_records(MDB_txn* txn, const MigrationDbis& d) {
  // Collect first, then write: a cursor walk and puts into another database
  // of the same transaction do not mix well with deletes under the cursor.
  std::vector<std::pair<std::string, std::string>> moved;  // old key, new key
  std::vector<std::string> values;
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, d.state, &cur)) return lmdb_status(rc, "open cursor on weir.state");
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (auto nk = v1_internal_key(as_view(k), as_view(v))) {
      moved.emplace_back(std::string(as_view(k)), std::move(*nk));
      values.emplace_back(as_view(v));
    }
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "read weir.state");
  for (std::size_t i = 0; i < moved.size(); ++i) {
    MDB_val nk = as_val(moved[i].second), nv = as_val(values[i]);
    if (int put = lmdb_put(txn, d.internal, &nk, &nv, 0)) return lmdb_status(put, "write internal record");
    MDB_val ok = as_val(moved[i].first);
    if (int del = mdb_del(txn, d.state, &ok, nullptr)) return lmdb_status(del, "remove moved state record");
  }
  return static_cast<std::uint64_t>(moved.size());
}

}  // namespace

Result<std::uint64_t> migrate_journal(MDB_txn* txn, std::uint32_t from, const MigrationDbis& dbis) {
  if (from >= kJournalVersion) return std::uint64_t{0};
  std::uint64_t n = 0;
  if (from < 2) {
    auto moved = move_internal_records(txn, dbis);
    if (!moved) return moved.status();
    n += *moved;
  }
  if (Status s = write_version(txn, dbis.meta); !s) return s;
  return n;
}

}  // namespace weir::internal
