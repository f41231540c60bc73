// Pipeline crash test: a child process runs a 3-stage pipeline
//   in --(stage1)--> mid --(stage2)--> out --(stage3)--> last
// (each stage a state handler that publishes its follow-up with
// State::publish and keeps the last sequence number it handled per key in a
// state table), plus a plain group `relay` on `in` that publishes to `side`
// with Bus::publish (ack none) before returning done, while a producer
// feeds `in` (ack journal) and reports every acknowledged input on a pipe.
// The parent kills it with SIGKILL at a random moment (a quarter of the
// kills land while the child is still opening the journal and recovering
// the previous crash) and, with the journal opened read-only (Inspector),
// checks after every kill, incrementally (only what is new since the last
// kill is read):
//   - nothing acknowledged lost: every input the producer saw acknowledged
//     is in `in`;
//   - exactly once: no id appears twice in mid, out or last;
//   - nothing lost downstream: every input below a stage's committed offset
//     has its follow-up (id "<input id>/1") in the next topic; likewise every
//     input below relay's committed offset has its side event (the
//     commit-order rule: an offset is never durable before what its handler
//     published); committed offsets never move backwards;
//   - no phantom: every follow-up's input exists upstream;
//   - per-key order: in each topic, a key's sequence numbers only grow
//     (side excepted: at-least-once), and no stage ever handled a key's
//     events out of order (its state table `disorder` stays empty).
// At the end the parent lets the stages finish and checks that every input
// has exactly one follow-up in mid, out and last (counted by derived id).
// WEIR_CRASH_ITERATIONS (default 500; ctest runs 25) and WEIR_CRASH_SEED;
// the seed is printed, and the figures (kills, inputs, follow-ups,
// duplicates, losses) at the end.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "weir/inspect.hpp"
#include "weir/weir.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t kPartitions = 2;
constexpr int kKeys = 6;
const char* const kTopics[] = {"in", "mid", "out", "last", "side"};

int fail(const std::string& why) {
  std::fprintf(stderr, "pipeline crash test FAILED: %s\n", why.c_str());
  return 1;
}

weir::Options options(const std::string& dir) {
  weir::Options o;
  o.data_dir = dir;
  o.offset_commit_interval = 2ms;
  o.journal_max_batch_events = 8;  // small commits: many cut points
  return o;
}

std::string key_name(int k) { return "k" + std::to_string(k); }

// A stage: checks that its key's sequence numbers grow (the last one is
// state, committed with the offset, so a crash rolls it back with the
// input), then forwards the event to `to` inside its transaction.
weir::StateHandler stage(const char* to) {
  return [to](const weir::Message& m, weir::State& st) {
    auto last = st.get("last", m.key());
    if (!last) return weir::Outcome::retry();
    const long long seq = std::stoll(std::string(m.payload()));
    if (last->has_value() && std::stoll(**last) >= seq) {
      if (!st.put("disorder", m.key(), **last + " then " + std::string(m.payload()))) return weir::Outcome::retry();
    }
    if (!st.put("last", m.key(), m.payload())) return weir::Outcome::retry();
    if (!st.publish(to, {.key = m.key(), .payload = m.payload()})) return weir::Outcome::retry();
    return weir::Outcome::done();
  };
}

// Creates the topics and starts the stages (child, and the parent's final run).
weir::Status start(weir::Bus& bus) {
  for (const char* t : kTopics)
    if (auto s = bus.create_topic(t, {.partitions = kPartitions, .capacity = 1024,
                                      .durability = weir::Durability::kJournaled});
        !s)
      return s;
  if (auto s = bus.subscribe("in", {.group = "stage1", .workers = 2, .max_batch = 16}, stage("mid")); !s) return s;
  if (auto s = bus.subscribe("mid", {.group = "stage2", .workers = 1, .max_batch = 16}, stage("out")); !s) return s;
  if (auto s = bus.subscribe("out", {.group = "stage3", .workers = 2, .max_batch = 4}, stage("last")); !s) return s;
  return bus.subscribe("in", {.group = "relay", .workers = 1, .max_batch = 16}, [&bus](const weir::Message& m) {
    const std::string id = std::string(m.id()) + "/side";
    auto r = bus.publish("side", {.key = m.key(), .payload = m.payload(), .id = id}, {.ack = weir::Ack::kNone});
    return r ? weir::Outcome::done() : weir::Outcome::retry();
  });
}

