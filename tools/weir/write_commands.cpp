// Subcommands that change the directory: produce, consume, seek, dlq
// redrive and purge. They need the directory to themselves (a live owner
// makes them refuse, with nothing modified) and make their changes through
// a weir::Bus, so every rule of the bus applies.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <functional>
#include <thread>

#include "commands.hpp"
#include "live.hpp"
#include "weir/control.hpp"

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

// The filter as the control protocol spells it.
Row filter_json(const DeadLetterFilter& f) {
  Row j = Row::object();
  if (f.dlq_offset) j["dlq_offset"] = *f.dlq_offset;
  if (f.key) j["key"] = *f.key;
  if (f.type) j["type"] = *f.type;
  if (f.reason_contains) j["reason_contains"] = *f.reason_contains;
  if (f.failed_from_us) j["failed_from_us"] = f.failed_from_us;
  if (f.failed_to_us) j["failed_to_us"] = f.failed_to_us;
  return j;
}

// A dead letter as the control protocol reports it (the fields redrive prints).
DeadLetter letter_of(const Row& j) {
  DeadLetter d;
  d.dlq_offset = j.value("dlq_offset", Offset{0});
  d.topic = j.value("topic", std::string());
  d.partition = j.value("partition", std::uint32_t{0});
  d.offset = j.value("offset", Offset{0});
  d.key = j.contains("key_b64") ? unbase64(j["key_b64"].get<std::string>()) : j.value("key", std::string());
  d.reason = j.value("reason", std::string());
  return d;
}

}  // namespace

namespace {

// Lines of one produce round: key and value of each.
using Lines = std::vector<std::pair<std::string, std::string>>;

// Publishes one round and waits for its acks. Returns the receipts of the
// lines published (all, or those before the one that failed, whose reason
// goes to `error`); fails the command if they were not acknowledged.
using Publisher = std::function<std::vector<PublishReceipt>(const Lines&, std::string& error)>;

[[noreturn]] void not_acked(std::uint64_t first_line, std::size_t n, const std::string& why) {
  fail("lines " + std::to_string(first_line) + ".." + std::to_string(first_line + n - 1) +
       " were published but not acknowledged: " + why);
}

Publisher offline_publisher(Topic topic, Ack ack, std::uint32_t priority, const std::uint64_t& first_line) {
  return [topic, ack, priority, &first_line](const Lines& lines, std::string& error) {
    std::vector<PublishReceipt> receipts;
    for (const auto& [key, value] : lines) {
      Event e;
      e.key = key;
      e.payload = value;
      e.priority = priority;
      PublishOptions po;
      po.ack = Ack::kNone;
      auto r = topic.publish(e, po);
      if (!r) {
        error = r.status().message();
        break;
      }
      receipts.push_back(*r);
    }
    if (ack != Ack::kNone)
      if (Status s = topic.wait_all_acked(receipts, ack, std::chrono::seconds(60)); !s)
        not_acked(first_line, receipts.size(), s.message());
    return receipts;
  };
}

Publisher live_publisher(LiveOwner& owner, const std::string& topic, const std::string& ack, std::uint32_t priority,
                         const std::uint64_t& first_line) {
  return [&owner, topic, ack, priority, &first_line](const Lines& lines, std::string& error) {
    Row req{{"verb", "publish"}, {"topic", topic}, {"ack", ack}, {"priority", priority}};
    Row events = Row::array();
    for (const auto& [key, value] : lines) {
      Row e;
      put_bytes(e, "key", key);
      put_bytes(e, "value", value);
      events.push_back(std::move(e));
    }
    req["events"] = std::move(events);
    Row r = owner.request(req, nullptr, true);
    const std::size_t published = r.value("published", std::size_t{0});
    if (r.value("acknowledged", true) == false) not_acked(first_line, published, r.value("error", std::string()));
    std::vector<PublishReceipt> receipts;
    if (r.contains("receipts"))
      for (const Row& x : r["receipts"]) receipts.push_back({x[0].get<std::uint32_t>(), x[1].get<Offset>()});
    if (!r["ok"].get<bool>()) {
      error = r.value("error", std::string("the owner refused"));
      if (receipts.size() != published) fail(error);  // refused as a whole (unknown topic, say)
    }
    return receipts;
  };
}

// --partitions names an existing topic's count otherwise: it only creates
// topics; alter-topic grows them.
[[noreturn]] void fail_partitions_differ(const Common& c, const ProduceOptions& o, std::uint32_t stored) {
  fail("topic '" + o.topic + "' has " + std::to_string(stored) + " partitions, not " + std::to_string(o.partitions) +
       " (--partitions only creates a topic; grow it with `weir alter-topic " + c.dir + " " + o.topic +
       " --partitions N`)");
}

// --priority-levels names an existing topic's levels otherwise: produce
// creates topics, it does not change their levels.
void check_levels(const ProduceOptions& o, std::uint32_t stored) {
  if (o.priority_levels && *o.priority_levels != stored)
    fail("topic '" + o.topic + "' has " + std::to_string(stored) + " priority level(s), not " +
             std::to_string(*o.priority_levels) + " (--priority-levels only applies when --partitions creates the topic)",
         kExitUsage);
}

// Topic lookup and creation (--partitions) through the owner.
void live_topic(LiveOwner& owner, const Common& c, const ProduceOptions& o) {
  Row topics = owner.request(Row{{"verb", "topics"}});
  for (const Row& t : topics["topics"]) {
    if (t["topic"] != o.topic) continue;
    const std::uint32_t n = t["partitions"];
    if (o.partitions != 0 && n != o.partitions) fail_partitions_differ(c, o, n);
    if (o.priority_levels) {  // the owner's topic list has no levels: a journaled topic's are stored
      auto infos = open_inspector(c.dir)->topics();
      if (!infos) fail_status(infos.status());
      for (const TopicInfo& ti : *infos)
        if (ti.name == o.topic) check_levels(o, ti.options.priority_levels);
    }
    return;
  }
  if (o.partitions == 0) fail(topic_not_found(o.topic, c.dir) + " (give --partitions N to create it)");
  owner.request(Row{{"verb", "create_topic"}, {"topic", o.topic}, {"partitions", o.partitions},
                    {"priority_levels", o.priority_levels.value_or(1)}});
}

}  // namespace

