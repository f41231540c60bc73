// The `weir` tool against a live owner: this test process owns the data
// directory (a Bus with its control socket) while `weir` runs as a child
// process. Every changing verb is checked through the Bus API afterwards;
// the control protocol is fed bad input directly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "run_util.hpp"
#include "../unit/test_util.hpp"
#include "weir/control.hpp"

namespace weir {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RunResult;

std::string lines(int from, int to, const std::string& prefix = "key") {
  std::string s;
  for (int i = from; i < to; ++i) s += prefix + std::to_string(i) + "\tvalue-" + std::to_string(i) + "\n";
  return s;
}

class LiveTest : public ::testing::Test {
 protected:
  LiveTest() : root_("live-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {}
  std::string dir() const { return (root_.path() / "bus").string(); }
  RunResult weir(std::vector<std::string> args, const std::string& input = "") {
    return testing::run_weir(args, input, root_.path() / "io");
  }
  static void expect_error(const RunResult& r, int rc, const std::string& needle) {
    EXPECT_EQ(r.rc, rc) << r.err;
    EXPECT_EQ(r.err.rfind("weir: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  // The owner: topic "orders" (2 partitions, journaled) and group "billing",
  // which dead-letters payloads "bad-*" until `fixed` is set.
  void open_owner(Options o = {}) {
    o.data_dir = dir();
    bus_ = Bus::open(o).value();
    ASSERT_TRUE(bus_->create_topic("orders", {.partitions = 2, .durability = Durability::kJournaled}));
    ASSERT_TRUE(bus_->subscribe("orders", {.group = "billing"}, [this](const Message& m) {
      if (!fixed_.load(std::memory_order_acquire) && m.payload().substr(0, 3) == "bad")
        return Outcome::fail("declined: " + std::string(m.payload()));
      handled_.fetch_add(1, std::memory_order_relaxed);
      return Outcome::done();
    }));
  }
  std::uint64_t committed_sum(const std::string& group) {
    std::uint64_t sum = 0;
    for (const json& r : weir({"groups", dir(), "--json"}).rows())
      if (r["group"] == group && !r["committed"].is_null()) sum += r["committed"].get<std::uint64_t>();
    return sum;
  }

  testing::ScratchDir root_;
  std::unique_ptr<Bus> bus_;
  std::atomic<bool> fixed_{false};
  std::atomic<int> handled_{0};
};

TEST_F(LiveTest, EveryChangingVerbWorksAgainstALiveOwner) {
  open_owner();
  struct stat st {};
  ASSERT_EQ(::stat((std::filesystem::path(dir()) / kControlSocketName).c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // produce: partition<TAB>offset per line once acknowledged, as offline.
  auto p = weir({"produce", dir(), "orders", "--ack", "fsync"}, "k1\tok-1\nk2\tbad-card\nk3\tok-2\nk4\tbad-card\n");
  ASSERT_EQ(p.rc, 0) << p.err;
  ASSERT_EQ(p.lines().size(), 4u);
  for (const std::string& l : p.lines()) EXPECT_NE(l.find('\t'), std::string::npos) << l;
  auto t = bus_->topic("orders").value();
  EXPECT_EQ(p.lines()[0].substr(0, 1), std::to_string(t.partition_for("k1")));
  ASSERT_TRUE(testing::eventually([&] {
    auto l = bus_->dlq_list("billing");
    return l && l->size() == 2;
  }));
  // produce --partitions creates a topic through the owner.
  ASSERT_EQ(weir({"produce", dir(), "audit", "--partitions", "3"}, "a\tb\n").rc, 0);
  EXPECT_EQ(bus_->topic("audit").value().partitions(), 3u);
  expect_error(weir({"produce", dir(), "nope"}, "a\tb\n"), 1, "not found");
  expect_error(weir({"produce", dir(), "orders"}, "k\tv\nno-tab\n"), 1, "stdin line 2: no TAB");

  // consume --group: prints, then commits through the owner.
  auto c = weir({"consume", dir(), "orders", "--group", "cli", "--max", "3", "--json"});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_EQ(c.rows().size(), 3u);
  EXPECT_EQ(committed_sum("cli"), 3u);
  expect_error(weir({"consume", dir(), "orders", "--group", "billing", "--max", "1"}), 1,
               "subscribed in the owning process");

  // One `weir consume` per group at a time.
  {
    testing::Child first({"consume", dir(), "orders", "--group", "solo"}, "", root_.path() / "io");
    ASSERT_TRUE(testing::eventually([&] { return committed_sum("solo") > 0; }));
    expect_error(weir({"consume", dir(), "orders", "--group", "solo", "--max", "1"}), 1,
                 "is being consumed by another `weir consume`");
    expect_error(weir({"seek", dir(), "orders", "--group", "solo", "--to", "earliest", "--execute"}), 1,
                 "is being consumed by a `weir consume`");
    first.signal(SIGINT);
    RunResult r = first.wait();
    EXPECT_EQ(r.rc, 0) << r.err;
  }
  EXPECT_EQ(weir({"consume", dir(), "orders", "--group", "solo", "--idle-exit-ms", "0"}).rc, 0) << "released at its end";

  // seek: a dry run by default, then --execute.
  auto dry = weir({"seek", dir(), "orders", "--group", "cli", "--to", "earliest", "--json"});
  ASSERT_EQ(dry.rc, 0) << dry.err;
  ASSERT_EQ(dry.rows().size(), 2u);
  EXPECT_EQ(dry.rows()[0]["new"], 0);
  EXPECT_EQ(committed_sum("cli"), 3u) << "a dry run changes nothing";
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "cli", "--to", "earliest", "--execute"}).rc, 0);
  EXPECT_EQ(committed_sum("cli"), 0u);
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "cli", "--shift-by", "1", "--execute"}).rc, 0);
  EXPECT_EQ(committed_sum("cli"), 2u);
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "cli", "--to-duration", "-PT1H", "--execute"}).rc, 0);
  EXPECT_EQ(committed_sum("cli"), 0u);
  expect_error(weir({"seek", dir(), "orders", "--group", "billing", "--to", "latest", "--execute"}), 1,
               "is subscribed");

  // dlq redrive after the fix: the letters are handled.
  fixed_.store(true, std::memory_order_release);
  const int before = handled_.load();
  auto r = weir({"dlq", "redrive", dir(), "--group", "billing", "--reason", "card", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.rows().size(), 2u);
  EXPECT_EQ(r.rows()[0]["action"], "redriven");
  EXPECT_TRUE(testing::eventually([&] { return handled_.load() == before + 2; }));
  EXPECT_TRUE(bus_->dlq_list("billing").value().empty());

  // dlq purge.
  fixed_.store(false, std::memory_order_release);
  ASSERT_EQ(weir({"produce", dir(), "orders"}, "k9\tbad-again\n").rc, 0);
  ASSERT_TRUE(testing::eventually([&] { return bus_->dlq_list("billing").value().size() == 1; }));
  auto purge = weir({"dlq", "purge", dir(), "--group", "billing", "--all", "--json"});
  ASSERT_EQ(purge.rc, 0) << purge.err;
  EXPECT_EQ(purge.rows()[0]["purged"], 1);
  EXPECT_TRUE(bus_->dlq_list("billing").value().empty());

  // pause, resume, set-workers.
  auto paused = [&] {
    const MetricsSnapshot m = bus_->metrics().value();
    for (const GroupMetrics& g : m.groups)
      if (g.group == "billing") return g.paused;
    return false;
  };
  ASSERT_EQ(weir({"pause", dir(), "billing"}).rc, 0);
  EXPECT_TRUE(paused());
  ASSERT_EQ(weir({"resume", dir(), "billing"}).rc, 0);
  EXPECT_FALSE(paused());
  ASSERT_EQ(weir({"pause", dir(), "billing", "--partition", "1"}).rc, 0);
  ASSERT_EQ(weir({"resume", dir(), "billing", "--partition", "1"}).rc, 0);
  expect_error(weir({"pause", dir(), "billing", "--partition", "9"}), 1, "out of range");
  expect_error(weir({"pause", dir(), "ghost"}), 1, "not found");
  // --topic: one topic of the group (Bus::pause_topic), named in the row.
  auto one = weir({"pause", dir(), "billing", "--topic", "orders", "--partition", "1", "--json"});
  ASSERT_EQ(one.rc, 0) << one.err;
  EXPECT_EQ(one.rows().at(0)["topic"], "orders");
  EXPECT_EQ(one.rows().at(0)["state"], "paused");
  EXPECT_TRUE(testing::eventually([&] {
    const MetricsSnapshot m = bus_->metrics().value();
    for (const GroupMetrics& g : m.groups)
      if (g.group == "billing") return g.partitions.at(1).paused && !g.partitions.at(0).paused;
    return false;
  }));
  ASSERT_EQ(weir({"resume", dir(), "billing", "--topic", "orders"}).rc, 0);
  EXPECT_FALSE(paused());
  expect_error(weir({"pause", dir(), "billing", "--topic", "nope"}), 1, "does not read topic 'nope'");
  ASSERT_EQ(weir({"set-workers", dir(), "billing", "2"}).rc, 0);
  EXPECT_TRUE(testing::eventually([&] {
    const MetricsSnapshot m = bus_->metrics().value();
    for (const GroupMetrics& g : m.groups)
      if (g.group == "billing") return g.workers == 2;
    return false;
  }));
  EXPECT_EQ(weir({"set-workers", dir(), "billing", "0"}).rc, 2);

  // After the owner stops, the offline tools see what the live verbs did,
  // and the socket is gone.
  ASSERT_TRUE(bus_->close());
  bus_.reset();
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir()) / kControlSocketName));
  EXPECT_EQ(committed_sum("cli"), 0u);
  expect_error(weir({"pause", dir(), "billing"}), 1, "no process owns");
  ASSERT_EQ(weir({"seek", dir(), "orders", "--group", "cli", "--to", "latest", "--execute"}).rc, 0);
  EXPECT_GT(committed_sum("cli"), 0u);
}

