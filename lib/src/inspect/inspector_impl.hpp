// InspectorImpl: the Inspector's reader of a journal opened read-only (see
// weir/inspect.hpp): the environment, its named databases, topic metadata,
// partition reads and dead-letter iteration; verify() is in verify.cpp and
// the public facade in inspector.cpp. It reuses the journal's layout and
// decoding (journal/format.hpp, journal/batch.hpp, record/record.hpp) and the
// dead-letter helpers, so what it reports is what the bus would read.
//
// Thread-safety: one thread at a time (Inspector's contract).
#pragma once

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/inspect.hpp"

#include "dlq/format.hpp"
#include "record/record.hpp"
#include "journal/batch.hpp"
#include "journal/commit_source.hpp"
#include "journal/env.hpp"
#include "journal/log_reader.hpp"
#include "journal/format.hpp"
#include "journal/journal_check.hpp"
#include "journal/lmdb.hpp"

namespace weir {
namespace internal {

inline constexpr std::uint32_t kExtraDbis = kInternalDbis;
inline constexpr std::size_t kReadChunk = 256;

// "topic 't' partition 1 offset 7: record checksum mismatch" -> the part
// after the location, which callers report in columns of their own.
inline std::string without_location(const std::string& m) {
  if (m.rfind("topic '", 0) != 0) return m;
  const auto colon = m.find(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

inline Record to_record(const Message& m) {
  Record r;
  r.topic = std::string(m.topic());
  r.partition = m.partition();
  r.offset = m.offset();
  r.key = std::string(m.key());
  r.payload = std::string(m.payload());
  r.time_us = m.time_us();
  r.id = std::string(m.id());
  for (std::size_t i = 0; i < m.header_count(); ++i) {
    const Header h = m.header_at(i);
    r.headers.emplace_back(std::string(h.name), std::string(h.value));
  }
  return r;
}

class InspectorImpl {
 public:
  explicit InspectorImpl(std::string dir) : dir_(std::move(dir)) {}
  ~InspectorImpl() = default;

  Status open() {
    namespace fs = std::filesystem;
    std::error_code ec;
    // A failed stat (EACCES) is not a missing file: say what the OS said.
    auto unreadable = [&] {
      return Status::io_error("cannot read data directory '" + dir_ + "': " + ec.message() +
                              " (check the directory's permissions for this user)");
    };
    const bool exists = fs::exists(dir_, ec);
    if (ec) return unreadable();
    if (!exists) return Status::not_found("data directory '" + dir_ + "' does not exist");
    if (!fs::is_directory(dir_, ec)) return Status::invalid_argument("'" + dir_ + "' is not a directory");
    const bool has_journal = fs::exists(fs::path(dir_) / "data.mdb", ec);
    if (ec) return unreadable();
    if (!has_journal) return Status::not_found("'" + dir_ + "' holds no weir journal (no data.mdb)");
    // Before LMDB maps it; a live owner's pages change under a walk (and
    // its own open walked them), so then only the meta pages and size.
    // Layout damage LMDB reads safely is left to verify() to report.
    const auto live = Inspector::owned(dir_);
    if (Status s = check_journal_file(dir_, !live || !*live, /*structural_only=*/true); !s) return s;
    if (Status s = open_env(1024 + kExtraDbis); !s) return s;
    // Enough named databases for every partition stored (partition logs
    // are opened lazily; LMDB needs the count before mdb_env_open).
    auto topics = stored_topics();
    if (!topics) return topics.status();
    std::uint64_t parts = 0;
    for (const auto& [name, o] : *topics) parts += o.partitions;
    if (parts + kExtraDbis > env_->max_dbs()) {
      env_.reset();
      dbis_.clear();
      if (Status s = open_env(static_cast<std::uint32_t>(parts + kExtraDbis)); !s) return s;
    }
    return Status::ok();
  }

  // A read transaction that releases its snapshot when it goes out of
  // scope. Read-only commits keep the DBI handles opened in it.
  class Read {
   public:
    explicit Read(InspectorImpl& in) {
      for (int tries = 0; tries < 4; ++tries) {
        const int rc = mdb_txn_begin(in.env_->get(), nullptr, MDB_RDONLY, &txn_);
        if (rc == MDB_MAP_RESIZED) {
          // The owner grew the map: adopt its size (no transaction of ours
          // is active: Inspector is used by one thread at a time).
          txn_ = nullptr;
          mdb_env_set_mapsize(in.env_->get(), 0);
          continue;
        }
        if (rc) {
          txn_ = nullptr;
          status_ = lmdb_status(rc, "begin read transaction on '" + in.dir_ + "'");
        }
        return;
      }
      status_ = Status::io_error("journal map keeps growing; could not begin a read transaction");
    }
    ~Read() {
      if (txn_) mdb_txn_commit(txn_);
    }
    Read(const Read&) = delete;
    Read& operator=(const Read&) = delete;
    MDB_txn* txn() const noexcept { return txn_; }
    const Status& status() const noexcept { return status_; }

   private:
    MDB_txn* txn_ = nullptr;
    Status status_;
  };

  // A named database, opened once. kNotFound if it does not exist.
  Result<MDB_dbi> dbi(MDB_txn* txn, const std::string& name) {
    if (auto it = dbis_.find(name); it != dbis_.end()) return it->second;
    MDB_dbi d;
    const int rc = mdb_dbi_open(txn, name.c_str(), 0, &d);
    if (rc == MDB_NOTFOUND) return Status::not_found("'" + dir_ + "' has no database '" + name + "'");
    if (rc) return lmdb_status(rc, "open database '" + name + "'");
    dbis_.emplace(name, d);
    return d;
  }

  Result<std::vector<std::pair<std::string, TopicOptions>>> stored_topics() {
    Read r(*this);
    if (!r.txn()) return r.status();
    return stored_topics(r.txn(), nullptr);
  }

  // Topics in weir.meta; a malformed one is an error, or a problem when
  // `problems` is given.
  Result<std::vector<std::pair<std::string, TopicOptions>>> stored_topics(
      MDB_txn* txn, std::vector<JournalProblem>* problems) {
    auto meta = dbi(txn, "weir.meta");
    if (!meta) return meta.status();
    std::vector<std::pair<std::string, TopicOptions>> out;
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(txn, *meta, &cur)) return lmdb_status(rc, "mdb_cursor_open");
    MDB_val k = as_val(kTopicMetaPrefix), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      const std::string_view key = as_view(k);
      if (key.substr(0, kTopicMetaPrefix.size()) != kTopicMetaPrefix) break;
      const std::string name(key.substr(kTopicMetaPrefix.size()));
      const auto o = decode_topic_options(as_view(v));
      if (!o) {
        const std::string what = "topic metadata is malformed (" + std::to_string(v.mv_size) + " bytes)";
        if (!problems) {
          mdb_cursor_close(cur);
          return Status::data_loss("'" + dir_ + "': topic '" + name + "': " + what);
        }
        problems->push_back({name, std::nullopt, std::nullopt, "", what});
        continue;
      }
      out.emplace_back(name, *o);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "read topic metadata");
    return out;
  }

  Result<TopicOptions> topic_options(MDB_txn* txn, std::string_view topic) {
    auto meta = dbi(txn, "weir.meta");
    if (!meta) return meta.status();
    const std::string mk = topic_meta_key(topic);
    MDB_val k = as_val(mk), v;
    const int rc = mdb_get(txn, *meta, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::not_found("topic '" + std::string(topic) + "' not found in '" + dir_ + "'");
    if (rc) return lmdb_status(rc, "read topic metadata");
    auto o = decode_topic_options(as_view(v));
    if (!o) return Status::data_loss("topic '" + std::string(topic) + "': metadata is malformed");
    return *o;
  }

  Result<MDB_dbi> partition_dbi(MDB_txn* txn, std::string_view topic, std::uint32_t p) {
    auto o = topic_options(txn, topic);
    if (!o) return o.status();
    if (p >= o->partitions)
      return Status::invalid_argument("partition " + std::to_string(p) + " out of range: topic '" +
                                      std::string(topic) + "' has " + std::to_string(o->partitions) +
                                      " partitions");
    return dbi(txn, partition_dbi_name(topic, p));
  }

  Result<std::vector<PartitionInfo>> partitions(MDB_txn* txn, std::string_view topic,
                                                const TopicOptions& o) {
    std::vector<PartitionInfo> out;
    for (std::uint32_t p = 0; p < o.partitions; ++p) {
      auto d = dbi(txn, partition_dbi_name(topic, p));
      if (!d) return d.status();
      auto b = partition_bounds(txn, *d);
      if (!b) return b.status();
      out.push_back({std::string(topic), p, b->start, b->end, b->bytes});
    }
    return out;
  }

  Result<std::vector<Record>> read(MDB_txn* txn, std::string_view topic, std::uint32_t p, Offset from,
                                   std::size_t max) {
    auto d = partition_dbi(txn, topic, p);
    if (!d) return d.status();
    auto b = partition_range(txn, *d);
    if (!b) return b.status();
    std::vector<Record> out;
    if (from >= b->end || max == 0) return out;
    ReadBatch rb;
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>({max, b->end - from, 1u << 20}));
    if (Status s = read_log(txn, *d, topic, p, from, b->end, n, rb); !s) return s;
    for (const auto& r : rb.recs)
      out.push_back(to_record(decode_record(rb.bytes.data() + r.pos, topic, p, r.offset, 1, id_)));
    return out;
  }

  // Calls fn(event) for each dead letter of `group` not yet settled, oldest
  // first, until it returns false.
  template <typename Fn>
  Status for_each_unsettled(MDB_txn* txn, std::string_view group, Fn&& fn) {
    const std::string dlq = std::string(group) + ".dlq";
    if (auto o = topic_options(txn, dlq); !o) {
      if (o.status().code() == Code::kNotFound)
        return Status::not_found("group '" + std::string(group) + "' has no dead-letter topic");
      return o.status();
    }
    auto d = dbi(txn, partition_dbi_name(dlq, 0));
    if (!d) return d.status();
    auto ledger = settled_ledger(txn);
    if (!ledger) return ledger.status();
    auto b = partition_range(txn, *d);
    if (!b) return b.status();
    ReadBatch rb;
    for (Offset next = b->start; next < b->end;) {
      rb.clear();
      if (Status s = read_log(txn, *d, dlq, 0, next, b->end, kReadChunk, rb); !s) return s;
      if (rb.recs.empty()) break;
      for (const auto& r : rb.recs) {
        next = r.offset + 1;
        const std::string sk = ledger->v1 ? v1_settled_key(group, r.offset) : settled_key(group, r.offset);
        MDB_val k = as_val(sk), v;
        const int rc = mdb_get(txn, ledger->dbi, &k, &v);
        if (rc == 0) continue;  // redriven or purged
        if (rc != MDB_NOTFOUND) return lmdb_status(rc, "read dead-letter ledger");
        const Message m = decode_record(rb.bytes.data() + r.pos, dlq, 0, r.offset, 1, id_);
        if (!fn(dead_letter_event(m))) return Status::ok();
      }
    }
    return Status::ok();
  }

  // Where the journal of `txn` keeps dead-letter settlements: weir.internal,
  // or, in a version-1 journal no owner has opened (and so migrated) since
  // the upgrade, weir.state under v1_settled_key.
  struct SettledLedger {
    MDB_dbi dbi;
    bool v1;
  };
  Result<SettledLedger> settled_ledger(MDB_txn* txn) {
    auto meta = dbi(txn, kMetaDbi);
    if (!meta) return meta.status();
    auto format = check_format(txn, *meta, dir_, false);
    if (!format) return format.status();
    const bool v1 = format->version < 2;
    auto d = dbi(txn, v1 ? kStateDbi : kInternalDbi);
    if (!d) return d.status();
    return SettledLedger{*d, v1};
  }

  // inspect/verify.cpp: the whole journal checked, read-only (Inspector::verify).
  void verify_partition(MDB_txn* txn, const std::string& topic, std::uint32_t p,
                        std::vector<JournalProblem>& out);
  Result<std::vector<JournalProblem>> verify();
  // weir.internal: every key of a known kind, every value well-formed.
  // `ends`: the stored topics' partitions.
  Status verify_internal(MDB_txn* txn, const std::map<std::string, std::vector<PartitionBounds>, std::less<>>& ends,
                         std::vector<JournalProblem>& out);

  Status open_env(std::uint32_t max_dbs) {
    EnvConfig c;
    c.dir = dir_;
    c.read_only = true;
    c.max_dbs = max_dbs;
    auto env = Env::open(c);
    if (!env) return env.status();
    env_ = std::move(env).value();
    Read r(*this);
    if (!r.txn()) return r.status();
    auto meta = dbi(r.txn(), kMetaDbi);
    if (!meta) {
      // An environment with no database at all is a journal whose first
      // open was cut off before its first commit (LMDB makes data.mdb at
      // once): nothing was ever written there, and a bus opening it makes
      // the journal. Anything else without weir's meta is foreign.
      MDB_dbi main_dbi;
      MDB_stat st{};
      if (mdb_dbi_open(r.txn(), nullptr, 0, &main_dbi) == 0 && mdb_stat(r.txn(), main_dbi, &st) == 0 &&
          st.ms_entries == 0)
        return Status::not_found("'" + dir_ +
                                 "' holds no weir journal yet: its LMDB environment is empty (a bus's first open "
                                 "did not complete; opening a bus there creates the journal)");
      return Status::failed_precondition("'" + dir_ + "' holds an LMDB environment that is not a weir journal");
    }
    auto format = check_format(r.txn(), *meta, dir_, false);
    if (!format) return format.status();
    id_ = format->id;
    return Status::ok();
  }

  const std::string dir_;
  std::unique_ptr<Env> env_;
  std::uint64_t id_ = 0;  // the journal's id: names its logs in derived event ids
  std::map<std::string, MDB_dbi, std::less<>> dbis_;
};

}  // namespace internal
}  // namespace weir
