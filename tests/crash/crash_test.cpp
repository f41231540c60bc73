// Crash test: a child process publishes to a journaled topic from several
// threads (acks at journal and fsync) while its consumer group handles
// events; the parent kills it with SIGKILL at a random moment, reopens the
// journal and checks:
//   - every event the child saw acknowledged is stored, at the offset it was
//     acknowledged with, with its payload (checksums valid);
//   - per-key order: events of one key appear in publish order;
//   - the group's committed offsets never move backwards and never pass
//     what the child handled (at-least-once), and the group is handed every
//     event from its committed offset on.
//   - exactly-once effect: a StateHandler group counts each event id in a
//     state table; after it catches up, every id counts exactly 1 (none
//     lost, none doubled), however the kills fell.
// The same directory is reused across iterations, so each restart also
// recovers the previous iteration's crash. WEIR_CRASH_ITERATIONS (default
// 200) and WEIR_CRASH_SEED control the run; the seed is printed.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t kPartitions = 4;
constexpr int kProducers = 3;
constexpr std::uint32_t kMaxBatch = 16;
constexpr std::uint32_t kSyncEvery = 16;
// Odd iterations commit offsets synchronously every kSyncEvery events.
bool sync_commits(int iteration) { return iteration % 2 == 1; }

int fail(const std::string& why) {
  std::fprintf(stderr, "crash test FAILED: %s\n", why.c_str());
  return 1;
}

// Increments count[event id] in the group's state table: with the dedupe
// store and the state write in one transaction, every id must end at 1.
weir::Outcome count_event(const weir::Message& m, weir::State& st) {
  auto cur = st.get("count", m.id());
  if (!cur) return weir::Outcome::retry();
  const long n = cur->has_value() ? std::stol(**cur) : 0;
  if (!st.put("count", m.id(), std::to_string(n + 1))) return weir::Outcome::retry();
  return weir::Outcome::done();
}

// One write() per line: a line is atomic on the pipe, so SIGKILL can never
// leave half of it.
void emit(const std::string& line) {
  const ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
  (void)n;
}

int child_main(const char* dir, int iteration, std::uint64_t seed) {
  weir::Options o;
  o.data_dir = dir;
  o.offset_commit_interval = 2ms;
  auto bus = weir::Bus::open(o);
  if (!bus) return fail("child open: " + bus.status().to_string());
  if (auto s = (*bus)->create_topic("crash", {.partitions = kPartitions,
                                               .capacity = 1024,
                                               .durability = weir::Durability::kJournaled});
      !s)
    return fail("child create_topic: " + s.to_string());
  weir::SubscribeOptions so{.group = "g", .workers = 2, .max_batch = kMaxBatch};
  so.offset_commit_events = sync_commits(iteration) ? kSyncEvery : 0;
  auto st = (*bus)->subscribe("crash", so,
                              [](const weir::Message& m) {
                                emit("h " + std::to_string(m.partition()) + " " +
                                     std::to_string(m.offset()) + "\n");
                                return weir::Outcome::done();
                              });
  if (!st) return fail("child subscribe: " + st.to_string());
  // The exactly-once check: a state table counts each event id's handlings.
  st = (*bus)->subscribe("crash", {.group = "counter", .workers = 2, .max_batch = kMaxBatch}, count_event);
  if (!st) return fail("child subscribe counter: " + st.to_string());
  auto topic = (*bus)->topic("crash").value();
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(p));
      const int id = iteration * kProducers + p;
      for (int seq = 0;; ++seq) {
        const std::string key = "p" + std::to_string(id) + "k" + std::to_string(seq % 5);
        const std::string payload = std::to_string(id) + " " + std::to_string(seq);
        const weir::Ack ack = rng() % 4 == 0 ? weir::Ack::kFsync : weir::Ack::kJournal;
        auto r = topic.publish({.key = key, .payload = payload}, {.ack = ack});
        if (!r) {
          emit("e " + r.status().to_string() + "\n");
          return;
        }
        emit("a " + std::to_string(id) + " " + std::to_string(seq) + " " +
             std::to_string(r->partition) + " " + std::to_string(r->offset) + "\n");
      }
    });
  }
  emit("ready\n");
  for (auto& t : producers) t.join();  // never, unless publishing fails
  return 1;
}