TEST_F(LiveTest, WeirDirVersionAndWithoutAControlSocket) {
  ASSERT_EQ(weir({"produce", dir(), "orders", "--partitions", "2"}, lines(0, 4)).rc, 0);
  for (const char* sub : {"topics", "describe", "groups", "tail", "produce", "consume", "seek", "verify", "stats",
                          "top", "pause", "resume", "set-workers", "console-url"}) {
    auto h = weir({sub, "--help"});
    EXPECT_EQ(h.rc, 0) << sub;
    EXPECT_NE(h.out.find("Example"), std::string::npos) << sub << " --help has no example";
  }
  for (const char* sub : {"list", "show", "redrive", "purge"})
    EXPECT_NE(weir({"dlq", sub, "--help"}).out.find("Example"), std::string::npos) << "dlq " << sub;
  EXPECT_NE(weir({"--help"}).out.find("Examples:"), std::string::npos);
  auto v = weir({"--version"});
  EXPECT_EQ(v.rc, 0);
  EXPECT_EQ(v.out.rfind("weir ", 0), 0u) << v.out;
  ::setenv("WEIR_DIR", dir().c_str(), 1);
  auto d = weir({"describe", "orders", "--json"});
  auto s = weir({"seek", "orders", "--group", "g", "--to", "latest", "--create", "--json"});
  ::unsetenv("WEIR_DIR");
  EXPECT_EQ(d.rc, 0) << d.err;
  EXPECT_EQ(d.rows().size(), 2u);
  EXPECT_EQ(s.rc, 0) << s.err;

  Options o;
  o.control_socket = false;
  o.data_dir = dir();
  auto bus = Bus::open(o).value();
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir()) / kControlSocketName));
  expect_error(weir({"produce", dir(), "orders"}, "k\tv\n"), 1, "control_socket off");
  ASSERT_TRUE(bus->close());
}

