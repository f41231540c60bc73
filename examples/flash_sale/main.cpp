// The seed article's flash sale, on one machine, as an exactly-once
// pipeline (orders -> payments -> shipments, each follow-up published inside
// its stage's transaction with State::publish): checkouts far above what the
// payment stage may run at once, a provider that times out 2% of the time and
// declines poison orders, 5 attempts with exponential backoff and full
// jitter, charges made idempotent by the event id, per-item ordered
// inventory, dead letters ticketed and triaged within the 15-minute SLA, and
// a crash in the middle of the sale: the sale runs in a child process that is
// killed with SIGKILL; the parent reopens the journal, finishes the sale
// (customers retry unconfirmed checkouts) and drains.
//
//   weir-example-flash_sale                              a burst of 20,000 orders (make demo)
//   weir-example-flash_sale --orders N                   a burst of N orders
//   weir-example-flash_sale --rate 70000/min --minutes 10 [--speed K]
//                                                        the seed's figures, paced (K compresses time)
//
// Exit status: 0 PASS; 1 if an order was charged twice, an accepted order
// has no placed event, a payment or a shipment is missing, repeated or
// unexpected (counted per order by derived id), an item's reservations were
// handled out of order, or a dead letter was not ticketed and triaged within
// the SLA; 2 usage.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "shop.hpp"
#include "timeline.hpp"

extern char** environ;

