// The `weir` command line tool, run as a child process: every subcommand,
// happy paths and bad input, exit codes, and the concurrency rule (read-only
// commands work beside a live owner; changing commands refuse).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "run_util.hpp"
#include "../unit/test_util.hpp"
#include "weir/inspect.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RunResult;

class CliTest : public ::testing::Test {
 protected:
  CliTest() : root_("cli-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {}
  std::string dir() const { return (root_.path() / "bus").string(); }
  std::filesystem::path io() const { return root_.path() / "io"; }

  RunResult weir(std::vector<std::string> args, const std::string& input = "") {
    return testing::run_weir(args, input, io());
  }
  // A one-line error on stderr: "weir: ..." and nothing else.
  static void expect_one_line_error(const RunResult& r, const std::string& needle) {
    EXPECT_EQ(r.err.rfind("weir: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  // Publishes `lines` into `topic` (created with `partitions`).
  void produce(const std::string& topic, int partitions, const std::string& lines) {
    auto r = weir({"produce", dir(), topic, "--partitions", std::to_string(partitions)}, lines);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  // A journal with a group whose handler dead-letters payloads "bad-*".
  void make_dead_letters() {
    Options o;
    o.data_dir = dir();
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("orders", {.partitions = 2, .durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->subscribe("orders", {.group = "billing"}, [](const Message& m) {
      if (m.payload().substr(0, 3) == "bad") return Outcome::fail("declined: " + std::string(m.payload()));
      return Outcome::done();
    }));
    int i = 0;
    for (const char* p : {"ok-1", "bad-card", "ok-2", "bad-address", "bad-card"}) {
      const std::string key = "order-" + std::to_string(i++);
      ASSERT_TRUE(bus->publish("orders", {.key = key, .payload = p, .type = "shop.order"}));
    }
    ASSERT_TRUE(testing::eventually([&] {
      auto l = bus->dlq_list("billing");
      return l && l->size() == 3;
    }));
    ASSERT_TRUE(bus->close());
  }
  std::map<std::uint32_t, std::uint64_t> committed(const std::string& group) {
    std::map<std::uint32_t, std::uint64_t> out;
    for (const json& r : weir({"groups", dir(), "--json"}).rows())
      if (r["group"] == group && !r["committed"].is_null()) out[r["partition"]] = r["committed"];
    return out;
  }

  testing::ScratchDir root_;
};

std::string lines(int from, int to, const std::string& prefix = "key") {
  std::string s;
  for (int i = from; i < to; ++i) s += prefix + std::to_string(i) + "\tvalue-" + std::to_string(i) + "\n";
  return s;
}

TEST_F(CliTest, HelpEverywhereAndUsageErrors) {
  auto top = weir({"--help"});
  EXPECT_EQ(top.rc, 0);
  for (const char* sub : {"topics", "describe", "groups", "tail", "produce", "consume", "seek", "dlq", "verify",
                          "stats", "top"}) {
    EXPECT_NE(top.out.find(sub), std::string::npos) << sub;
    auto r = weir({sub, "--help"});
    EXPECT_EQ(r.rc, 0) << sub << r.err;
    if (sub != std::string("dlq")) {
      EXPECT_NE(r.out.find("--json"), std::string::npos) << sub;
    }
  }
  for (const char* sub : {"list", "show", "redrive", "purge"}) {
    auto r = weir({"dlq", sub, "--help"});
    EXPECT_EQ(r.rc, 0) << sub;
    EXPECT_NE(r.out.find("--json"), std::string::npos) << sub;
  }
  EXPECT_EQ(weir({}).rc, 2);
  EXPECT_EQ(weir({"frobnicate"}).rc, 2);
  auto r = weir({"describe", dir()});  // TOPIC missing
  EXPECT_EQ(r.rc, 2);
  expect_one_line_error(r, "TOPIC");
  EXPECT_EQ(weir({"consume", dir(), "t"}).rc, 2);  // --group missing
  EXPECT_EQ(weir({"produce", dir(), "t", "--ack", "sometimes"}).rc, 2);
  EXPECT_EQ(weir({"produce", dir(), "t", "--partitions", "0"}).rc, 2);
  EXPECT_EQ(weir({"tail", dir(), "t", "--from", "yesterday"}).rc, 2);
  EXPECT_EQ(weir({"tail", dir(), "t", "--from", "2026-11-27T10:00:00"}).rc, 2);  // no zone
  EXPECT_EQ(weir({"tail", dir(), "t", "--from", "2026-02-30T10:00:00Z"}).rc, 2);
  EXPECT_EQ(weir({"tail", dir(), "t", "--from", "-5"}).rc, 2);
  EXPECT_EQ(weir({"seek", dir(), "t", "--group", "g", "--to", "soon", "--execute"}).rc, 2);
  EXPECT_EQ(weir({"dlq", "list", dir(), "--failed-from", "noon"}).rc, 2);
  // A negative count, offset or size is refused by name (CLI11 alone would
  // read "-1" into an unsigned option as its largest value).
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"tail", dir(), "t", "--max", "-1"},
           {"consume", dir(), "t", "--group", "g", "--max", "-1"},
           {"dlq", "list", dir(), "--limit", "-1"},
           {"dlq", "list", dir(), "--offset", "-2"},
           {"dlq", "show", dir(), "-1", "--group", "g"},
           {"dlq", "redrive", dir(), "--group", "g", "--limit", "-1"},
           {"dlq", "purge", dir(), "--group", "g", "--offset", "-1"},
           {"alter-topic", dir(), "t", "--quota-bytes", "-1"},
           {"alter-topic", dir(), "t", "--retention-bytes", "-1"},
           {"alter-topic", dir(), "t", "--retention-events", "-1"},
           {"top", dir(), "--iterations", "-1"}}) {
    auto n = weir(args);
    EXPECT_EQ(n.rc, 2) << args[0] << " " << args[3] << ": " << n.err;
    expect_one_line_error(n, "is negative; give 0 or more");
  }
  // A count that is a word or out of range says which (CLI11's Range said
  // "not in range" for both).
  auto word = weir({"set-workers", dir(), "g", "abc"});
  EXPECT_EQ(word.rc, 2);
  expect_one_line_error(word, "abc is not a whole number (give 1..4096)");
  auto big = weir({"produce", dir(), "t", "--partitions", "5000"});
  EXPECT_EQ(big.rc, 2);
  expect_one_line_error(big, "5000 is outside 1..4096");
  auto levels = weir({"produce", dir(), "t", "--partitions", "1", "--priority-levels", "-1"});
  EXPECT_EQ(levels.rc, 2);
  expect_one_line_error(levels, "-1 is not a whole number (give 1..8)");
  EXPECT_FALSE(std::filesystem::exists(dir())) << "a usage error must not touch the directory";
}

TEST_F(CliTest, UnknownCommandIsNamed) {
  auto r = weir({"nosuchcommand", dir()});
  EXPECT_EQ(r.rc, 2);
  expect_one_line_error(r, "unknown command 'nosuchcommand'");
  EXPECT_NE(r.err.find("topics"), std::string::npos) << "lists the commands: " << r.err;
  auto d = weir({"dlq", "lst", dir()});
  EXPECT_EQ(d.rc, 2);
  expect_one_line_error(d, "unknown command 'dlq lst'");
}

// Without permission to read DIR the error names the permission problem,
// not a missing data.mdb. Root is not subject to permissions, so as root
// weir runs as nobody (setpriv).
TEST_F(CliTest, UnreadableDirectoryNamesThePermissionProblem) {
  produce("orders", 1, lines(0, 3));
  std::vector<std::string> prefix;
  if (::geteuid() == 0) {
    if (!std::filesystem::exists("/usr/bin/setpriv")) GTEST_SKIP() << "root, and no setpriv to drop privileges";
    prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  std::filesystem::permissions(dir(), std::filesystem::perms::none);
  auto r = testing::Child({"topics", dir()}, "", io(), prefix).wait();
  std::filesystem::permissions(dir(), std::filesystem::perms::owner_all);
  EXPECT_EQ(r.rc, 1);
  expect_one_line_error(r, "Permission denied");
  EXPECT_EQ(r.err.find("no data.mdb"), std::string::npos) << r.err;
}

TEST_F(CliTest, MissingDirectoryIsARuntimeErrorAndNothingIsCreated) {
  const std::vector<std::vector<std::string>> cmds = {
      {"topics", dir()},
      {"describe", dir(), "t"},
      {"groups", dir()},
      {"tail", dir(), "t"},
      {"stats", dir()},
      {"verify", dir()},
      {"top", dir(), "--iterations", "1"},
      {"dlq", "list", dir()},
      {"dlq", "show", dir(), "0", "--group", "g"},
      {"consume", dir(), "t", "--group", "g"},
      {"seek", dir(), "t", "--group", "g", "--to", "earliest"},
      {"dlq", "purge", dir(), "--group", "g", "--all"},
      {"produce", dir(), "t"},
      {"salvage", dir(), (root_.path() / "out").string()},
  };
  for (const auto& c : cmds) {
    auto r = weir(c, "k\tv\n");
    EXPECT_EQ(r.rc, 1) << c[0] << ": " << r.err;
    expect_one_line_error(r, "does not exist");
  }
  EXPECT_FALSE(std::filesystem::exists(dir()));
}

TEST_F(CliTest, ProduceDescribeTopicsTail) {
  auto r = weir({"produce", dir(), "orders", "--partitions", "4"}, lines(0, 100));
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto out = r.lines();
  ASSERT_EQ(out.size(), 100u);
  // partition<TAB>offset per line, in input order: offsets count up per partition.
  std::map<int, int> next;
  std::map<std::string, int> part_of_key;
  for (int i = 0; i < 100; ++i) {
    const auto tab = out[i].find('\t');
    ASSERT_NE(tab, std::string::npos) << out[i];
    const int p = std::stoi(out[i].substr(0, tab)), off = std::stoi(out[i].substr(tab + 1));
    EXPECT_EQ(off, next[p]++) << "line " << i;
    part_of_key["key" + std::to_string(i)] = p;
  }
  // The same key always lands on the same partition (Kafka's partitioner).
  auto again = weir({"produce", dir(), "orders", "--ack", "fsync"}, "key7\tagain\nkey42\tagain\n");
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(again.lines()[0], std::to_string(part_of_key["key7"]) + "\t" + std::to_string(next[part_of_key["key7"]]));
  auto none = weir({"produce", dir(), "orders", "--ack", "none", "--json"}, "key1\tx\n");
  ASSERT_EQ(none.rc, 0) << none.err;
  EXPECT_EQ(none.rows().at(0)["line"], 1);
  // --partitions only creates: another count is refused, pointing at alter-topic (partitions can grow).
  auto other = weir({"produce", dir(), "orders", "--partitions", "3"}, "key1\tx\n");
  EXPECT_EQ(other.rc, 1);
  expect_one_line_error(other, "topic 'orders' has 4 partitions, not 3 (--partitions only creates a topic; grow it "
                               "with `weir alter-topic");
  EXPECT_TRUE(other.out.empty()) << other.out;

  auto d = weir({"describe", dir(), "orders", "--json"});
  ASSERT_EQ(d.rc, 0) << d.err;
  std::uint64_t total = 0;
  ASSERT_EQ(d.rows().size(), 4u);
  for (const json& row : d.rows()) {
    EXPECT_EQ(row["topic"], "orders");
    EXPECT_EQ(row["start"], 0);
    EXPECT_GT(row["bytes"].get<std::uint64_t>(), 0u);
    total += row["end"].get<std::uint64_t>();
  }
  EXPECT_EQ(total, 103u);
  auto human = weir({"describe", dir(), "orders"});
  EXPECT_EQ(human.lines().at(0).rfind("TOPIC", 0), 0u) << human.out;

  auto t = weir({"topics", dir(), "--json"});
  ASSERT_EQ(t.rc, 0);
  ASSERT_EQ(t.rows().size(), 1u);
  EXPECT_EQ(t.rows()[0]["partitions"], 4);
  EXPECT_EQ(t.rows()[0]["events"], 103);

  auto all = weir({"tail", dir(), "orders", "--json"});
  ASSERT_EQ(all.rc, 0) << all.err;
  const auto rows = all.rows();
  ASSERT_EQ(rows.size(), 103u);
  std::set<std::string> ids;
  for (const json& row : rows) {
    for (const char* f : {"topic", "partition", "offset", "key", "value", "id", "time", "headers"})
      EXPECT_TRUE(row.contains(f)) << f;
    if (row["key"] != "key7" && row["key"] != "key42" && row["key"] != "key1") {
      EXPECT_EQ(row["value"], "value-" + row["key"].get<std::string>().substr(3));
    }
    ids.insert(row["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 103u) << "derived ids are distinct";
  // The same ids on a second read (derived from the journal's id).
  EXPECT_EQ(weir({"tail", dir(), "orders", "--json"}).rows()[5]["id"], rows[5]["id"]);

  auto p1 = weir({"tail", dir(), "orders", "--partition", "1", "--from", "2", "--json", "--max", "3"});
  ASSERT_EQ(p1.rc, 0) << p1.err;
  ASSERT_EQ(p1.rows().size(), 3u);
  EXPECT_EQ(p1.rows()[0]["partition"], 1);
  EXPECT_EQ(p1.rows()[0]["offset"], 2);
  EXPECT_EQ(weir({"tail", dir(), "orders", "--from", "latest"}).lines().size(), 1u);  // the header only

  auto bad = weir({"tail", dir(), "orders", "--partition", "0", "--from", "999"});
  EXPECT_EQ(bad.rc, 1);
  expect_one_line_error(bad, "valid 0..");
  auto badp = weir({"tail", dir(), "orders", "--partition", "9"});
  EXPECT_EQ(badp.rc, 1);
  expect_one_line_error(badp, "has 4 partitions");
  auto unknown = weir({"tail", dir(), "nope"});
  EXPECT_EQ(unknown.rc, 1);
  expect_one_line_error(unknown, "topic 'nope' not found");
  EXPECT_EQ(weir({"describe", dir(), "nope"}).rc, 1);
}

TEST_F(CliTest, TailFromTimeAndFollow) {
  produce("clicks", 2, lines(0, 5, "a"));
  std::this_thread::sleep_for(30ms);
  const auto t = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  std::this_thread::sleep_for(30ms);
  produce("clicks", 2, lines(0, 3, "b"));
  auto r = weir({"tail", dir(), "clicks", "--from", "@" + std::to_string(t), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.rows().size(), 3u);
  for (const json& row : r.rows()) EXPECT_EQ(row["key"].get<std::string>()[0], 'b');
  // The ISO-8601 form of the same instant selects the same events.
  const std::time_t secs = t / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char iso[64];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(t % 1000));
  EXPECT_EQ(weir({"tail", dir(), "clicks", "--from", iso, "--json"}).rows().size(), 3u) << iso;

  // --follow sees events published after it started.
  testing::Child follow({"tail", dir(), "clicks", "--from", "latest", "--follow", "--max", "2", "--json"}, "", io());
  std::this_thread::sleep_for(300ms);
  produce("clicks", 2, "late1\tx\nlate2\ty\n");
  auto f = follow.wait(20s);
  ASSERT_EQ(f.rc, 0) << f.err;
  ASSERT_EQ(f.rows().size(), 2u) << f.out;
  std::set<std::string> keys;
  for (const json& row : f.rows()) keys.insert(row["key"]);
  EXPECT_EQ(keys, (std::set<std::string>{"late1", "late2"}));
}

// Priority lanes from the command line: --priority-levels creates the topic
// with lanes, --priority publishes at a level (stored as weir_priority), a
// level the topic lacks is refused naming its levels.
TEST_F(CliTest, ProducePriorityLanes) {
  auto r = weir({"produce", dir(), "jobs", "--partitions", "1", "--priority-levels", "3", "--priority", "2"},
                "a\turgent\n");
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(weir({"produce", dir(), "jobs"}, "b\tbulk\n").rc, 0);
  bool found = false;
  for (const json& row : weir({"topics", dir(), "--json"}).rows())
    if (row["topic"] == "jobs") {
      EXPECT_EQ(row["priority_levels"], 3);
      found = true;
    }
  EXPECT_TRUE(found);
  auto rows = weir({"tail", dir(), "jobs", "--json"}).rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["headers"], json::parse(R"([{"name":"weir_priority","value":"2"}])"));
  EXPECT_TRUE(rows[1]["headers"].empty()) << "priority 0 is stored as no header";
  auto bad = weir({"produce", dir(), "jobs", "--priority", "3"}, "c\tx\n");
  EXPECT_EQ(bad.rc, 1);
  expect_one_line_error(bad, "topic 'jobs' has 3 priority levels (0..2)");
  EXPECT_EQ(weir({"produce", dir(), "jobs", "--partitions", "1", "--priority-levels", "9"}, "c\tx\n").rc, 2);
}

TEST_F(CliTest, ProduceRejectsMalformedLinesAfterAckingTheOnesBefore) {
  produce("orders", 2, "a\t1\n");
  auto r = weir({"produce", dir(), "orders"}, "b\t2\nc\t3\nno tab here\nd\t4\n");
  EXPECT_EQ(r.rc, 1);
  expect_one_line_error(r, "stdin line 3");
  EXPECT_EQ(r.lines().size(), 2u) << "lines 1-2 are printed (acked)";
  auto rows = weir({"tail", dir(), "orders", "--json"}).rows();
  std::set<std::string> keys;
  for (const json& row : rows) keys.insert(row["key"]);
  EXPECT_EQ(keys, (std::set<std::string>{"a", "b", "c"}));

  auto unknown = weir({"produce", dir(), "other"}, "a\t1\n");
  EXPECT_EQ(unknown.rc, 1);
  expect_one_line_error(unknown, "--partitions");
  auto mismatch = weir({"produce", dir(), "orders", "--partitions", "8"}, "a\t1\n");
  EXPECT_EQ(mismatch.rc, 1);
  expect_one_line_error(mismatch, "has 2 partitions");
  // An empty key is fine; bytes that are not UTF-8 come back as base64.
  ASSERT_EQ(weir({"produce", dir(), "orders"}, "\tno key\nbin\t\xff\xfe\n").rc, 0);
  auto t = weir({"tail", dir(), "orders", "--json"}).rows();
  bool saw_b64 = false;
  for (const json& row : t)
    if (row.contains("value_b64")) {
      EXPECT_EQ(row["value_b64"], "//4=");
      EXPECT_EQ(row["key"], "bin");
      saw_b64 = true;
    }
  EXPECT_TRUE(saw_b64);
}

TEST_F(CliTest, ConsumePrintsCommitsAndResumes) {
  produce("orders", 3, lines(0, 30));
  auto first = weir({"consume", dir(), "orders", "--group", "billing", "--max", "10", "--json"});
  ASSERT_EQ(first.rc, 0) << first.err;
  ASSERT_EQ(first.rows().size(), 10u);
  std::uint64_t sum = 0;
  for (const auto& [p, off] : committed("billing")) sum += off;
  EXPECT_EQ(sum, 10u) << "exactly the printed events are committed";
  auto rest = weir({"consume", dir(), "orders", "--group", "billing", "--idle-exit-ms", "0", "--json"});
  ASSERT_EQ(rest.rc, 0) << rest.err;
  EXPECT_EQ(rest.rows().size(), 20u);
  std::set<std::string> keys;
  for (const auto& r : {first, rest})
    for (const json& row : r.rows()) EXPECT_TRUE(keys.insert(row["key"]).second) << "duplicate " << row["key"];
  EXPECT_EQ(keys.size(), 30u);
  for (const json& row : weir({"groups", dir(), "--json", "--group", "billing"}).rows()) EXPECT_EQ(row["lag"], 0);
  // Caught up: nothing more; --from earliest replays everything.
  EXPECT_EQ(weir({"consume", dir(), "orders", "--group", "billing", "--idle-exit-ms", "0", "--json"}).rows().size(), 0u);
  EXPECT_EQ(weir({"consume", dir(), "orders", "--group", "billing", "--from", "earliest", "--idle-exit-ms", "0",
                  "--json"}).rows().size(), 30u);
  // --idle-exit-ms waits for events another process publishes.
  testing::Child waiting({"consume", dir(), "orders", "--group", "billing", "--idle-exit-ms", "1500", "--json"}, "",
                         io());
  std::this_thread::sleep_for(300ms);
  produce("orders", 3, "late\tevent\n");
  auto w = waiting.wait(20s);
  ASSERT_EQ(w.rc, 0) << w.err;
  ASSERT_EQ(w.rows().size(), 1u) << w.out;
  EXPECT_EQ(w.rows()[0]["key"], "late");

  auto unknown = weir({"consume", dir(), "nope", "--group", "g"});
  EXPECT_EQ(unknown.rc, 1);
  expect_one_line_error(unknown, "topic 'nope' not found");
  EXPECT_EQ(weir({"consume", dir(), "orders", "--group", "bad group!"}).rc, 2);
}

TEST_F(CliTest, SeekMovesOffsets) {
  produce("orders", 2, lines(0, 20));
  auto r = weir({"seek", dir(), "orders", "--group", "g", "--to", "latest", "--json", "--create", "--execute"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.rows().size(), 2u);
  for (const json& row : r.rows()) EXPECT_EQ(row["lag"], 0);
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "1", "--partition", "0", "--execute"}).rc, 0);
  EXPECT_EQ(committed("g")[0], 1u);
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "earliest", "--execute"}).rc, 0);
  EXPECT_EQ(committed("g")[1], 0u);
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "2000-01-01T00:00:00Z", "--execute"}).rc, 0);
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "2999-01-01T00:00:00Z", "--execute"}).rc, 0);
  for (const json& row : weir({"groups", dir(), "--json"}).rows()) EXPECT_EQ(row["lag"], 0);  // past the newest

  auto out_of_range = weir({"seek", dir(), "orders", "--group", "g", "--to", "500", "--execute"});
  EXPECT_EQ(out_of_range.rc, 1);
  expect_one_line_error(out_of_range, "valid 0..");
  EXPECT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "0", "--partition", "7", "--execute"}).rc, 1);
  EXPECT_EQ(weir({"seek", dir(), "nope", "--group", "g", "--to", "0", "--execute"}).rc, 1);
  auto typo = weir({"seek", dir(), "orders", "--group", "gg", "--to", "0", "--execute"});  // never seen: not created
  EXPECT_EQ(typo.rc, 1);
  expect_one_line_error(typo, "known groups: g");
}

