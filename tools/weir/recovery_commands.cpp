// Damaged journals: `weir verify` (find and locate damage, never crash on
// it) and `weir salvage` (copy what is readable into a new directory).
//
// verify reads data.mdb first with weir's own bounds-checked page walker
// (weir/recovery.hpp), which never maps the file. Only a file whose
// structure it accepts is then read through LMDB (every record and the
// group offsets, Inspector::verify), and that in a child process: should
// LMDB still fault on something the walker did not catch, the fault is a
// finding naming the topic and partition being read, not a dead checker.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "commands.hpp"
#include "weir/recovery.hpp"

namespace weir::cli {

namespace {

// One field of a line the verify child writes: tabs, newlines and
// backslashes escaped, so a line is one record.
std::string encode_field(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
}

std::vector<std::string> decode_line(std::string_view line) {
  std::vector<std::string> fields(1);
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (ch == '\t') {
      fields.emplace_back();
    } else if (ch == '\\' && i + 1 < line.size()) {
      const char n = line[++i];
      fields.back() += n == 't' ? '\t' : n == 'n' ? '\n' : n;
    } else {
      fields.back() += ch;
    }
  }
  return fields;
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::string opt_text(const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : "-"; }

// The child: reads every partition through LMDB (announcing each first, so
// a fault is located), then runs Inspector::verify. Lines:
//   "AT <topic> <partition>"  about to read this partition ("" ""): journal-wide checks
//   "P <topic> <partition|-> <offset|-> <group> <what>"  a problem
//   "E <code> <message>"  the journal could not be opened
[[noreturn]] void verify_child(const std::string& dir, int fd) {
  auto in = Inspector::open(dir);
  if (!in) {
    write_all(fd, "E\t" + std::to_string(static_cast<int>(in.status().code())) + "\t" +
                      encode_field(in.status().message()) + "\n");
    ::_exit(0);
  }
  auto topics = (*in)->topics();
  if (topics) {
    for (const TopicInfo& t : *topics) {
      for (std::uint32_t p = 0; p < t.options.partitions; ++p) {
        write_all(fd, "AT\t" + encode_field(t.name) + "\t" + std::to_string(p) + "\n");
        auto parts = (*in)->partitions(t.name);
        if (!parts || p >= parts->size()) continue;
        for (Offset next = (*parts)[p].start; next < (*parts)[p].end;) {
          auto recs = (*in)->read(t.name, p, next, 4096);
          if (!recs || recs->empty()) break;  // verify() below reports what stopped it
          next = recs->back().offset + 1;
        }
      }
    }
  }
  write_all(fd, "AT\t\t\n");
  auto found = (*in)->verify();
  if (!found) {
    write_all(fd, "E\t" + std::to_string(static_cast<int>(found.status().code())) + "\t" +
                      encode_field(found.status().message()) + "\n");
    ::_exit(0);
  }
  for (const JournalProblem& p : *found)
    write_all(fd, "P\t" + encode_field(p.topic) + "\t" +
                      (p.partition ? std::to_string(*p.partition) : std::string("-")) + "\t" + opt_text(p.offset) +
                      "\t" + encode_field(p.group) + "\t" + encode_field(p.what) + "\n");
  ::_exit(0);
}

// Runs verify_child and collects its problems; a child that dies is a
// problem located at the partition it was reading.
std::vector<JournalProblem> verify_through_lmdb(const std::string& dir) {
  int fds[2];
  if (::pipe(fds) != 0) fail(std::string("cannot create a pipe: ") + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("cannot fork the verification process: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    verify_child(dir, fds[1]);
  }
  ::close(fds[1]);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::vector<JournalProblem> out;
  std::string at_topic;
  std::optional<std::uint32_t> at_partition;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();  // a line cut by a crash
    const auto f = decode_line(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
    try {
    if (f[0] == "AT" && f.size() == 3) {
      at_topic = f[1];
      at_partition = f[2].empty() ? std::nullopt : std::optional<std::uint32_t>(std::stoul(f[2]));
    } else if (f[0] == "E" && f.size() == 3) {
      if (std::stoi(f[1]) != static_cast<int>(Code::kDataLoss)) fail(f[2]);
      out.push_back({"", std::nullopt, std::nullopt, "", f[2]});
    } else if (f[0] == "P" && f.size() == 6) {
      JournalProblem p{f[1], std::nullopt, std::nullopt, f[4], f[5]};
      if (f[2] != "-") p.partition = static_cast<std::uint32_t>(std::stoul(f[2]));
      if (f[3] != "-") p.offset = std::stoull(f[3]);
      out.push_back(std::move(p));
    }
    } catch (const std::exception&) {
      // A line cut short by the child's death: its fault is reported below.
    }
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const std::string where = at_partition ? "reading topic '" + at_topic + "' partition " +
                                                 std::to_string(*at_partition)
                                           : "checking the journal's offsets and records";
    out.push_back({at_topic, at_partition, std::nullopt, "",
                   "liblmdb crashed (signal " + std::to_string(sig) + ", " + sigabbrev_np(sig) + ") " + where +
                       ": the page structure is damaged in a way the page walk did not catch"});
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    out.push_back({"", std::nullopt, std::nullopt, "",
                   "the verification process exited with code " + std::to_string(WEXITSTATUS(status))});
  }
  return out;
}

std::string ranges_text(const std::vector<OffsetRange>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += ",";
    s += std::to_string(r.first) + (r.end - r.first > 1 ? "-" + std::to_string(r.end - 1) : "");
  }
  return s.empty() ? "-" : s;
}

Row ranges_json(const std::vector<OffsetRange>& rs) {
  Row a = Row::array();
  for (const auto& r : rs) a.push_back(Row{{"first", r.first}, {"last", r.end - 1}});
  return a;
}

Row problem_row(const JournalProblem& p) {
  Row r;
  r["topic"] = p.topic.empty() ? Row() : Row(p.topic);
  r["partition"] = p.partition ? Row(*p.partition) : Row();
  r["offset"] = p.offset ? Row(*p.offset) : Row();
  r["group"] = p.group.empty() ? Row() : Row(p.group);
  r["problem"] = p.what;
  return r;
}

// A data.mdb of 0 bytes: a journal never committed to (LMDB writes its meta
// pages in the very first open), so there is nothing to check or copy.
bool never_committed(const std::string& dir) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(std::filesystem::path(dir) / "data.mdb", ec);
  return !ec && size == 0;
}

}  // namespace