// Sequence numbers grow per key across iterations: iteration << 32 | n.
int child_main(const char* dir, int iteration) {
  auto bus = weir::Bus::open(options(dir));
  if (!bus) return fail("child open: " + bus.status().to_string());
  if (auto s = start(**bus); !s) return fail("child start: " + s.to_string());
  const ssize_t w = ::write(STDOUT_FILENO, "ready\n", 6);
  (void)w;
  for (long long n = 0;; ++n) {
    const long long seq = (static_cast<long long>(iteration) << 32) | n;
    const std::string id = "in-" + std::to_string(iteration) + "-" + std::to_string(n);
    auto r = (*bus)->publish("in", {.key = key_name(static_cast<int>(n % kKeys)), .payload = std::to_string(seq),
                                    .id = id});
    if (!r) return fail("child publish: " + r.status().to_string());
    const std::string line = "a " + id + "\n";  // acknowledged (journal): one write, never split by the kill
    if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) return 1;
  }
}

// Runs one child and kills it `kill_after` after it is ready (or, with
// `early`, after it was started: mid-recovery). Fills `acked` with the ids it
// saw acknowledged; sets `made` once a child said "ready" (its topics and
// groups exist).
bool run_child(const std::string& self, const std::string& dir, int iteration, std::chrono::milliseconds kill_after,
               bool early, std::vector<std::string>& acked, bool& made, std::string& err) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return (err = "pipe"), false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  const std::string it = std::to_string(iteration);
  std::vector<char*> argv{const_cast<char*>(self.c_str()), const_cast<char*>("--child"),
                          const_cast<char*>(dir.c_str()), const_cast<char*>(it.c_str()), nullptr};
  pid_t pid;
  const int spawned = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return (err = "posix_spawn"), false;
  }
  // The reader drains the pipe until the child is gone (EOF) and says when
  // "ready" arrived; `out` is read by this thread only after the join.
  std::string out;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false, eof = false;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
      out.append(buf, static_cast<std::size_t>(n));
      if (!ready && out.size() >= 6) {
        std::lock_guard<std::mutex> l(mu);
        ready = true;
        cv.notify_all();
      }
    }
    std::lock_guard<std::mutex> l(mu);
    eof = true;
    cv.notify_all();
  });
  if (!early) {  // wait for "ready" (or the child's death)
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, 30s, [&] { return ready || eof; });
  }
  std::this_thread::sleep_for(kill_after);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  reader.join();
  ::close(fds[0]);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    err = "child exited on its own (status " + std::to_string(status) + "): " + out.substr(0, 200);
  for (std::size_t pos = 0, nl; (nl = out.find('\n', pos)) != std::string::npos; pos = nl + 1)
    if (out.compare(pos, 2, "a ") == 0) acked.push_back(out.substr(pos + 2, nl - pos - 2));
  if (out.compare(0, 6, "ready\n") == 0) made = true;
  return err.empty();
}

// What the parent has read so far, kept across kills: the journal only grows.
struct TopicView {
  std::vector<weir::Offset> next = std::vector<weir::Offset>(kPartitions, 0);
  std::vector<std::vector<std::string>> ids = std::vector<std::vector<std::string>>(kPartitions);  // by offset
  std::vector<std::map<std::string, long long>> last_seq = std::vector<std::map<std::string, long long>>(kPartitions);
  std::unordered_map<std::string, int> count;  // id -> how many times
  std::uint64_t duplicates = 0;
};

struct Link {
  const char* group;
  const char* from;
  const char* to;
  const char* suffix;
};
const Link kLinks[] = {{"stage1", "in", "mid", "/1"}, {"stage2", "mid", "out", "/1"},
                       {"stage3", "out", "last", "/1"}, {"relay", "in", "side", "/side"}};

struct Checker {
  std::map<std::string, TopicView> topics;
  std::map<std::pair<std::string, std::uint32_t>, weir::Offset> verified;  // (group, partition) -> checked below
  std::uint64_t acked = 0;

