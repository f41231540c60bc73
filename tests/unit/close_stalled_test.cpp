// close() when the journal cannot commit: it returns within
// CloseOptions::timeout and its report says what was not persisted.
//
// The journal is made unable to commit with RLIMIT_FSIZE: data.mdb may not
// grow past its current size, so LMDB's writes of new pages fail (EFBIG;
// SIGXFSZ is ignored meanwhile), as on a full disk. The limit is process-wide
// and restored before the test ends.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "test_util.hpp"
#include "weir/weir.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;
using testing::ScratchDir;

// Holds data.mdb at its current size while alive.
class FileSizeCap {
 public:
  explicit FileSizeCap(std::uintmax_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_sig_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit cap = old_;
    cap.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &cap) == 0;
  }
  ~FileSizeCap() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_sig_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  sighandler_t old_sig_{};
  bool ok_ = false;
};

TEST(CloseStalledJournal, HonoursTimeoutAndReportsWhatWasNotPersisted) {
  ScratchDir dir("close-stalled");
  auto bus = open_bus(dir.options());
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .capacity = 1024, .durability = Durability::kJournaled}));
  auto t = bus->topic("t").value();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(t.publish({.key = "k", .payload = "small"}, {.ack = Ack::kJournal}));
  // A slow handler that waits for its offsets to be durable after each event.
  std::atomic<int> handled{0};
  SubscribeOptions so{.group = "g"};
  so.offset_commit_events = 1;
  ASSERT_TRUE(bus->subscribe("t", so, [&](const Message&) {
    std::this_thread::sleep_for(20ms);
    handled.fetch_add(1, std::memory_order_relaxed);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return handled.load(std::memory_order_relaxed) >= 2; }));

  FileSizeCap cap(std::filesystem::file_size(dir.path() / "data.mdb"));
  ASSERT_TRUE(cap.ok());
  // Events the journal now cannot write (every commit carries them and
  // fails): publish until producers are told the journal is stalled.
  const std::string big(64 * 1024, 'x');
  Status stalled;
  int accepted = 0;
  const bool refused = eventually([&] {
    auto r = t.publish({.key = "b", .payload = big}, {.timeout = 200ms, .ack = Ack::kNone});
    stalled = r ? Status::ok() : r.status();
    accepted += r ? 1 : 0;
    return !stalled.is_ok();
  });
  ASSERT_TRUE(refused) << "the journal kept committing under RLIMIT_FSIZE";

  const auto t0 = std::chrono::steady_clock::now();
  auto rep = bus->close({.mode = CloseMode::kDrain, .timeout = 1s});
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(rep) << rep.status().to_string();
  EXPECT_LT(took, 2500ms) << "close took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                          << " ms with CloseOptions::timeout = 1 s";
  EXPECT_TRUE(rep->timed_out);
  EXPECT_FALSE(rep->journal_status.is_ok());
  const std::string why = rep->journal_status.message();
  std::printf("close report: %s\n", rep->journal_status.to_string().c_str());
  EXPECT_NE(why.find("group 'g'"), std::string::npos) << why;
  EXPECT_NE(why.find("not persisted"), std::string::npos) << why;
  // The group's own offset commit can meet the cap first (under load its
  // read transactions keep LMDB from reusing pages, so the commit must grow
  // the file): then the journal refused the first big event and nothing
  // of 't' is unwritten. Seen once in a loaded TSan run.
  if (accepted > 0) {
    EXPECT_NE(why.find("published to topic 't' (never acknowledged)"), std::string::npos) << why;
  } else {
    EXPECT_EQ(why.find("published to topic 't'"), std::string::npos) << why;
  }
}

}  // namespace
}  // namespace weir
