// Damaged journals: a generated journal (4 partitions, 4,000 known events,
// every page type present) is damaged case by case — bytes flipped in meta,
// branch, leaf, overflow and free pages, pages zeroed, the file truncated —
// and each copy goes through, in child processes:
//   - Bus::open plus a new group reading from the earliest offset;
//   - `weir verify --json`;
//   - `weir salvage`, then Bus::open plus a reading group on the copy.
// Pass: no signal death, no hang (per-case timeouts), nothing corrupt handed
// to a handler, no event skipped without a kCorruptRecord report naming
// where (or Bus::open refusing with kDataLoss), verify exits 3 with a
// located row whenever the bus could not read everything, and the salvaged
// copy opens and reads cleanly up to its recorded gaps.
// The matrix (case x outcome) is printed. WEIR_CORRUPTION_SEED picks the
// sampled byte positions (printed); WEIR_CORRUPTION_FULL=1 adds 100 random
// single-byte flips over the whole file.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "../cli/run_util.hpp"
#include "journal/page_walk.hpp"
#include "weir/weir.hpp"

namespace weir {
// How long a reading group may take before a partition counts as stuck,
// and how long a child may run before it counts as hung. ThreadSanitizer
// runs the library 5-15x slower, AddressSanitizer 2-3x, and CI runs two
// tests at once (this one first, beside the other long ones: COST).
#if defined(__SANITIZE_THREAD__)
constexpr auto kReadBudget = std::chrono::seconds(60);
constexpr auto kChildBudget = std::chrono::seconds(90);
#elif defined(__SANITIZE_ADDRESS__)
constexpr auto kReadBudget = std::chrono::seconds(30);
constexpr auto kChildBudget = std::chrono::seconds(60);
#else
constexpr auto kReadBudget = std::chrono::seconds(8);
constexpr auto kChildBudget = std::chrono::seconds(20);
#endif

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
namespace mf = internal::mdbfile;

constexpr std::uint32_t kParts = 4;
constexpr int kEvents = 4000;
constexpr int kPerPartition = kEvents / kParts;

// Event i goes to partition i % 4 at offset i / 4. Every 97th is big enough
// to need overflow pages.
std::string payload(int i) {
  return "event-" + std::to_string(i) + "-" + std::string(i % 97 == 5 ? 9000 : 40, static_cast<char>('a' + i % 26));
}

void generate(const fs::path& dir) {
  Options o;
  o.data_dir = dir.string();
  o.offset_commit_interval = 5ms;
  auto bus = Bus::open(o);
  ASSERT_TRUE(bus) << bus.status().to_string();
  ASSERT_TRUE((*bus)->create_topic("t", {.partitions = kParts, .durability = Durability::kJournaled}));
  for (int i = 0; i < kEvents; ++i) {
    PublishOptions po;
    po.partition = static_cast<std::int32_t>(i % kParts);
    po.ack = i % 40 == 39 ? Ack::kJournal : Ack::kNone;  // many small group commits: many batches
    const std::string key = "k" + std::to_string(i), value = payload(i);
    auto r = (*bus)->publish("t", Event{.key = key, .payload = value}, po);
    ASSERT_TRUE(r) << r.status().to_string();
  }
  // A group that read everything, so group offsets are stored too.
  std::atomic<int> seen{0};
  ASSERT_TRUE((*bus)->subscribe("t", {.group = "g0"}, [&](const Message&) {
    seen.fetch_add(1, std::memory_order_relaxed);
    return Outcome::done();
  }));
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (seen.load() < kEvents && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(seen.load(), kEvents);
  ASSERT_TRUE((*bus)->unsubscribe("g0"));
}

// Where each kind of page lies in the generated file.
struct PageMap {
  std::uint32_t psize = 0;
  std::uint64_t last = 0;
  int used_meta = 0;
  std::uint64_t main_root = 0;
  std::vector<std::uint64_t> branch, leaf, overflow_head, overflow_cont, free_pages;
};

PageMap classify(const fs::path& dir) {
  PageMap m;
  auto f = mf::read_data_file((dir / "data.mdb").string());
  EXPECT_TRUE(f && f->problems.empty());
  m.psize = f->page_size;
  m.last = f->current().last_page;
  m.used_meta = f->used;
  m.main_root = f->current().main_db.root;
  std::set<std::uint64_t> free;
  auto w = mf::PageWalker::open(*f);
  w->walk("(free)", f->current().free_db,
          [&](const mf::LeafEntry& e) {
            for (std::size_t i = 8; i + 8 <= e.value.size(); i += 8) {
              std::uint64_t pg;
              std::memcpy(&pg, e.value.data() + i, 8);
              free.insert(pg);
            }
          },
          true);
  std::ifstream in(dir / "data.mdb", std::ios::binary);
  std::vector<char> page(m.psize);
  for (std::uint64_t pg = 2; pg <= m.last; ++pg) {
    in.seekg(static_cast<std::streamoff>(pg * m.psize));
    in.read(page.data(), m.psize);
    if (free.count(pg)) {
      m.free_pages.push_back(pg);
      continue;
    }
    std::uint64_t no;
    std::uint16_t flags;
    std::uint32_t pages;
    std::memcpy(&no, page.data(), 8);
    std::memcpy(&flags, page.data() + 10, 2);
    std::memcpy(&pages, page.data() + 12, 4);
    if (no != pg) continue;
    if (flags & mf::kBranch) m.branch.push_back(pg);
    else if (flags & mf::kLeaf) m.leaf.push_back(pg);
    else if (flags & mf::kOverflow) {
      m.overflow_head.push_back(pg);
      for (std::uint32_t i = 1; i < pages; ++i) m.overflow_cont.push_back(pg + i);
      pg += pages - 1;
    }
  }
  return m;
}

// One way to damage the file.
struct Case {
  std::string name;
  std::function<void(std::fstream&, std::uint64_t& size)> damage;  // may shrink `size` (truncate)
};

struct Outcome3 {
  std::string text;
  bool clean = false;    // opened and every event read intact
  bool refused = false;  // Bus::open said kDataLoss
  bool bad = false;      // a violation
};

// Runs fn(fd) in a child; its output (one line) comes back, a signal or a
// hang is a violation.
Outcome3 in_child(const std::function<std::string()>& fn, std::chrono::seconds limit) {
  int fds[2];
  if (::pipe(fds) != 0) return {"pipe failed", false, false, true};
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string r = fn() + "\n";
    const ssize_t n = ::write(fds[1], r.data(), r.size());
    (void)n;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool hung = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    const int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      hung = true;
      break;
    }
    if (::poll(&p, 1, left) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (hung) ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  Outcome3 o;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  o.text = out;
  if (hung) return {"HANG", false, false, true};
  if (WIFSIGNALED(st)) return {"SIGNAL " + std::to_string(WTERMSIG(st)), false, false, true};
  o.clean = out.rfind("read all", 0) == 0;
  o.refused = out.rfind("refused", 0) == 0;
  o.bad = out.rfind("BAD", 0) == 0;
  return o;
}

// In the child: Bus::open and a new group reading every partition from the
// earliest offset, checking each event against what was published.
using LostRanges = std::map<std::uint32_t, std::vector<std::pair<Offset, Offset>>>;  // partition -> [first, last]

bool all_lost(const LostRanges& lost, std::uint32_t p, Offset from, Offset to) {  // [from, to)
  auto it = lost.find(p);
  if (it == lost.end()) return false;
  for (Offset o = from; o < to; ++o) {
    bool in = false;
    for (const auto& [first, last] : it->second) in = in || (o >= first && o <= last);
    if (!in) return false;
  }
  return true;
}

// `lost`: ranges salvage reported lost (a salvaged copy may skip them, or
// stop at them, and nothing else).
std::string open_and_read(const fs::path& dir, const std::string& group = "reader", const LostRanges* lost = nullptr) {
  Options o;
  o.data_dir = dir.string();
  auto bus = Bus::open(o);
  if (!bus) {
    if (bus.status().code() == Code::kDataLoss && !bus.status().message().empty())
      return "refused (data_loss)";
    return "BAD open failed with " + bus.status().to_string();
  }
  std::mutex mu;
  std::array<Offset, kParts> next{};
  std::array<std::optional<Offset>, kParts> stopped;
  std::string bad;
  SubscribeOptions so;
  so.group = group;
  so.on_failure = [&](const FailureReport& r) {
    std::lock_guard<std::mutex> l(mu);
    if (r.kind != FailureKind::kCorruptRecord || r.partition >= kParts) {
      bad = "BAD failure report of kind " + std::to_string(static_cast<int>(r.kind)) + ": " + std::string(r.reason);
      return;
    }
    stopped[r.partition] = r.offset;
    if (lost && !all_lost(*lost, r.partition, r.offset, r.offset + 1))
      bad = "BAD partition " + std::to_string(r.partition) + " stopped at " + std::to_string(r.offset) +
            ", outside the ranges salvage reported lost: " + std::string(r.reason);
    else if (r.offset != next[r.partition])
      bad = "BAD partition " + std::to_string(r.partition) + " stopped at " + std::to_string(r.offset) +
            " but was at " + std::to_string(next[r.partition]);
  };
  auto sub = (*bus)->subscribe("t", so, [&](const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    const auto p = m.partition();
    if (p >= kParts || m.offset() >= kPerPartition ||
        m.payload() != payload(static_cast<int>(m.offset() * kParts + p))) {
      bad = "BAD corrupt event handed to the handler at partition " + std::to_string(p) + " offset " +
            std::to_string(m.offset());
    } else if (m.offset() > next[p] && lost && all_lost(*lost, p, next[p], m.offset())) {
      next[p] = m.offset() + 1;  // a range salvage reported lost
    } else if (m.offset() > next[p]) {
      bad = "BAD partition " + std::to_string(p) + " skipped offsets " + std::to_string(next[p]) + ".." +
            std::to_string(m.offset() - 1) + " without a report";
    } else if (m.offset() == next[p]) {
      ++next[p];
    }
    return Outcome::done();
  });
  if (!sub) {
    if (lost && sub.code() == Code::kNotFound) return "no topic";
    return "BAD subscribe failed: " + sub.to_string();
  }
  const auto until = std::chrono::steady_clock::now() + kReadBudget;
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu);
      bool done = !bad.empty();
      if (!done) {
        done = true;
        for (std::uint32_t p = 0; p < kParts; ++p)
          done = done && (next[p] == kPerPartition || stopped[p] ||
                          (lost && all_lost(*lost, p, next[p], kPerPartition)));
      }
      if (done) break;
    }
    if (std::chrono::steady_clock::now() > until) {
      std::lock_guard<std::mutex> l(mu);
      std::string s = "BAD partitions stuck without a report:";
      for (std::uint32_t p = 0; p < kParts; ++p)
        if (next[p] != kPerPartition && !stopped[p]) s += " p" + std::to_string(p) + "@" + std::to_string(next[p]);
    if (lost) s += " (salvage reported lost: " + std::to_string(lost->size()) + " partition(s))";
      return s;
    }
    std::this_thread::sleep_for(2ms);
  }
  std::lock_guard<std::mutex> l(mu);
  if (!bad.empty()) return bad;
  std::string s;
  bool all = true;
  for (std::uint32_t p = 0; p < kParts; ++p) {
    all = all && next[p] == kPerPartition;
    if (stopped[p]) s += " p" + std::to_string(p) + " stopped@" + std::to_string(*stopped[p]);
  }
  return all ? "read all" : "read, reported:" + s;
}