TEST_F(LiveTest, StaleSocketFromACrashedOwnerIsReplaced) {
  ASSERT_EQ(weir({"produce", dir(), "orders", "--partitions", "2"}, lines(0, 2)).rc, 0);
  // What a killed owner leaves: a socket file nobody listens on.
  const std::string path = (std::filesystem::path(dir()) / kControlSocketName).string();
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  EXPECT_EQ(weir({"produce", dir(), "orders"}, "k\tv\n").rc, 0) << "no owner: offline, the stale file ignored";
  open_owner();
  auto r = weir({"produce", dir(), "orders", "--json"}, "k\tv\n");
  EXPECT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(bus_->close());
  bus_.reset();
  // Something else at that name is not replaced.
  { std::ofstream(path) << "not a socket"; }
  Options o;
  o.data_dir = dir();
  auto refused = Bus::open(o);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("is not a socket"), std::string::npos) << refused.status().message();
}

// A raw protocol client.
class Raw {
 public:
  explicit Raw(const std::string& dir) : fd_(control_connect(dir).value()) {}
  ~Raw() { ::close(fd_); }
  void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }
  // Sends as much as the owner takes (it stops reading an oversized line).
  void send_lots(std::size_t bytes) {
    std::string chunk(64 * 1024, 'x');
    for (std::size_t sent = 0; sent < bytes;) {
      ssize_t n = ::send(fd_, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }
  json line() {
    std::string s;
    char ch;
    while (::recv(fd_, &ch, 1, 0) == 1 && ch != '\n') s += ch;
    return s.empty() ? json() : json::parse(s);
  }

 private:
  int fd_;
};

TEST_F(LiveTest, BadProtocolInputGetsAClearErrorAndTheOwnerStaysHealthy) {
  open_owner();
  Raw silent(dir());       // connects, says nothing
  Raw slow(dir());         // starts a line, never ends it
  slow.send("{\"verb\":\"pi");
  {
    Raw r(dir());
    r.send("this is not json\n");
    json e = r.line();
    EXPECT_EQ(e["ok"], false);
    EXPECT_NE(e["error"].get<std::string>().find("not JSON"), std::string::npos) << e;
    r.send("{\"verb\":\"reboot\"}\n");
    e = r.line();
    EXPECT_NE(e["error"].get<std::string>().find("unknown verb 'reboot'"), std::string::npos) << e;
    r.send("[1,2]\n");
    EXPECT_EQ(r.line()["ok"], false);
    r.send("{\"verb\":\"seek\",\"group\":7}\n");
    EXPECT_NE(r.line()["error"].get<std::string>().find("\"group\" must be a string"), std::string::npos);
    r.send("{\"verb\":\"publish\",\"topic\":\"orders\",\"events\":[{\"key_b64\":\"%%%\"}]}\n");
    EXPECT_NE(r.line()["error"].get<std::string>().find("not valid base64"), std::string::npos);
    r.send("{\"verb\":\"alter_topic\",\"topic\":\"orders\",\"changes\":{\"retention\":5}}\n");
    EXPECT_NE(r.line()["error"].get<std::string>().find("unknown field \"retention\" in \"changes\""),
              std::string::npos);
    r.send("{\"verb\":\"alter_topic\",\"topic\":\"orders\",\"changes\":{\"full_policy\":\"drop\"}}\n");
    EXPECT_NE(r.line()["error"].get<std::string>().find("must be one of block, reject, not 'drop'"),
              std::string::npos);
    r.send("{\"verb\":\"locate\",\"group\":\"billing\",\"topic\":\"orders\"}\n");
    EXPECT_NE(r.line()["error"].get<std::string>().find("exactly one of EventRef::id and EventRef::key"),
              std::string::npos);
    r.send("{\"verb\":\"ping\"}\n");
    EXPECT_EQ(r.line()["ok"], true) << "the connection survives a bad request";
  }
  {
    Raw big(dir());
    std::thread sender([&] { big.send_lots(10u << 20); });
    json e = big.line();
    sender.join();
    EXPECT_EQ(e["ok"], false);
    EXPECT_NE(e["error"].get<std::string>().find("request line over"), std::string::npos) << e;
  }
  // Meanwhile (silent and slow still connected) the owner serves others.
  EXPECT_EQ(weir({"produce", dir(), "orders", "--ack", "journal"}, "k\tv\n").rc, 0);
  json s = silent.line();
  EXPECT_NE(s["error"].get<std::string>().find("no request within"), std::string::npos) << s;
  json l = slow.line();
  EXPECT_NE(l["error"].get<std::string>().find("not completed within"), std::string::npos) << l;
  ASSERT_TRUE(bus_->publish("orders", {.key = "after", .payload = "ok"}, {.ack = Ack::kJournal}));
  EXPECT_TRUE(testing::eventually([&] { return bus_->describe_group("billing").value().partitions[0].lag == 0 &&
                                               bus_->describe_group("billing").value().partitions[1].lag == 0; }));
}

TEST_F(LiveTest, ConcurrentAdminRequestsUnderPublishingLoadLoseNothing) {
  open_owner();
  fixed_.store(true);
  std::atomic<bool> stop{false};
  std::atomic<int> published{0};
  std::thread load([&] {
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i)
      if (bus_->publish("orders", {.key = "load-" + std::to_string(i % 64), .payload = "x"}))
        published.fetch_add(1, std::memory_order_relaxed);
  });
  std::vector<std::unique_ptr<testing::Child>> kids;
  const auto io = root_.path() / "io";
  for (int k = 0; k < 3; ++k)
    kids.push_back(std::make_unique<testing::Child>(
        std::vector<std::string>{"produce", dir(), "orders", "--ack", "journal"},
        lines(0, 300, "cli" + std::to_string(k) + "-"), io));
  kids.push_back(std::make_unique<testing::Child>(std::vector<std::string>{"pause", dir(), "billing"}, "", io));
  kids.push_back(std::make_unique<testing::Child>(std::vector<std::string>{"set-workers", dir(), "billing", "2"}, "", io));
  kids.push_back(std::make_unique<testing::Child>(
      std::vector<std::string>{"consume", dir(), "orders", "--group", "audit", "--max", "200"}, "", io));
  int printed = 0;
  for (auto& k : kids) {
    RunResult r = k->wait();
    EXPECT_EQ(r.rc, 0) << r.err;
    printed += static_cast<int>(r.lines().size());
  }
  EXPECT_EQ(weir({"resume", dir(), "billing"}).rc, 0);
  stop.store(true);
  load.join();
  // 900 produced lines + the consume's header and 200 rows + 2 one-row tables (with headers).
  EXPECT_EQ(printed, 900 + 201 + 2 + 2);
  const int total = published.load() + 900;
  EXPECT_TRUE(testing::eventually([&] { return handled_.load() == total; }, 20s))
      << handled_.load() << " of " << total;
  EXPECT_EQ(committed_sum("audit"), 200u);
}

