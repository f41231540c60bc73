// Inspector: the journal read from outside the bus, read-only (see
// weir/inspect.hpp). It reuses the journal's layout and decoding
// (journal/layout.hpp, journal/batch.hpp, internal/record.hpp) and the
// dead-letter helpers, so what it reports is what the bus would read.
#include "weir/inspect.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "dlq/format.hpp"
#include "record/record.hpp"
#include "journal/batch.hpp"
#include "journal/commit_source.hpp"
#include "journal/env.hpp"
#include "journal/log_reader.hpp"
#include "journal/format.hpp"
#include "journal/journal_check.hpp"
#include "journal/lmdb.hpp"
#include "metrics/lag.hpp"

namespace weir {
namespace internal {

namespace {

constexpr std::uint32_t kExtraDbis = kInternalDbis;
constexpr std::size_t kReadChunk = 256;

// "topic 't' partition 1 offset 7: record checksum mismatch" -> the part
// after the location, which callers report in columns of their own.
std::string without_location(const std::string& m) {
  if (m.rfind("topic '", 0) != 0) return m;
  const auto colon = m.find(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

Record to_record(const Message& m) {
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

}  // namespace

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
      if (!o || o->partitions == 0 || o->partitions > 4096) {
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
    auto b = partition_bounds(txn, *d);
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
    auto state = dbi(txn, "weir.state");
    if (!state) return state.status();
    auto b = partition_bounds(txn, *d);
    if (!b) return b.status();
    ReadBatch rb;
    for (Offset next = b->start; next < b->end;) {
      rb.clear();
      if (Status s = read_log(txn, *d, dlq, 0, next, b->end, kReadChunk, rb); !s) return s;
      if (rb.recs.empty()) break;
      for (const auto& r : rb.recs) {
        next = r.offset + 1;
        const std::string sk = settled_key(group, r.offset);
        MDB_val k = as_val(sk), v;
        const int rc = mdb_get(txn, *state, &k, &v);
        if (rc == 0) continue;  // redriven or purged
        if (rc != MDB_NOTFOUND) return lmdb_status(rc, "read dead-letter ledger");
        const Message m = decode_record(rb.bytes.data() + r.pos, dlq, 0, r.offset, 1, id_);
        if (!fn(dead_letter_event(m))) return Status::ok();
      }
    }
    return Status::ok();
  }

  void verify_partition(MDB_txn* txn, const std::string& topic, std::uint32_t p,
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

  Result<std::vector<JournalProblem>> verify() {
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
          if (auto got = partition_bounds(r.txn(), *d)) pb = *got;
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
    return out;
  }

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
    if (!meta) return Status::failed_precondition("'" + dir_ + "' holds an LMDB environment that is not a weir journal");
    auto id = check_format(r.txn(), *meta, dir_, false);
    if (!id) return id.status();
    id_ = *id;
    return Status::ok();
  }

  const std::string dir_;
  std::unique_ptr<Env> env_;
  std::uint64_t id_ = 0;  // the journal's id: names its logs in derived event ids
  std::map<std::string, MDB_dbi, std::less<>> dbis_;
};

}  // namespace internal

using internal::InspectorImpl;

Inspector::Inspector(std::unique_ptr<InspectorImpl> impl) : impl_(std::move(impl)) {}
Inspector::~Inspector() = default;

const std::string& Inspector::dir() const noexcept { return impl_->dir_; }

Result<std::unique_ptr<Inspector>> Inspector::open(std::string_view dir) {
  auto impl = std::make_unique<InspectorImpl>(std::string(dir));
  if (Status s = impl->open(); !s) return s;
  return std::unique_ptr<Inspector>(new Inspector(std::move(impl)));
}

Result<bool> Inspector::owned(std::string_view dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(std::string(dir), ec))
    return Status::not_found("data directory '" + std::string(dir) + "' does not exist");
  const std::string lock = (fs::path(std::string(dir)) / "weir.lock").string();
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;  // no bus ever opened it
    return Status::io_error("cannot open '" + lock + "': " + std::strerror(errno));
  }
  // A bus holds an exclusive flock; a shared one is refused while it does.
  const int rc = ::flock(fd, LOCK_SH | LOCK_NB);
  const int err = errno;
  if (rc == 0) ::flock(fd, LOCK_UN);
  ::close(fd);
  if (rc == 0) return false;
  if (err == EWOULDBLOCK) return true;
  return Status::io_error("cannot probe '" + lock + "': " + std::strerror(err));
}

Result<std::vector<TopicInfo>> Inspector::topics() {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  auto stored = impl_->stored_topics(r.txn(), nullptr);
  if (!stored) return stored.status();
  std::vector<TopicInfo> out;
  for (const auto& [name, o] : *stored) {
    auto parts = impl_->partitions(r.txn(), name, o);
    if (!parts) return parts.status();
    TopicInfo t{name, o, 0, 0};
    for (const auto& p : *parts) {
      t.events += p.end - p.start;
      t.bytes += p.bytes;
    }
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<PartitionInfo>> Inspector::partitions(std::string_view topic) {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  auto o = impl_->topic_options(r.txn(), topic);
  if (!o) return o.status();
  return impl_->partitions(r.txn(), topic, *o);
}

Result<std::vector<GroupLag>> Inspector::group_lags() {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  auto offsets = impl_->dbi(r.txn(), "weir.offsets");
  if (!offsets) return offsets.status();
  // (group, topic) -> partition -> committed
  std::map<std::pair<std::string, std::string>, std::map<std::uint32_t, Offset>> stored;
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(r.txn(), *offsets, &cur)) return internal::lmdb_status(rc, "mdb_cursor_open");
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const auto key = internal::parse_offsets_key(internal::as_view(k));
    if (!key || v.mv_size != 8) continue;  // verify() reports these
    const Offset off = internal::get_be64(static_cast<const char*>(v.mv_data));
    auto& parts = stored[{key->group, key->topic}];
    if (off != internal::kUnsetOffset) parts[key->partition] = off;
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return internal::lmdb_status(rc, "read group offsets");

  std::vector<GroupLag> out;
  std::map<std::string, std::vector<PartitionInfo>, std::less<>> bounds;  // per topic, read once
  for (const auto& [gt, parts] : stored) {
    const auto& [group, topic] = gt;
    auto b = bounds.find(topic);
    if (b == bounds.end()) {
      auto o = impl_->topic_options(r.txn(), topic);
      if (!o) continue;  // an offset for a topic not stored: verify() reports it
      auto p = impl_->partitions(r.txn(), topic, *o);
      if (!p) return p.status();
      b = bounds.emplace(topic, std::move(p).value()).first;
    }
    const std::size_t first = out.size();
    std::vector<Offset> lags;
    for (const PartitionInfo& p : b->second) {
      GroupLag g;
      g.group = group;
      g.topic = topic;
      g.partition = p.partition;
      if (auto it = parts.find(p.partition); it != parts.end()) g.committed = it->second;
      g.start = p.start;
      g.end = p.end;
      g.lag = internal::group_lag(p.end, g.committed, p.start);
      lags.push_back(g.lag);
      out.push_back(std::move(g));
    }
    // The one skew rule (metrics/lag.hpp), as Bus::metrics() judges it.
    const std::vector<bool> skewed = internal::skewed_partitions(lags);
    for (std::size_t i = first; i < out.size(); ++i) out[i].skewed = skewed[i - first];
  }
  return out;
}

Result<std::vector<Record>> Inspector::read(std::string_view topic, std::uint32_t partition, Offset from,
                                            std::size_t max) {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  return impl_->read(r.txn(), topic, partition, from, max);
}

Result<Offset> Inspector::offset_for_time(std::string_view topic, std::uint32_t partition,
                                          std::int64_t time_us) {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  auto d = impl_->partition_dbi(r.txn(), topic, partition);
  if (!d) return d.status();
  auto b = internal::partition_bounds(r.txn(), *d);
  if (!b) return b.status();
  return internal::log_offset_for_time(r.txn(), *d, topic, partition, b->end, time_us);
}

Result<std::vector<DeadLetter>> Inspector::dlq_list(std::string_view group, const DeadLetterFilter& filter,
                                                    std::size_t limit) {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  std::vector<DeadLetter> out;
  if (limit == 0) return out;
  Status s = impl_->for_each_unsettled(r.txn(), group, [&](const DeadLetterEvent& e) {
    if (internal::matches(e.letter, filter)) out.push_back(e.letter);
    return out.size() < limit;
  });
  if (!s) return s;
  return out;
}

Result<DeadLetterEvent> Inspector::dlq_show(std::string_view group, Offset dlq_offset) {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  std::optional<DeadLetterEvent> found;
  DeadLetterFilter f;
  f.dlq_offset = dlq_offset;
  Status s = impl_->for_each_unsettled(r.txn(), group, [&](const DeadLetterEvent& e) {
    if (!internal::matches(e.letter, f)) return true;
    found = e;
    return false;
  });
  if (!s) return s;
  if (!found)
    return Status::not_found("group '" + std::string(group) + "' has no unsettled dead letter at offset " +
                             std::to_string(dlq_offset));
  return std::move(*found);
}

Result<std::vector<DeadLetterDepth>> Inspector::dlq_depths() {
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  auto stored = impl_->stored_topics(r.txn(), nullptr);
  if (!stored) return stored.status();
  std::vector<DeadLetterDepth> out;
  constexpr std::string_view kSuffix = ".dlq";
  for (const auto& [name, o] : *stored) {
    if (name.size() <= kSuffix.size() || name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      continue;
    DeadLetterDepth d;
    d.group = name.substr(0, name.size() - kSuffix.size());
    Status s = impl_->for_each_unsettled(r.txn(), d.group, [&](const DeadLetterEvent& e) {
      if (d.count++ == 0) d.oldest_failure_us = e.letter.last_failure_us;
      return true;
    });
    if (!s) return s;
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<JournalProblem>> Inspector::verify() { return impl_->verify(); }

Result<JournalUsage> Inspector::usage() {
  JournalUsage u;
  struct stat st;
  const std::string file = (std::filesystem::path(impl_->dir_) / "data.mdb").string();
  if (::stat(file.c_str(), &st) != 0)
    return Status::io_error("cannot stat '" + file + "': " + std::strerror(errno));
  u.file_bytes = static_cast<std::uint64_t>(st.st_size);
  {
    // A read transaction first, so a map the owner grew is adopted.
    InspectorImpl::Read r(*impl_);
    if (!r.txn()) return r.status();
  }
  MDB_envinfo info;
  MDB_stat ms;
  if (int rc = mdb_env_info(impl_->env_->get(), &info)) return internal::lmdb_status(rc, "mdb_env_info");
  if (int rc = mdb_env_stat(impl_->env_->get(), &ms)) return internal::lmdb_status(rc, "mdb_env_stat");
  u.map_bytes = info.me_mapsize;
  u.page_size = ms.ms_psize;
  u.used_bytes = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * ms.ms_psize;
  u.readers = info.me_numreaders;
  u.max_readers = info.me_maxreaders;
  return u;
}

}  // namespace weir
