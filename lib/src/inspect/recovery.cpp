// check_journal and salvage_journal (weir/recovery.hpp): the journal read
// with weir's own page walker (journal/journal_check.hpp), never mapped by
// LMDB; the salvaged copy written through LMDB with the journal's layout.
#include "weir/recovery.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "journal/batch.hpp"
#include "journal/journal_check.hpp"
#include "base/random.hpp"
#include "journal/commit_source.hpp"
#include "journal/format.hpp"
#include "journal/lmdb.hpp"

namespace weir {

namespace {

using internal::BatchHeader;
using internal::JournalFinding;

JournalProblem to_problem(const JournalFinding& f) {
  std::string where;
  if (!f.db.empty() && !f.partition) where = "database '" + f.db + "'";
  if (f.page != internal::mdbfile::kInvalidPage)
    where += std::string(where.empty() ? "" : " ") + "page " + std::to_string(f.page);
  return {f.topic, f.partition, f.offset, "", where.empty() ? f.what : where + ": " + f.what};
}

// "topic 't' partition 1 offset 7: record checksum mismatch" -> the part
// after the location (reported in columns of its own).
std::string after_location(const std::string& m) {
  const auto colon = m.find(": ");
  return m.rfind("topic '", 0) == 0 && colon != std::string::npos ? m.substr(colon + 2) : m;
}

// The good records of one stored batch, as runs of consecutive offsets.
// With an intact header every record whose own checksum holds is kept: a
// damaged record is skipped by its frame's length when the record after it
// checks out again (one bad record does not cost the rest of its batch);
// when it does not, the length is not trusted and the scan stops there.
// With a damaged header: the frames from the start whose own checksums hold.
struct GoodRecords {
  struct Run {
    Offset base = 0;
    std::vector<std::string_view> recs;
  };
  std::vector<Run> runs;
  std::vector<std::pair<Offset, Status>> damage;  // each bad record (or the header), in offset order
  std::uint32_t claimed = 0;                      // records the header claims (0 if the header is damaged)
};

// scan_batch over the records of `value` from byte `pos` on, which hold
// offsets `at`.. of a batch whose header claims `end`; each good record's
// view (into `value`) is appended to `run`.
Status scan_from(std::string_view value, std::size_t pos, const BatchHeader& h, Offset at, Offset end,
                 const std::string& topic, std::uint32_t p, GoodRecords::Run& run) {
  std::string tail(sizeof(BatchHeader) + value.size() - pos, '\0');
  BatchHeader th{internal::kBatchMagic, static_cast<std::uint32_t>(end - at), at, h.max_time_us,
                 static_cast<std::uint32_t>(tail.size()), 0};
  internal::seal_batch_header(th);
  std::memcpy(tail.data(), &th, sizeof th);
  std::memcpy(tail.data() + sizeof th, value.data() + pos, value.size() - pos);
  return internal::scan_batch(tail, topic, p, at, at, [&](Offset, std::string_view rec) {
    run.recs.emplace_back(value.data() + pos + (rec.data() - tail.data() - sizeof th), rec.size());
    return true;
  });
}

GoodRecords good_records(std::string_view value, const std::string& topic, std::uint32_t p, std::uint64_t base,
                         bool header_ok) {
  GoodRecords g;
  if (header_ok) {
    BatchHeader h;
    std::memcpy(&h, value.data(), sizeof h);
    g.claimed = h.count;
    const Offset end = base + h.count;
    std::size_t pos = sizeof(BatchHeader);
    Offset at = base;
    for (bool resync = false;; resync = true) {
      GoodRecords::Run run{at, {}};
      Status s = scan_from(value, pos, h, at, end, topic, p, run);
      if (resync && run.recs.empty() && !s) break;  // the skipped length led nowhere valid
      for (auto r : run.recs) pos += internal::kRecordFrame + r.size();
      at += run.recs.size();
      if (!run.recs.empty()) g.runs.push_back(std::move(run));
      if (s) break;
      g.damage.emplace_back(at, s);
      // Skip the bad record by its length, if the frame can hold it.
      std::uint32_t len = 0;
      if (at >= end || value.size() - pos < internal::kRecordFrame) break;
      std::memcpy(&len, value.data() + pos + 4, 4);
      if (len < 24 || len > value.size() - pos - internal::kRecordFrame) break;
      pos += internal::kRecordFrame + len;
      if (++at == end) break;
    }
    return g;
  }
  g.damage.emplace_back(base, Status::data_loss("topic '" + topic + "' partition " + std::to_string(p) +
                                                 " offset " + std::to_string(base) + ": batch header is damaged"));
  GoodRecords::Run run{base, {}};
  std::size_t pos = sizeof(BatchHeader);
  while (value.size() >= pos + internal::kRecordFrame) {
    std::uint32_t crc, len;
    std::memcpy(&crc, value.data() + pos, 4);
    std::memcpy(&len, value.data() + pos + 4, 4);
    if (len < 24 || len > value.size() - pos - internal::kRecordFrame) break;
    if (internal::crc32c(value.data() + pos + 4, 4 + std::size_t{len}) != crc) break;
    std::uint32_t lens[3];
    std::memcpy(lens, value.data() + pos + internal::kRecordFrame + 8, sizeof lens);
    if (std::uint64_t{24} + lens[0] + lens[1] + lens[2] != len) break;
    run.recs.emplace_back(value.data() + pos + internal::kRecordFrame, len);
    pos += internal::kRecordFrame + len;
  }
  if (!run.recs.empty()) g.runs.push_back(std::move(run));
  return g;
}

// A new batch of `recs` (already validated records) at `base`.
std::string build_batch(std::uint64_t base, const std::vector<std::string_view>& recs) {
  std::size_t bytes = sizeof(BatchHeader);
  for (auto r : recs) bytes += internal::kRecordFrame + r.size();
  std::string out(bytes, '\0');
  BatchHeader h{internal::kBatchMagic, static_cast<std::uint32_t>(recs.size()), base, 0,
                static_cast<std::uint32_t>(bytes), 0};
  std::size_t pos = sizeof h;
  for (auto r : recs) {
    std::int64_t t;
    std::memcpy(&t, r.data(), sizeof t);
    h.max_time_us = std::max(h.max_time_us, t);
    pos += internal::frame_record(out.data() + pos, r.data(), static_cast<std::uint32_t>(r.size()));
  }
  internal::seal_batch_header(h);
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

// The salvaged journal being written: one LMDB environment, written in
// transactions of bounded size, named databases opened on first use.
class CopyWriter {
 public:
  ~CopyWriter() {
    if (txn_) mdb_txn_abort(txn_);
    if (env_) mdb_env_close(env_);
  }
  Status open(const std::string& dir, std::uint64_t map_bytes) {
    if (int rc = mdb_env_create(&env_)) return internal::lmdb_status(rc, "mdb_env_create");
    if (int rc = mdb_env_set_maxdbs(env_, 65536)) return internal::lmdb_status(rc, "mdb_env_set_maxdbs");
    if (int rc = mdb_env_set_mapsize(env_, map_bytes)) return internal::lmdb_status(rc, "mdb_env_set_mapsize");
    // No sync per transaction: the copy is synced once at the end.
    if (int rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0600))
      return internal::lmdb_status(rc, "create the salvaged journal in '" + dir + "'");
    return Status::ok();
  }
  // Creates database `db` if it does not exist yet; returns its handle.
  Result<MDB_dbi> ensure(const std::string& db) {
    if (!status_) return status_;
    if (txn_ && txn_bytes_ > (32u << 20)) status_ = commit();
    if (!status_) return status_;
    if (!txn_) {
      if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn_)) return status_ = internal::lmdb_status(rc, "mdb_txn_begin");
    }
    auto it = dbis_.find(db);
    if (it == dbis_.end()) {
      MDB_dbi d;
      if (int rc = mdb_dbi_open(txn_, db.c_str(), MDB_CREATE, &d))
        return status_ = internal::lmdb_status(rc, "create database '" + db + "'");
      it = dbis_.emplace(db, d).first;
    }
    return it->second;
  }
  // Stores key -> value in database `db` (created if needed).
  Status put(const std::string& db, std::string_view key, std::string_view value) {
    auto d = ensure(db);
    if (!d) return d.status();
    MDB_val k = internal::as_val(key), v = internal::as_val(value);
    if (int rc = mdb_put(txn_, *d, &k, &v, 0))
      return status_ = internal::lmdb_status(rc, "write database '" + db + "'");
    txn_bytes_ += key.size() + value.size();
    return Status::ok();
  }
  Status finish() {
    if (!status_) return status_;
    if (txn_) status_ = commit();
    if (!status_) return status_;
    if (int rc = mdb_env_sync(env_, 1)) return internal::lmdb_status(rc, "sync the salvaged journal");
    return Status::ok();
  }

