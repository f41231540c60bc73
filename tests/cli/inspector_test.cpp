// weir::Inspector: the journal read from outside the bus, read-only.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "../unit/test_util.hpp"
#include "journal/lmdb.hpp"
#include "weir/inspect.hpp"

namespace weir {
namespace {

using testing::ScratchDir;

TEST(InspectorTest, OpenErrors) {
  ScratchDir d("inspect-open");
  auto missing = Inspector::open(d.path().string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  std::filesystem::create_directories(d.path());
  auto empty = Inspector::open(d.path().string());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.status().code(), Code::kNotFound);
  EXPECT_NE(empty.status().message().find("no weir journal"), std::string::npos);
  EXPECT_FALSE(Inspector::owned(d.path().string()).value());
}

// LMDB forbids opening one environment twice in a process: an Inspector in
// the process that has a Bus open on the directory is refused, and so is a
// Bus while an Inspector of this process has the directory open.
TEST(InspectorTest, RefusedInTheProcessThatOwnsTheDirectory) {
  ScratchDir d("inspect-same-process");
  {
    auto bus = testing::open_bus(d.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 1, .durability = Durability::kJournaled}));
    auto in = Inspector::open(d.path().string());
    ASSERT_FALSE(in);
    EXPECT_EQ(in.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(in.status().message().find("a Bus of this process has it open"), std::string::npos)
        << in.status().to_string();
    auto via_link = Inspector::open(d.path().string() + "/.");  // the same directory by another name
    EXPECT_EQ(via_link.status().code(), Code::kFailedPrecondition);
    ASSERT_TRUE(bus->close());
  }
  auto in = Inspector::open(d.path().string());
  ASSERT_TRUE(in) << in.status().to_string();
  auto bus = Bus::open(d.options());
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(bus.status().message().find("an Inspector of this process has it open"), std::string::npos)
      << bus.status().to_string();
  in->reset();
  EXPECT_TRUE(Bus::open(d.options()));
}

TEST(InspectorTest, ReadsWhatTheBusWroteWithTheSameIds) {
  ScratchDir d("inspect-read");
  std::map<std::pair<std::uint32_t, Offset>, std::string> ids;
  {
    auto bus = testing::open_bus(d.options());
    ASSERT_TRUE(bus->create_topic("orders", {.partitions = 3, .durability = Durability::kJournaled}));
    const Header h[] = {{"trace", "t-1"}};
    for (int i = 0; i < 50; ++i) {
      const std::string key = "k" + std::to_string(i), payload = "p" + std::to_string(i);
      ASSERT_TRUE(bus->publish("orders", {.key = key, .payload = payload, .headers = h}));
    }
    std::mutex mu;
    ASSERT_TRUE(bus->subscribe("orders", {.group = "g"}, [&](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      ids[{m.partition(), m.offset()}] = std::string(m.id());
      return Outcome::done();
    }));
    ASSERT_TRUE(testing::eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return ids.size() == 50;
    }));
    EXPECT_TRUE(Inspector::owned(d.path().string()).value());
    ASSERT_TRUE(bus->close());
  }
  EXPECT_FALSE(Inspector::owned(d.path().string()).value());
  auto in = Inspector::open(d.path().string()).value();
  auto topics = in->topics().value();
  ASSERT_EQ(topics.size(), 2u);  // with the group's dead-letter topic
  EXPECT_EQ(topics[0].name, "g.dlq");
  EXPECT_EQ(topics[0].events, 0u);
  EXPECT_EQ(topics[1].name, "orders");
  EXPECT_EQ(topics[1].events, 50u);
  EXPECT_EQ(topics[1].options.partitions, 3u);
  std::size_t n = 0;
  const auto parts = in->partitions("orders").value();
  for (const PartitionInfo& p : parts) {
    auto recs = in->read("orders", p.partition, p.start, 1000).value();
    EXPECT_EQ(recs.size(), p.end - p.start);
    for (const Record& r : recs) {
      EXPECT_EQ(r.id, ids.at({r.partition, r.offset}));
      EXPECT_EQ("p" + r.key.substr(1), r.payload);
      ASSERT_EQ(r.headers.size(), 1u);
      EXPECT_EQ(r.headers[0].second, "t-1");
      ++n;
    }
  }
  EXPECT_EQ(n, 50u);
  const auto lags = in->group_lags().value();
  for (const GroupLag& g : lags) {
    EXPECT_EQ(g.group, "g");
    EXPECT_EQ(g.lag, 0u);
  }
  EXPECT_EQ(in->partitions("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(in->read("orders", 7, 0, 1).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(in->verify().value().empty());
  auto u = in->usage().value();
  EXPECT_GT(u.file_bytes, 0u);
  EXPECT_LE(u.used_bytes, u.map_bytes);
}

TEST(InspectorTest, SkewIsLagOverFiveTimesTheMedian) {
  ScratchDir d("inspect-skew");
  {
    auto bus = testing::open_bus(d.options());
    ASSERT_TRUE(bus->create_topic("t", {.partitions = 4, .durability = Durability::kJournaled}));
    for (std::int32_t p = 0; p < 4; ++p)
      for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(bus->publish("t", {.key = "k"}, {.partition = p, .ack = i == 99 ? Ack::kJournal : Ack::kNone}));
    ASSERT_TRUE(bus->seek("g", "t", SeekTo::latest().creating_group()));
    // lags 10, 10, 50, 51: median 30 -> nothing skewed; then 1, 1, 2, 100: median 1.5 -> only p3.
    const Offset lag_a[] = {10, 10, 50, 51};
    for (std::uint32_t p = 0; p < 4; ++p) ASSERT_TRUE(bus->seek("g", "t", SeekTo::to_offset(100 - lag_a[p]), p));
    const Offset lag_b[] = {1, 1, 2, 100};
    for (std::uint32_t p = 0; p < 4; ++p) ASSERT_TRUE(bus->seek("h", "t", SeekTo::to_offset(100 - lag_b[p]).creating_group(), p));
    ASSERT_TRUE(bus->close());
  }
  auto in = Inspector::open(d.path().string()).value();
  const auto lags = in->group_lags().value();
  ASSERT_EQ(lags.size(), 8u);
  for (const GroupLag& g : lags) {
    if (g.group == "g") {
      EXPECT_FALSE(g.skewed) << g.partition;
    } else {
      EXPECT_EQ(g.skewed, g.partition == 3) << g.partition;
    }
  }
}

TEST(InspectorTest, DeadLettersMatchTheBus) {
  ScratchDir d("inspect-dlq");
  std::vector<Offset> from_bus;
  {
    auto bus = testing::open_bus(d.options());
    ASSERT_TRUE(bus->create_topic("orders", {.durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->subscribe("orders", {.group = "billing"},
                               [](const Message& m) { return m.key() == "bad" ? Outcome::fail("no") : Outcome::done(); }));
    for (const char* k : {"bad", "ok", "bad", "bad"}) ASSERT_TRUE(bus->publish("orders", {.key = k}));
    ASSERT_TRUE(testing::eventually([&] { return bus->dlq_list("billing")->size() == 3; }));
    DeadLetterFilter one;
    one.dlq_offset = 1;
    ASSERT_EQ(bus->dlq_purge("billing", one).value(), 1u);
    const auto listed = bus->dlq_list("billing").value();
    for (const auto& l : listed) from_bus.push_back(l.dlq_offset);
    ASSERT_TRUE(bus->close());
  }
  auto in = Inspector::open(d.path().string()).value();
  std::vector<Offset> from_inspector;
  const auto letters = in->dlq_list("billing").value();
  for (const auto& l : letters) {
    from_inspector.push_back(l.dlq_offset);
    EXPECT_EQ(l.reason, "no");
    EXPECT_EQ(l.topic, "orders");
  }
  EXPECT_EQ(from_inspector, from_bus);
  auto depths = in->dlq_depths().value();
  ASSERT_EQ(depths.size(), 1u);
  EXPECT_EQ(depths[0].group, "billing");
  EXPECT_EQ(depths[0].count, 2u);
  EXPECT_EQ(in->dlq_show("billing", 1).status().code(), Code::kNotFound) << "purged";
  EXPECT_EQ(in->dlq_show("billing", from_bus[0]).value().letter.key, "bad");
  EXPECT_EQ(in->dlq_list("nobody").status().code(), Code::kNotFound);
}

TEST(InspectorTest, VerifyReportsBrokenInvariants) {
  ScratchDir d("inspect-verify");
  {
    auto bus = testing::open_bus(d.options());
    ASSERT_TRUE(bus->create_topic("t", {.durability = Durability::kJournaled}));
    for (int i = 0; i < 3; ++i)  // each acked at kJournal: one batch each
      ASSERT_TRUE(bus->publish("t", {.key = "k"}, {.ack = Ack::kJournal}));
    ASSERT_TRUE(bus->close());
  }
  {
    // Damage it behind weir's back: drop the middle batch, store an offset
    // past the end and one for a topic that does not exist.
    MDB_env* env;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    ASSERT_EQ(mdb_env_open(env, d.path().c_str(), 0, 0600), 0);
    MDB_txn* txn;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi part, offsets;
    ASSERT_EQ(mdb_dbi_open(txn, "p/t/0", 0, &part), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "weir.offsets", 0, &offsets), 0);
    char key[8];
    internal::put_be64(key, 1);
    MDB_val k{8, key};
    ASSERT_EQ(mdb_del(txn, part, &k, nullptr), 0);
    auto put_offset = [&](const std::string& topic, Offset o) {
      std::string ok = std::string("g") + '\0' + topic + '\0' + std::string(4, '\0');
      char v[8];
      internal::put_be64(v, o);
      MDB_val kk{ok.size(), ok.data()}, vv{8, v};
      ASSERT_EQ(mdb_put(txn, offsets, &kk, &vv, 0), 0);
    };
    put_offset("t", 100);
    put_offset("gone", 1);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto in = Inspector::open(d.path().string()).value();
  auto problems = in->verify().value();
  ASSERT_EQ(problems.size(), 3u);
  bool gap = false, beyond = false, gone = false;
  for (const JournalProblem& p : problems) {
    if (p.what.find("offsets 1..1 are missing") != std::string::npos && p.offset == Offset{2}) gap = true;
    if (p.what.find("beyond the partition's end 3") != std::string::npos && p.group == "g") beyond = true;
    if (p.topic == "gone") gone = true;
  }
  EXPECT_TRUE(gap && beyond && gone) << problems[0].what << " | " << problems[1].what << " | " << problems[2].what;
}

// A live owner in another process grows the map under an open Inspector.
TEST(InspectorTest, FollowsALiveOwnerThatGrowsTheMap) {
  ScratchDir d("inspect-live");
  Options o = d.options();
  o.journal_initial_map_bytes = 1u << 20;
  {
    auto bus = testing::open_bus(o);
    ASSERT_TRUE(bus->create_topic("t", {.durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->publish("t", {.key = "first"}, {.ack = Ack::kJournal}));
    ASSERT_TRUE(bus->close());
  }
  auto in = Inspector::open(d.path().string()).value();
  const auto map_before = in->usage().value().map_bytes;
  int to_child[2], to_parent[2];
  ASSERT_EQ(pipe(to_child), 0);
  ASSERT_EQ(pipe(to_parent), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    int rc = 1;
    {
      auto bus = Bus::open(o);
      if (bus) {
        const std::string payload(4000, 'x');
        bool ok = true;
        for (int i = 0; i < 2000 && ok; ++i)
          ok = (*bus)->publish("t", {.key = "k", .payload = payload}, {.ack = i % 100 == 99 ? Ack::kJournal : Ack::kNone}).is_ok();
        ok = ok && (*bus)->publish("t", {.key = "last"}, {.ack = Ack::kJournal}).is_ok();
        char c = ok ? 'y' : 'n';
        (void)!write(to_parent[1], &c, 1);
        (void)!read(to_child[0], &c, 1);  // stay the live owner until the parent is done
        rc = ok ? 0 : 2;
      }
    }
    _exit(rc);
  }
  char c = 0;
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_TRUE(Inspector::owned(d.path().string()).value());
  auto parts = in->partitions("t").value();
  EXPECT_EQ(parts[0].end, 2002u);
  auto last = in->read("t", 0, 2001, 10).value();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].key, "last");
  EXPECT_GT(in->usage().value().map_bytes, map_before);
  EXPECT_TRUE(in->verify().value().empty());
  (void)!write(to_child[1], "x", 1);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace weir
