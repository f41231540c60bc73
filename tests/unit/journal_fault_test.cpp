// The journal's fault seam (journal/fault.hpp): a commit, an fsync, a put or
// a map growth fails. Publishers waiting for Ack::kJournal get an error that
// names the cause (never a hang), later publishes are refused while the
// journal is stalled, and once the fault clears the bus goes on with every
// acknowledged event kept, across a reopen.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "journal/fault.hpp"
#include "test_util.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using internal::FaultPoint;
using testing::eventually;

struct Fault {
  const char* name;
  FaultPoint point;
  int rc;
  const char* says;  // in the error publishers get
};

void PrintTo(const Fault& f, std::ostream* os) { *os << f.name << " fails with " << f.rc; }

class JournalFaultBase : public ::testing::TestWithParam<Fault> {
 protected:
  void TearDown() override { internal::disarm_faults(); }

  Options opts() const {
    Options o = dir_.options();
    o.offset_commit_interval = 5ms;
    return o;
  }
  static TopicOptions journaled() {
    return {.block_timeout = 300ms, .durability = Durability::kJournaled};
  }
  // Publishes `n` events with Ack::kJournal; every one must be acknowledged.
  static void publish_acked(Bus& bus, const std::string& prefix, int n, std::vector<std::string>& acked) {
    for (int i = 0; i < n; ++i) {
      const std::string p = prefix + std::to_string(i);
      auto r = bus.publish("t", {.payload = p}, {.ack = Ack::kJournal});
      ASSERT_TRUE(r) << p << ": " << r.status().to_string();
      acked.push_back(p);
    }
  }
  // Everything stored in "t", in order, read by a new group.
  static std::vector<std::string> read_all(Bus& bus, std::size_t at_least) {
    std::mutex mu;
    std::vector<std::string> got;
    EXPECT_TRUE(bus.subscribe("t", {.group = "reader"}, [&](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      got.emplace_back(m.payload());
      return Outcome::done();
    }));
    EXPECT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return got.size() >= at_least;
    }));
    EXPECT_TRUE(bus.unsubscribe("reader"));
    std::lock_guard<std::mutex> l(mu);
    return got;
  }

  testing::ScratchDir dir_{"journal-fault-" +
                           std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())};
};

class JournalFaultAtEachPoint : public JournalFaultBase {};
class JournalFault : public JournalFaultBase {};

// Acknowledged events are a subsequence of what the journal holds, in order
// (events whose publish failed may be stored too: never acknowledged).
void expect_kept_in_order(const std::vector<std::string>& acked, const std::vector<std::string>& stored) {
  std::size_t i = 0;
  for (const auto& s : stored)
    if (i < acked.size() && s == acked[i]) ++i;
  EXPECT_EQ(i, acked.size()) << "acknowledged event '" << (i < acked.size() ? acked[i] : "") << "' is missing";
}

TEST_P(JournalFaultAtEachPoint, PublishersGetTheCauseAndAckedEventsSurvive) {
  const Fault f = GetParam();
  std::vector<std::string> acked;
  {
    auto bus = testing::open_bus(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    publish_acked(*bus, "before-", 20, acked);

    const auto injected = internal::faults_injected(f.point);
    internal::arm_fault(f.point, f.rc);
    // The publish that meets the fault fails within its timeout, naming it.
    const auto t0 = std::chrono::steady_clock::now();
    auto r = bus->publish("t", {.payload = "during"}, {.ack = Ack::kJournal});
    ASSERT_FALSE(r) << "a publish was acknowledged while every " << f.name << " failed";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << r.status().to_string();
    EXPECT_TRUE(r.status().code() == Code::kDeadlineExceeded || r.status().code() == Code::kResourceExhausted)
        << r.status().to_string();
    EXPECT_NE(r.status().message().find(f.says), std::string::npos) << r.status().to_string();
    EXPECT_GT(internal::faults_injected(f.point), injected);
    // While stalled, publishes are refused at once (the health path).
    auto refused = bus->publish("t", {.payload = "refused"}, {.ack = Ack::kNone});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.status().code(), Code::kResourceExhausted) << refused.status().to_string();
    EXPECT_NE(refused.status().message().find("journal cannot commit"), std::string::npos)
        << refused.status().to_string();

    // The fault clears: the writer's retry commits and publishing goes on.
    internal::disarm_faults();
    EXPECT_TRUE(eventually([&] { return static_cast<bool>(bus->publish("t", {.payload = "probe"}, {.ack = Ack::kJournal})); }));
    publish_acked(*bus, "after-", 20, acked);
    auto rep = bus->close();
    ASSERT_TRUE(rep);
    EXPECT_TRUE(rep->journal_status) << rep->journal_status.to_string();
  }
  auto bus = testing::open_bus(opts());
  expect_kept_in_order(acked, read_all(*bus, acked.size()));
}