namespace {

using namespace flash_sale;

struct Sale {
  std::size_t orders = 20000;
  double interval_s = 0;  // between two checkouts; 0: a burst
  std::string dir, tickets;
};

constexpr int kCheckoutThreads = 32;

weir::Options bus_options(const std::string& dir) {
  weir::Options o;
  o.data_dir = dir;
  o.offset_commit_interval = 5ms;
  return o;
}

// Samples lag per partition index (summed over the pipeline's topics and
// groups), payment retries, dead letters and RssAnon every 100 ms;
// `total_lag` gets the lag of every group of every topic.
class Sampler {
 public:
  Sampler(weir::Bus& bus, Shop& shop, Shop::Say say) : bus_(bus), shop_(shop), say_(std::move(say)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        sample();
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~Sampler() {
    stop_.store(true);
    thread_.join();
  }
  std::uint64_t total_lag() const { return total_lag_.load(); }
  bool sampled() const { return sampled_.load(); }

 private:
  void sample() {
    auto m = bus_.metrics();
    if (!m) return;
    std::vector<std::uint64_t> lag(kOrderPartitions, 0);
    std::uint64_t total = 0, retries = 0, dead = 0;
    for (const auto& g : m->groups) {
      for (const auto& p : g.partitions) {
        total += p.lag;
        if (g.topic != "inventory" && p.partition < lag.size()) lag[p.partition] += p.lag;
      }
      if (g.group == "payments") {
        retries = g.retries;
        dead = g.dlq_count;
      }
    }
    std::string line = "m ";
    for (std::size_t p = 0; p < lag.size(); ++p) line += (p ? "," : "") + std::to_string(lag[p]);
    line += " " + std::to_string(retries) + " " + std::to_string(dead + shop_.triaged()) + " " +
            std::to_string(rss_anon_kb()) + "\n";
    say_(line);
    total_lag_.store(total);
    sampled_.store(true);
  }

  weir::Bus& bus_;
  Shop& shop_;
  Shop::Say say_;
  std::atomic<bool> stop_{false}, sampled_{false};
  std::atomic<std::uint64_t> total_lag_{0};
  std::thread thread_;
};

// Runs checkouts of `todo` from kCheckoutThreads threads, the k-th of them
// due at start + k * interval; `done(i, us)` for each accepted one.
void run_checkouts(weir::Bus& bus, Shop& shop, const std::vector<std::size_t>& todo, double interval_s,
                   const std::function<void(std::size_t, double)>& done) {
  std::atomic<std::size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kCheckoutThreads; ++t)
    threads.emplace_back([&] {
      for (std::size_t k; (k = next.fetch_add(1)) < todo.size();) {
        if (interval_s > 0)
          std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(interval_s * static_cast<double>(k))));
        const auto t0 = Clock::now();
        if (shop.checkout(bus, todo[k])) done(todo[k], std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  for (auto& t : threads) t.join();
}

// The sale in the child: prints each accepted order; killed before it ends.
int run_child(const Sale& sale) {
  const Shop::Say say = [](const std::string& line) {  // one write() per line: a SIGKILL never splits one
    const ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
    (void)n;
  };
  Provider provider(sale.dir + ".provider", sale.orders);
  auto bus = weir::Bus::open(bus_options(sale.dir)).value();
  Shop shop(provider, say, sale.tickets, 0);
  if (!Shop::create_topics(*bus) || !shop.subscribe(*bus)) return 1;
  shop.start_triage(*bus);
  Sampler sampler(*bus, shop, say);
  std::vector<std::size_t> todo(sale.orders);
  for (std::size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  run_checkouts(*bus, shop, todo, sale.interval_s, [&](std::size_t i, double us) {
    say("a " + std::to_string(i) + " " + std::to_string(static_cast<long>(us)) + "\n");
  });
  for (;;) std::this_thread::sleep_for(1s);  // keep consuming until killed
}

// Starts the child and reads its lines into `tl` until it has accepted half
// the orders; then kills it (SIGKILL) and reads what is left in the pipe.
bool sale_until_crash(const Sale& sale, Timeline& tl) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  char self[4096];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return false;
  self[len] = '\0';
  std::vector<std::string> a{self, "--phase", "child", "--dir", sale.dir, "--tickets", sale.tickets,
                             "--orders", std::to_string(sale.orders), "--interval-s", std::to_string(sale.interval_s)};
  std::vector<char*> args;
  for (auto& s : a) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid;
  const int spawned = posix_spawn(&pid, self, &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) return false;
  ::close(fds[1]);
  std::string buf;
  char chunk[65536];
  for (bool killed = false;;) {
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(got));
    std::size_t start = 0, pos;
    while ((pos = buf.find('\n', start)) != std::string::npos) {
      tl.feed(buf.substr(start, pos - start));
      start = pos + 1;
    }
    buf.erase(0, start);
    if (!killed && tl.accepted_count >= sale.orders / 2) {
      ::kill(pid, SIGKILL);  // the crash, mid-sale
      tl.crashed();
      killed = true;
    }
  }
  ::close(fds[0]);
  int status;
  ::waitpid(pid, &status, 0);
  return true;
}

// The tickets file: every poison order must have been triaged under a
// ticket opened with an owner, within the SLA of its dead-lettering.
struct Triage {
  std::size_t tickets = 0, triaged_in_sla = 0, late = 0;
  std::set<std::string> triaged_keys;
};
Triage read_tickets(const std::string& path) {
  Triage t;
  std::ifstream f(path);
  auto num = [](const std::string& line, const std::string& field) -> long long {
    const auto p = line.find("\"" + field + "\":");
    return p == std::string::npos ? -1 : std::stoll(line.substr(p + field.size() + 3));
  };
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("{\"ticket\":", 0) == 0 && line.find("\"owner\":\"") != std::string::npos &&
        num(line, "sla_deadline_us") == num(line, "opened_us") + kSlaUs)
      ++t.tickets;
    if (line.rfind("{\"triaged\":\"", 0) != 0) continue;
    const std::string key = line.substr(12, line.find('"', 12) - 12);
    const long long dead = num(line, "dead_lettered_us"), done = num(line, "triaged_us"),
                    opened = num(line, "ticket_opened_us");
    if (opened > 0 && done >= opened && done - dead <= kSlaUs && done - opened <= kSlaUs) {
      if (t.triaged_keys.insert(key).second) ++t.triaged_in_sla;
    } else {
      ++t.late;
    }
  }
  return t;
}