// The dry run refuses what --execute refuses: a group that never consumed
// the topic is an error naming the known groups (and the CLI's --create),
// not a plan that --execute would then reject.
TEST_F(CliTest, SeekDryRunRefusesAGroupThatNeverConsumedTheTopic) {
  produce("orders", 2, lines(0, 10));
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "1", "--create", "--execute"}).rc, 0);
  for (const bool execute : {false, true}) {
    std::vector<std::string> args = {"seek", dir(), "orders", "--group", "gg", "--to", "earliest"};
    if (execute) args.push_back("--execute");
    auto r = weir(args);
    EXPECT_EQ(r.rc, 1) << "execute=" << execute << ": " << r.out;
    expect_one_line_error(r, "group 'gg' has never consumed topic 'orders' (known groups: g); add --create");
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  auto created = weir({"seek", dir(), "orders", "--group", "gg", "--to", "earliest", "--create", "--json"});
  ASSERT_EQ(created.rc, 0) << created.err;
  EXPECT_EQ(created.rows().size(), 2u);
  EXPECT_EQ(weir({"groups", dir(), "--group", "gg", "--json"}).rows().size(), 0u);  // a dry run changes nothing
}

TEST_F(CliTest, ReadOnlyCommandsWorkBesideALiveOwnerChangingOnesRefuse) {
  produce("orders", 2, lines(0, 10));
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "billing", "--to", "3", "--partition", "0", "--create", "--execute"}).rc, 0);
  const auto before = committed("billing");
  {
    Options o;
    o.data_dir = dir();
    o.control_socket = false;  // changing verbs cannot reach it (live_test.cpp has the socket's side)
    auto bus = Bus::open(o).value();  // the live owner
    ASSERT_TRUE(Inspector::owned(dir()).value());
    for (const std::vector<std::string>& c :
         std::vector<std::vector<std::string>>{{"topics", dir()}, {"describe", dir(), "orders"}, {"groups", dir()},
                                               {"tail", dir(), "orders"}, {"stats", dir()}, {"verify", dir()},
                                               {"top", dir(), "--iterations", "1"}}) {
      auto r = weir(c);
      EXPECT_EQ(r.rc, 0) << c[0] << ": " << r.err;
    }
    // New events of the owner show up in a reader.
    ASSERT_TRUE(bus->publish("orders", {.key = "live", .payload = "x"}, {.ack = Ack::kJournal}));
    EXPECT_EQ(weir({"tail", dir(), "orders", "--json"}).rows().size(), 11u);

    for (const std::vector<std::string>& c : std::vector<std::vector<std::string>>{
             {"seek", dir(), "orders", "--group", "billing", "--to", "earliest", "--execute"},
             {"consume", dir(), "orders", "--group", "billing", "--max", "1"},
             {"produce", dir(), "orders"},
             {"dlq", "purge", dir(), "--group", "billing", "--all"}}) {
      auto r = weir(c, "k\tv\n");
      EXPECT_EQ(r.rc, 1) << c[0];
      expect_one_line_error(r, "is in use by another process, and `weir " + c[0]);
      EXPECT_TRUE(r.out.empty()) << c[0] << " printed " << r.out;
    }
    ASSERT_TRUE(bus->close());
  }
  EXPECT_EQ(committed("billing"), before) << "a refused command modifies nothing";
  EXPECT_FALSE(Inspector::owned(dir()).value());
  EXPECT_EQ(weir({"seek", dir(), "orders", "--group", "billing", "--to", "earliest", "--execute"}).rc, 0);
}

