// Pipeline crash test: a child process runs a 3-stage pipeline
//   in --(stage1: State::publish)--> mid --(stage2: State::publish)--> out
// plus a plain group `relay` on `in` that publishes to `side` with
// Bus::publish (ack none) before returning done, while a producer feeds
// `in`. The parent kills it with SIGKILL at a random moment and, with the
// journal opened read-only (Inspector), checks after every kill:
//   - exactly once: no id appears twice in mid or out;
//   - nothing lost: every input below a stage's committed offset has its
//     follow-up (id "<input id>/1") downstream; likewise every input below
//     relay's committed offset has its side event (the commit-order rule:
//     an offset is never durable before what its handler published);
//   - no phantom: every follow-up's input exists upstream;
//   - per-key order: in each topic, a key's sequence numbers only grow.
// At the end the parent lets the stages finish and checks that every input
// has exactly one follow-up in mid and in out.
// WEIR_CRASH_ITERATIONS (default 60) and WEIR_CRASH_SEED; the seed is printed.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "weir/inspect.hpp"
#include "weir/weir.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t kPartitions = 2;

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

// Creates the topics and starts the stages (child, and the parent's final run).
weir::Status start(weir::Bus& bus) {
  for (const char* t : {"in", "mid", "out", "side"})
    if (auto s = bus.create_topic(t, {.partitions = kPartitions, .capacity = 1024,
                                      .durability = weir::Durability::kJournaled});
        !s)
      return s;
  auto forward = [](const char* to) {
    return [to](const weir::Message& m, weir::State& st) {
      if (!st.publish(to, {.key = m.key(), .payload = m.payload()})) return weir::Outcome::retry();
      return weir::Outcome::done();
    };
  };
  if (auto s = bus.subscribe("in", {.group = "stage1", .workers = 2, .max_batch = 16}, forward("mid")); !s) return s;
  if (auto s = bus.subscribe("mid", {.group = "stage2", .workers = 1, .max_batch = 16}, forward("out")); !s) return s;
  return bus.subscribe("in", {.group = "relay", .workers = 1, .max_batch = 16}, [&bus](const weir::Message& m) {
    const std::string id = std::string(m.id()) + "/side";
    auto r = bus.publish("side", {.key = m.key(), .payload = m.payload(), .id = id}, {.ack = weir::Ack::kNone});
    return r ? weir::Outcome::done() : weir::Outcome::retry();
  });
}

int child_main(const char* dir, int iteration) {
  auto bus = weir::Bus::open(options(dir));
  if (!bus) return fail("child open: " + bus.status().to_string());
  if (auto s = start(**bus); !s) return fail("child start: " + s.to_string());
  const ssize_t w = ::write(STDOUT_FILENO, "ready\n", 6);
  (void)w;
  for (int seq = 0;; ++seq) {
    const std::string key = "i" + std::to_string(iteration) + "k" + std::to_string(seq % 5);
    const std::string id = "in-" + std::to_string(iteration) + "-" + std::to_string(seq);
    auto r = (*bus)->publish("in", {.key = key, .payload = std::to_string(seq), .id = id});
    if (!r) return fail("child publish: " + r.status().to_string());
  }
}

bool run_child(const std::string& self, const std::string& dir, int iteration, std::chrono::milliseconds kill_after,
               std::string& err) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return (err = "pipe"), false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  const std::string it = std::to_string(iteration);
  std::vector<char*> argv{const_cast<char*>(self.c_str()), const_cast<char*>("--child"),
                          const_cast<char*>(dir.c_str()), const_cast<char*>(it.c_str()), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ) != 0) return (err = "posix_spawn"), false;
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  char buf[16];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);  // blocks until "ready" (or the child died)
  ::close(fds[0]);
  if (n <= 0) err = "child never became ready";
  std::this_thread::sleep_for(kill_after);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (err.empty() && (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL))
    err = "child exited on its own (status " + std::to_string(status) + ")";
  return err.empty();
}

struct TopicView {
  std::vector<std::vector<weir::Record>> parts = std::vector<std::vector<weir::Record>>(kPartitions);
  std::map<std::string, int> ids;  // id -> how many times
};