// One HTTP request to 127.0.0.1:port; the whole response.
std::string http(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return {};
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

std::string post(std::uint16_t port, const std::string& token, const std::string& body) {
  return http(port, "POST /api/control HTTP/1.1\r\nHost: x\r\n" +
                        (token.empty() ? std::string() : "X-Weir-Token: " + token + "\r\n") +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST_F(LiveTest, ConsoleServesThePageStateAndTokenGuardedActions) {
  Options memory;
  memory.console.enabled = true;
  auto refused = Bus::open(memory);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("needs Options::data_dir"), std::string::npos);

  Options o;
  o.console.enabled = true;
  open_owner(o);
  const auto file = std::filesystem::path(dir()) / kConsoleUrlFileName;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto url = weir({"console-url", dir()});
  ASSERT_EQ(url.rc, 0) << url.err;
  // http://127.0.0.1:PORT/#token=HEX
  const std::string u = url.lines().at(0);
  ASSERT_EQ(u.rfind("http://127.0.0.1:", 0), 0u) << u;
  const auto port = static_cast<std::uint16_t>(std::stoi(u.substr(17)));
  const std::string token = u.substr(u.find("#token=") + 7);
  EXPECT_EQ(token.size(), 32u);

  EXPECT_NE(http(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").find("<title>weir console</title>"), std::string::npos);
  const std::string state = http(port, "GET /api/state HTTP/1.1\r\n\r\n");
  const json j = json::parse(state.substr(state.find("\r\n\r\n") + 4));
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["group"], "billing");
  EXPECT_EQ(j["groups"][0]["partitions"].size(), 2u);
  EXPECT_NE(http(port, "GET /metrics HTTP/1.1\r\n\r\n").find("weir_"), std::string::npos);
  EXPECT_NE(http(port, "GET /nope HTTP/1.1\r\n\r\n").find("404"), std::string::npos);

  EXPECT_NE(post(port, "", R"({"verb":"pause","group":"billing"})").find("403 Forbidden"), std::string::npos);
  EXPECT_NE(post(port, std::string(32, '0'), R"({"verb":"pause","group":"billing"})").find("403"), std::string::npos);
  EXPECT_FALSE(bus_->metrics().value().groups[0].paused) << "refused actions change nothing";
  EXPECT_NE(post(port, token, R"({"verb":"pause","group":"billing"})").find(R"([{"ok":true}])"), std::string::npos);
  EXPECT_TRUE(bus_->metrics().value().groups[0].paused);
  EXPECT_NE(post(port, token, R"({"verb":"seek","group":"g","topic":"orders","to":"earliest"})")
                .find("not available from the console"),
            std::string::npos);
  EXPECT_NE(post(port, token, "{broken").find("not JSON"), std::string::npos);
  EXPECT_NE(http(port, "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\n\r\n").find("431"), std::string::npos);

  ASSERT_TRUE(bus_->close());
  bus_.reset();
  EXPECT_FALSE(std::filesystem::exists(file));
  expect_error(weir({"console-url", dir()}), 1, "no process owns");
}

TEST_F(LiveTest, LifecycleVerbsLiveThenOffline) {
  open_owner();
  ASSERT_EQ(weir({"produce", dir(), "orders"}, "k1\tok-1\nk2\tbad-card\n").rc, 0);
  ASSERT_TRUE(testing::eventually([&] {
    auto l = bus_->dlq_list("billing");
    return l && l->size() == 1;
  }));
  // alter-topic through the owner: live fields now, partitions at the next start.
  auto a = weir({"alter-topic", dir(), "orders", "--retention-events", "1000", "--full-policy", "reject",
                 "--partitions", "4", "--json"});
  ASSERT_EQ(a.rc, 0) << a.err;
  ASSERT_EQ(a.rows().size(), 3u);
  EXPECT_EQ(a.rows()[0]["field"], "partitions");
  EXPECT_EQ(a.rows()[0]["in_force"], "next start");
  EXPECT_EQ(a.rows()[1]["field"], "full_policy");
  EXPECT_EQ(a.rows()[1]["in_force"], "now");
  auto o = bus_->topic_options("orders").value();
  EXPECT_EQ(o.retention_events, 1000u);
  EXPECT_EQ(o.full_policy, FullPolicy::kReject);
  EXPECT_EQ(o.partitions, 4u);
  EXPECT_EQ(bus_->topic("orders").value().partitions(), 2u);
  expect_error(weir({"alter-topic", dir(), "orders", "--durability", "memory"}), 1,
               "durability (journaled -> memory): a topic's durability is fixed");
  expect_error(weir({"alter-topic", dir(), "orders", "--partitions", "1"}), 1, "partitions can only grow");
  expect_error(weir({"alter-topic", dir(), "orders", "--retention-age", "7 days"}), 2, "not an ISO-8601 duration");
  expect_error(weir({"alter-topic", dir(), "orders"}), 2, "at least one option");
  expect_error(weir({"alter-topic", dir(), "nope", "--capacity", "64"}), 1, "topic 'nope' not found");

  // Deletes refuse while in use, and without --yes.
  expect_error(weir({"delete-topic", dir(), "orders"}), 2, "add --yes to confirm");
  expect_error(weir({"delete-topic", dir(), "orders", "--yes"}), 1, "in use by subscribed group billing");
  expect_error(weir({"delete-group", dir(), "billing", "--yes"}), 1, "is subscribed");
  expect_error(weir({"delete-group", dir(), "bad name", "--yes"}), 2, "is invalid");
  ASSERT_TRUE(bus_->unsubscribe("billing"));
  auto g = weir({"delete-group", dir(), "billing", "--yes", "--json"});
  ASSERT_EQ(g.rc, 0) << g.err;
  ASSERT_EQ(g.rows().size(), 1u);
  EXPECT_EQ(g.rows()[0]["dead_letter_topic"], true);
  EXPECT_EQ(g.rows()[0]["dead_letters"], 1);
  EXPECT_EQ(bus_->dlq_list("billing").status().code(), Code::kNotFound);
  expect_error(weir({"delete-group", dir(), "billing", "--yes"}), 1, "group 'billing' not found");
  auto d = weir({"delete-topic", dir(), "orders", "--yes", "--json"});
  ASSERT_EQ(d.rc, 0) << d.err;
  EXPECT_EQ(d.rows()[0]["events"], 2);
  EXPECT_EQ(bus_->topic("orders").status().code(), Code::kNotFound);

  // Offline, after the owner stops: the same verbs open the directory.
  ASSERT_TRUE(bus_->create_topic("audit", {.partitions = 1, .durability = Durability::kJournaled}));
  ASSERT_TRUE(bus_->seek("typo", "audit", SeekTo::earliest().creating_group()));
  bus_.reset();
  auto off = weir({"alter-topic", dir(), "audit", "--retention-age", "P7D"});
  ASSERT_EQ(off.rc, 0) << off.err;
  EXPECT_NE(off.out.find("604800 s"), std::string::npos) << off.out;
  ASSERT_EQ(weir({"delete-group", dir(), "typo", "--yes"}).rc, 0);
  EXPECT_TRUE(weir({"groups", dir(), "--json"}).rows().empty());
  ASSERT_EQ(weir({"delete-topic", dir(), "audit", "--yes"}).rc, 0);
  EXPECT_TRUE(weir({"topics", dir(), "--json"}).rows().empty());
  EXPECT_EQ(weir({"verify", dir()}).rc, 0);
  for (const char* verb : {"alter-topic", "delete-topic", "delete-group"}) {
    auto h = weir({verb, "--help"});
    EXPECT_EQ(h.rc, 0);
    EXPECT_NE(h.out.find("Example"), std::string::npos) << verb;
  }
}

TEST_F(LiveTest, StatusLiveThenOffline) {
  open_owner();
  ASSERT_EQ(weir({"produce", dir(), "orders"}, "order-1\tok-1\norder-1\tbad-card\norder-1\tok-2\n").rc, 0);
  ASSERT_TRUE(testing::eventually([&] { return handled_.load() == 2; }));
  auto s = weir({"status", dir(), "orders", "--group", "billing", "--key", "order-1", "--json"});
  ASSERT_EQ(s.rc, 0) << s.err;
  ASSERT_EQ(s.rows().size(), 3u);
  EXPECT_EQ(s.rows()[0]["state"], "done");
  EXPECT_EQ(s.rows()[1]["state"], "dead_lettered");
  EXPECT_NE(s.rows()[1]["reason"].get<std::string>().find("declined"), std::string::npos);
  EXPECT_EQ(s.rows()[2]["state"], "done");
  EXPECT_EQ(s.rows()[0]["group_running"], true);
  const std::string id = s.rows()[1]["id"];
  auto by_id = weir({"status", dir(), "orders", "--group", "billing", "--id", id});
  ASSERT_EQ(by_id.rc, 0) << by_id.err;
  EXPECT_NE(by_id.out.find("dead-lettered"), std::string::npos) << by_id.out;
  expect_error(weir({"status", dir(), "orders", "--group", "billing"}), 2, "exactly one of --id and --key");
  expect_error(weir({"status", dir(), "orders", "--group", "typo", "--key", "order-1"}), 1,
               "group 'typo' has never consumed topic 'orders'");
  expect_error(weir({"status", dir(), "orders", "--group", "billing", "--key", "nobody"}), 1, "no event with key");
  bus_.reset();
  auto off = weir({"status", dir(), "orders", "--group", "billing", "--key", "order-1", "--json"});
  ASSERT_EQ(off.rc, 0) << off.err;
  ASSERT_EQ(off.rows().size(), 3u);
  EXPECT_EQ(off.rows()[1]["state"], "dead_lettered");
  EXPECT_EQ(off.rows()[2]["state"], "done");
  EXPECT_EQ(off.rows()[2]["group_running"], false);
  EXPECT_NE(weir({"status", "--help"}).out.find("Example"), std::string::npos);
}

TEST_F(LiveTest, DlqStatsAndStateGetReadBesideTheOwner) {
  open_owner();
  ASSERT_TRUE(bus_->subscribe("orders", {.group = "counter"}, StateHandler([](const Message& m, State& st) {
    if (!st.put("counts", m.key(), std::string(m.payload()))) return Outcome::fail("put failed");
    return Outcome::done();
  })));
  ASSERT_EQ(weir({"produce", dir(), "orders"}, "a\tbad-card\nb\tbad-card\nc\tbad-cvc\nd\tok\n").rc, 0);
  ASSERT_TRUE(testing::eventually([&] {
    auto l = bus_->dlq_list("billing");
    return l && l->size() == 3;
  }));
  auto st = weir({"dlq", "stats", dir(), "--group", "billing", "--json"});
  ASSERT_EQ(st.rc, 0) << st.err;
  std::map<std::string, std::uint64_t> by;
  for (const json& r : st.rows()) by[r["by"].get<std::string>() + ":" + r["value"].get<std::string>()] = r["count"];
  EXPECT_EQ(by["total:"], 3u);
  EXPECT_EQ(by["age:<1h"], 3u);
  EXPECT_EQ(by["reason:declined: bad-card"], 2u);
  EXPECT_EQ(by["reason:declined: bad-cvc"], 1u);
  auto filtered = weir({"dlq", "stats", dir(), "--group", "billing", "--key", "a", "--json"});
  ASSERT_EQ(filtered.rc, 0) << filtered.err;
  EXPECT_EQ(filtered.rows()[0]["count"], 1);
  expect_error(weir({"dlq", "stats", dir(), "--group", "nobody"}), 1, "nobody");

  ASSERT_TRUE(testing::eventually([&] {
    auto v = bus_->read_state("counter", "counts", "d");
    return v && v->has_value();
  }));
  auto g = weir({"state", "get", dir(), "counter", "counts", "d", "--json"});
  ASSERT_EQ(g.rc, 0) << g.err;
  EXPECT_EQ(g.rows()[0]["value"], "ok");
  expect_error(weir({"state", "get", dir(), "counter", "counts", "zz"}), 1, "no value for key 'zz'");
  expect_error(weir({"state", "get", dir(), "bad name", "counts", "d"}), 2, "is invalid");
  EXPECT_NE(weir({"state", "get", "--help"}).out.find("Example"), std::string::npos);
}

TEST_F(LiveTest, StatusSaysSinceWhenInFlightAndWhenTheNextTryIs) {
  Options o;
  o.data_dir = dir();
  bus_ = Bus::open(o).value();
  ASSERT_TRUE(bus_->create_topic("jobs", {.partitions = 1, .durability = Durability::kJournaled}));
  std::atomic<bool> hold{true};
  SubscribeOptions so{.group = "worker"};
  so.max_attempts = 1000;
  so.retry_backoff = std::chrono::milliseconds(3000);
  so.retry_backoff_max = std::chrono::milliseconds(3000);
  so.jitter = false;  // full jitter may retry within milliseconds: the check below wants attempt 2 for 3 s
  ASSERT_TRUE(bus_->subscribe("jobs", so, [&hold](const Message& m) {
    if (m.payload() == "retry") return Outcome::retry("provider busy");
    while (m.payload() == "hold" && hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Outcome::done();
  }));
  ASSERT_EQ(weir({"produce", dir(), "jobs"}, "job-1\tretry\n").rc, 0);
  ASSERT_TRUE(testing::eventually([&] {
    auto l = bus_->locate("worker", "jobs", {.key = "job-1"});
    return l && l->size() == 1 && (*l)[0].state == EventLocation::State::kRetrying;
  }));
  auto r = weir({"status", dir(), "jobs", "--group", "worker", "--key", "job-1", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.rows().size(), 1u);
  EXPECT_EQ(r.rows()[0]["state"], "retrying");
  EXPECT_GE(r.rows()[0]["attempt"].get<int>(), 2);
  EXPECT_GT(r.rows()[0]["next_try_us"].get<std::int64_t>(), 0);
  auto text = weir({"status", dir(), "jobs", "--group", "worker", "--key", "job-1"});
  EXPECT_NE(text.out.find("retrying: on attempt 2, next try at 20"), std::string::npos) << text.out;
  ASSERT_TRUE(bus_->unsubscribe("worker", {.mode = CloseMode::kStopAtBatch}));
  // A new group that holds its first event: in flight since when.
  ASSERT_TRUE(bus_->subscribe("jobs", {.group = "holder"}, [&hold](const Message& m) {
    while (m.payload() == "retry" && hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Outcome::done();
  }));
  ASSERT_TRUE(testing::eventually([&] {
    auto l = bus_->locate("holder", "jobs", {.key = "job-1"});
    return l && l->size() == 1 && (*l)[0].state == EventLocation::State::kInFlight;
  }));
  auto f = weir({"status", dir(), "jobs", "--group", "holder", "--key", "job-1", "--json"});
  ASSERT_EQ(f.rc, 0) << f.err;
  EXPECT_EQ(f.rows()[0]["state"], "in_flight");
  EXPECT_GT(f.rows()[0]["in_flight_since_us"].get<std::int64_t>(), 0);
  auto ft = weir({"status", dir(), "jobs", "--group", "holder", "--key", "job-1"});
  EXPECT_NE(ft.out.find(" s ago), not yet acknowledged"), std::string::npos) << ft.out;
  hold = false;
  // Offline: the stored attempt count of "worker", its next try unknown.
  bus_.reset();
  auto off = weir({"status", dir(), "jobs", "--group", "worker", "--key", "job-1"});
  ASSERT_EQ(off.rc, 0) << off.err;
  EXPECT_NE(off.out.find("next try when the group runs again"), std::string::npos) << off.out;
}

TEST_F(LiveTest, TopicNotFoundNamesTheDirectoryThroughTheOwner) {
  open_owner();
  const std::string want = "topic 'nope' not found in '" + dir() + "'";
  for (const std::vector<std::string>& c : {std::vector<std::string>{"consume", dir(), "nope", "--group", "g"},
                                            {"status", dir(), "nope", "--group", "billing", "--key", "a"},
                                            {"alter-topic", dir(), "nope", "--capacity", "100"},
                                            {"delete-topic", dir(), "nope", "--yes"},
                                            {"produce", dir(), "nope"}})
    expect_error(weir(c, "a\tb\n"), 1, want);
}

TEST_F(LiveTest, ProducePriorityLevelsMustMatchTheOwnersTopic) {
  open_owner();
  auto r = weir({"produce", dir(), "orders", "--partitions", "2", "--priority-levels", "2"}, "a\tb\n");
  expect_error(r, 2, "topic 'orders' has 1 priority level(s), not 2");
  EXPECT_EQ(weir({"produce", dir(), "orders", "--partitions", "2", "--priority-levels", "1"}, "a\tb\n").rc, 0);
}

}  // namespace
}  // namespace weir