TEST_F(CliTest, GroupsLagAndSkew) {
  // Lag 2 on partitions 0-4 (the median) and 60 on partition 5: only 5 is skewed.
  produce("orders", 6, lines(0, 600));
  auto d = weir({"describe", dir(), "orders", "--json"}).rows();
  ASSERT_EQ(d.size(), 6u);
  for (int p = 0; p < 6; ++p) {
    const std::uint64_t end = d[p]["end"];
    ASSERT_GE(end, 60u);
    ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", std::to_string(end - (p == 5 ? 60 : 2)),
                    "--partition", std::to_string(p), "--create", "--execute"}).rc, 0);
  }
  auto rows = weir({"groups", dir(), "--json"}).rows();
  ASSERT_EQ(rows.size(), 6u);
  for (const json& r : rows) {
    const int p = r["partition"];
    EXPECT_EQ(r["lag"], p == 5 ? 60 : 2);
    EXPECT_EQ(r["skewed"], p == 5) << "partition " << p;
    EXPECT_EQ(r["end"].get<std::uint64_t>() - r["committed"].get<std::uint64_t>(), r["lag"].get<std::uint64_t>());
  }
  auto human = weir({"groups", dir()});
  EXPECT_NE(human.out.find("SKEWED"), std::string::npos);
  EXPECT_EQ(weir({"groups", dir(), "--group", "nobody"}).rc, 1);
}