struct Acked {
  std::uint32_t partition;
  weir::Offset offset;
};

struct ChildRun {
  std::map<std::pair<int, int>, Acked> acked;  // (producer id, seq) -> where
  std::vector<std::int64_t> max_handled = std::vector<std::int64_t>(kPartitions, -1);
  std::string errors;
  bool ready = false;
};

// Runs one child until killed at `kill_after` past its "ready" line.
bool run_child(const std::string& self, const std::string& dir, int iteration, std::uint64_t seed,
               std::chrono::milliseconds kill_after, ChildRun& out, std::string& err) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    err = "pipe";
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  const std::string it = std::to_string(iteration), sd = std::to_string(seed);
  std::vector<char*> argv{const_cast<char*>(self.c_str()), const_cast<char*>("--child"),
                          const_cast<char*>(dir.c_str()), const_cast<char*>(it.c_str()),
                          const_cast<char*>(sd.c_str()), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
    err = "posix_spawn";
    return false;
  }
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);

  std::string buf;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  bool killed = false;
  for (;;) {
    char chunk[65536];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n > 0) {
      buf.append(chunk, static_cast<std::size_t>(n));
      if (!out.ready && buf.find("ready\n") != std::string::npos) {
        out.ready = true;
        kill_at = std::chrono::steady_clock::now() + kill_after;
      }
    } else if (n == 0) {
      break;  // EOF: the child is gone
    } else {
      std::this_thread::sleep_for(200us);
    }
    const auto now = std::chrono::steady_clock::now();
    if (!killed && (now >= kill_at || now >= give_up)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    err = "child exited on its own (status " + std::to_string(status) + ")";
  }

  std::istringstream lines(buf);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof() && buf.back() != '\n') break;  // cannot happen: one write per line
    std::istringstream f(line);
    std::string kind;
    f >> kind;
    if (kind == "a") {
      int id, seq;
      Acked a;
      f >> id >> seq >> a.partition >> a.offset;
      out.acked[{id, seq}] = a;
    } else if (kind == "h") {
      std::uint32_t p;
      weir::Offset off;
      f >> p >> off;
      if (p < kPartitions) out.max_handled[p] = std::max<std::int64_t>(out.max_handled[p], static_cast<std::int64_t>(off));
    } else if (kind == "e") {
      out.errors += line + "\n";
    }
  }
  return err.empty();
}

// Reads with group `group` from its committed offsets to the end; returns
// per partition the first offset handed out and all (offset -> payload).
struct Drained {
  std::vector<weir::Offset> first = std::vector<weir::Offset>(kPartitions, ~weir::Offset{0});
  std::vector<weir::Offset> end = std::vector<weir::Offset>(kPartitions, 0);
  std::vector<std::map<weir::Offset, std::string>> events = std::vector<std::map<weir::Offset, std::string>>(kPartitions);
  std::vector<std::string> ids;  // Message::id() of every event handed out
  std::string failure;
};

