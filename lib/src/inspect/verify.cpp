// Inspector::verify: every topic's partition logs walked batch by batch
// (checksums, contiguity, header times), every group offset checked
// against the partition it names, and every internal record (attempt
// counts, dead-letter settlements) decoded; read-only.
#include <algorithm>
#include <climits>
#include <cstring>
#include <map>

#include "inspect/inspector_impl.hpp"

namespace weir::internal {

void InspectorImpl::verify_partition(MDB_txn* txn, const std::string& topic, std::uint32_t p,
                                     std::vector<JournalProblem>& out) {
  auto problem = [&](std::optional<Offset> off, std::string what) {
    out.push_back({topic, p, off, "", std::move(what)});
  };
  auto d = dbi(txn, partition_dbi_name(topic, p));
  if (!d) {
    problem(std::nullopt, "partition log is missing: " + d.status().message());
    return;
  }
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, *d, &cur)) {
    problem(std::nullopt, lmdb_status(rc, "mdb_cursor_open").message());
    return;
  }
  bool chained = false;  // whether `expected` (where the next batch must start) is known
  Offset expected = 0;
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) {
      problem(std::nullopt, "batch key of " + std::to_string(k.mv_size) + " bytes (expected 8)");
      chained = false;
      continue;
    }
    const Offset base = get_be64(static_cast<const char*>(k.mv_data));
    if (chained && base != expected)
      problem(base, base < expected
                        ? "batch overlaps the previous one, which ends at offset " + std::to_string(expected)
                        : "offsets " + std::to_string(expected) + ".." + std::to_string(base - 1) +
                              " are missing between two batches");
    chained = false;
    std::optional<Offset> last_good;
    std::int64_t max_time = INT64_MIN;
    Status s = scan_batch(as_view(v), topic, p, base, base, [&](Offset off, std::string_view rec) {
      RecordHead head;
      std::memcpy(&head, rec.data(), sizeof head);
      max_time = std::max(max_time, head.time_us);
      // scan_batch checked the header block (header_block_valid).
      last_good = off;
      return true;
    });
    if (!s) {
      const Offset at = last_good ? *last_good + 1 : base;
      problem(at, without_location(s.message()));
      continue;  // the batch's count cannot be trusted: no contiguity check for the next
    }
    BatchHeader bh;
    std::memcpy(&bh, v.mv_data, sizeof bh);
    if (bh.count == 0) problem(base, "empty record batch");
    else if (bh.max_time_us != max_time)
      problem(base, "batch header's newest event time " + std::to_string(bh.max_time_us) +
                        " differs from its records' (" + std::to_string(max_time) + ")");
    expected = base + bh.count;
    chained = true;
  }
  if (rc != MDB_NOTFOUND) problem(std::nullopt, lmdb_status(rc, "walk partition log").message());
  mdb_cursor_close(cur);
}

Result<std::vector<JournalProblem>> InspectorImpl::verify() {
  Read r(*this);
  if (!r.txn()) return r.status();
  std::vector<JournalProblem> out;
  auto topics = stored_topics(r.txn(), &out);
  if (!topics) return topics.status();
  std::map<std::string, std::vector<PartitionBounds>, std::less<>> ends;
  for (const auto& [name, o] : *topics) {
    auto& b = ends[name];
    for (std::uint32_t p = 0; p < o.partitions; ++p) {
      verify_partition(r.txn(), name, p, out);
      auto d = dbi(r.txn(), partition_dbi_name(name, p));
      PartitionBounds pb;
      if (d) {
        if (auto got = partition_range(r.txn(), *d)) pb = *got;
      }
      b.push_back(pb);
    }
  }
  auto offsets = dbi(r.txn(), "weir.offsets");
  if (!offsets) {
    out.push_back({"", std::nullopt, std::nullopt, "", "group offsets table is missing"});
    return out;
  }
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(r.txn(), *offsets, &cur)) return lmdb_status(rc, "mdb_cursor_open");
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const auto key = parse_offsets_key(as_view(k));
    if (!key) {
      out.push_back({"", std::nullopt, std::nullopt, "", "malformed group offset key (" +
                                                            std::to_string(k.mv_size) + " bytes)"});
      continue;
    }
    auto problem = [&](std::optional<std::uint32_t> p, std::optional<Offset> off, std::string what) {
      out.push_back({key->topic, p, off, key->group, std::move(what)});
    };
    if (v.mv_size != 8) {
      problem(key->partition, std::nullopt, "group offset is malformed (" + std::to_string(v.mv_size) + " bytes)");
      continue;
    }
    const Offset committed = get_be64(static_cast<const char*>(v.mv_data));
    auto t = ends.find(key->topic);
    if (t == ends.end()) {
      problem(key->partition, committed, "group offset names a topic the journal does not hold");
      continue;
    }
    if (key->partition >= t->second.size()) {
      problem(key->partition, committed, "group offset names a partition the topic does not have (" +
                                             std::to_string(t->second.size()) + " partitions)");
      continue;
    }
    const Offset end = t->second[key->partition].end;
    if (committed != kUnsetOffset && committed > end)
      problem(key->partition, committed, "committed offset is beyond the partition's end " + std::to_string(end));
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "walk group offsets");
  if (Status s = verify_internal(r.txn(), ends, out); !s) return s;
  return out;
}

Status InspectorImpl::verify_internal(MDB_txn* txn,
                                      const std::map<std::string, std::vector<PartitionBounds>, std::less<>>& ends,
                                      std::vector<JournalProblem>& out) {
  auto ledger = settled_ledger(txn);
  if (!ledger && ledger.status().code() == Code::kNotFound) {
    out.push_back({"", std::nullopt, std::nullopt, "", "internal records table " + std::string(kInternalDbi) +
                                                           " is missing"});
    return Status::ok();
  }
  if (!ledger) return ledger.status();
  // Version 1 keeps them in weir.state (the next owner open moves them).
  if (ledger->v1) return Status::ok();
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn, ledger->dbi, &cur)) return lmdb_status(rc, "mdb_cursor_open");
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const auto key = parse_internal_key(as_view(k));
    const std::string size = std::to_string(v.mv_size) + " bytes";
    if (!key) {
      out.push_back({"", std::nullopt, std::nullopt, "", "malformed internal record key (" +
                                                            std::to_string(k.mv_size) + " bytes)"});
    } else if (key->kind == kAttemptsKind) {
      if (decode_attempts(as_view(v)).empty())
        out.push_back({key->topic, key->partition, std::nullopt, key->group, "attempt record is malformed (" + size + ")"});
      else if (auto t = ends.find(key->topic); t != ends.end() && key->partition >= t->second.size())
        out.push_back({key->topic, key->partition, std::nullopt, key->group,
                       "attempt record names a partition the topic does not have (" +
                           std::to_string(t->second.size()) + " partitions)"});
    } else if (as_view(v) != "redriven" && as_view(v) != "purged") {
      out.push_back({key->group + ".dlq", 0, key->offset, key->group,
                     "dead-letter settlement record is malformed (" + size + ")"});
    }
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "walk internal records");
  return Status::ok();
}

}  // namespace weir::internal