 private:
  Status commit() {
    const int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    txn_bytes_ = 0;
    return rc ? internal::lmdb_status(rc, "commit the salvaged journal") : Status::ok();
  }
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  std::size_t txn_bytes_ = 0;
  std::map<std::string, MDB_dbi> dbis_;
  Status status_;
};

struct PartitionCopy {
  std::map<Offset, Offset> recovered;                  // first -> end of each batch copied
  std::vector<std::pair<Offset, Offset>> claimed_lost;  // records a batch header claims and were not copied
};

void add_range(std::vector<OffsetRange>& v, Offset first, Offset end) {
  if (first >= end) return;
  if (!v.empty() && v.back().end == first) v.back().end = end;
  else v.push_back({first, end});
}

// The salvage target `out`: an empty directory (created if missing) other
// than the damaged `dir`.
Status prepare_target(const std::string& dir, const std::string& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec) || !fs::is_empty(out, ec))
      return Status::failed_precondition("salvage target '" + out + "' exists and is not an empty directory");
  } else if (!fs::create_directories(out, ec) || ec) {
    return Status::io_error("cannot create '" + out + "': " + ec.message());
  }
  if (fs::equivalent(dir, out, ec)) return Status::invalid_argument("salvage target is the damaged directory itself");
  return Status::ok();
}

