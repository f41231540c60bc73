// The seed article's flash sale, scaled to one machine.
//
//   checkout --placed--> [orders] --> payments (state + dedupe) --paid--> [orders]
//                                 --> fulfilment (state + dedupe) --shipped--> [orders]
//                                 --> audit: per-order order placed < paid < shipped
//
// A burst of checkouts far above what the payment stage may run at once (a
// pool of 8 "licensed connections"), a provider that times out 2% of the time
// and declines a few poison orders, orders keyed by order id, 5 attempts with
// exponential backoff and full jitter, charges made idempotent by the event
// id (passed to the provider as its idempotency key) and recorded in a state
// table, and a crash in the middle of the sale: the sale runs in a child
// process that is killed with SIGKILL; the parent reopens the journal,
// finishes the sale (customers retry unconfirmed checkouts) and drains. The
// provider's ledger lives in a shared file: it is another company and
// survives our crash.
//
// Exit status: non-zero if an order was charged twice, an order's events
// were handled out of order, or an accepted order was lost.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <weir/weir.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// --- the payment provider: its ledger is a file both processes map -----------
struct Ledger {
  std::atomic<std::uint64_t> timeouts;
  std::atomic<std::uint64_t> declines;
  struct Slot {
    std::atomic<std::uint64_t> idempotency_key;  // hash of the key of the first successful request
    std::atomic<std::uint32_t> charges;          // money actually taken
  } slots[1];  // `orders` of them
};

class Provider {
 public:
  static constexpr int kLicensed = 8;

  Provider(const std::string& path, std::size_t orders) : orders_(orders) {
    const std::size_t bytes = sizeof(Ledger) + orders * sizeof(Ledger::Slot);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) std::abort();
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) std::abort();
    ledger_ = static_cast<Ledger*>(p);
  }

  enum class Answer { kCharged, kAlreadyCharged, kTimeout, kDeclined };

  // At most kLicensed requests run at once; the rest wait for a connection.
  Answer charge(std::size_t order, std::string_view idempotency_key, long cents) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_use_ < kLicensed; });
    peak_ = std::max(peak_, ++in_use_);
    lock.unlock();
    std::this_thread::sleep_for(30us);  // the provider's work
    thread_local std::mt19937 rng{std::random_device{}()};
    Answer a;
    if (cents < 0) {
      ledger_->declines.fetch_add(1);
      a = Answer::kDeclined;
    } else if (rng() % 100 < 2) {
      ledger_->timeouts.fetch_add(1);
      a = Answer::kTimeout;
    } else {
      // Idempotency: a repeated key is answered from the ledger, not charged.
      const std::uint64_t h = std::hash<std::string_view>{}(idempotency_key) | 1;
      auto& slot = ledger_->slots[order];
      std::uint64_t seen = 0;
      if (slot.idempotency_key.compare_exchange_strong(seen, h) || seen != h) {
        slot.charges.fetch_add(1);  // a different key for one order would be a double charge
        a = Answer::kCharged;
      } else {
        a = Answer::kAlreadyCharged;
      }
    }
    lock.lock();
    --in_use_;
    cv_.notify_one();
    return a;
  }
  std::uint32_t charges(std::size_t order) const { return ledger_->slots[order].charges.load(); }
  std::uint64_t timeouts() const { return ledger_->timeouts.load(); }
  int peak_concurrency() const { return peak_; }

 private:
  Ledger* ledger_;
  std::size_t orders_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_use_ = 0;
  int peak_ = 0;
};

std::string order_key(std::size_t i) { return "order-" + std::to_string(i); }
std::size_t order_of(std::string_view key) { return std::stoul(std::string(key.substr(6))); }
long cents_of(std::size_t i) { return i % 997 == 13 ? -1 : static_cast<long>(500 + i % 5000); }  // poison orders
bool poison(std::size_t i) { return cents_of(i) < 0; }

// One write() per line, so a SIGKILL never leaves half a line in the pipe.
void say(const std::string& line) {
  const ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
  (void)n;
}