std::string check(const std::string& dir, bool complete) {
  auto insp = weir::Inspector::open(dir);
  if (!insp) return "inspector: " + insp.status().to_string();
  std::map<std::string, TopicView> topics;
  for (const char* t : {"in", "mid", "out", "side"}) {
    TopicView& v = topics[t];
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      for (weir::Offset from = 0;;) {
        auto recs = (*insp)->read(t, p, from, 4096);
        if (!recs) return std::string("read ") + t + ": " + recs.status().to_string();
        if (recs->empty()) break;
        for (auto& r : *recs) {
          ++v.ids[r.id];
          from = r.offset + 1;
          v.parts[p].push_back(std::move(r));
        }
      }
    }
    // Per-key order: sequence numbers of a key grow along each partition.
    for (const auto& recs : v.parts) {
      std::map<std::string, long> last;
      for (const auto& r : recs) {
        const long seq = std::stol(r.payload);
        auto l = last.find(r.key);
        if (l != last.end() && l->second >= seq && std::string(t) != "side")
          return std::string(t) + ": key " + r.key + " out of order at offset " + std::to_string(r.offset);
        last[r.key] = seq;
      }
    }
  }
  for (const char* t : {"mid", "out"})
    for (const auto& [id, n] : topics[t].ids)
      if (n != 1) return std::string(t) + ": id " + id + " appears " + std::to_string(n) + " times";
  // Follow-ups of every input below a group's committed offset, and inputs
  // of every follow-up.
  auto lags = (*insp)->group_lags();
  if (!lags) return "group_lags: " + lags.status().to_string();
  struct Link { const char* group; const char* from; const char* to; const char* suffix; };
  for (const Link& l : {Link{"stage1", "in", "mid", "/1"}, Link{"stage2", "mid", "out", "/1"},
                        Link{"relay", "in", "side", "/side"}}) {
    for (const auto& g : *lags) {
      if (g.group != l.group || g.topic != l.from) continue;
      const weir::Offset upto = complete ? g.end : g.committed.value_or(0);
      if (complete && g.committed.value_or(0) != g.end)
        return std::string(l.group) + " did not finish partition " + std::to_string(g.partition);
      for (const auto& r : topics[l.from].parts[g.partition])
        if (r.offset < upto && !topics[l.to].ids.count(r.id + l.suffix))
          return std::string(l.group) + " committed past " + l.from + " offset " + std::to_string(r.offset) +
                 " (id " + r.id + ") but " + l.to + " has no " + r.id + l.suffix;
    }
    for (const auto& [id, n] : topics[l.to].ids) {
      const std::string suffix = l.suffix;
      if (id.size() <= suffix.size() || !topics[l.from].ids.count(id.substr(0, id.size() - suffix.size())))
        return std::string(l.to) + ": follow-up " + id + " has no input in " + l.from;
    }
  }
  return "";
}

int parent_main(const std::string& self) {
  int iterations = 60;
  if (const char* s = std::getenv("WEIR_CRASH_ITERATIONS")) iterations = std::atoi(s);
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WEIR_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("weir pipeline crash: seed %llu, %d iterations (WEIR_CRASH_SEED / WEIR_CRASH_ITERATIONS)\n",
              static_cast<unsigned long long>(seed), iterations);
  std::mt19937_64 rng(seed);
  const auto dir = std::filesystem::temp_directory_path() / ("weir-pipeline-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  for (int it = 0; it < iterations; ++it) {
    std::string err;
    if (!run_child(self, dir.string(), it, std::chrono::milliseconds(rng() % 150), err))
      return fail("iteration " + std::to_string(it) + ": " + err);
    if (std::string why = check(dir.string(), false); !why.empty())
      return fail("iteration " + std::to_string(it) + ": " + why);
  }
  {
    auto bus = weir::Bus::open(options(dir.string()));
    if (!bus) return fail("final open: " + bus.status().to_string());
    if (auto s = start(**bus); !s) return fail("final start: " + s.to_string());
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (bool done = false; !done;) {
      done = true;
      for (const char* g : {"stage1", "stage2", "relay"}) {
        auto st = (*bus)->describe_group(g);
        for (const auto& p : st->partitions) done = done && p.lag == 0;
      }
      if (std::chrono::steady_clock::now() > until) return fail("the stages did not finish within 60 s");
      std::this_thread::sleep_for(5ms);
    }
    auto rep = (*bus)->close();
    if (!rep || !rep->journal_status) return fail("final close failed");
  }
  if (std::string why = check(dir.string(), true); !why.empty()) return fail("final: " + why);
  std::filesystem::remove_all(dir);
  std::printf("weir pipeline crash: %d kills; every input once in mid and out, side complete\n", iterations);
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
