#include <chrono>

#include "commands.hpp"
#include "positions.hpp"

namespace weir::cli {

std::atomic<bool> g_stop{false};

void fail_status(const Status& s) { fail(s.message()); }

std::string topic_not_found(const std::string& topic, const std::string& dir) {
  return "topic '" + topic + "' not found in '" + dir + "'";
}

std::string naming_dir(std::string message, const std::string& dir) {
  static constexpr std::string_view kHead = "topic '", kTail = "' not found";
  if (message.size() > kHead.size() + kTail.size() && message.starts_with(kHead) && message.ends_with(kTail))
    message += " in '" + dir + "'";
  return message;
}

std::string known_groups(const std::set<std::string>& groups) {
  std::string names;
  for (const std::string& n : groups) names += (names.empty() ? "" : ", ") + n;
  return "(known groups: " + (names.empty() ? std::string("none") : names) + ")";
}

void fail_status(const Status& s, const std::string& dir) { fail(naming_dir(s.message(), dir)); }

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Inspector> open_inspector(const std::string& dir) {
  auto in = Inspector::open(dir);
  if (!in) fail_status(in.status());
  return std::move(in).value();
}

namespace {
std::string in_use(const std::string& dir, const std::string& command) {
  return dir + " is in use by another process; `weir " + command +
         "` needs the directory to itself (stop the owner, or do this from inside it through the Bus API)";
}
}  // namespace

void refuse_if_owned(const std::string& dir, const std::string& command) {
  auto owned = Inspector::owned(dir);
  if (!owned) fail_status(owned.status());
  if (*owned) fail(in_use(dir, command));
}

std::unique_ptr<Bus> open_bus(const std::string& dir, const std::string& command) {
  Options o;
  o.name = "weir-cli";
  o.data_dir = dir;
  auto bus = Bus::open(o);
  if (!bus) {
    auto owned = Inspector::owned(dir);
    if (owned && *owned) fail(in_use(dir, command));
    fail_status(bus.status());
  }
  return std::move(bus).value();
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 249) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

DeadLetterFilter filter_of(const DlqOptions& o) {
  DeadLetterFilter f;
  f.dlq_offset = o.offset;
  f.key = o.key;
  f.type = o.type;
  f.reason_contains = o.reason;
  if (!o.failed_from.empty()) f.failed_from_us = *parse_time_us(o.failed_from);
  if (!o.failed_to.empty()) f.failed_to_us = *parse_time_us(o.failed_to);
  return f;
}

std::vector<std::string> dlq_groups(Inspector& in, const std::string& group) {
  if (!group.empty()) return {group};
  auto depths = in.dlq_depths();
  if (!depths) fail_status(depths.status());
  std::vector<std::string> groups;
  for (const auto& d : *depths) groups.push_back(d.group);
  return groups;
}

void close_bus(Bus& bus) {
  auto r = bus.close();
  if (!r) fail_status(r.status());
  if (!r->journal_status) fail("closing the bus: " + r->journal_status.message());
}

const std::vector<std::string>& event_columns() {
  static const std::vector<std::string> cols = {"topic", "partition", "offset", "key",
                                                "value", "id",        "time",   "headers"};
  return cols;
}

Row event_row(const Record& r) {
  Row row;
  row["topic"] = r.topic;
  row["partition"] = r.partition;
  row["offset"] = r.offset;
  put_bytes(row, "key", r.key);
  put_bytes(row, "value", r.payload);
  row["id"] = r.id;
  row["time"] = iso_time(r.time_us);
  Row headers = Row::array();
  for (const auto& [name, value] : r.headers) {
    Row h;
    h["name"] = valid_utf8(name) ? name : base64(name);
    put_bytes(h, "value", value);
    headers.push_back(std::move(h));
  }
  row["headers"] = std::move(headers);
  return row;
}

Row group_lag_row(const GroupLag& g) {
  Row r;
  r["group"] = g.group;
  r["topic"] = g.topic;
  r["partition"] = g.partition;
  r["committed"] = g.committed ? Row(*g.committed) : Row();
  r["end"] = g.end;
  r["lag"] = g.lag;
  r["skewed"] = g.skewed;
  return r;
}

Row dlq_depth_row(const DeadLetterDepth& d) {
  Row r;
  r["kind"] = "dlq";
  r["dlq_group"] = d.group;
  r["depth"] = d.count;
  r["oldest_failure"] = d.oldest_failure_us ? Row(iso_time(d.oldest_failure_us)) : Row();
  return r;
}

std::uint64_t start_offset(Inspector& in, const PartitionInfo& p, const Position& from) {
  switch (from.kind) {
    case Position::Kind::kEarliest: return p.start;
    case Position::Kind::kLatest: return p.end;
    case Position::Kind::kOffset:
      if (from.offset < p.start || from.offset > p.end)
        fail("offset " + std::to_string(from.offset) + " is outside partition " + std::to_string(p.partition) +
             " of topic '" + p.topic + "': valid " + std::to_string(p.start) + ".." + std::to_string(p.end));
      return from.offset;
    case Position::Kind::kTime: {
      auto o = in.offset_for_time(p.topic, p.partition, from.time_us);
      if (!o) fail_status(o.status());
      return std::max(*o, p.start);
    }
  }
  return p.start;
}

std::vector<Record> read_on(Inspector& in, const std::string& topic, std::uint32_t partition,
                            std::uint64_t& next, std::size_t want) {
  auto recs = in.read(topic, partition, next, want);
  if (recs) return std::move(recs).value();
  if (recs.status().code() != Code::kNotFound) fail_status(recs.status());
  // Retention deleted what we were about to read: go on from the earliest.
  auto now = in.partitions(topic);
  if (!now) fail_status(now.status());
  const std::uint64_t start = (*now)[partition].start;
  if (start <= next) fail_status(recs.status());
  next = start;
  return {};
}

}  // namespace weir::cli