// --- the modules of the shop ------------------------------------------------------

struct Shop {
  Provider& provider;
  std::atomic<std::uint64_t> out_of_order{0};
  std::mutex mu;
  std::vector<std::uint8_t> stage;   // audit: highest stage seen per order
  std::vector<std::int64_t> e2e_us;  // audit: placed -> shipped (event times)

  Shop(Provider& p, std::size_t orders) : provider(p), stage(orders, 0) {}

  // Checkout: accept the order (the synchronous path) and return.
  static weir::Result<weir::PublishReceipt> checkout(const weir::Topic& orders, std::size_t i) {
    const std::string key = order_key(i), id = key + "/placed", cents = std::to_string(cents_of(i));
    return orders.publish({.key = key, .payload = cents, .id = id, .source = "/shop/checkout",
                           .type = "shop.order.placed"});
  }

  void subscribe(weir::Bus& bus) {
    weir::SubscribeOptions pay{.group = "payments", .workers = 2, .max_attempts = 5};
    pay.retry_backoff = 5ms;
    pay.retry_backoff_max = 100ms;
    pay.breaker = {.enabled = true, .failure_ratio = 0.5, .min_calls = 50, .window = 1000ms, .cool_down = 100ms};
    (void)bus.subscribe("orders", pay, [this, &bus](const weir::Message& m, weir::State& st) {
      if (m.type() != "shop.order.placed") return weir::Outcome::done();
      const std::size_t order = order_of(m.key());
      auto charged = st.get("charges", m.key());
      if (!charged) return weir::Outcome::retry();
      if (!charged->has_value()) {
        switch (provider.charge(order, m.id(), std::stol(std::string(m.payload())))) {
          case Provider::Answer::kTimeout: return weir::Outcome::retry();
          case Provider::Answer::kDeclined: return weir::Outcome::fail("card declined");
          default: break;
        }
        (void)st.put("charges", m.key(), "charged");
      }
      const std::string id = std::string(m.key()) + "/paid";
      auto r = bus.publish("orders", {.key = m.key(), .payload = m.payload(), .id = id, .type = "shop.order.paid"});
      return r ? weir::Outcome::done() : weir::Outcome::retry();
    });
    (void)bus.subscribe("orders", {.group = "fulfilment", .workers = 2},
                        [&bus](const weir::Message& m, weir::State& st) {
                          if (m.type() != "shop.order.paid") return weir::Outcome::done();
                          (void)st.put("shipped", m.key(), "1");
                          const std::string id = std::string(m.key()) + "/shipped";
                          auto r = bus.publish("orders", {.key = m.key(), .payload = "", .id = id,
                                                          .type = "shop.order.shipped"});
                          return r ? weir::Outcome::done() : weir::Outcome::retry();
                        });
    (void)bus.subscribe("orders", {.group = "audit", .workers = 2, .dedupe = true}, [this](const weir::Message& m) {
      const std::uint8_t s = m.type() == "shop.order.placed" ? 1 : m.type() == "shop.order.paid" ? 2 : 3;
      const std::size_t order = order_of(m.key());
      std::lock_guard<std::mutex> l(mu);
      if (s < stage[order]) out_of_order.fetch_add(1);
      stage[order] = std::max(stage[order], s);
      if (s == 3) {
        const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        e2e_us.push_back(now - m.time_us());
      }
      return weir::Outcome::done();
    });
  }
};

weir::Options bus_options(const std::string& dir) {
  weir::Options o;
  o.data_dir = dir;
  o.offset_commit_interval = 5ms;
  return o;
}

