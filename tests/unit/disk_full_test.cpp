// A disk that fills up under a journaled bus: the publish whose commit hits
// the full disk fails at once with kResourceExhausted saying the disk is
// full, instead of waiting out its ack timeout.
//
// The disk is a 4 MiB tmpfs mounted in a private mount namespace of a child
// process (so nothing outside the test sees it, and it vanishes with the
// child); where the machine allows no mount namespace the test is skipped.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "weir/weir.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
constexpr int kCannotMount = 77;

// A private mount namespace with a tmpfs of `size` at `dir`; false if the
// machine refuses (no privilege and no user namespaces).
bool mount_small_disk(const std::string& dir, const char* size) {
  if (::unshare(CLONE_NEWNS) != 0) {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
    std::ofstream("/proc/self/setgroups") << "deny";
    std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
    std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1";
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  std::filesystem::create_directories(dir);
  const std::string opts = std::string("size=") + size;
  return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
}

// Child: fills the disk; writes "code ms message" of the first failed
// publish to `out`.
int fill_disk(const std::string& dir, int out) {
  if (!mount_small_disk(dir, "4m")) return kCannotMount;
  Options o;
  o.data_dir = dir + "/bus";
  o.journal_initial_map_bytes = 1u << 20;
  o.journal_max_bytes = 256u << 20;  // the disk fills long before the cap
  auto bus = Bus::open(o);
  if (!bus) return 2;
  if (!(*bus)->create_topic("t", {.durability = Durability::kJournaled})) return 3;
  const std::string payload(8000, 'x');
  std::string line = "none";
  for (int i = 0; i < 5000; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = (*bus)->publish("t", {.payload = payload}, {.timeout = 5000ms, .ack = Ack::kJournal});
    if (!r) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
      line = std::to_string(static_cast<int>(r.status().code())) + " " + std::to_string(ms.count()) + " " +
             r.status().to_string();
      break;
    }
  }
  (void)!::write(out, line.data(), line.size());
  (void)(*bus)->close({.mode = CloseMode::kStopAtBatch, .timeout = 1s});
  return 0;
}

TEST(DiskFullTest, PublishInFlightFailsAtOnceNamingTheFullDisk) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("weir-disk-full-" + std::to_string(::getpid()))).string();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::_exit(fill_disk(dir, fds[1]));
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int wst = 0;
  ASSERT_EQ(::waitpid(pid, &wst, 0), pid);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(wst));
  if (WEXITSTATUS(wst) == kCannotMount) GTEST_SKIP() << "no mount namespace for a small tmpfs here";
  ASSERT_EQ(WEXITSTATUS(wst), 0);
  ASSERT_NE(got, "none") << "4 MiB never filled";
  int code = -1;
  long ms = -1;
  char msg[400] = {};
  ASSERT_GE(std::sscanf(got.c_str(), "%d %ld %399[^\n]", &code, &ms, msg), 2) << got;
  EXPECT_EQ(code, static_cast<int>(Code::kResourceExhausted)) << got;
  EXPECT_LT(ms, 1000) << "the publish in flight waited for its timeout: " << got;
  EXPECT_NE(std::string(msg).find("disk full"), std::string::npos) << got;
}

}  // namespace
}  // namespace weir