// What salvage recovered of partition `p` of topic `name` (options `o`):
// the ranges copied (`pc`), and those lost: gaps between them, records a
// batch header claimed and were not copied, the start of a log without
// retention, up to a group's committed offset (`committed`), and whether
// the tail is unknown (damage the scan's `findings` name past them).
PartitionSalvage account_partition(const std::string& name, std::uint32_t p, const TopicOptions& o,
                                   const PartitionCopy& pc,
                                   const std::map<std::pair<std::string, std::uint32_t>, Offset>& committed,
                                   const std::vector<JournalFinding>& findings) {
  PartitionSalvage ps;
  ps.topic = name;
  ps.partition = p;
  for (const auto& [first, end] : pc.recovered) add_range(ps.recovered, first, end);
  std::vector<OffsetRange> lost;
  for (std::size_t i = 1; i < ps.recovered.size(); ++i)
    lost.push_back({ps.recovered[i - 1].end, ps.recovered[i].first});
  auto is_recovered = [&](Offset at) {
    auto it = pc.recovered.upper_bound(at);
    return it != pc.recovered.begin() && std::prev(it)->second > at;
  };
  for (const auto& [first, end] : pc.claimed_lost)
    for (Offset at = first; at < end; ++at)
      if (!is_recovered(at)) lost.push_back({at, at + 1});
  const Offset end = ps.recovered.empty() ? 0 : ps.recovered.back().end;
  // Without retention a log starts at offset 0, so what precedes the
  // first recovered offset (up to a group's committed offset when none
  // was recovered) existed too.
  const bool keeps_all = o.retention_age.count() == 0 && o.retention_bytes == 0 && o.retention_events == 0;
  if (keeps_all && !ps.recovered.empty() && ps.recovered.front().first > 0)
    lost.push_back({0, ps.recovered.front().first});
  if (auto c = committed.find({name, p}); c != committed.end() && c->second > end)
    lost.push_back({end, c->second});
  for (const auto& f : findings) {
    // Damage named for this partition past what was recovered; or damage
    // to the file or the main tree that names no topic (a truncation,
    // lost branch pages): the lost pages may have held this partition's
    // tail, so how much existed after `end` is unknown. Free-page
    // damage loses no data.
    const bool here = f.topic == name && f.partition == p && (!f.offset || *f.offset >= end);
    const bool anywhere = f.topic.empty() && f.db != "(free pages)" && f.db != internal::kMetaDbi;
    if (here || anywhere) ps.tail_unknown = true;
  }
  std::sort(lost.begin(), lost.end(), [](const OffsetRange& x, const OffsetRange& y) { return x.first < y.first; });
  for (const auto& r : lost)
    if (!ps.lost.empty() && ps.lost.back().end >= r.first) ps.lost.back().end = std::max(ps.lost.back().end, r.end);
    else ps.lost.push_back(r);
  return ps;
}

