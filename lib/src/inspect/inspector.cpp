// Inspector: the journal read from outside the bus, read-only (see
// weir/inspect.hpp): the public facade over InspectorImpl
// (inspect/inspector_impl.hpp).
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

#include "inspect/inspector_impl.hpp"
#include "base/names.hpp"
#include "metrics/lag.hpp"

namespace weir {

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
  auto b = internal::partition_range(r.txn(), *d);
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

Result<std::optional<std::string>> Inspector::state_get(std::string_view group, std::string_view table,
                                                      std::string_view key) {
  if (std::string p = internal::name_problem("group", group); !p.empty()) return Status::invalid_argument(p);
  if (table.empty()) return Status::invalid_argument("state table name is empty");
  InspectorImpl::Read r(*impl_);
  if (!r.txn()) return r.status();
  auto state = impl_->dbi(r.txn(), "weir.state");
  if (!state) return state.status();
  const std::string k = internal::state_key(group, table, key);
  MDB_val kv = internal::as_val(k), v;
  const int rc = mdb_get(r.txn(), *state, &kv, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
  if (rc) return internal::lmdb_status(rc, "read state of group '" + std::string(group) + "'");
  return std::optional<std::string>(std::string(internal::as_view(v)));
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