TEST_F(CliTest, DeadLetters) {
  make_dead_letters();
  auto l = weir({"dlq", "list", dir(), "--json"});
  ASSERT_EQ(l.rc, 0) << l.err;
  ASSERT_EQ(l.rows().size(), 3u);
  EXPECT_EQ(l.rows()[0]["group"], "billing");
  EXPECT_NE(l.rows()[0]["reason"].get<std::string>().find("declined"), std::string::npos);
  EXPECT_EQ(weir({"dlq", "list", dir(), "--group", "billing", "--reason", "address", "--json"}).rows().size(), 1u);
  EXPECT_EQ(weir({"dlq", "list", dir(), "--group", "billing", "--limit", "2", "--json"}).rows().size(), 2u);

  const std::uint64_t first = l.rows()[0]["dlq_offset"];
  auto s = weir({"dlq", "show", dir(), std::to_string(first), "--group", "billing", "--json"});
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_EQ(s.rows()[0]["value"].get<std::string>().substr(0, 3), "bad");
  EXPECT_EQ(s.rows()[0]["type"], "shop.order");
  EXPECT_FALSE(s.rows()[0]["headers"].empty());
  auto sh = weir({"dlq", "show", dir(), std::to_string(first), "--group", "billing"});
  EXPECT_NE(sh.out.find("reason"), std::string::npos);
  auto missing = weir({"dlq", "show", dir(), "999", "--group", "billing"});
  EXPECT_EQ(missing.rc, 1);
  expect_one_line_error(missing, "999");
  auto nogroup = weir({"dlq", "list", dir(), "--group", "nobody"});
  EXPECT_EQ(nogroup.rc, 1);
  expect_one_line_error(nogroup, "no dead-letter topic");

  auto dry = weir({"dlq", "redrive", dir(), "--group", "billing", "--dry-run", "--json"});
  ASSERT_EQ(dry.rc, 0) << dry.err;
  EXPECT_EQ(dry.rows().size(), 3u);
  EXPECT_EQ(dry.rows()[0]["action"], "would redrive");
  EXPECT_EQ(weir({"dlq", "list", dir(), "--json"}).rows().size(), 3u) << "a dry run moves nothing";

  const std::string key = l.rows()[0]["key"];
  auto redrive = weir({"dlq", "redrive", dir(), "--group", "billing", "--key", key, "--json"});
  ASSERT_EQ(redrive.rc, 0) << redrive.err;
  ASSERT_EQ(redrive.rows().size(), 1u);
  EXPECT_EQ(redrive.rows()[0]["action"], "redriven");
  EXPECT_EQ(weir({"dlq", "list", dir(), "--json"}).rows().size(), 2u);
  // The redriven event is back in its topic, marked for billing only.
  bool found = false;
  for (const json& row : weir({"tail", dir(), "orders", "--json"}).rows())
    for (const json& h : row["headers"])
      if (h["name"] == "weir.redrive.group" && h["value"] == "billing" && row["key"] == key) found = true;
  EXPECT_TRUE(found);

  auto nofilter = weir({"dlq", "purge", dir(), "--group", "billing"});
  EXPECT_EQ(nofilter.rc, 2);
  expect_one_line_error(nofilter, "--all");
  auto purge = weir({"dlq", "purge", dir(), "--group", "billing", "--all", "--json"});
  ASSERT_EQ(purge.rc, 0) << purge.err;
  EXPECT_EQ(purge.rows()[0]["purged"], 2);
  EXPECT_EQ(weir({"dlq", "list", dir(), "--json"}).rows().size(), 0u);

  auto stats = weir({"stats", dir(), "--json"});
  ASSERT_EQ(stats.rc, 0) << stats.err;
  std::set<std::string> kinds;
  for (const json& row : stats.rows()) {
    kinds.insert(row["kind"]);
    if (row["kind"] == "dlq") {
      EXPECT_EQ(row["depth"], 0);
    } else if (row["kind"] == "journal") {
      EXPECT_GT(row["map_bytes"].get<std::uint64_t>(), 0u);
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"topic", "group", "dlq", "journal"}));
}