// Puts an entry into a database of the salvaged copy: put(db, key, value).
using PutFn = std::function<void(const std::string&, std::string_view, std::string_view)>;

// What salvage_journal gathers while the scan walks the damaged file, and
// writes to the copy through `put` as it goes.
struct SalvageCopy {
  PutFn put;
  int pass = 1;  // 2: the scan of the previous snapshot, adding what pass 1 missed
  SalvageReport report;
  std::map<std::pair<std::string, std::uint32_t>, PartitionCopy> parts;
  std::map<std::string, std::string> meta;                            // weir.meta, as read
  std::map<std::pair<std::string, std::uint32_t>, Offset> committed;  // highest group offset per partition
  std::set<std::pair<std::string, std::string>> written;              // (database, key) of other databases

  // ScanHooks::batch: copies the good records of a batch not copied yet.
  void on_batch(const std::string& topic, std::uint32_t p, std::uint64_t base, std::string_view value,
                bool header_ok) {
    PartitionCopy& pc = parts[{topic, p}];
    GoodRecords g = good_records(value, topic, p, base, header_ok);
    for (const GoodRecords::Run& run : g.runs) {
      const Offset end = run.base + run.recs.size();
      // A run overlapping what is already copied adds nothing (pass 2).
      auto next = pc.recovered.lower_bound(run.base);
      const bool overlaps = (next != pc.recovered.end() && next->first < end) ||
                            (next != pc.recovered.begin() && std::prev(next)->second > run.base);
      if (overlaps) continue;
      char key[8];
      internal::put_be64(key, run.base);
      const bool whole = g.damage.empty() && header_ok;
      if (whole) put(internal::partition_dbi_name(topic, p), std::string_view(key, 8), value);
      else put(internal::partition_dbi_name(topic, p), std::string_view(key, 8), build_batch(run.base, run.recs));
      pc.recovered.emplace(run.base, end);
      report.events += run.recs.size();
    }
    if (!g.damage.empty() && header_ok && pass == 1) {  // a damaged header is among the scan's findings
      for (const auto& [at, d] : g.damage) report.problems.push_back({topic, p, at, "", after_location(d.message())});
      // What the header claims and no run copied (checked per offset below).
      pc.claimed_lost.emplace_back(base, base + g.claimed);
    }
  }

  // ScanHooks::entry: keeps weir.meta, copies the other databases' entries.
  void on_entry(const std::string& db, std::string_view k, std::string_view v) {
    if (db == internal::kMetaDbi) {
      meta.emplace(std::string(k), std::string(v));
      return;
    }
    if (!written.emplace(db, std::string(k)).second) return;  // pass 1 has it
    if (db == internal::kOffsetsDbi) {
      const auto key = internal::parse_offsets_key(k);
      if (!key || v.size() != 8) return;
      const Offset next = internal::get_be64(v.data());
      auto& c = committed[{key->topic, key->partition}];
      if (next != internal::kUnsetOffset) c = std::max(c, next);
      ++report.group_offsets;
    } else if (db == internal::kStateDbi || db == internal::kInternalDbi) {
      ++report.state_entries;
    } else if (db == internal::kDedupeDbi) {
      ++report.dedupe_entries;
    }
    put(db, k, v);
  }
};