std::vector<Case> make_cases(const PageMap& m, std::mt19937_64& rng, bool full, std::uint64_t file_size) {
  std::vector<Case> cs;
  const std::uint64_t ps = m.psize;
  auto flip = [&](std::string name, std::uint64_t at) {
    const auto x = static_cast<char>(1 + rng() % 255);
    cs.push_back({std::move(name), [at, x](std::fstream& f, std::uint64_t&) {
                    char b;
                    f.seekg(static_cast<std::streamoff>(at));
                    f.read(&b, 1);
                    b = static_cast<char>(b ^ x);
                    f.seekp(static_cast<std::streamoff>(at));
                    f.write(&b, 1);
                  }});
  };
  auto zero = [&](std::string name, std::uint64_t pg) {
    cs.push_back({std::move(name), [pg, ps](std::fstream& f, std::uint64_t&) {
                    const std::string z(ps, '\0');
                    f.seekp(static_cast<std::streamoff>(pg * ps));
                    f.write(z.data(), static_cast<std::streamsize>(z.size()));
                  }});
  };
  auto truncate = [&](std::string name, std::uint64_t size) {
    cs.push_back({std::move(name), [size](std::fstream&, std::uint64_t& s) { s = size; }});
  };
  auto pick = [&](const std::vector<std::uint64_t>& v) { return v[rng() % v.size()]; };
  const std::uint64_t used = static_cast<std::uint64_t>(m.used_meta) * ps, other = ps - used;
  // Meta pages: magic, page size, main root, last page, txnid.
  flip("meta(used) magic", used + 16);
  flip("meta(other) magic", other + 16);
  flip("meta(used) page size", used + 40);
  flip("meta(used) main root", used + 128);
  flip("meta(used) last page", used + 136);
  flip("meta(used) txnid", used + 144 + 1);
  flip("meta(other) txnid", other + 144);
  // Branch pages: bounds, a node pointer, a child page number, anywhere.
  for (int i = 0; i < 2 && !m.branch.empty(); ++i) {
    const std::uint64_t b = pick(m.branch) * ps;
    flip("branch lower", b + 12);
    flip("branch node pointer", b + 16 + 2 * (rng() % 2));
    flip("branch random byte", b + 16 + rng() % (ps - 16));
  }
  // Leaf pages: bounds, node pointers, node header, key and data bytes.
  for (int i = 0; i < 3 && !m.leaf.empty(); ++i) {
    const std::uint64_t l = pick(m.leaf) * ps;
    flip("leaf lower", l + 12);
    flip("leaf upper", l + 14 + 1);
    flip("leaf node pointer", l + 16 + rng() % 4);
    flip("leaf random byte", l + 16 + rng() % (ps - 16));
  }
  flip("leaf (main tree root) byte", m.main_root * ps + 16 + rng() % (ps - 16));
  flip("leaf (main tree root) node pointer", m.main_root * ps + 16);
  // Overflow pages: header, data on the first page, a later page.
  for (int i = 0; i < 2 && !m.overflow_head.empty(); ++i) {
    const std::uint64_t o = pick(m.overflow_head) * ps;
    flip("overflow page count", o + 12);
    flip("overflow data byte", o + 16 + rng() % (ps - 16));
  }
  if (!m.overflow_cont.empty()) flip("overflow later page byte", pick(m.overflow_cont) * ps + rng() % ps);
  for (int i = 0; i < 2 && !m.free_pages.empty(); ++i) flip("free page byte", pick(m.free_pages) * ps + rng() % ps);
  // Zeroed pages.
  if (!m.leaf.empty()) zero("zeroed leaf page", pick(m.leaf));
  if (!m.branch.empty()) zero("zeroed branch page", pick(m.branch));
  zero("zeroed main tree root", m.main_root);
  if (!m.overflow_head.empty()) zero("zeroed overflow page", pick(m.overflow_head));
  zero("zeroed meta(other)", static_cast<std::uint64_t>(1 - m.used_meta));
  zero("zeroed meta(used)", static_cast<std::uint64_t>(m.used_meta));
  // Truncations.
  truncate("truncated to half", file_size / 2);
  truncate("truncated by one page", file_size - ps);
  truncate("truncated by one byte", file_size - 1);
  truncate("truncated to two pages", 2 * ps);
  truncate("truncated to 100 bytes", 100);
  if (full)
    for (int i = 0; i < 100; ++i) {
      const std::uint64_t at = rng() % file_size;
      flip("random flip @" + std::to_string(at) + " (page " + std::to_string(at / ps) + ")", at);
    }
  return cs;
}