TEST_F(CliTest, VerifyFindsACorruptedByte) {
  produce("orders", 1, "a\tfirst\nb\tCORRUPT-ME-PLEASE\nc\tthird\n");
  auto ok = weir({"verify", dir()});
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("no problems"), std::string::npos);
  // Flip one byte of the second record's payload in a copy of the journal.
  const auto copy = root_.path() / "copy";
  std::filesystem::copy(dir(), copy);
  std::string bytes;
  {
    std::ifstream f(copy / "data.mdb", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  // Every copy of it: a commit that rewrote the page leaves an older copy
  // in a free page (harmless damage there, which the check rightly ignores).
  const std::string_view mark = "CORRUPT-ME-PLEASE";
  int copies = 0;
  for (auto at = bytes.find(mark); at != std::string::npos; at = bytes.find(mark, at + mark.size()), ++copies)
    bytes[at + 3] ^= 0x20;
  ASSERT_GT(copies, 0);
  {
    std::ofstream f(copy / "data.mdb", std::ios::binary | std::ios::trunc);
    f << bytes;
  }
  auto bad = weir({"verify", copy.string(), "--json"});
  EXPECT_EQ(bad.rc, 3) << bad.out << bad.err;
  ASSERT_EQ(bad.rows().size(), 1u) << bad.out;
  EXPECT_EQ(bad.rows()[0]["topic"], "orders");
  EXPECT_EQ(bad.rows()[0]["partition"], 0);
  EXPECT_EQ(bad.rows()[0]["offset"], 1);
  EXPECT_NE(bad.rows()[0]["problem"].get<std::string>().find("checksum"), std::string::npos);
  // tail stops at the bad record with an error naming it.
  auto t = weir({"tail", copy.string(), "orders", "--json"});
  EXPECT_EQ(t.rc, 1);
  EXPECT_EQ(t.rows().size(), 1u);
  expect_one_line_error(t, "offset 1");
  EXPECT_EQ(weir({"verify", dir()}).rc, 0) << "the original is untouched";

  // Not a journal at all.
  const auto junk = root_.path() / "junk";
  std::filesystem::create_directories(junk);
  { std::ofstream(junk / "data.mdb") << "this is not an LMDB file, it is just text padded out" << std::string(8192, 'x'); }
  auto j = weir({"verify", junk.string()});
  EXPECT_EQ(j.rc, 3) << j.out << j.err;
  EXPECT_NE(j.out.find("not a readable LMDB journal"), std::string::npos) << j.out;
}

TEST_F(CliTest, TopPrintsBoundedSnapshots) {
  produce("orders", 2, lines(0, 10));
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "g", "--to", "earliest", "--create", "--execute"}).rc, 0);
  auto j = weir({"top", dir(), "--iterations", "2", "--interval-ms", "50", "--json"});
  ASSERT_EQ(j.rc, 0) << j.err;
  std::set<int> iterations;
  for (const json& row : j.rows()) {
    iterations.insert(row["iteration"].get<int>());
    if (row["kind"] == "partition") {
      EXPECT_EQ(row["group"], "g");
      if (row["iteration"] == 1) {
        EXPECT_TRUE(row["consume_per_s"].is_null());
      } else {
        EXPECT_TRUE(row["consume_per_s"].is_number());
      }
    }
  }
  EXPECT_EQ(iterations, (std::set<int>{1, 2}));
  auto plain = weir({"top", dir(), "--iterations", "2", "--interval-ms", "50"});
  ASSERT_EQ(plain.rc, 0);
  EXPECT_EQ(plain.out.find('\x1b'), std::string::npos) << "no escape codes when stdout is not a terminal";
  EXPECT_NE(plain.out.find("LAG"), std::string::npos);
  EXPECT_EQ(weir({"top", dir(), "--interval-ms", "1"}).rc, 2);
}

