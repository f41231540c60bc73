// The smallest real weir program: two modules of one monolith, decoupled by
// a topic. The "checkout" module publishes order events keyed by order id;
// the "invoicing" module consumes them on its own worker threads, in order
// per order, and never blocks checkout.
#include <weir/weir.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace {

// --- module 1: checkout (producer) -------------------------------------------
class Checkout {
 public:
  explicit Checkout(weir::Topic orders) : orders_(std::move(orders)) {}

  // Accepts an order and returns at once; invoicing happens later.
  weir::Status place(int order_id, int cents) {
    const std::string key = "order-" + std::to_string(order_id);
    const std::string payload = std::to_string(cents);
    auto r = orders_.publish({.key = key, .payload = payload});
    return r ? weir::Status::ok() : r.status();
  }

 private:
  weir::Topic orders_;
};

// --- module 2: invoicing (consumer) ------------------------------------------
class Invoicing {
 public:
  weir::Outcome on_order(const weir::Message& m) {
    total_cents_.fetch_add(std::stol(std::string(m.payload())), std::memory_order_relaxed);
    invoices_.fetch_add(1, std::memory_order_relaxed);
    return weir::Outcome::done();
  }
  long invoices() const { return invoices_.load(); }
  long total_cents() const { return total_cents_.load(); }

 private:
  std::atomic<long> invoices_{0};
  std::atomic<long> total_cents_{0};
};

}  // namespace

int main() {
  auto opened = weir::Bus::open({});
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  auto& bus = *opened.value();

  if (auto s = bus.create_topic("orders", {.partitions = 4, .capacity = 1024}); !s) {
    std::fprintf(stderr, "create_topic: %s\n", s.to_string().c_str());
    return 1;
  }

  Invoicing invoicing;
  auto s = bus.subscribe("orders", {.group = "invoicing", .workers = 2},
                         [&](const weir::Message& m) { return invoicing.on_order(m); });
  if (!s) {
    std::fprintf(stderr, "subscribe: %s\n", s.to_string().c_str());
    return 1;
  }

  Checkout checkout(bus.topic("orders").value());
  constexpr int kOrders = 10000;
  long expected = 0;
  for (int i = 0; i < kOrders; ++i) {
    const int cents = 100 + i % 900;
    expected += cents;
    if (auto st = checkout.place(i, cents); !st) {
      std::fprintf(stderr, "place order %d: %s\n", i, st.to_string().c_str());
      return 1;
    }
  }

  // Drain: every accepted order gets invoiced before the bus stops.
  auto report = bus.close();
  std::printf("checkout accepted %d orders; invoicing issued %ld invoices totalling %ld cents "
              "(expected %ld); undelivered %llu\n",
              kOrders, invoicing.invoices(), invoicing.total_cents(), expected,
              static_cast<unsigned long long>(report ? report->undelivered : 0));
  return invoicing.invoices() == kOrders && invoicing.total_cents() == expected ? 0 : 1;
}