  // Reads what is new and checks every rule on it. `complete`: the stages
  // are done; every input must have its follow-ups. `made`: a child got as
  // far as "ready", so the journal, its topics and groups exist.
  std::string check(const std::string& dir, const std::vector<std::string>& new_acked, bool complete, bool made) {
    auto insp = weir::Inspector::open(dir);
    // Kills before any child was ready can come before the journal (or its
    // first commit) or some topics exist: nothing was acknowledged, nothing
    // to read.
    if (!insp && insp.status().code() == weir::Code::kNotFound && !made && new_acked.empty() && !complete) return "";
    if (!insp) return "inspector: " + insp.status().to_string();
    for (const char* t : kTopics) {
      TopicView& v = topics[t];
      for (std::uint32_t p = 0; p < kPartitions; ++p) {
        for (;;) {
          auto recs = (*insp)->read(t, p, v.next[p], 4096);
          if (!recs && recs.status().code() == weir::Code::kNotFound && !made && new_acked.empty()) break;
          if (!recs) return std::string("read ") + t + ": " + recs.status().to_string();
          if (recs->empty()) break;
          for (auto& r : *recs) {
            if (r.offset != v.ids[p].size())
              return std::string(t) + ": offset " + std::to_string(r.offset) + " is not contiguous";
            v.next[p] = r.offset + 1;
            if (++v.count[r.id] > 1) ++v.duplicates;
            const long long seq = std::stoll(r.payload);
            auto l = v.last_seq[p].find(r.key);
            if (l != v.last_seq[p].end() && l->second >= seq && std::strcmp(t, "side") != 0)
              return std::string(t) + ": key " + r.key + " out of order at offset " + std::to_string(r.offset);
            v.last_seq[p][r.key] = seq;
            v.ids[p].push_back(std::move(r.id));
          }
        }
      }
    }
    for (const char* t : {"mid", "out", "last"})
      if (topics[t].duplicates != 0) return std::string(t) + ": " + std::to_string(topics[t].duplicates) + " duplicate ids";
    for (const auto& id : new_acked)
      if (!topics["in"].count.count(id)) return "acknowledged input " + id + " is not in 'in'";
    acked += new_acked.size();
    auto lags = (*insp)->group_lags();
    if (!lags) return "group_lags: " + lags.status().to_string();
    for (const Link& l : kLinks) {
      for (const auto& g : *lags) {
        if (g.group != l.group || g.topic != l.from) continue;
        const weir::Offset committed = g.committed.value_or(0);
        if (complete && committed != g.end)
          return std::string(l.group) + " did not finish partition " + std::to_string(g.partition);
        weir::Offset& from = verified[{l.group, g.partition}];
        if (committed < from)
          return std::string(l.group) + " partition " + std::to_string(g.partition) + ": committed offset went back from " +
                 std::to_string(from) + " to " + std::to_string(committed);
        const auto& in_ids = topics[l.from].ids[g.partition];
        const auto& to_count = topics[l.to].count;
        for (weir::Offset o = from; o < committed && o < in_ids.size(); ++o)
          if (!to_count.count(in_ids[o] + l.suffix))
            return std::string(l.group) + " committed past " + l.from + " offset " + std::to_string(o) + " (id " +
                   in_ids[o] + ") but " + l.to + " has no " + in_ids[o] + l.suffix;
        from = committed;
      }
    }
    return "";
  }

  // No phantoms: every follow-up's input exists upstream (checked once, at
  // the end: follow-ups are only ever appended with or after their input).
  std::string check_sources() {
    for (const Link& l : kLinks) {
      const std::string suffix = l.suffix;
      for (const auto& [id, n] : topics[l.to].count)
        if (id.size() <= suffix.size() || id.compare(id.size() - suffix.size(), suffix.size(), suffix) != 0 ||
            !topics[l.from].count.count(id.substr(0, id.size() - suffix.size())))
          return std::string(l.to) + ": follow-up " + id + " has no input in " + l.from;
    }
    for (const char* t : {"mid", "out", "last"})
      if (topics[t].count.size() != topics["in"].count.size())
        return std::string(t) + " has " + std::to_string(topics[t].count.size()) + " ids, in has " +
               std::to_string(topics["in"].count.size());
    return "";
  }
};

