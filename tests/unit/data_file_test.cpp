// journal/file_check.hpp alone: the meta pages of a data.mdb read while a
// writer commits (the Inspector's view of a live owner's journal).
#include <gtest/gtest.h>
#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "journal/file_check.hpp"
#include "test_util.hpp"

namespace weir::internal {
namespace {

using namespace std::chrono_literals;

// A writer that commits small transactions as fast as it can (no fsync),
// so the two meta pages change under every read of them.
class CommittingWriter {
 public:
  explicit CommittingWriter(const std::string& dir) {
    EXPECT_EQ(mdb_env_create(&env_), 0);
    EXPECT_EQ(mdb_env_set_mapsize(env_, std::size_t{64} << 20), 0);
    EXPECT_EQ(mdb_env_open(env_, dir.c_str(), MDB_NOSYNC | MDB_NOTLS, 0600), 0);
    thread_ = std::thread([this] { run(); });
  }
  ~CommittingWriter() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
    mdb_env_close(env_);
  }
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  void run() {
    std::uint64_t i = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      MDB_txn* txn = nullptr;
      if (mdb_txn_begin(env_, nullptr, 0, &txn) != 0) return;
      MDB_dbi dbi;
      mdb_dbi_open(txn, nullptr, 0, &dbi);
      const std::uint64_t k = i++ % 64;
      MDB_val key{sizeof k, const_cast<std::uint64_t*>(&k)}, val{sizeof i, &i};
      mdb_put(txn, dbi, &key, &val, 0);
      if (mdb_txn_commit(txn) != 0) return;
      commits_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  MDB_env* env_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> commits_{0};
  std::thread thread_;
};

// A reader between the preads of meta page 0 and meta page 1 can see them
// from commits far apart; with a live writer that is not damage, and the
// reader must settle on a consistent pair instead of reporting one.
TEST(DataFile, MetasReadUnderALiveWriterAreNotReportedAsDamage) {
  weir::testing::ScratchDir dir("data-file-live");
  std::filesystem::create_directories(dir.path());
  CommittingWriter writer(dir.path().string());
  const std::string path = (dir.path() / "data.mdb").string();
  ASSERT_TRUE(weir::testing::eventually([&] { return writer.commits() > 100; }));
  const auto end = std::chrono::steady_clock::now() + 1000ms;
  int reads = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto f = mdbfile::read_data_file(path, /*live_writer=*/true);
    ASSERT_TRUE(f) << f.status().to_string();
    ASSERT_TRUE(f->problems.empty()) << "read " << reads << " after " << writer.commits()
                                     << " commits: " << f->problems.front();
    ++reads;
  }
  EXPECT_GT(writer.commits(), 1000u);
}

// Damage that stays is still reported with live_writer (after the tries).
TEST(DataFile, MetasThatStayInconsistentAreReportedWithALiveWriter) {
  weir::testing::ScratchDir dir("data-file-damaged");
  std::filesystem::create_directories(dir.path());
  { CommittingWriter writer(dir.path().string());
    ASSERT_TRUE(weir::testing::eventually([&] { return writer.commits() > 10; })); }
  const std::string path = (dir.path() / "data.mdb").string();
  auto f = mdbfile::read_data_file(path);
  ASSERT_TRUE(f && f->problems.empty());
  // Move meta page 0's txnid 4 commits away: find its 8 bytes in page 0.
  const std::uint64_t t0 = f->meta[0].txnid, bad = t0 + 4;
  std::FILE* fp = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(fp, nullptr);
  unsigned char page[256];
  ASSERT_EQ(std::fread(page, 1, sizeof page, fp), sizeof page);
  long at = -1;
  for (long i = 16; i + 8 <= static_cast<long>(sizeof page); i += 8)
    if (std::memcmp(page + i, &t0, 8) == 0) at = i;
  ASSERT_GE(at, 0);
  std::fseek(fp, at, SEEK_SET);
  std::fwrite(&bad, 8, 1, fp);
  std::fclose(fp);
  auto damaged = mdbfile::read_data_file(path, /*live_writer=*/true);
  ASSERT_TRUE(damaged);
  ASSERT_EQ(damaged->problems.size(), 1u);
  EXPECT_NE(damaged->problems.front().find("not consecutive"), std::string::npos) << damaged->problems.front();
}

}  // namespace
}  // namespace weir::internal