bool drain(weir::Bus& bus, const std::string& group, Drained& d, std::string& err) {
  std::mutex mu;
  std::uint64_t count = 0;
  weir::SubscribeOptions so{.group = group, .workers = 2};
  so.on_failure = [&](const weir::FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    d.failure += std::string(r.reason) + "\n";
  };
  auto s = bus.subscribe("crash", so, [&](const weir::Message& m) {
    std::lock_guard<std::mutex> l(mu);
    auto& evs = d.events[m.partition()];
    if (evs.empty() && d.first[m.partition()] == ~weir::Offset{0}) d.first[m.partition()] = m.offset();
    evs[m.offset()] = std::string(m.payload());
    d.ids.emplace_back(m.id());
    ++count;
    return weir::Outcome::done();
  });
  if (!s) {
    err = "subscribe " + group + ": " + s.to_string();
    return false;
  }
  auto gs = bus.describe_group(group);
  if (!gs) {
    err = gs.status().to_string();
    return false;
  }
  std::uint64_t want = 0;
  std::vector<weir::Offset> start(kPartitions);
  for (const auto& p : gs->partitions) d.end[p.partition] = p.end;
  // The committed offsets at subscribe time are where delivery starts.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    auto now_status = bus.describe_group(group);
    bool done = true;
    for (const auto& p : now_status->partitions) done = done && (p.committed >= d.end[p.partition] || p.stopped);
    if (done) break;
    if (std::chrono::steady_clock::now() > deadline) {
      err = "group " + group + " did not drain within 20 s";
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  (void)want;
  (void)start;
  auto r = bus.unsubscribe(group);
  if (!r) {
    err = r.status().to_string();
    return false;
  }
  return true;
}

int parent_main(const std::string& self) {
  int iterations = 200;
  if (const char* s = std::getenv("WEIR_CRASH_ITERATIONS")) iterations = std::atoi(s);
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WEIR_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("weir crash: seed %llu, %d iterations (WEIR_CRASH_SEED / WEIR_CRASH_ITERATIONS)\n",
              static_cast<unsigned long long>(seed), iterations);
  std::mt19937_64 rng(seed);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("weir-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);

  std::vector<weir::Offset> g_prev(kPartitions, 0);  // g's committed offsets after the last check
  std::vector<weir::Offset> v_prev(kPartitions, 0);  // where the verifier group stands
  std::uint64_t total_acked = 0;
  std::vector<std::string> all_ids;  // every event id, for the exactly-once check
  std::size_t exactly_once_checked = 0;
  for (int it = 0; it < iterations; ++it) {
    ChildRun run;
    std::string err;
    const auto kill_after = std::chrono::milliseconds(rng() % 120);
    if (!run_child(self, dir.string(), it, rng(), kill_after, run, err))
      return fail("iteration " + std::to_string(it) + ": " + err);
    if (!run.ready) return fail("iteration " + std::to_string(it) + ": child never became ready");
    if (!run.errors.empty())
      return fail("iteration " + std::to_string(it) + ": child publish errors:\n" + run.errors);
    total_acked += run.acked.size();

    weir::Options o;
    o.data_dir = dir.string();
    o.offset_commit_interval = 2ms;
    auto bus = weir::Bus::open(o);
    if (!bus) return fail("reopen: " + bus.status().to_string());
    if (auto s = (*bus)->create_topic("crash", {.partitions = kPartitions, .capacity = 1024,
                                                .durability = weir::Durability::kJournaled});
        !s)
      return fail("redeclare: " + s.to_string());

    // 1. The verifier reads everything published since its last pass.
    Drained v;
    if (!drain(**bus, "verifier", v, err)) return fail("iteration " + std::to_string(it) + ": " + err);
    if (!v.failure.empty()) return fail("iteration " + std::to_string(it) + ": corrupt records:\n" + v.failure);
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      for (weir::Offset off = v_prev[p]; off < v.end[p]; ++off)
        if (!v.events[p].count(off))
          return fail("iteration " + std::to_string(it) + ": partition " + std::to_string(p) +
                      " offset " + std::to_string(off) + " was not delivered to the verifier");
      v_prev[p] = v.end[p];
    }
    for (const auto& [who, at] : run.acked) {
      auto& evs = v.events[at.partition];
      auto e = evs.find(at.offset);
      const std::string want = std::to_string(who.first) + " " + std::to_string(who.second);
      if (e == evs.end() || e->second != want)
        return fail("iteration " + std::to_string(it) + ": acknowledged event '" + want +
                    "' missing at partition " + std::to_string(at.partition) + " offset " +
                    std::to_string(at.offset));
    }
    // Per-key order: each producer's sequence grows along each partition.
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      std::map<std::string, int> last;  // key -> seq
      for (const auto& [off, payload] : v.events[p]) {
        std::istringstream f(payload);
        int id, seq;
        f >> id >> seq;
        const std::string key = std::to_string(id) + "k" + std::to_string(seq % 5);
        auto l = last.find(key);
        if (l != last.end() && l->second >= seq)
          return fail("iteration " + std::to_string(it) + ": key " + key + " out of order at offset " +
                      std::to_string(off));
        last[key] = seq;
      }
    }

    // 2. The child's group resumes at or after where it last stood, never
    //    past what the child handled, and gets everything from there on.
    Drained g;
    if (!drain(**bus, "g", g, err)) return fail("iteration " + std::to_string(it) + ": " + err);
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      const weir::Offset resumed = g.first[p] == ~weir::Offset{0} ? g.end[p] : g.first[p];
      const weir::Offset handled_to =
          std::max<weir::Offset>(g_prev[p], static_cast<weir::Offset>(run.max_handled[p] + 1));
      if (resumed < g_prev[p])
        return fail("iteration " + std::to_string(it) + ": group offset of partition " +
                    std::to_string(p) + " moved backwards: " + std::to_string(g_prev[p]) + " -> " +
                    std::to_string(resumed));
      if (resumed > handled_to)
        return fail("iteration " + std::to_string(it) + ": group offset of partition " +
                    std::to_string(p) + " is " + std::to_string(resumed) + " but the child handled only up to " +
                    std::to_string(handled_to));
      // Synchronous commits bound the redelivery: at most one batch plus
      // kSyncEvery events behind what was handled.
      if (sync_commits(it) && handled_to > resumed + kSyncEvery + kMaxBatch)
        return fail("iteration " + std::to_string(it) + ": partition " + std::to_string(p) +
                    " resumed at " + std::to_string(resumed) + ", more than " +
                    std::to_string(kSyncEvery + kMaxBatch) + " behind the handled " +
                    std::to_string(handled_to));
      for (weir::Offset off = resumed; off < g.end[p]; ++off)
        if (!g.events[p].count(off))
          return fail("iteration " + std::to_string(it) + ": offset " + std::to_string(off) +
                      " not redelivered to the group");
      g_prev[p] = g.end[p];
    }
    // 3. Exactly-once effect: the counter group finishes what the child left,
    //    then every event id published so far counts exactly 1.
    {
      if (auto s = (*bus)->subscribe("crash", {.group = "counter", .workers = 2}, count_event); !s)
        return fail("subscribe counter: " + s.to_string());
      const auto until = std::chrono::steady_clock::now() + 20s;
      for (;;) {
        auto st = (*bus)->describe_group("counter");
        bool done = true;
        for (const auto& p : st->partitions) done = done && p.lag == 0;
        if (done) break;
        if (std::chrono::steady_clock::now() > until) return fail("counter group did not drain");
        std::this_thread::sleep_for(1ms);
      }
      auto rep = (*bus)->unsubscribe("counter");  // waits for its write sets to commit
      if (!rep || !rep->journal_status) return fail("unsubscribe counter failed");
      all_ids.insert(all_ids.end(), v.ids.begin(), v.ids.end());
      const bool last = it + 1 == iterations;
      // New ids every iteration; all ids again at the end.
      const std::size_t from = last ? 0 : all_ids.size() - v.ids.size();
      for (std::size_t i = from; i < all_ids.size(); ++i) {
        auto c = (*bus)->read_state("counter", "count", all_ids[i]);
        if (!c) return fail("read_state: " + c.status().to_string());
        if (!c->has_value() || **c != "1")
          return fail("iteration " + std::to_string(it) + ": event " + all_ids[i] + " was applied " +
                      (c->has_value() ? **c : std::string("0")) + " times, not exactly once");
      }
      exactly_once_checked = all_ids.size();
    }

    auto rep = (*bus)->close();
    if (!rep || !rep->journal_status)
      return fail("close: " + (rep ? rep->journal_status.to_string() : rep.status().to_string()));
  }
  std::filesystem::remove_all(dir);
  std::printf("weir crash: %d kills, %llu acknowledged events checked, %zu state effects exactly once\n",
              iterations, static_cast<unsigned long long>(total_acked), exactly_once_checked);
  std::printf("1 passed, 0 failed\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--child") == 0)
    return child_main(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10));
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail("cannot find own executable");
  self[n] = '\0';
  return parent_main(self);
}