// --- review fixes: each test below failed before its fix --------------------

TEST_F(CliTest, TopicNotFoundNamesTheDirectoryInEveryCommand) {
  produce("orders", 1, "a\tone\n");
  ASSERT_EQ(weir({"consume", dir(), "orders", "--group", "g", "--idle-exit-ms", "0"}).rc, 0);
  const std::string want = "topic 'nope' not found in '" + dir() + "'";
  const std::vector<std::vector<std::string>> cmds = {
      {"status", dir(), "nope", "--group", "g", "--key", "a"},
      {"alter-topic", dir(), "nope", "--capacity", "100"},
      {"delete-topic", dir(), "nope", "--yes"},
      {"describe", dir(), "nope"},
      {"tail", dir(), "nope"},
      {"consume", dir(), "nope", "--group", "g"},
      {"produce", dir(), "nope"},
  };
  for (const auto& c : cmds) {
    auto r = weir(c, "a\tb\n");
    EXPECT_EQ(r.rc, 1) << c[0] << ": " << r.err;
    expect_one_line_error(r, want);
  }
  EXPECT_NE(weir({"produce", dir(), "nope"}, "a\tb\n").err.find(want + " (give --partitions N"), std::string::npos);
}

TEST_F(CliTest, GroupsNamesAnUnknownTopicOrGroup) {
  produce("orders", 1, "a\tone\n");
  produce("other", 1, "a\tone\n");
  ASSERT_EQ(weir({"consume", dir(), "orders", "--group", "s1", "--idle-exit-ms", "0"}).rc, 0);
  auto t = weir({"groups", dir(), "--topic", "nope"});
  EXPECT_EQ(t.rc, 1) << t.out;
  expect_one_line_error(t, "topic 'nope' not found in '" + dir() + "'");
  auto gt = weir({"groups", dir(), "--group", "s1", "--topic", "nope"});
  EXPECT_EQ(gt.rc, 1);
  expect_one_line_error(gt, "topic 'nope' not found");
  auto go = weir({"groups", dir(), "--group", "s1", "--topic", "other"});
  EXPECT_EQ(go.rc, 1);
  expect_one_line_error(go, "group 's1' has no committed offsets on topic 'other'");
  auto g = weir({"groups", dir(), "--group", "nope"});
  EXPECT_EQ(g.rc, 1);
  expect_one_line_error(g, "(known groups: s1)");
  EXPECT_EQ(weir({"groups", dir(), "--topic", "other"}).rc, 0) << "a known topic without groups is no error";
}