int cmd_verify(const Common& c) {
  auto live = Inspector::owned(c.dir);
  if (!live) fail_status(live.status());
  if (never_committed(c.dir)) {
    if (!c.json)
      std::printf("verify: no problems found in %s (data.mdb is empty: a journal never committed to)\n", c.dir.c_str());
    return kExitOk;
  }
  // A live owner's pages change under a walk (and its own open walked
  // them): then only the meta pages and the file size.
  JournalCheckOptions structure;  // what LMDB would trip over
  structure.records = false;
  structure.layout = false;
  structure.pages = !*live;
  auto found = check_journal(c.dir, structure);
  if (!found) fail_status(found.status());
  std::vector<JournalProblem> problems;
  if (found->empty()) {
    problems = verify_through_lmdb(c.dir);
  } else {
    // Damaged structure: LMDB is not trusted with it; the layout and every
    // record are checked through the walker instead.
    JournalCheckOptions all;
    all.pages = structure.pages;
    auto again = check_journal(c.dir, all);
    if (!again) fail_status(again.status());
    problems = std::move(again).value();
  }
  Table t({"topic", "partition", "offset", "group", "problem"}, c.json);
  for (const JournalProblem& p : problems) t.add(problem_row(p));
  if (c.json || !problems.empty()) t.flush();
  if (!c.json) {
    if (problems.empty()) std::printf("verify: no problems found in %s\n", c.dir.c_str());
    else std::printf("verify: %zu problem(s) found in %s\n", problems.size(), c.dir.c_str());
  }
  return problems.empty() ? kExitOk : kExitProblems;
}

int cmd_salvage(const Common& c, const std::string& out) {
  // The same message as every command for a missing directory.
  if (auto live = Inspector::owned(c.dir); !live) fail_status(live.status());
  if (never_committed(c.dir)) {
    if (c.json)
      std::printf("%s\n", Row{{"kind", "summary"}, {"out", out}, {"events", 0}, {"group_offsets", 0},
                              {"state_entries", 0}, {"dedupe_entries", 0}, {"complete", true}}
                              .dump()
                              .c_str());
    else
      std::printf("salvage: %s/data.mdb is empty (a journal never committed to): nothing to copy; %s was not created\n",
                  c.dir.c_str(), out.c_str());
    return kExitOk;
  }
  auto report = salvage_journal(c.dir, out);
  if (!report) fail_status(report.status());
  Table parts({"topic", "partition", "recovered", "lost", "tail_unknown"}, c.json);
  for (const PartitionSalvage& p : report->partitions) {
    Row r;
    if (c.json) r["kind"] = "partition";
    r["topic"] = p.topic;
    r["partition"] = p.partition;
    r["recovered"] = c.json ? ranges_json(p.recovered) : Row(ranges_text(p.recovered));
    r["lost"] = c.json ? ranges_json(p.lost) : Row(ranges_text(p.lost));
    r["tail_unknown"] = p.tail_unknown;
    parts.add(std::move(r));
  }
  parts.flush();
  if (!report->problems.empty()) {
    if (!c.json) std::printf("\ndamage met:\n");
    Table probs({"topic", "partition", "offset", "problem"}, c.json);
    for (const JournalProblem& p : report->problems) {
      Row r = problem_row(p);
      if (c.json) r["kind"] = "problem";
      probs.add(std::move(r));
    }
    probs.flush();
  }
  if (c.json) {
    Row s;
    s["kind"] = "summary";
    s["out"] = out;
    s["events"] = report->events;
    s["group_offsets"] = report->group_offsets;
    s["state_entries"] = report->state_entries;
    s["dedupe_entries"] = report->dedupe_entries;
    s["complete"] = report->complete();
    std::printf("%s\n", s.dump().c_str());
  } else {
    std::printf("\nsalvage: %llu event(s), %llu group offset(s), %llu state and %llu dedupe entries copied to %s; %s\n",
                static_cast<unsigned long long>(report->events),
                static_cast<unsigned long long>(report->group_offsets),
                static_cast<unsigned long long>(report->state_entries),
                static_cast<unsigned long long>(report->dedupe_entries), out.c_str(),
                report->complete() ? "nothing was lost" : "something was lost (see above)");
  }
  std::fflush(stdout);
  return report->complete() ? kExitOk : kExitProblems;
}

}  // namespace weir::cli
