// Log-reading helpers over any read transaction (see log_reader.hpp).
#include "journal/log_reader.hpp"

#include "journal/batch.hpp"

namespace weir::internal {

namespace {
// Closes a cursor when it goes out of scope.
struct CursorCloser {
  MDB_cursor* cur = nullptr;
  ~CursorCloser() {
    if (cur) mdb_cursor_close(cur);
  }
};
}  // namespace

Result<PartitionBounds> partition_range(MDB_txn* txn, MDB_dbi dbi) {
  CursorCloser c;
  if (int rc = mdb_cursor_open(txn, dbi, &c.cur)) return lmdb_status(rc, "mdb_cursor_open");
  PartitionBounds b;
  MDB_val ck, cv;
  if (mdb_cursor_get(c.cur, &ck, &cv, MDB_LAST) == 0 && ck.mv_size == 8 &&
      cv.mv_size >= sizeof(BatchHeader)) {
    BatchHeader h;
    std::memcpy(&h, cv.mv_data, sizeof h);
    b.end = get_be64(static_cast<const char*>(ck.mv_data)) + h.count;
  }
  b.start = b.end;
  if (mdb_cursor_get(c.cur, &ck, &cv, MDB_FIRST) == 0 && ck.mv_size == 8)
    b.start = get_be64(static_cast<const char*>(ck.mv_data));
  return b;
}

Result<PartitionBounds> partition_bounds(MDB_txn* txn, MDB_dbi dbi) {
  auto b = partition_range(txn, dbi);
  if (!b) return b;
  CursorCloser c;
  if (int rc = mdb_cursor_open(txn, dbi, &c.cur)) return lmdb_status(rc, "mdb_cursor_open");
  MDB_val ck, cv;
  if (mdb_cursor_get(c.cur, &ck, &cv, MDB_FIRST) == 0 && ck.mv_size == 8) {
    do b->bytes += cv.mv_size;
    while (mdb_cursor_get(c.cur, &ck, &cv, MDB_NEXT) == 0);
  }
  return b;
}

Status read_log(MDB_txn* txn, MDB_dbi dbi, std::string_view topic, std::uint32_t partition,
                std::uint64_t from, std::uint64_t committed, std::uint32_t max, ReadBatch& out) {
  // Every error names topic, partition and the offset being read.
  const std::string where = "topic '" + std::string(topic) + "' partition " + std::to_string(partition);
  CursorCloser c;
  if (int rc = mdb_cursor_open(txn, dbi, &c.cur))
    return lmdb_status(rc, "open " + where + " at offset " + std::to_string(from));
  MDB_cursor* cur = c.cur;
  char key[8];
  put_be64(key, from);
  MDB_val k{8, key}, v;
  // Below the first stored batch: retention deleted it.
  MDB_val fk, fv;
  if (mdb_cursor_get(cur, &fk, &fv, MDB_FIRST) == 0 && fk.mv_size == 8 &&
      get_be64(static_cast<const char*>(fk.mv_data)) > from) {
    const Offset first = get_be64(static_cast<const char*>(fk.mv_data));
    return Status::not_found("retention deleted offsets " + std::to_string(from) + ".." +
                             std::to_string(first - 1) + " of " + where);
  }
  // The batch holding `from` has the greatest base offset <= from.
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  } else if (rc == 0 && get_be64(static_cast<const char*>(k.mv_data)) > from) {
    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  }
  Status status;
  Offset next = from;
  while (rc == 0 && out.recs.size() < max && next < committed) {
    if (k.mv_size != 8) {
      status = Status::data_loss(where + " offset " + std::to_string(next) + ": malformed batch key (" +
                                 std::to_string(k.mv_size) + " bytes, expected 8)");
      break;
    }
    const Offset base = get_be64(static_cast<const char*>(k.mv_data));
    status = scan_batch(as_view(v), topic, partition, base, next, [&](Offset off, std::string_view rec) {
      if (off != next || off >= committed) return false;  // a gap: stop, reported below
      const std::size_t pos = out.bytes.size();
      out.bytes.insert(out.bytes.end(), rec.begin(), rec.end());
      out.recs.push_back({off, pos, static_cast<std::uint32_t>(rec.size())});
      ++next;
      return out.recs.size() < max;
    });
    if (!status) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  // Hand out the good records before a bad one; the next read, starting at
  // the bad record, reports it.
  if (!status && out.recs.empty()) return status;
  if (!status) return Status::ok();
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "read " + where + " offset " + std::to_string(next));
  if (out.recs.empty() && from < committed)
    return Status::data_loss(where + " offset " + std::to_string(from) +
                             ": committed but not found in the journal");
  return Status::ok();
}

Result<std::uint64_t> log_offset_for_time(MDB_txn* txn, MDB_dbi dbi, std::string_view topic,
                                          std::uint32_t partition, std::uint64_t end,
                                          std::int64_t time_us) {
  CursorCloser c;
  if (int rc = mdb_cursor_open(txn, dbi, &c.cur)) return lmdb_status(rc, "mdb_cursor_open");
  MDB_val k, v;
  Offset found = end;
  bool done = false;
  for (int rc = mdb_cursor_get(c.cur, &k, &v, MDB_FIRST); rc == 0 && !done;
       rc = mdb_cursor_get(c.cur, &k, &v, MDB_NEXT)) {
    BatchHeader h;
    if (v.mv_size < sizeof h) break;
    std::memcpy(&h, v.mv_data, sizeof h);
    if (h.max_time_us < time_us) continue;  // nothing in this batch is late enough
    Status status = scan_batch(as_view(v), topic, partition, h.base_offset, h.base_offset,
                               [&](Offset off, std::string_view rec) {
                                 std::int64_t t;
                                 std::memcpy(&t, rec.data(), sizeof t);
                                 if (t < time_us || off >= end) return true;
                                 found = off;
                                 done = true;
                                 return false;
                               });
    if (!status) return status;
  }
  return found;
}

}  // namespace weir::internal