std::string check_disorder(const std::string& dir, bool made) {
  auto insp = weir::Inspector::open(dir);
  if (!insp && insp.status().code() == weir::Code::kNotFound && !made) return "";  // no child made it yet
  if (!insp) return "inspector: " + insp.status().to_string();
  for (const char* g : {"stage1", "stage2", "stage3"})
    for (int k = 0; k < kKeys; ++k) {
      auto v = (*insp)->state_get(g, "disorder", key_name(k));
      if (!v && v.status().code() == weir::Code::kNotFound && !made) return "";
      if (!v) return "state_get: " + v.status().to_string();
      if (v->has_value()) return std::string(g) + " handled key " + key_name(k) + " out of order: " + **v;
    }
  return "";
}

int parent_main(const std::string& self) {
  int iterations = 500;
  if (const char* s = std::getenv("WEIR_CRASH_ITERATIONS")) iterations = std::atoi(s);
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WEIR_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("weir pipeline crash: seed %llu, %d iterations (WEIR_CRASH_SEED / WEIR_CRASH_ITERATIONS)\n",
              static_cast<unsigned long long>(seed), iterations);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  const auto dir = std::filesystem::temp_directory_path() / ("weir-pipeline-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto t0 = std::chrono::steady_clock::now();
  Checker checker;
  int early_kills = 0;
  bool made = false;
  for (int it = 0; it < iterations; ++it) {
    std::string err;
    std::vector<std::string> acked;
    const bool early = rng() % 4 == 0;
    early_kills += early;
    const auto after = std::chrono::milliseconds(early ? rng() % 30 : rng() % 150);
    if (!run_child(self, dir.string(), it, after, early, acked, made, err))
      return fail("iteration " + std::to_string(it) + ": " + err);
    if (std::string why = checker.check(dir.string(), acked, false, made); !why.empty())
      return fail("iteration " + std::to_string(it) + ": " + why);
    if (std::string why = check_disorder(dir.string(), made); !why.empty())
      return fail("iteration " + std::to_string(it) + ": " + why);
  }
  {
    auto bus = weir::Bus::open(options(dir.string()));
    if (!bus) return fail("final open: " + bus.status().to_string());
    if (auto s = start(**bus); !s) return fail("final start: " + s.to_string());
    const auto until = std::chrono::steady_clock::now() + 120s;
    for (bool done = false; !done;) {
      done = true;
      for (const char* g : {"stage1", "stage2", "stage3", "relay"}) {
        auto st = (*bus)->describe_group(g);
        if (!st) return fail(std::string("describe_group ") + g + ": " + st.status().to_string());
        for (const auto& p : st->partitions) done = done && p.lag == 0;
      }
      if (std::chrono::steady_clock::now() > until) return fail("the stages did not finish within 120 s");
      std::this_thread::sleep_for(5ms);
    }
    auto rep = (*bus)->close();
    if (!rep || !rep->journal_status) return fail("final close failed");
  }
  if (std::string why = checker.check(dir.string(), {}, true, true); !why.empty()) return fail("final: " + why);
  if (std::string why = checker.check_sources(); !why.empty()) return fail("final: " + why);
  if (std::string why = check_disorder(dir.string(), true); !why.empty()) return fail("final: " + why);
  std::filesystem::remove_all(dir);
  auto& t = checker.topics;
  std::printf("weir pipeline crash: %d kills (%d during open/recovery) in %.1f s; %zu inputs (%llu acknowledged to "
              "the producer, 0 lost); follow-ups by derived id: mid %zu, out %zu, last %zu (0 duplicates, 0 "
              "missing); side %zu ids (%llu redelivered duplicates, at-least-once)\n",
              iterations, early_kills,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), t["in"].count.size(),
              static_cast<unsigned long long>(checker.acked), t["mid"].count.size(), t["out"].count.size(),
              t["last"].count.size(), t["side"].count.size(), static_cast<unsigned long long>(t["side"].duplicates));
  std::printf("1 passed, 0 failed\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) return child_main(argv[2], std::atoi(argv[3]));
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail("cannot find own executable");
  self[n] = '\0';
  return parent_main(self);
}