// The source's weir.meta (`meta`, as read) in the copy, but for topic
// entries and lost ranges (written by the caller).
void copy_meta(const std::map<std::string, std::string>& meta, const PutFn& put, SalvageReport& report) {
  // The journal's identity: kept, so derived event ids stay the same.
  const std::string format(internal::kJournalFormat);
  put(internal::kMetaDbi, internal::kMetaFormatKey, format);
  // The source's version: the copy's records are in its layout, and the
  // next owner to open the copy migrates them (journal/migrate.hpp).
  std::uint32_t version = internal::kJournalVersion;
  if (auto it = meta.find(std::string(internal::kMetaVersionKey)); it != meta.end() && it->second.size() == 4) {
    std::uint32_t stored;
    std::memcpy(&stored, it->second.data(), 4);
    if (stored >= 1 && stored < version) version = stored;
  }
  put(internal::kMetaDbi, internal::kMetaVersionKey, std::string_view(reinterpret_cast<const char*>(&version), sizeof version));
  std::string id;
  if (auto it = meta.find(std::string(internal::kMetaIdKey)); it != meta.end() && it->second.size() == 8) {
    id = it->second;
  } else {
    const std::uint64_t fresh = internal::random_u64();
    id.assign(reinterpret_cast<const char*>(&fresh), sizeof fresh);
    report.problems.push_back({"", std::nullopt, std::nullopt, "",
                               "the journal's id was lost: the copy has a new one (derived event ids change)"});
  }
  put(internal::kMetaDbi, internal::kMetaIdKey, id);
  for (const auto& [k, v] : meta)
    if (k != internal::kMetaFormatKey && k != internal::kMetaVersionKey && k != internal::kMetaIdKey &&
        k.rfind(internal::kTopicMetaPrefix, 0) != 0 && k.rfind(internal::kLostRangePrefix, 0) != 0)
      put(internal::kMetaDbi, k, v);
}

}  // namespace

bool SalvageReport::complete() const noexcept {
  if (!problems.empty()) return false;
  for (const auto& p : partitions)
    if (!p.lost.empty() || p.tail_unknown) return false;
  return true;
}

Result<std::vector<JournalProblem>> check_journal(std::string_view dir_view, const JournalCheckOptions& options) {
  const std::string dir(dir_view);
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(dir) / "data.mdb", ec))
    return Status::not_found("'" + dir + "' holds no weir journal (no data.mdb)");
  std::vector<JournalProblem> records;
  internal::ScanHooks hooks;
  hooks.read_values = options.records;
  if (options.records)
    hooks.batch = [&](const std::string& topic, std::uint32_t p, std::uint64_t base, std::string_view value,
                      bool header_ok) {
      if (!header_ok) return;  // reported by the scan
      GoodRecords g = good_records(value, topic, p, base, true);
      for (const auto& [at, d] : g.damage) records.push_back({topic, p, at, "", after_location(d.message())});
    };
  auto scan = internal::scan_journal_file(dir, options.pages, hooks);
  if (!scan) return scan.status();
  std::vector<JournalProblem> out;
  for (const auto& f : scan->findings)
    if (f.structural || options.layout) out.push_back(to_problem(f));
  if (options.layout) out.insert(out.end(), records.begin(), records.end());
  return out;
}