TEST_F(CliTest, AlterTopicOutOfRangeValuesAreUsageErrors) {
  produce("orders", 1, "a\tone\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--capacity", "5"}, "--capacity: 5 is outside 16..16777216"},
      {{"--capacity", "0"}, "--capacity: 0 is outside 16..16777216"},
      {{"--capacity", "abc"}, "abc is not a whole number"},
      {{"--max-payload-bytes", "0"}, "--max-payload-bytes: 0 is outside 1..67108864"},
      {{"--max-key-bytes", "65537"}, "--max-key-bytes: 65537 is outside 0..65536"},
      {{"--block-timeout-ms", "-1"}, "-1 is negative"},
  };
  for (const auto& [opts, want] : bad) {
    std::vector<std::string> args = {"alter-topic", dir(), "orders"};
    args.insert(args.end(), opts.begin(), opts.end());
    auto r = weir(args);
    EXPECT_EQ(r.rc, 2) << opts[0] << ": " << r.err;
    expect_one_line_error(r, want);
  }
  auto ok = weir({"alter-topic", dir(), "orders", "--capacity", "16", "--max-payload-bytes", "67108864",
                  "--block-timeout-ms", "0", "--json"});
  EXPECT_EQ(ok.rc, 0) << ok.err;
}

TEST_F(CliTest, VerifyAndSalvageTreatAnEmptyDataFileAsNeverCommitted) {
  std::filesystem::create_directories(dir());
  { std::ofstream(std::filesystem::path(dir()) / "data.mdb"); }
  auto v = weir({"verify", dir()});
  EXPECT_EQ(v.rc, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("never committed to"), std::string::npos) << v.out;
  EXPECT_EQ(v.err, "");
  const std::string out = (root_.path() / "out").string();
  auto s = weir({"salvage", dir(), out});
  EXPECT_EQ(s.rc, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("nothing to copy"), std::string::npos) << s.out;
  EXPECT_FALSE(std::filesystem::exists(out));
  auto sj = weir({"salvage", dir(), out, "--json"});
  EXPECT_EQ(sj.rc, 0);
  ASSERT_EQ(sj.rows().size(), 1u) << sj.out;
  EXPECT_EQ(sj.rows()[0]["complete"], true);
}

