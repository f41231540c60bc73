// Crash test of offset commits with a slow handler (10 ms per event): a
// child process handles a stored backlog of a journaled topic and reports
// every event its handler returned from; the parent SIGKILLs it after 60
// and counts how many of those a restart hands over again:
//   - SubscribeOptions::offset_commit_events = N (1 and 5): at most N
//     (one worker), as the header promises;
//   - offset_commit_events = 0 (asynchronous): at most what the handler
//     finishes in a few Options::offset_commit_interval (50 ms): the writer
//     persists offsets every interval, and an offset is committable as soon
//     as the handler returns.
// Takes about 3 s.
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
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
constexpr int kBacklog = 400;
constexpr int kKillAfter = 60;

int fail(const std::string& why) {
  std::fprintf(stderr, "offset commit crash test FAILED: %s\n", why.c_str());
  return 1;
}

// Child: handles topic "slow" as group `group`, 10 ms per event, writing
// "h <offset>\n" (one write: atomic on the pipe) when each handler returns.
int child_main(const char* dir, const char* group, std::uint32_t commit_events) {
  weir::Options o;
  o.data_dir = dir;
  auto bus = weir::Bus::open(o);
  if (!bus) return fail("child open: " + bus.status().to_string());
  weir::SubscribeOptions so{.group = group};
  so.offset_commit_events = commit_events;
  auto st = (*bus)->subscribe("slow", so, [](const weir::Message& m) {
    std::this_thread::sleep_for(10ms);
    const std::string line = "h " + std::to_string(m.offset()) + "\n";
    const ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
    (void)n;
    return weir::Outcome::done();
  });
  if (!st) return fail("child subscribe: " + st.to_string());
  for (;;) std::this_thread::sleep_for(1s);  // until killed
}

// Runs the child until it reported kKillAfter handled events, kills it, and
// returns the highest offset it handled.
std::optional<long> run_and_kill(const std::string& self, const std::string& dir, const std::string& group,
                                 std::uint32_t commit_events, std::string& err) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    err = "pipe";
    return std::nullopt;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  const std::string ce = std::to_string(commit_events);
  std::vector<char*> argv{const_cast<char*>(self.c_str()), const_cast<char*>("--child"),
                          const_cast<char*>(dir.c_str()),  const_cast<char*>(group.c_str()),
                          const_cast<char*>(ce.c_str()),   nullptr};
  pid_t pid;
  if (posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
    err = "posix_spawn";
    return std::nullopt;
  }
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string buf;
  int handled = 0;
  long max_offset = -1;
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (handled < kKillAfter && std::chrono::steady_clock::now() < give_up) {
    char c;
    const ssize_t n = ::read(fds[0], &c, 1);
    if (n <= 0) break;
    if (c != '\n') {
      buf += c;
      continue;
    }
    if (buf.rfind("h ", 0) == 0) {
      ++handled;
      max_offset = std::max(max_offset, std::stol(buf.substr(2)));
    }
    buf.clear();
  }
  ::kill(pid, SIGKILL);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (handled < kKillAfter) {
    err = "child handled only " + std::to_string(handled) + " events";
    return std::nullopt;
  }
  return max_offset;
}

// The first offset a restarted group is handed.
std::optional<long> first_redelivered(const std::string& dir, const std::string& group, std::string& err) {
  weir::Options o;
  o.data_dir = dir;
  auto bus = weir::Bus::open(o);
  if (!bus) {
    err = "reopen: " + bus.status().to_string();
    return std::nullopt;
  }
  std::mutex mu;
  std::optional<long> first;
  auto st = (*bus)->subscribe("slow", {.group = group}, [&](const weir::Message& m) {
    std::lock_guard<std::mutex> lock(mu);
    if (!first) first = static_cast<long>(m.offset());
    return weir::Outcome::done();
  });
  if (!st) {
    err = "resubscribe: " + st.to_string();
    return std::nullopt;
  }
  const auto until = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (first) break;
    }
    if (std::chrono::steady_clock::now() > until) {
      err = "nothing handed after the restart";
      return std::nullopt;
    }
    std::this_thread::sleep_for(1ms);
  }
  (void)(*bus)->close({.mode = weir::CloseMode::kStopAtBatch});
  std::lock_guard<std::mutex> lock(mu);
  return first;
}

int parent_main(const std::string& self) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("weir-offset-crash-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    weir::Options o;
    o.data_dir = dir;
    auto bus = weir::Bus::open(o);
    if (!bus) return fail("open: " + bus.status().to_string());
    if (auto s = (*bus)->create_topic("slow", {.partitions = 1, .durability = weir::Durability::kJournaled}); !s)
      return fail("create_topic: " + s.to_string());
    auto t = (*bus)->topic("slow").value();
    for (int i = 0; i < kBacklog; ++i)
      if (auto r = t.publish({.key = "k", .payload = std::to_string(i)}, {.ack = weir::Ack::kJournal}); !r)
        return fail("publish: " + r.status().to_string());
    if (auto r = (*bus)->close(); !r || !r->journal_status) return fail("close after loading");
  }
  struct Case {
    const char* group;
    std::uint32_t commit_events;
    long bound;  // most events handed again
  };
  // Asynchronous: 50 ms interval = 5 events at 10 ms; the bound allows a
  // loaded (or sanitized) machine five intervals and a slow commit, and is
  // still half of what was redelivered when offsets moved per batch (60).
  const Case cases[] = {{"sync1", 1, 1}, {"sync5", 5, 5}, {"async", 0, 30}};
  int failures = 0;
  for (const Case& c : cases) {
    std::string err;
    auto max_handled = run_and_kill(self, dir, c.group, c.commit_events, err);
    if (!max_handled) return fail(std::string(c.group) + ": " + err);
    auto first = first_redelivered(dir, c.group, err);
    if (!first) return fail(std::string(c.group) + ": " + err);
    const long again = *max_handled + 1 - *first;
    std::printf("%s (offset_commit_events = %u): handled up to %ld, restart resumed at %ld: %ld handed again (bound %ld)\n",
                c.group, c.commit_events, *max_handled, *first, again, c.bound);
    if (*first > *max_handled + 1) {
      std::fprintf(stderr, "%s: the restart skipped events (resumed past what was handled)\n", c.group);
      ++failures;
    } else if (again > c.bound) {
      std::fprintf(stderr, "%s: %ld events handed again, more than %ld\n", c.group, again, c.bound);
      ++failures;
    }
  }
  std::filesystem::remove_all(dir);
  if (failures) return fail(std::to_string(failures) + " case(s) redelivered too much");
  std::printf("1 passed, 0 failed\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--child") == 0)
    return child_main(argv[2], argv[3], static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10)));
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail("cannot find own executable");
  self[n] = '\0';
  return parent_main(self);
}