// Counts the events of each pipeline topic per order by derived id: the
// placed order "order-N" (checkout; re-sent checkouts after the crash may
// repeat it, the payments stage's dedupe store skips the copy), the payment
// "order-N/1" and the shipment "order-N/1/1" (exactly one per accepted order
// that is not poison, none for poison orders).
weir::Status count_stages(const std::string& dir, const std::vector<std::uint8_t>& accepted,
                          std::vector<StageCount>& stages) {
  auto insp = weir::Inspector::open(dir);
  if (!insp) return insp.status();
  const char* suffix[] = {"", "/1", "/1/1"};
  const char* stage[] = {"checkout", "payments", "fulfilment"};
  for (std::size_t k = 0; k < std::size(kPipelineTopics); ++k) {
    StageCount st{stage[k], kPipelineTopics[k], std::string("order-N") + suffix[k]};
    std::vector<std::uint32_t> n(accepted.size(), 0);
    for (std::uint32_t p = 0; p < kOrderPartitions; ++p)
      for (weir::Offset from = 0;;) {
        auto recs = (*insp)->read(st.topic, p, from, 4096);
        if (!recs) return recs.status();
        if (recs->empty()) break;
        for (const auto& r : *recs) {
          from = r.offset + 1;
          ++st.events;
          const std::string want = r.key + suffix[k];
          std::size_t order = accepted.size();
          if (r.id == want && r.key.rfind("order-", 0) == 0) order = order_of(r.key);
          if (order >= accepted.size() || (k > 0 && poison(order))) {
            ++st.unexpected;
            continue;
          }
          ++n[order];
        }
      }
    for (std::size_t i = 0; i < accepted.size(); ++i) {
      st.once += n[i] == 1;
      st.repeated += n[i] > 1;
      st.missing += accepted[i] && n[i] == 0 && (k == 0 || !poison(i));
    }
    stages.push_back(std::move(st));
  }
  return weir::Status::ok();
}