bool located(const testing::RunResult& r) {
  for (const auto& row : r.rows())
    if (!row["topic"].is_null() || row["problem"].get<std::string>().find("page") != std::string::npos ||
        row["problem"].get<std::string>().find("'") != std::string::npos)
      return true;
  return false;
}

TEST(Corruption, EveryCaseFailsCleanly) {
  const fs::path root = fs::temp_directory_path() / ("weir-corruption-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path base = root / "base";
  generate(base);
  if (HasFatalFailure()) return;
  const PageMap m = classify(base);
  const std::uint64_t size = fs::file_size(base / "data.mdb");
  std::printf("journal: %llu bytes, pages of %u: %zu branch, %zu leaf, %zu overflow (+%zu later), %zu free\n",
              static_cast<unsigned long long>(size), m.psize, m.branch.size(), m.leaf.size(),
              m.overflow_head.size(), m.overflow_cont.size(), m.free_pages.size());
  ASSERT_FALSE(m.branch.empty());
  ASSERT_FALSE(m.overflow_head.empty());

  std::uint64_t seed = 20261127;
  if (const char* s = std::getenv("WEIR_CORRUPTION_SEED")) seed = std::strtoull(s, nullptr, 10);
  const bool full = std::getenv("WEIR_CORRUPTION_FULL") != nullptr;
  std::printf("seed %llu%s\n", static_cast<unsigned long long>(seed), full ? " (full)" : "");
  std::mt19937_64 rng(seed);
  const auto cases = make_cases(m, rng, full, size);

  std::printf("%-40s | %-34s | %-10s | %-24s | %s\n", "case", "Bus::open + group", "verify", "salvage (copy read)",
              "verdict");
  int failed = 0, n = 0;
  for (const Case& c : cases) {
    const fs::path dir = root / ("case-" + std::to_string(n++));
    fs::create_directories(dir);
    fs::copy_file(base / "data.mdb", dir / "data.mdb");
    std::uint64_t new_size = size;
    {
      std::fstream f(dir / "data.mdb", std::ios::in | std::ios::out | std::ios::binary);
      c.damage(f, new_size);
    }
    if (new_size != size) fs::resize_file(dir / "data.mdb", new_size);

    const Outcome3 bus = in_child([&] { return open_and_read(dir); }, kChildBudget);
    const auto verify = testing::run_weir({"verify", "--json", dir.string()}, "", root / "runs");
    const auto salvage = testing::run_weir({"salvage", "--json", dir.string(), (dir / "salvaged").string()}, "",
                                           root / "runs");
    std::vector<std::string> why;
    if (bus.bad) why.push_back("bus: " + bus.text);
    if (verify.rc != 0 && verify.rc != 3) why.push_back("verify exit " + std::to_string(verify.rc) + ": " + verify.err);
    if (!bus.clean && verify.rc != 3) why.push_back("data unreadable but verify exit " + std::to_string(verify.rc));
    if (verify.rc == 3 && !located(verify)) why.push_back("verify rows name no location");
    std::string salvage_text = "exit " + std::to_string(salvage.rc);
    if (salvage.rc == 0 || salvage.rc == 3) {
      LostRanges lost;
      for (const auto& row : salvage.rows())
        if (row.value("kind", "") == "partition") {
          const auto p = row["partition"].get<std::uint32_t>();
          for (const auto& r : row["lost"]) lost[p].emplace_back(r["first"].get<Offset>(), r["last"].get<Offset>());
          // Damage past the last recovered offset: how much existed there is
          // unknown, so the copy may end anywhere after it.
          if (row["tail_unknown"].get<bool>()) {
            Offset end = 0;
            for (const auto& r : row["recovered"]) end = std::max(end, r["last"].get<Offset>() + 1);
            for (const auto& r : row["lost"]) end = std::max(end, r["last"].get<Offset>() + 1);
            lost[p].emplace_back(end, ~Offset{0} - 1);
          }
        }
      const Outcome3 copy = in_child([&] { return open_and_read(dir / "salvaged", "copy-reader", &lost); },
                                      kChildBudget);
      salvage_text += copy.clean ? " (all)" : copy.refused ? " (REFUSED)" : copy.text == "no topic" ? " (no topic)" : " (to gaps)";
      if (copy.bad || copy.refused) why.push_back("salvaged copy: " + copy.text);
      if (salvage.rc == 0 && !copy.clean) why.push_back("salvage exit 0 but the copy is not complete");
    } else if (!(salvage.rc == 1 && salvage.err.find("no meta page") != std::string::npos)) {
      why.push_back("salvage exit " + std::to_string(salvage.rc) + ": " + salvage.err);
    }
    const std::string bus_text = bus.text.size() > 34 ? bus.text.substr(0, 31) + "..." : bus.text;
    std::printf("%-40s | %-34s | %-10s | %-24s | %s\n", c.name.c_str(), bus_text.c_str(),
                ("exit " + std::to_string(verify.rc)).c_str(), salvage_text.c_str(),
                why.empty() ? "pass" : "FAIL");
    for (const auto& w : why) std::printf("    %s\n", w.c_str());
    if (!why.empty()) {
      ++failed;
      ADD_FAILURE() << c.name << ": " << why.front();
    }
    fs::remove_all(dir);
  }
  std::printf("%d case(s), %d failed\n", n, failed);
  fs::remove_all(root);
}

}  // namespace
}  // namespace weir