INSTANTIATE_TEST_SUITE_P(
    Points, JournalFaultAtEachPoint,
    ::testing::Values(Fault{"commit", FaultPoint::kCommit, EIO, "mdb_txn_commit"},
                      Fault{"fsync", FaultPoint::kSync, EIO, "fsync"},
                      Fault{"commit", FaultPoint::kCommit, ENOSPC, "No space left on device"},
                      Fault{"put", FaultPoint::kPut, ENOSPC, "No space left on device"},
                      Fault{"put", FaultPoint::kPut, EIO, "Input/output error"}),
    [](const ::testing::TestParamInfo<Fault>& i) {
      return std::string(i.param.name) + "_" + (i.param.rc == ENOSPC ? "ENOSPC" : "EIO");
    });


// MDB_MAP_FULL on a put: the writer grows the map and retries; publishers
// see nothing.
TEST_F(JournalFault, MapFullOnPutGrowsTheMap) {
  std::vector<std::string> acked;
  {
    auto bus = testing::open_bus(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    const auto injected = internal::faults_injected(FaultPoint::kPut);
    internal::arm_fault(FaultPoint::kPut, MDB_MAP_FULL, 3);
    publish_acked(*bus, "e-", 10, acked);
    EXPECT_EQ(internal::faults_injected(FaultPoint::kPut), injected + 3);
    ASSERT_TRUE(bus->close());
  }
  auto bus = testing::open_bus(opts());
  expect_kept_in_order(acked, read_all(*bus, acked.size()));
}

// The map cannot grow (mdb_env_set_mapsize fails): the journal stalls with
// that cause until it can.
TEST_F(JournalFault, FailedMapGrowthStallsUntilItSucceeds) {
  std::vector<std::string> acked;
  {
    auto bus = testing::open_bus(opts());
    ASSERT_TRUE(bus->create_topic("t", journaled()));
    publish_acked(*bus, "before-", 5, acked);
    internal::arm_fault(FaultPoint::kPut, MDB_MAP_FULL);
    internal::arm_fault(FaultPoint::kGrowMap, ENOMEM);
    auto r = bus->publish("t", {.payload = "during"}, {.ack = Ack::kJournal});
    ASSERT_FALSE(r);
    EXPECT_NE(r.status().message().find("grow journal map"), std::string::npos) << r.status().to_string();
    EXPECT_TRUE(eventually([&] {
      auto p = bus->publish("t", {.payload = "refused"}, {.ack = Ack::kNone});
      return !p && p.status().code() == Code::kResourceExhausted;
    }));
    internal::disarm_faults();
    EXPECT_TRUE(eventually([&] { return static_cast<bool>(bus->publish("t", {.payload = "probe"}, {.ack = Ack::kJournal})); }));
    publish_acked(*bus, "after-", 5, acked);
    ASSERT_TRUE(bus->close());
  }
  auto bus = testing::open_bus(opts());
  expect_kept_in_order(acked, read_all(*bus, acked.size()));
}

// Closing while every commit fails: close returns (bounded), and its report
// names the cause of what was not written.
// State::publish while the journal cannot commit is refused at once with the
// cause (a handler waiting there would hold its partition), as consumer.hpp
// says; the handler decides what to do (here: retry later).
TEST_F(JournalFault, FollowUpsAreRefusedAtOnceWhileTheJournalCannotCommit) {
  auto bus = testing::open_bus(opts());
  ASSERT_TRUE(bus->create_topic("in", journaled()));
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  std::atomic<bool> entered{false}, go{false}, answered{false};
  Status got = Status::ok();
  std::chrono::steady_clock::duration took{};
  ASSERT_TRUE(bus->subscribe("in", {.group = "stage"}, [&](const Message&, State& st) {
    if (answered.load()) return Outcome::retry();
    entered = true;
    while (!go.load()) std::this_thread::sleep_for(1ms);
    const auto t0 = std::chrono::steady_clock::now();
    got = st.publish("t", {.payload = "follow-up"});
    took = std::chrono::steady_clock::now() - t0;
    answered = true;
    return got ? Outcome::done() : Outcome::retry();
  }));
  ASSERT_TRUE(bus->publish("in", {.payload = "input"}, {.ack = Ack::kJournal}));
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  internal::arm_fault(FaultPoint::kCommit, EIO);
  // The next commit fails; publishes see the stall once it is known.
  ASSERT_TRUE(eventually([&] {
    return bus->publish("t", {.payload = "x"}, {.ack = Ack::kNone}).status().code() == Code::kResourceExhausted;
  }));
  go = true;
  ASSERT_TRUE(eventually([&] { return answered.load(); }));
  EXPECT_EQ(got.code(), Code::kResourceExhausted) << got.to_string();
  EXPECT_NE(got.message().find("journal cannot commit"), std::string::npos) << got.to_string();
  EXPECT_LT(took, 1s) << "State::publish waited for the journal";
  internal::disarm_faults();
}

// The two ack levels apart (weir/options.hpp): a group commit flushes its
// data pages and leaves its meta page to the next flush, so Ack::kJournal
// returns at the commit and Ack::kFsync only once a flush followed. Here the
// writer's flush hangs: journal acks still return, fsync acks wait.
TEST_F(JournalFault, FsyncAcksWaitForTheFlushJournalAcksDoNot) {
  auto bus = testing::open_bus(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  auto topic = bus->topic("t");
  ASSERT_TRUE(topic);
  const auto hung = internal::faults_injected(FaultPoint::kFlush);
  internal::arm_fault(FaultPoint::kFlush, internal::kFaultHang);
  auto r = bus->publish("t", {.payload = "e"}, {.ack = Ack::kJournal});
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_TRUE(eventually([&] { return internal::faults_injected(FaultPoint::kFlush) > hung; }));
  const Status waited = topic->wait_acked(*r, Ack::kFsync, 300ms);
  EXPECT_EQ(waited.code(), Code::kDeadlineExceeded) << waited.to_string();
  EXPECT_NE(waited.message().find("was not on stable storage within 300 ms"), std::string::npos)
      << waited.to_string();
  EXPECT_TRUE(topic->wait_acked(*r, Ack::kJournal, 0ms));
  internal::disarm_faults();
  EXPECT_TRUE(topic->wait_acked(*r, Ack::kFsync, 5s));
  auto f = bus->publish("t", {.payload = "f"}, {.ack = Ack::kFsync});
  EXPECT_TRUE(f) << f.status().to_string();
  ASSERT_TRUE(bus->close());
}

// A Topic handle outlives its bus: an fsync wait on it after close asks
// for a flush through the partitions' shared health, not the freed journal
// (under AddressSanitizer this was a heap-use-after-free), and times out.
TEST_F(JournalFault, AnFsyncWaitOnAHandleAfterCloseTimesOut) {
  auto bus = testing::open_bus(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  auto topic = bus->topic("t");
  ASSERT_TRUE(topic);
  auto r = bus->publish("t", {.payload = "e"}, {.ack = Ack::kFsync});
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_TRUE(bus->close());
  bus.reset();
  const PublishReceipt beyond{r->partition, r->offset + 1000};
  const Status s = topic->wait_acked(beyond, Ack::kFsync, 100ms);
  EXPECT_EQ(s.code(), Code::kDeadlineExceeded) << s.to_string();
  EXPECT_TRUE(topic->wait_acked(*r, Ack::kFsync, 0ms)) << "what the bus flushed stays flushed";
}

TEST_F(JournalFault, CloseWhileStalledReportsTheCause) {
  auto bus = testing::open_bus(opts());
  ASSERT_TRUE(bus->create_topic("t", journaled()));
  std::vector<std::string> acked;
  publish_acked(*bus, "before-", 5, acked);
  internal::arm_fault(FaultPoint::kCommit, EIO);
  ASSERT_TRUE(bus->publish("t", {.payload = "unacked"}, {.ack = Ack::kNone}));
  const auto t0 = std::chrono::steady_clock::now();
  auto rep = bus->close({.timeout = 2s});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_TRUE(rep);
  EXPECT_FALSE(rep->journal_status);
  EXPECT_NE(rep->journal_status.message().find("mdb_txn_commit"), std::string::npos)
      << rep->journal_status.to_string();
  internal::disarm_faults();
  bus.reset();
  auto again = testing::open_bus(opts());
  expect_kept_in_order(acked, read_all(*again, acked.size()));
}

}  // namespace
}  // namespace weir