bool parse_rate(const std::string& s, double& per_min) {
  const auto slash = s.find('/');
  try {
    std::size_t used = 0;
    per_min = std::stod(s.substr(0, slash), &used);
    if (used != slash || per_min <= 0) return false;
  } catch (const std::exception&) {
    return false;
  }
  const std::string unit = slash == std::string::npos ? "min" : s.substr(slash + 1);
  if (unit == "s" || unit == "sec") per_min *= 60;
  else if (unit == "h") per_min /= 60;
  else if (unit != "min") return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir flash-sale demo: checkouts, flaky payments, a crash mid-sale, recovery, zero duplicate charges"};
  Sale sale;
  sale.dir = (std::filesystem::temp_directory_path() / ("weir-flash-sale-" + std::to_string(::getpid()))).string();
  std::string phase = "parent", rate, report;
  double minutes = 0, speed = 1, drain_limit_s = 600;
  auto* orders_opt = app.add_option("--orders", sale.orders, "a burst of this many orders (default 20000)")
                         ->check(CLI::Range(100, 2000000));
  auto* rate_opt = app.add_option("--rate", rate, "checkout rate, e.g. 70000/min (also /s, /h); needs --minutes")
                       ->excludes(orders_opt);
  auto* minutes_opt = app.add_option("--minutes", minutes, "length of the sale at --rate")
                          ->check(CLI::Range(0.01, 1440.0))->needs(rate_opt);
  rate_opt->needs(minutes_opt);
  app.add_option("--speed", speed, "compress time K-fold (checkouts K times faster), default 1")
      ->check(CLI::Range(0.01, 100000.0))->needs(rate_opt);
  app.add_option("--dir", sale.dir, "data directory (removed first)");
  app.add_option("--report", report, "HTML report (default: flash-sale-report.html beside the binary's directory)");
  app.add_option("--drain-limit-s", drain_limit_s, "give up draining after this long, default 600")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--phase", phase)->group("");  // internal: "child"
  app.add_option("--tickets", sale.tickets,
                 "incident tickets, JSON lines (default: flash-sale-tickets.jsonl beside the report)");
  app.add_option("--interval-s", sale.interval_s)->group("");
  CLI11_PARSE(app, argc, argv);
  if (phase == "child") return run_child(sale);

  double per_min = 0;
  if (!rate.empty()) {
    if (!parse_rate(rate, per_min)) {
      std::fprintf(stderr, "--rate: '%s' is not a rate like 70000/min\n", rate.c_str());
      return 2;
    }
    const double n = per_min * minutes;
    if (n < 100 || n > 2000000) {
      std::fprintf(stderr, "--rate x --minutes makes %.0f orders; it must be 100..2000000\n", n);
      return 2;
    }
    sale.orders = static_cast<std::size_t>(n);
    sale.interval_s = 60.0 / (per_min * speed);
  }
  if (report.empty()) {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    report = ((ec ? std::filesystem::current_path() : exe.parent_path().parent_path()) / "flash-sale-report.html").string();
  }
  if (sale.tickets.empty())
    sale.tickets = (std::filesystem::path(report).parent_path() / "flash-sale-tickets.jsonl").string();
  std::filesystem::remove_all(sale.dir);
  std::filesystem::remove(sale.dir + ".provider");
  std::filesystem::remove(sale.tickets);
  if (per_min > 0)
    std::printf("flash sale: %zu orders at %.0f/min for %.4g min (time compressed %.4gx: %.0f checkouts/s)\n",
                sale.orders, per_min, minutes, speed, per_min * speed / 60);
  else
    std::printf("flash sale: a burst of %zu orders\n", sale.orders);
  std::printf("payment provider licensed for %d concurrent requests, 2%% timeouts, poison orders every 997th, "
              "5 attempts with backoff and jitter (non-blocking: a timeout holds back only its order)\n",
              Provider::kLicensed);
  std::fflush(stdout);

  // 1. The sale starts in a child process, which we kill halfway through.
  Timeline tl(sale.orders);
  if (!sale_until_crash(sale, tl)) {
    std::fprintf(stderr, "could not run the sale's child process\n");
    return 1;
  }
  std::printf("crash: the shop was killed (SIGKILL) after accepting %zu orders\n", tl.accepted_before_crash);
  std::fflush(stdout);

  // 2. Restart: reopen the journal, finish the sale, drain.
  Provider provider(sale.dir + ".provider", sale.orders);
  auto opened = weir::Bus::open(bus_options(sale.dir));
  if (!opened) {
    std::fprintf(stderr, "reopen after the crash: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  auto bus = std::move(opened).value();
  tl.restart_t = tl.now();
  const Shop::Say feed = [&tl](const std::string& line) { tl.feed(line); };
  auto shop = std::make_unique<Shop>(provider, feed, sale.tickets, 1);
  if (weir::Status s = Shop::create_topics(*bus); !s) {
    std::fprintf(stderr, "topics: %s\n", s.to_string().c_str());
    return 1;
  }
  if (weir::Status s = shop->subscribe(*bus); !s) {
    std::fprintf(stderr, "subscribe: %s\n", s.to_string().c_str());
    return 1;
  }
  shop->start_triage(*bus);
  auto sampler = std::make_unique<Sampler>(*bus, *shop, feed);
  std::vector<std::size_t> todo;  // customers retry only unconfirmed checkouts
  for (std::size_t i = 0; i < sale.orders; ++i)
    if (!tl.accepted[i]) todo.push_back(i);
  run_checkouts(*bus, *shop, todo, sale.interval_s, [&](std::size_t i, double us) {
    tl.feed("a " + std::to_string(i) + " " + std::to_string(static_cast<long>(us)));
  });
  tl.sale_end_t = tl.now();
  // Drained: every group of every topic caught up and the DLQ triaged.
  bool drained = false;
  while (tl.now() - tl.sale_end_t < drain_limit_s) {
    std::this_thread::sleep_for(20ms);
    const auto dlq = bus->dlq_list("payments", {}, 1);
    if (sampler->sampled() && sampler->total_lag() == 0 && dlq && dlq->empty()) {
      drained = true;
      break;
    }
  }
  tl.drained_t = tl.now();
  sampler.reset();
  shop->stop();
  const auto pay = bus->describe_group("payments");
  const std::uint64_t breaker_trips = pay ? pay->breaker_trips : 0;
  bus->close().ignore();
  bus.reset();  // releases the data directory

  // 3. The verdict: charges from the provider's ledger, the pipeline's
  // topics counted by derived id from the journal (read-only).
  const Triage triage = read_tickets(sale.tickets);
  std::size_t charged = 0, double_charged = 0, poisoned = 0, untriaged = 0;
  for (std::size_t i = 0; i < sale.orders; ++i) {
    const auto c = provider.charges(i);
    charged += c > 0;
    double_charged += c > 1;
    if (poison(i)) {
      ++poisoned;
      if (!triage.triaged_keys.count(order_key(i))) ++untriaged;  // dead-lettered, ticketed, triaged in time
    }
  }
  std::vector<StageCount> stages;
  if (weir::Status s = count_stages(sale.dir, tl.accepted, stages); !s) {
    std::fprintf(stderr, "reading the pipeline's topics: %s\n", s.to_string().c_str());
    return 1;
  }
  const std::size_t lost = stages.back().missing;  // accepted, not poison, never shipped
  bool stages_ok = true;
  for (std::size_t k = 0; k < stages.size(); ++k)
    stages_ok = stages_ok && stages[k].missing == 0 && stages[k].unexpected == 0 && (k == 0 || stages[k].repeated == 0);

  std::vector<float> accept, e2e;
  for (const auto& [t, v] : tl.accept_us) accept.push_back(v);
  for (const auto& [t, v] : tl.e2e_ms) e2e.push_back(v);
  const std::uint64_t retries = tl.samples.empty() ? 0 : tl.samples.back().retries;
  const double drain_s = tl.drained_t - tl.sale_end_t;
  const bool ok = drained && double_charged == 0 && tl.out_of_order.empty() && stages_ok && untriaged == 0 &&
                  triage.late == 0;
  std::vector<std::string> lines;
  char b[512];
  auto add = [&](const char* fmt, auto... v) {
    std::snprintf(b, sizeof b, fmt, v...);
    lines.emplace_back(b);
  };
  add("orders accepted        %zu (%zu before the crash, %zu after); the sale took %.1f s, %.0f checkouts/s",
      tl.accepted_count, tl.accepted_before_crash, tl.accepted_count - tl.accepted_before_crash, tl.sale_end_t,
      static_cast<double>(tl.accepted_count) / std::max(tl.sale_end_t, 1e-9));
  add("orders charged         %zu (poison orders declined: %zu)", charged, poisoned);
  add("duplicate charges      %zu (rate %.4f%%; the seed allows 0.01%%)", double_charged,
      charged ? 100.0 * static_cast<double>(double_charged) / static_cast<double>(charged) : 0.0);
  add("provider timeouts      %llu (payment retries %llu, up to 5 attempts each)",
      static_cast<unsigned long long>(provider.timeouts()), static_cast<unsigned long long>(retries));
  add("breaker trips          %llu (after the restart)", static_cast<unsigned long long>(breaker_trips));
  add("dead letters           %zu triaged within the 15-minute SLA under %zu incident tickets (%s); late %zu, "
      "untriaged %zu", triage.triaged_in_sla, triage.tickets, sale.tickets.c_str(), triage.late, untriaged);
  add("peak lag               %llu events (all groups)", static_cast<unsigned long long>(tl.peak_lag));
  add("drain                  %.2f s from the last checkout to every group caught up%s", drain_s,
      drained ? "" : " (NOT DRAINED: gave up)");
  add("accept (publish, journal ack)   p50 %.0f us  p99 %.0f us", percentile(accept, 0.5), percentile(accept, 0.99));
  add("placed -> shipped               p50 %.1f ms  p99 %.1f ms (all orders, the crash's included)",
      percentile(e2e, 0.5), percentile(e2e, 0.99));
  add("peak anonymous memory  %.1f MiB (RssAnon, either process)", static_cast<double>(tl.peak_rss_anon_kb) / 1024.0);
  add("out-of-order events    %zu%s%s", tl.out_of_order.size(), tl.out_of_order.empty() ? "" : ", first: ",
      tl.out_of_order.empty() ? "" : tl.out_of_order.front().c_str());
  for (const auto& st : stages)
    add("stage %-11s -> %-9s %7zu events: %zu orders once as %s, %zu more than once, %zu missing, %zu unexpected",
        st.stage.c_str(), st.topic.c_str(), st.events, st.once, st.id_form.c_str(), st.repeated, st.missing,
        st.unexpected);
  add("lost orders            %zu", lost);
  add("%s", ok ? "PASS: no duplicate charge, one payment and one shipment per order, nothing out of order, no lost "
                 "order, every dead letter triaged in time"
               : "FAIL: see the figures above");
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  if (write_html(report, tl, lines, stages, ok))
    std::printf("report: %s\n", report.c_str());
  else
    std::fprintf(stderr, "could not write the report %s\n", report.c_str());
  std::filesystem::remove_all(sale.dir);
  std::filesystem::remove(sale.dir + ".provider");
  return ok ? 0 : 1;
}