// Runs weir with stdout a pipe nobody reads any more (`| head` once it quit).
RunResult weir_into_closed_pipe(const std::vector<std::string>& args, const std::filesystem::path& scratch) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  std::filesystem::create_directories(scratch);
  const std::string err = (scratch / "closed-pipe.err").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> full = {WEIR_CLI_PATH};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  RunResult r;
  if (posix_spawn(&pid, full[0].c_str(), &fa, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::ifstream f(err);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  return r;
}

TEST_F(CliTest, ClosedStdoutEndsTailAndConsumeWithExitZero) {
  produce("orders", 1, lines(0, 20));
  const std::vector<std::vector<std::string>> cmds = {
      {"tail", dir(), "orders"}, {"consume", dir(), "orders", "--group", "g", "--idle-exit-ms", "0"}};
  for (const auto& args : cmds) {
    auto r = weir_into_closed_pipe(args, io());
    EXPECT_EQ(r.rc, 0) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err, "") << args[0];
  }
  EXPECT_TRUE(committed("g").empty()) << "nothing reached stdout, so nothing is committed";
}

TEST_F(CliTest, PriorityLevelsWithoutPartitionsIsAUsageError) {
  produce("orders", 1, "a\tone\n");
  auto r = weir({"produce", dir(), "orders", "--priority-levels", "2"}, "a\tb\n");
  EXPECT_EQ(r.rc, 2) << r.err;
  expect_one_line_error(r, "--priority-levels only applies to a topic that --partitions creates");
  EXPECT_EQ(weir({"describe", dir(), "orders", "--json"}).rows()[0]["end"], 1) << "nothing published";
  // With --partitions on an existing topic, the levels must be the topic's.
  auto differ = weir({"produce", dir(), "orders", "--partitions", "1", "--priority-levels", "3"}, "a\tb\n");
  EXPECT_EQ(differ.rc, 2) << differ.err;
  expect_one_line_error(differ, "topic 'orders' has 1 priority level(s), not 3");
  EXPECT_EQ(weir({"produce", dir(), "orders", "--partitions", "1", "--priority-levels", "1"}, "a\tb\n").rc, 0);
}

TEST_F(CliTest, AlterTopicRefusesANegativeRetentionAge) {
  produce("orders", 1, "a\tone\n");
  auto r = weir({"alter-topic", dir(), "orders", "--retention-age", "-P1D"});
  EXPECT_EQ(r.rc, 2) << r.out;
  expect_one_line_error(r, "--retention-age '-P1D' is negative");
  EXPECT_EQ(weir({"topics", dir(), "--json"}).rows()[0]["retention_age_s"], 0) << r.out;
}

TEST_F(CliTest, SalvageDlqAndStateHelpEndWithTheirOwnExamples) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> helps = {
      {{"salvage", "--help"}, "weir salvage DIR"},
      {{"dlq", "--help"}, "weir dlq list DIR"},
      {{"state", "--help"}, "weir state get DIR"},
  };
  for (const auto& [args, want] : helps) {
    auto h = weir(args);
    EXPECT_EQ(h.rc, 0);
    EXPECT_NE(h.out.find(want), std::string::npos) << args[0] << ": " << h.out;
    EXPECT_EQ(h.out.find("weir groups /var/lib/shop/bus"), std::string::npos) << args[0] << ": global examples";
  }
}

TEST_F(CliTest, RateAndIntervalMessagesSayWhatIsWrong) {
  make_dead_letters();
  auto neg = weir({"dlq", "redrive", dir(), "--group", "billing", "--rate", "-1"});
  EXPECT_EQ(neg.rc, 2);
  expect_one_line_error(neg, "--rate: -1 is negative (give events per second, or 0 for no limit)");
  auto word = weir({"dlq", "redrive", dir(), "--group", "billing", "--rate", "fast"});
  EXPECT_EQ(word.rc, 2);
  expect_one_line_error(word, "fast is not a number");
  auto iv = weir({"top", dir(), "--interval-ms", "abc"});
  EXPECT_EQ(iv.rc, 2);
  expect_one_line_error(iv, "--interval-ms: abc is not a whole number (give 10..3600000)");
  EXPECT_EQ(weir({"dlq", "redrive", dir(), "--group", "billing", "--rate", "0.5", "--dry-run"}).rc, 0);
}

TEST_F(CliTest, SeekToWhereTheGroupAlreadyIsReportsUnchanged) {
  produce("orders", 1, lines(0, 3));
  ASSERT_EQ(weir({"consume", dir(), "orders", "--group", "g", "--idle-exit-ms", "0"}).rc, 0);
  for (bool execute : {false, true}) {
    std::vector<std::string> args = {"seek", dir(), "orders", "--group", "g", "--shift-by", "20", "--json"};
    if (execute) args.push_back("--execute");
    auto r = weir(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(r.rows().size(), 1u);
    EXPECT_EQ(r.rows()[0]["old"], 3);
    EXPECT_EQ(r.rows()[0]["new"], 3);
    EXPECT_EQ(r.rows()[0]["action"], "unchanged");
  }
  auto back = weir({"seek", dir(), "orders", "--group", "g", "--shift-by", "-1", "--json"});
  EXPECT_NE(back.rows()[0]["action"].get<std::string>().find("would move"), std::string::npos);
}

}  // namespace
}  // namespace weir
