// Subcommands that change the directory: produce, consume, seek, dlq
// redrive and purge. They need the directory to themselves (a live owner
// makes them refuse, with nothing modified) and make their changes through
// a weir::Bus, so every rule of the bus applies.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "commands.hpp"

namespace weir::cli {

namespace {

// Reads stdin by lines with read(2), so the producer can tell whether more
// input is already waiting (it publishes what is there, then acks).
class LineReader {
 public:
  // The next line without its '\n'; nullopt at end of input.
  std::optional<std::string> next() {
    while (true) {
      if (auto nl = buf_.find('\n', pos_); nl != std::string::npos) {
        std::string line = buf_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        return line;
      }
      if (eof_) {
        if (pos_ >= buf_.size()) return std::nullopt;
        std::string line = buf_.substr(pos_);
        pos_ = buf_.size();
        return line;
      }
      fill();
    }
  }
  // Whether next() can return without waiting for more input.
  bool ready() {
    if (buf_.find('\n', pos_) != std::string::npos || eof_) return true;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

 private:
  void fill() {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char chunk[65536];
    ssize_t n;
    do n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    while (n < 0 && errno == EINTR && !g_stop.load(std::memory_order_relaxed));
    if (n < 0) fail(std::string("reading stdin: ") + std::strerror(errno));
    if (n == 0) eof_ = true;
    buf_.append(chunk, static_cast<std::size_t>(n > 0 ? n : 0));
  }
  std::string buf_;
  std::size_t pos_ = 0;
  bool eof_ = false;
};

Ack parse_ack(const std::string& s) {
  if (s == "none") return Ack::kNone;
  if (s == "fsync") return Ack::kFsync;
  return Ack::kJournal;
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

void close_bus(Bus& bus) {
  auto r = bus.close();
  if (!r) fail_status(r.status());
  if (!r->journal_status) fail("closing the bus: " + r->journal_status.message());
}

}  // namespace

int cmd_produce(const Common& c, const ProduceOptions& o) {
  std::error_code ec;
  if (!std::filesystem::exists(c.dir, ec) && o.partitions == 0)
    fail("data directory '" + c.dir + "' does not exist (give --partitions N to create it with topic '" + o.topic +
         "')");
  auto bus = open_bus(c.dir, "produce");
  auto topic = bus->topic(o.topic);
  if (!topic) {
    if (topic.status().code() != Code::kNotFound || o.partitions == 0) {
      const std::string why = topic.status().message();
      bus.reset();
      fail(why + (o.partitions == 0 ? " in " + c.dir + " (give --partitions N to create it)" : ""));
    }
    TopicOptions to;
    to.partitions = o.partitions;
    to.durability = Durability::kJournaled;
    if (Status s = bus->create_topic(o.topic, to); !s) fail_status(s);
    topic = bus->topic(o.topic);
    if (!topic) fail_status(topic.status());
  } else if (o.partitions != 0 && topic->partitions() != o.partitions) {
    fail("topic '" + o.topic + "' has " + std::to_string(topic->partitions()) + " partitions, not " +
         std::to_string(o.partitions) + " (partitions are fixed at creation)");
  }
  const Ack ack = parse_ack(o.ack);
  LineReader in;
  std::uint64_t line_no = 0;
  std::string error;
  while (error.empty() && !g_stop.load(std::memory_order_relaxed)) {
    // Publish what is waiting (up to 4096 lines), then wait for the acks and
    // print: partition<TAB>offset per line, in input order.
    std::vector<PublishReceipt> receipts;
    const std::uint64_t first_line = line_no + 1;
    bool eof = false;
    do {
      auto line = in.next();
      if (!line) {
        eof = true;
        break;
      }
      ++line_no;
      const auto tab = line->find('\t');
      if (tab == std::string::npos) {
        error = "stdin line " + std::to_string(line_no) + ": no TAB between key and value (expected key<TAB>value)";
        break;
      }
      Event e;
      e.key = std::string_view(*line).substr(0, tab);
      e.payload = std::string_view(*line).substr(tab + 1);
      PublishOptions po;
      po.ack = Ack::kNone;
      auto r = topic->publish(e, po);
      if (!r) {
        error = "stdin line " + std::to_string(line_no) + ": " + r.status().message();
        break;
      }
      receipts.push_back(*r);
    } while (receipts.size() < 4096 && in.ready());
    if (ack != Ack::kNone) {
      // Commits are in offset order per partition: the last receipt of each
      // partition stands for the ones before it.
      std::map<std::uint32_t, PublishReceipt> last;
      for (const auto& r : receipts) last[r.partition] = r;
      for (const auto& [p, r] : last)
        if (Status s = topic->wait_acked(r, ack, std::chrono::seconds(60)); !s)
          fail("lines " + std::to_string(first_line) + ".." + std::to_string(first_line + receipts.size() - 1) +
               " were published but not acknowledged: " + s.message());
    }
    std::string out;
    for (std::size_t i = 0; i < receipts.size(); ++i) {
      if (c.json) {
        Row row;
        row["line"] = first_line + i;
        row["partition"] = receipts[i].partition;
        row["offset"] = receipts[i].offset;
        out += row.dump() + "\n";
      } else {
        out += std::to_string(receipts[i].partition) + "\t" + std::to_string(receipts[i].offset) + "\n";
      }
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    if (eof) break;
  }
  close_bus(*bus);
  if (!error.empty()) {
    const std::uint64_t good = line_no - 1;
    fail(error + (good == 0   ? "; nothing was published"
                  : good == 1 ? "; line 1 was published and printed, nothing after it"
                              : "; lines 1.." + std::to_string(good) + " were published and printed, nothing after them"));
  }
  return kExitOk;
}

int cmd_consume(const Common& c, const ConsumeOptions& o) {
  if (!valid_name(o.group))
    fail("group name '" + o.group + "' is invalid: 1..249 characters of [A-Za-z0-9._-]", kExitUsage);
  auto in = open_inspector(c.dir);
  refuse_if_owned(c.dir, "consume");
  auto parts_r = in->partitions(o.topic);
  if (!parts_r) fail_status(parts_r.status());
  const std::vector<PartitionInfo> parts = std::move(parts_r).value();
  std::map<std::uint32_t, std::uint64_t> committed;
  auto lags = in->group_lags();
  if (!lags) fail_status(lags.status());
  for (const GroupLag& g : *lags)
    if (g.group == o.group && g.topic == o.topic && g.committed) committed[g.partition] = *g.committed;
  std::vector<std::uint64_t> next;
  const std::optional<Position> from = o.from.empty() ? std::nullopt : parse_position(o.from);
  for (const PartitionInfo& p : parts) {
    if (from) next.push_back(start_offset(*in, p, *from));
    else if (auto it = committed.find(p.partition); it != committed.end()) next.push_back(std::max(it->second, p.start));
    else next.push_back(p.start);
  }
  const std::vector<std::uint64_t> initial = next;
  std::vector<std::uint64_t> printed_to = next;  // positions covered by output that reached stdout
  Table t(event_columns(), c.json);
  std::uint64_t printed = 0;
  bool out_closed = false;
  auto last_event = std::chrono::steady_clock::now();
  while (!g_stop.load(std::memory_order_relaxed) && !out_closed) {
    bool got = false;
    for (std::size_t i = 0; i < parts.size() && !out_closed; ++i) {
      if (o.max && printed >= o.max) break;
      const std::size_t want = o.max ? std::min<std::uint64_t>(256, o.max - printed) : 256;
      const std::uint64_t at = next[i];
      const std::vector<Record> recs = read_on(*in, o.topic, parts[i].partition, next[i], want);
      if (next[i] != at) got = true;  // moved past a retention gap
      for (const Record& r : recs) {
        next[i] = r.offset + 1;
        got = true;
        // Redriven for another group: that group handles it, this one skips it.
        bool other = false;
        for (const auto& [name, value] : r.headers)
          if (name == "weir.redrive.group") other = value != o.group;
        if (other) continue;
        t.add(event_row(r));
        ++printed;
      }
      if (t.flush()) printed_to[i] = next[i];
      else out_closed = true;
    }
    if (o.max && printed >= o.max) break;
    const auto now = std::chrono::steady_clock::now();
    if (got) {
      last_event = now;
      continue;
    }
    if (o.idle_exit_ms && now - last_event >= std::chrono::milliseconds(*o.idle_exit_ms)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  in.reset();  // one LMDB environment per process at a time: close ours before the bus opens it

  // Commit what was printed (and only that): the group's offsets move to
  // just after the last event printed on each partition.
  std::vector<std::uint32_t> moved;
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (printed_to[i] != initial[i] || (from && !committed.count(parts[i].partition)) ||
        (from && committed[parts[i].partition] != printed_to[i]))
      moved.push_back(static_cast<std::uint32_t>(i));
  if (moved.empty()) return out_closed ? kExitRuntime : kExitOk;
  std::unique_ptr<Bus> bus;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!bus) {
    Options bo;
    bo.name = "weir-cli";
    bo.data_dir = c.dir;
    auto b = Bus::open(bo);
    if (b) {
      bus = std::move(b).value();
      break;
    }
    auto owned = Inspector::owned(c.dir);
    const std::string lost = "; the " + std::to_string(printed) +
                             " events printed were not committed and will be delivered to group '" + o.group +
                             "' again";
    if (!owned || !*owned) fail(b.status().message() + lost);
    // Another process (a `weir produce`, say) holds it: wait a little.
    if (std::chrono::steady_clock::now() > deadline)
      fail(c.dir + " is in use by another process, so group '" + o.group + "' could not be committed" + lost);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (std::uint32_t p : moved) {
    Status s = bus->seek(o.group, o.topic, SeekTo::to_offset(printed_to[p]).creating_group(), p);
    if (s.code() == Code::kInvalidArgument)  // retention passed it meanwhile
      s = bus->seek(o.group, o.topic, SeekTo::earliest().creating_group(), p);
    if (!s) fail("committing group '" + o.group + "': " + s.message());
  }
  close_bus(*bus);
  return out_closed ? kExitRuntime : kExitOk;
}

int cmd_seek(const Common& c, const SeekOptions& o) {
  if (!valid_name(o.group))
    fail("group name '" + o.group + "' is invalid: 1..249 characters of [A-Za-z0-9._-]", kExitUsage);
  const Position to = *parse_position(o.to);
  {
    auto in = open_inspector(c.dir);  // a journal, and the topic in it
    auto parts = in->partitions(o.topic);
    if (!parts) fail_status(parts.status());
    if (o.partition && *o.partition >= parts->size())
      fail("partition " + std::to_string(*o.partition) + " out of range: topic '" + o.topic + "' has " +
           std::to_string(parts->size()) + " partitions");
  }
  auto bus = open_bus(c.dir, "seek");
  SeekTo st;
  switch (to.kind) {
    case Position::Kind::kEarliest: st = SeekTo::earliest(); break;
    case Position::Kind::kLatest: st = SeekTo::latest(); break;
    case Position::Kind::kOffset: st = SeekTo::to_offset(to.offset); break;
    case Position::Kind::kTime: st = SeekTo::to_time(to.time_us); break;
  }
  st.create_group = o.create;
  if (Status s = bus->seek(o.group, o.topic, st, o.partition); !s) fail_status(s);
  close_bus(*bus);
  bus.reset();
  auto in = open_inspector(c.dir);
  auto lags = in->group_lags();
  if (!lags) fail_status(lags.status());
  Table t({"group", "topic", "partition", "committed", "end", "lag"}, c.json);
  for (const GroupLag& g : *lags) {
    if (g.group != o.group || g.topic != o.topic || (o.partition && g.partition != *o.partition)) continue;
    Row r = group_lag_row(g);
    r.erase("skewed");  // seek reports positions, not the skew rule
    t.add(std::move(r));
  }
  t.flush();
  return kExitOk;
}

int cmd_dlq_redrive(const Common& c, const DlqOptions& o) {
  const DeadLetterFilter f = filter_of(o);
  Table t({"group", "dlq_offset", "topic", "partition", "offset", "key", "reason", "action"}, c.json);
  auto row = [&](const DeadLetter& d, const char* action) {
    Row r;
    r["group"] = o.group;
    r["dlq_offset"] = d.dlq_offset;
    r["topic"] = d.topic;
    r["partition"] = d.partition;
    r["offset"] = d.offset;
    put_bytes(r, "key", d.key);
    r["reason"] = d.reason;
    r["action"] = action;
    t.add(std::move(r));
  };
  if (o.dry_run) {
    // Read-only: the same selection as Bus::dlq_redrive's dry run, and it
    // works while the owner runs.
    auto in = open_inspector(c.dir);
    auto letters = in->dlq_list(o.group, f, o.limit.value_or(~std::size_t{0}));
    if (!letters) fail_status(letters.status());
    for (const DeadLetter& d : *letters) row(d, "would redrive");
    t.flush();
    return kExitOk;
  }
  open_inspector(c.dir);  // an existing journal: the bus would create one
  auto bus = open_bus(c.dir, "dlq redrive");
  RedriveOptions ro;
  ro.max_per_second = o.rate;
  if (o.limit) ro.limit = *o.limit;
  auto report = bus->dlq_redrive(o.group, f, ro);
  if (!report) fail_status(report.status());
  for (const DeadLetter& d : report->letters) row(d, "redriven");
  close_bus(*bus);
  t.flush();
  return kExitOk;
}

int cmd_dlq_purge(const Common& c, const DlqOptions& o) {
  const DeadLetterFilter f = filter_of(o);
  if (!o.all && !f.dlq_offset && !f.key && !f.type && !f.reason_contains && !f.failed_from_us && !f.failed_to_us)
    fail("dlq purge without a filter would purge every dead letter of group '" + o.group +
             "'; give a filter (--offset, --key, --type, --reason, --failed-from, --failed-to) or --all",
         kExitUsage);
  open_inspector(c.dir);
  auto bus = open_bus(c.dir, "dlq purge");
  auto n = bus->dlq_purge(o.group, f);
  if (!n) fail_status(n.status());
  close_bus(*bus);
  Table t({"group", "purged"}, c.json);
  Row r;
  r["group"] = o.group;
  r["purged"] = *n;
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

}  // namespace weir::cli