// The sale in the child: a burst of checkouts from 4 threads; prints each
// accepted order. It is killed before it finishes.
int run_child(const std::string& dir, std::size_t orders) {
  Provider provider(dir + ".provider", orders);
  auto bus = weir::Bus::open(bus_options(dir)).value();
  (void)bus->create_topic("orders", {.partitions = 8, .durability = weir::Durability::kJournaled});
  Shop shop(provider, orders);
  shop.subscribe(*bus);
  auto topic = bus->topic("orders").value();
  std::vector<std::thread> checkouts;
  for (int t = 0; t < 4; ++t)
    checkouts.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < orders; i += 4)
        if (Shop::checkout(topic, i)) say("accepted " + std::to_string(i) + "\n");
    });
  for (auto& t : checkouts) t.join();
  for (;;) std::this_thread::sleep_for(1s);  // keep consuming until killed
}

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir flash-sale demo: burst, flaky payments, crash, recovery, zero duplicate charges"};
  std::size_t orders = 20000;
  std::string dir = (std::filesystem::temp_directory_path() / ("weir-flash-sale-" + std::to_string(::getpid()))).string();
  std::string phase = "parent";
  app.add_option("--orders", orders, "orders in the sale")->check(CLI::Range(100, 2000000));
  app.add_option("--dir", dir, "data directory (removed first)");
  app.add_option("--phase", phase)->group("");  // internal: "child"
  CLI11_PARSE(app, argc, argv);
  if (phase == "child") return run_child(dir, orders);

  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".provider");
  std::printf("flash sale: %zu orders, payment provider licensed for %d concurrent requests, "
              "2%% timeouts, poison orders every 997th\n", orders, Provider::kLicensed);

  // 1. The sale starts in a child process, which we kill halfway through.
  int fds[2];
  if (::pipe(fds) != 0) return 1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char self[4096];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return 1;
  self[len] = '\0';
  const std::string n = std::to_string(orders);
  std::vector<char*> args{self, const_cast<char*>("--phase"), const_cast<char*>("child"),
                          const_cast<char*>("--dir"), dir.data(), const_cast<char*>("--orders"),
                          const_cast<char*>(n.c_str()), nullptr};
  pid_t pid;
  const int spawned = posix_spawn(&pid, self, &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) return 1;
  ::close(fds[1]);
  std::vector<std::uint8_t> accepted(orders, 0);  // not vector<bool>: threads write distinct bytes
  std::size_t accepted_before_crash = 0;
  std::string buf;
  char chunk[65536];
  for (bool killed = false;;) {
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(got));
    std::size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      const std::string line = buf.substr(0, pos);
      buf.erase(0, pos + 1);
      if (line.rfind("accepted ", 0) == 0) {
        const std::size_t i = std::stoul(line.substr(9));
        if (!accepted[i]) ++accepted_before_crash;
        accepted[i] = true;
      }
    }
    if (!killed && accepted_before_crash >= orders / 2) {
      ::kill(pid, SIGKILL);  // the crash, mid-sale
      killed = true;
    }
  }
  ::close(fds[0]);
  int status;
  ::waitpid(pid, &status, 0);
  std::printf("crash: the shop was killed (SIGKILL) after accepting %zu orders\n", accepted_before_crash);

  // 2. Restart: reopen the journal, finish the sale, drain.
  Provider provider(dir + ".provider", orders);
  auto opened = weir::Bus::open(bus_options(dir));
  if (!opened) {
    std::fprintf(stderr, "reopen after the crash: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  auto bus = std::move(opened).value();
  (void)bus->create_topic("orders", {.partitions = 8, .durability = weir::Durability::kJournaled});
  Shop shop(provider, orders);
  shop.subscribe(*bus);
  auto topic = bus->topic("orders").value();
  const auto restart = Clock::now();
  std::vector<double> accept_us;
  std::mutex accept_mu;
  std::vector<std::thread> checkouts;
  for (int t = 0; t < 4; ++t)
    checkouts.emplace_back([&, t] {
      std::vector<double> mine;
      for (std::size_t i = static_cast<std::size_t>(t); i < orders; i += 4) {
        if (accepted[i]) continue;  // customers retry only unconfirmed checkouts
        const auto t0 = Clock::now();
        if (!Shop::checkout(topic, i)) continue;
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        accepted[i] = true;  // each thread owns its own indexes
      }
      std::lock_guard<std::mutex> l(accept_mu);
      accept_us.insert(accept_us.end(), mine.begin(), mine.end());
    });
  for (auto& t : checkouts) t.join();
  std::uint64_t peak_lag = 0;
  for (;;) {
    std::uint64_t lag = 0;
    for (const char* g : {"payments", "fulfilment", "audit"}) {
      auto st = bus->describe_group(g);
      if (!st) {
        std::fprintf(stderr, "describe_group %s: %s\n", g, st.status().to_string().c_str());
        return 1;
      }
      for (const auto& p : st->partitions) lag += p.lag;
    }
    peak_lag = std::max(peak_lag, lag);
    if (lag == 0) break;
    if (Clock::now() - restart > 120s) break;
    std::this_thread::sleep_for(10ms);
  }
  const double drain_s = std::chrono::duration<double>(Clock::now() - restart).count();
  const auto pay = bus->describe_group("payments").value();
  auto dead = bus->dlq_list("payments", {}, orders).value();
  (void)bus->close();
  bus.reset();  // releases the data directory

  // 3. The verdict.
  std::size_t charged = 0, double_charged = 0, lost = 0, poisoned = 0;
  std::map<std::string, std::size_t> reasons;
  std::vector<std::uint8_t> in_dlq(orders, 0);
  for (const auto& d : dead) {
    ++reasons[d.reason];
    in_dlq[order_of(d.key)] = true;
  }
  auto reopened = weir::Bus::open(bus_options(dir)).value();
  for (std::size_t i = 0; i < orders; ++i) {
    const auto c = provider.charges(i);
    charged += c > 0;
    double_charged += c > 1;
    if (poison(i)) {
      ++poisoned;
      if (!in_dlq[i]) ++lost;  // a poison order must be in the DLQ with its reason
      continue;
    }
    auto shipped = reopened->read_state("fulfilment", "shipped", order_key(i));
    if (!accepted[i] || !shipped || !shipped->has_value()) ++lost;
  }
  (void)reopened->close();
  std::vector<double> e2e_ms;
  for (auto us : shop.e2e_us) e2e_ms.push_back(static_cast<double>(us) / 1000.0);

  std::printf("orders accepted        %zu (%zu before the crash, %zu after)\n", orders, accepted_before_crash,
              orders - accepted_before_crash);
  std::printf("orders charged         %zu (poison orders declined: %zu)\n", charged, poisoned);
  std::printf("duplicate charges      %zu\n", double_charged);
  std::printf("in DLQ (payments)      %zu", dead.size());
  for (const auto& [r, k] : reasons) std::printf("  [%s: %zu]", r.c_str(), k);
  std::printf("\nprovider timeouts      %llu (each retried with backoff and jitter, up to 5 attempts)\n",
              static_cast<unsigned long long>(provider.timeouts()));
  std::printf("breaker trips          %llu\n", static_cast<unsigned long long>(pay.breaker_trips));
  std::printf("peak lag after restart %llu events; drained in %.2f s\n", static_cast<unsigned long long>(peak_lag),
              drain_s);
  std::printf("accept path (publish, journal ack)  p50 %.0f us  p99 %.0f us\n", pct(accept_us, 0.5),
              pct(accept_us, 0.99));
  std::printf("end to end (placed -> shipped)      p50 %.1f ms  p99 %.1f ms (after restart)\n", pct(e2e_ms, 0.5),
              pct(e2e_ms, 0.99));
  std::printf("out-of-order events    %llu\n", static_cast<unsigned long long>(shop.out_of_order.load()));
  std::printf("lost orders            %zu\n", lost);
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".provider");
  const bool ok = double_charged == 0 && shop.out_of_order.load() == 0 && lost == 0;
  std::printf("%s\n", ok ? "PASS: no duplicate charge, no out-of-order event, no lost order"
                         : "FAIL: see the figures above");
  return ok ? 0 : 1;
}
