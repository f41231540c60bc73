// A shop service with the web console on: the process an operator works
// with from the browser (and that tests/browser drives).
//
//   weir-example-ops_console --dir /tmp/shop [--port 0]
//
// Topic "orders" (4 partitions, journaled). Group "billing" charges orders;
// the payment provider declines the ones whose payload starts with "bad"
// (they are dead-lettered), until an operator redrives them: a redriven
// charge goes through, as it would once the provider is fixed. Group
// "shipping" starts paused (an operator paused it for a warehouse cut-over),
// so it shows lag until resumed. Group "fraud" screens orders, one worker
// per partition, and is stuck on a hot customer: "order-hot" placed 200
// orders, and after 24 of them its screening call hangs (until the process
// stops), so that partition lags, skewed, with "order-hot" as its hot key.
// Billing's triage SLA for dead letters is 15 minutes. Prints
// "console <url>" and "ready", then runs until SIGINT or SIGTERM.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "weir/weir.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int usage() {
  std::fprintf(stderr, "usage: weir-example-ops_console --dir DIR [--port PORT]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--port") && i + 1 < argc) port = std::atoi(argv[++i]);
    else return usage();
  }
  if (dir.empty() || port < 0 || port > 65535) return usage();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  weir::Options o;
  o.data_dir = dir;
  o.console.enabled = true;
  o.console.port = static_cast<std::uint16_t>(port);
  auto opened = weir::Bus::open(o);
  if (!opened) {
    std::fprintf(stderr, "ops_console: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  auto bus = std::move(opened).value();
  auto check = [](const weir::Status& s, const char* what) {
    if (!s) {
      std::fprintf(stderr, "ops_console: %s: %s\n", what, s.to_string().c_str());
      std::exit(1);
    }
  };
  check(bus->create_topic("orders", {.partitions = 4, .durability = weir::Durability::kJournaled}), "orders");
  weir::SubscribeOptions billing{.group = "billing", .workers = 2};
  billing.alerts.dlq_oldest_age = std::chrono::minutes(15);  // the triage SLA shown on the page
  check(bus->subscribe("orders", billing,
                       [](const weir::Message& m) {
                         const bool redriven = m.header("weir.redrive.group").has_value();
                         if (m.payload().substr(0, 3) == "bad" && !redriven)
                           return weir::Outcome::fail("card declined by the payment provider");
                         return weir::Outcome::done();
                       }),
        "billing");
  check(bus->subscribe("orders", {.group = "shipping"}, [](const weir::Message&) { return weir::Outcome::done(); }),
        "shipping");
  check(bus->pause("shipping"), "pause shipping");
  // Small batches, so the hot partition's backlog is sampled (hot keys).
  std::atomic<int> screened_hot{0};
  check(bus->subscribe("orders", {.group = "fraud", .workers = 4, .max_batch = 8},
                       [&screened_hot](const weir::Message& m) {
                         if (m.key() == "order-hot" && ++screened_hot > 24)
                           while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                         return weir::Outcome::done();
                       }),
        "fraud");

  for (int i = 0; i < 40; ++i) {
    const std::string key = "order-" + std::to_string(i);
    const std::string payload = (i % 13 == 5 ? "bad-" : "ok-") + std::to_string(i);
    auto r = bus->publish("orders", {.key = key, .payload = payload, .type = "shop.order.placed"},
                          {.ack = weir::Ack::kJournal});
    if (!r) check(r.status(), "publish");
  }
  for (int i = 0; i < 200; ++i) {
    auto r = bus->publish("orders", {.key = "order-hot", .payload = "ok-hot-" + std::to_string(i),
                                     .type = "shop.order.placed"},
                          {.ack = weir::Ack::kNone});  // committed together: fraud reads full batches
    if (!r) check(r.status(), "publish");
  }
  std::string url;
  std::getline(std::ifstream(dir + "/" + std::string(weir::kConsoleUrlFileName)), url);
  std::printf("console %s\nready\n", url.c_str());
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto report = bus->close();
  return report ? 0 : 1;
}