int cmd_produce(const Common& c, const ProduceOptions& o) {
  if (o.priority_levels && o.partitions == 0)
    fail("--priority-levels only applies to a topic that --partitions creates; an existing topic keeps its levels",
         kExitUsage);
  std::error_code ec;
  if (!std::filesystem::exists(c.dir, ec) && o.partitions == 0)
    fail("data directory '" + c.dir + "' does not exist (give --partitions N to create it with topic '" + o.topic +
         "')");
  std::uint64_t first_line = 1;
  std::unique_ptr<LiveOwner> owner =
      std::filesystem::exists(c.dir, ec) ? LiveOwner::connect(c.dir, "produce") : nullptr;
  std::unique_ptr<Bus> bus;
  Publisher publish;
  if (owner) {
    live_topic(*owner, c, o);
    publish = live_publisher(*owner, o.topic, o.ack, o.priority, first_line);
  } else {
    bus = open_bus(c.dir, "produce");
    auto topic = bus->topic(o.topic);
    if (!topic) {
      if (topic.status().code() != Code::kNotFound || o.partitions == 0) {
        const std::string why = topic.status().message();
        bus.reset();
        fail(naming_dir(why, c.dir) + (o.partitions == 0 ? " (give --partitions N to create it)" : ""));
      }
      TopicOptions to;
      to.partitions = o.partitions;
      to.durability = Durability::kJournaled;
      to.priority_levels = o.priority_levels.value_or(1);
      if (Status s = bus->create_topic(o.topic, to); !s) fail_status(s);
      topic = bus->topic(o.topic);
      if (!topic) fail_status(topic.status());
    } else if (o.partitions != 0 && topic->partitions() != o.partitions) {
      fail_partitions_differ(c, o, topic->partitions());
    } else if (auto stored = bus->topic_options(o.topic); stored) {
      check_levels(o, stored->priority_levels);
    }
    publish = offline_publisher(*topic, parse_ack(o.ack), o.priority, first_line);
  }
  LineReader in;
  std::uint64_t line_no = 0;
  std::string error;
  // A live owner takes one request line of at most 1 MiB: rounds stay well
  // under it.
  const std::size_t round_bytes = owner ? kControlMaxRequestBytes / 4 : ~std::size_t{0};
  while (error.empty() && !g_stop.load(std::memory_order_relaxed)) {
    // Publish what is waiting (up to 4096 lines), then wait for the acks and
    // print: partition<TAB>offset per line, in input order.
    Lines lines;
    std::size_t bytes = 0;
    first_line = line_no + 1;
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
      bytes += line->size() * 2 + 32;  // JSON escaping at worst doubles it
      lines.emplace_back(line->substr(0, tab), line->substr(tab + 1));
    } while (lines.size() < 4096 && bytes < round_bytes && in.ready());
    std::string failed;
    const std::vector<PublishReceipt> receipts = lines.empty() ? std::vector<PublishReceipt>{} : publish(lines, failed);
    if (!failed.empty()) {
      line_no = first_line + receipts.size();
      error = "stdin line " + std::to_string(line_no) + ": " + failed;
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
  if (bus) close_bus(*bus);
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
  // With a live owner, the group's offsets move through it, only after the
  // events were printed, and it holds the group for us meanwhile.
  std::unique_ptr<LiveOwner> owner = LiveOwner::connect(c.dir, "consume");
  if (owner) owner->request(Row{{"verb", "consume_begin"}, {"group", o.group}, {"topic", o.topic}});
  auto live_commit = [&](std::uint32_t partition, std::uint64_t offset) {
    owner->request(Row{{"verb", "commit"}, {"group", o.group}, {"topic", o.topic}, {"partition", partition},
                       {"offset", offset}});
  };
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
  auto last_request = last_event;
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
      if (!t.flush()) {
        out_closed = true;
      } else if (printed_to[i] != next[i]) {
        printed_to[i] = next[i];
        if (owner) live_commit(parts[i].partition, printed_to[i]);
      }
    }
    if (o.max && printed >= o.max) break;
    const auto now = std::chrono::steady_clock::now();
    if (got) {
      last_event = now;
      last_request = now;
      continue;
    }
    if (owner && now - last_request >= std::chrono::seconds(60)) {
      owner->request(Row{{"verb", "ping"}});  // keeps the connection, and so the group, ours
      last_request = now;
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
  // A closed stdout ends the command normally: the reader chose to stop.
  if (moved.empty()) return kExitOk;
  if (owner) {
    for (std::uint32_t p : moved) live_commit(parts[p].partition, printed_to[p]);
    return kExitOk;
  }
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
  return kExitOk;
}

int cmd_seek(const Common& c, const SeekOptions& o) {
  if (!valid_name(o.group))
    fail("group name '" + o.group + "' is invalid: 1..249 characters of [A-Za-z0-9._-]", kExitUsage);
  const int targets = !o.to.empty() + o.shift_by.has_value() + !o.to_duration.empty();
  if (targets != 1) fail("seek needs exactly one of --to, --shift-by, --to-duration", kExitUsage);
  std::optional<Position> to = o.to.empty() ? std::nullopt : parse_position(o.to);
  if (!o.to_duration.empty()) {
    auto back = parse_duration_us(o.to_duration);
    if (!back)
      fail("--to-duration '" + o.to_duration + "' is not an ISO-8601 duration like -PT10M, PT1H30M or -P1DT12H",
           kExitUsage);
    to = Position{Position::Kind::kTime, 0, now_us() - *back};
  }
  // Old and new offsets, resolved here with the Inspector (read-only), so
  // the dry run and the change agree.
  struct Move {
    std::uint32_t partition;
    std::optional<std::uint64_t> old;
    std::uint64_t target, end;
  };
  std::vector<Move> moves;
  {
    auto in = open_inspector(c.dir);
    auto parts = in->partitions(o.topic);
    if (!parts) fail_status(parts.status());
    if (o.partition && *o.partition >= parts->size())
      fail("partition " + std::to_string(*o.partition) + " out of range: topic '" + o.topic + "' has " +
           std::to_string(parts->size()) + " partitions");
    auto lags = in->group_lags();
    if (!lags) fail_status(lags.status());
    // The dry run refuses what --execute would refuse (Bus::seek): a group
    // that never consumed the topic, unless --create.
    if (!o.create && std::none_of(lags->begin(), lags->end(), [&](const GroupLag& g) {
          return g.group == o.group && g.topic == o.topic;
        })) {
      std::set<std::string> known;
      for (const GroupLag& g : *lags)
        if (g.topic == o.topic) known.insert(g.group);
      fail("group '" + o.group + "' has never consumed topic '" + o.topic + "' " + known_groups(known) +
           "; add --create to create it");
    }
    for (const PartitionInfo& p : *parts) {
      if (o.partition && p.partition != *o.partition) continue;
      Move m{p.partition, std::nullopt, 0, p.end};
      for (const GroupLag& g : *lags)
        if (g.group == o.group && g.topic == o.topic && g.partition == p.partition) m.old = g.committed;
      if (to) {
        m.target = start_offset(*in, p, *to);
      } else {
        // From the committed offset (the start when the group has none),
        // clamped to what the partition holds, as Kafka's --shift-by is.
        const auto from = static_cast<std::int64_t>(std::max(m.old.value_or(p.start), p.start));
        m.target = static_cast<std::uint64_t>(std::clamp<std::int64_t>(
            from + *o.shift_by, static_cast<std::int64_t>(p.start), static_cast<std::int64_t>(p.end)));
      }
      moves.push_back(m);
    }
  }
  if (o.execute) {
    if (auto owner = LiveOwner::connect(c.dir, "seek")) {
      for (const Move& m : moves)
        owner->request(Row{{"verb", "seek"}, {"group", o.group}, {"topic", o.topic}, {"partition", m.partition},
                           {"to", "offset"}, {"offset", m.target}, {"create", o.create}});
    } else {
      auto bus = open_bus(c.dir, "seek");
      for (const Move& m : moves) {
        SeekTo st = SeekTo::to_offset(m.target);
        st.create_group = o.create;
        if (Status s = bus->seek(o.group, o.topic, st, m.partition); !s) fail_status(s);
      }
      close_bus(*bus);
    }
  }
  Table t({"group", "topic", "partition", "old", "new", "end", "lag", "action"}, c.json);
  for (const Move& m : moves) {
    Row r;
    r["group"] = o.group;
    r["topic"] = o.topic;
    r["partition"] = m.partition;
    r["old"] = m.old ? Row(*m.old) : Row();
    r["new"] = m.target;
    r["end"] = m.end;
    r["lag"] = m.end - m.target;
    if (m.old && *m.old == m.target) r["action"] = "unchanged";
    else r["action"] = o.execute ? "moved" : "would move (dry run; --execute applies it)";
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
  if (auto owner = LiveOwner::connect(c.dir, "dlq redrive")) {
    Row req{{"verb", "dlq_redrive"}, {"group", o.group}, {"rate", o.rate}, {"filter", filter_json(f)}};
    if (o.limit) req["limit"] = *o.limit;
    std::vector<Row> letters;
    owner->request(req, &letters);
    for (const Row& l : letters) row(letter_of(l["letter"]), "redriven");
    t.flush();
    return kExitOk;
  }
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
  std::size_t purged = 0;
  if (auto owner = LiveOwner::connect(c.dir, "dlq purge")) {
    purged = owner->request(Row{{"verb", "dlq_purge"}, {"group", o.group}, {"filter", filter_json(f)}})["purged"];
  } else {
    auto bus = open_bus(c.dir, "dlq purge");
    auto n = bus->dlq_purge(o.group, f);
    if (!n) fail_status(n.status());
    close_bus(*bus);
    purged = *n;
  }
  Table t({"group", "purged"}, c.json);
  Row r;
  r["group"] = o.group;
  r["purged"] = purged;
  t.add(std::move(r));
  t.flush();
  return kExitOk;
}

}  // namespace weir::cli