Result<SalvageReport> salvage_journal(std::string_view dir_view, std::string_view out_view) {
  namespace fs = std::filesystem;
  const std::string dir(dir_view), out(out_view);
  std::error_code ec;
  const fs::path data = fs::path(dir) / "data.mdb";
  if (!fs::exists(data, ec)) return Status::not_found("'" + dir + "' holds no weir journal (no data.mdb)");
  if (auto live = Inspector::owned(dir); live && *live)
    return Status::failed_precondition("'" + dir + "' is owned by a live bus: close it before salvaging");
  if (Status s = prepare_target(dir, out); !s) return s;
  const std::uint64_t src_bytes = fs::file_size(data, ec);

  CopyWriter w;
  if (Status s = w.open(out, std::max<std::uint64_t>(64u << 20, src_bytes * 2 + (64u << 20))); !s) return s;

  Status write_error;
  auto put = [&](const std::string& db, std::string_view k, std::string_view v) {
    if (write_error) write_error = w.put(db, k, v);
  };
  SalvageCopy c{put};
  SalvageReport& report = c.report;
  auto& parts = c.parts;
  const auto& meta = c.meta;

  // Pass 1 reads the snapshot LMDB would use; if it met damage, pass 2
  // reads the previous snapshot (the other meta page: LMDB never reuses its
  // pages before the next commit) and adds what pass 1 could not read.
  internal::ScanHooks hooks;
  hooks.read_values = true;
  hooks.batch = [&](const std::string& topic, std::uint32_t p, std::uint64_t base, std::string_view value,
                    bool header_ok) { c.on_batch(topic, p, base, value, header_ok); };
  hooks.entry = [&](const std::string& db, std::string_view k, std::string_view v) { c.on_entry(db, k, v); };
  auto scan = internal::scan_journal_file(dir, true, hooks);
  if (!scan) return scan.status();
  if (scan->file.used < 0 && scan->file.file_bytes > 0)
    return Status::data_loss("'" + dir + "': no meta page is readable, so there is no tree to salvage from: " +
                             (scan->findings.empty() ? std::string() : scan->findings.front().what));
  for (const auto& f : scan->findings) {
    report.problems.push_back(to_problem(f));
    if (f.partition) (void)parts[{f.topic, *f.partition}];  // listed even if nothing was read
  }
  const int other = 1 - scan->file.used;
  if (!scan->findings.empty() && scan->file.used >= 0 && scan->file.meta[static_cast<std::size_t>(other)].valid) {
    c.pass = 2;
    hooks.meta = other;
    auto older = internal::scan_journal_file(dir, true, hooks);
    if (!older) return older.status();
  }
  for (const std::string db : {internal::kOffsetsDbi, internal::kDedupeDbi, internal::kDedupeTimeDbi, internal::kStateDbi,
                               internal::kInternalDbi})
    if (write_error) {
      if (auto d = w.ensure(db); !d) write_error = d.status();
    }

  // Topics: as stored, or (their options lost) rebuilt from their logs.
  std::map<std::string, TopicOptions> topics;
  for (const auto& [k, v] : meta) {
    if (k.rfind(internal::kTopicMetaPrefix, 0) != 0) continue;
    if (auto o = internal::decode_topic_options(v))
      topics.emplace(k.substr(internal::kTopicMetaPrefix.size()), *o);
  }
  for (const auto& [tp, pc] : parts) {
    auto [it, added] = topics.try_emplace(tp.first);
    if (added) {
      it->second.durability = Durability::kJournaled;
      it->second.partitions = 0;
      report.problems.push_back({tp.first, std::nullopt, std::nullopt, "",
                                 "the topic's stored options were lost: rebuilt with default options"});
    }
    it->second.partitions = std::max(it->second.partitions, tp.second + 1);
  }
  copy_meta(meta, put, report);
  for (const auto& [name, o] : topics) {
    const internal::StoredTopic st = internal::encode_topic_options(o);
    put(internal::kMetaDbi, internal::topic_meta_key(name),
        std::string_view(reinterpret_cast<const char*>(&st), sizeof st));
    for (std::uint32_t p = 0; p < o.partitions; ++p) {
      PartitionCopy& pc = parts[{name, p}];
      // Every log exists in the copy, even an empty one (as attaching the
      // topic leaves it).
      if (write_error) {
        if (auto d = w.ensure(internal::partition_dbi_name(name, p)); !d) write_error = d.status();
      }
      PartitionSalvage ps = account_partition(name, p, o, pc, c.committed, scan->findings);
      // The copy's log may have these gaps: the open check accepts them.
      for (const auto& r : ps.lost) {
        char be[8];
        internal::put_be64(be, r.end);
        put(internal::kMetaDbi, internal::lost_range_key(name, p, r.first), std::string_view(be, 8));
      }
      report.partitions.push_back(std::move(ps));
    }
  }
  if (!write_error) return write_error;
  if (Status s = w.finish(); !s) return s;
  return std::move(c.report);
}

}  // namespace weir
