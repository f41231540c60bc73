// The flash sale's shop: the payment provider (another company: its ledger is
// a file that survives our crash), the modules wired by topics as an
// exactly-once pipeline, the incident tickets raised by the DLQ alert and the
// on-call's triage. Public API only.
//
//   checkout --placed "order-N"--> [orders]
//     --> payments (state handler: charge, record it, State::publish)
//     --captured "order-N/1"--> [payments]
//     --> fulfilment (state handler: State::publish)
//     --shipped "order-N/1/1"--> [shipments]
//     --> audit: placed -> shipped time, per order
//   checkout --reserve--> [inventory, keyed by item]
//     --> stock (state handler): per item, reservations in the order they were made
//
// Each stage's follow-up is published inside the stage's transaction (with
// its state writes, dedupe record and offset), so a crash can neither lose
// it nor publish it twice: its id derives from the input's ("<input id>/1"),
// and the verdict counts them by that id.
//
// Everything the parent needs to judge the sale is written as one line per
// fact through `Shop::say` (a pipe from the child, which is killed mid-sale;
// a direct call in the parent): "a ORDER US" accepted, "s US" shipped
// (placed -> shipped), "o WHAT" an out-of-order event, "m ..." a sample.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <weir/weir.hpp>

namespace flash_sale {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The triage SLA of the seed article: every dead letter ticketed and triaged
// within 15 minutes.
constexpr std::int64_t kSlaUs = 15LL * 60 * 1000 * 1000;
constexpr std::uint32_t kOrderPartitions = 16;  // orders, payments and shipments alike
// The pipeline's topics, in stage order.
constexpr const char* kPipelineTopics[] = {"orders", "payments", "shipments"};
constexpr std::uint32_t kItems = 200;

// --- the payment provider: its ledger is a file both processes map -------------
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

  Provider(const std::string& path, std::size_t orders) {
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
  // 2% of requests time out (transient); negative amounts are declined.
  Answer charge(std::size_t order, std::string_view idempotency_key, long cents) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return in_use_ < kLicensed; });
    ++in_use_;
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

 private:
  Ledger* ledger_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_use_ = 0;
};

inline std::string order_key(std::size_t i) { return "order-" + std::to_string(i); }
inline std::size_t order_of(std::string_view key) { return std::stoul(std::string(key.substr(6))); }
inline long cents_of(std::size_t i) { return i % 997 == 13 ? -1 : static_cast<long>(500 + i % 5000); }  // poison
inline bool poison(std::size_t i) { return cents_of(i) < 0; }
inline std::string item_key(std::size_t i) { return "item-" + std::to_string(i % kItems); }

// RssAnon of this process in KiB (anonymous memory only: the journal's
// file-backed mapped pages are not counted), 0 if unknown.
inline std::uint64_t rss_anon_kb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  std::uint64_t kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "RssAnon: %lu kB", &kb) == 1) break;
  std::fclose(f);
  return kb;
}

// Appends one line to a file with one write(), so a SIGKILL never leaves half a line.
inline void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return;
  const ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
  ::close(fd);
}

class Shop {
 public:
  using Say = std::function<void(const std::string&)>;

  // `epoch`: 0 in the first process, 1 after the restart (orders the
  // inventory sequence numbers across the crash).
  Shop(Provider& p, Say say, std::string tickets_path, int epoch)
      : provider_(p), say_(std::move(say)), tickets_(std::move(tickets_path)), epoch_(epoch) {}
  ~Shop() { stop(); }

  static weir::Status create_topics(weir::Bus& bus) {
    for (const char* t : kPipelineTopics)
      if (weir::Status s =
              bus.create_topic(t, {.partitions = kOrderPartitions, .durability = weir::Durability::kJournaled});
          !s && s.code() != weir::Code::kAlreadyExists)
        return s;
    if (weir::Status s = bus.create_topic("inventory", {.partitions = 8, .durability = weir::Durability::kJournaled});
        !s && s.code() != weir::Code::kAlreadyExists)
      return s;
    return weir::Status::ok();
  }

  // Checkout: reserve the item (per-item sequence, in publish order), then
  // accept the order (the synchronous path: acknowledged once journaled).
  weir::Result<weir::PublishReceipt> checkout(weir::Bus& bus, std::size_t i) {
    {
      const std::string item = item_key(i);
      std::lock_guard<std::mutex> l(item_mu_[i % kItems % std::size(item_mu_)]);
      const std::uint64_t seq = (static_cast<std::uint64_t>(epoch_) << 40) | ++item_seq_[i % kItems];
      auto r = bus.publish("inventory", {.key = item, .payload = std::to_string(seq)}, {.ack = weir::Ack::kNone});
      if (!r) return r.status();
    }
    const std::string key = order_key(i);
    return bus.publish("orders", {.key = key,
                                  .payload = std::to_string(cents_of(i)) + " " + std::to_string(wall_us()),
                                  .id = key,  // the payment is "order-N/1", the shipment "order-N/1/1"
                                  .source = "/shop/checkout",
                                  .type = "shop.order.placed"});
  }

  weir::Status subscribe(weir::Bus& bus);
  // The on-call: triages every dead letter of an open ticket (recorded in
  // the tickets file, then purged from the DLQ). Runs until stop().
  void start_triage(weir::Bus& bus);
  void stop();

  std::uint64_t tickets_opened() const { return tickets_opened_.load(); }
  std::uint64_t triaged() const { return triaged_.load(); }

 private:
  void open_ticket(const weir::Alert& a);
  void triage_once(weir::Bus& bus);

  Provider& provider_;
  Say say_;
  std::string tickets_;
  int epoch_;
  std::mutex item_mu_[32];
  std::uint64_t item_seq_[kItems] = {};
  std::mutex ticket_mu_;
  std::string open_ticket_;  // id of the open ticket, empty when none
  std::int64_t open_ticket_us_ = 0;
  std::atomic<std::uint64_t> tickets_opened_{0}, triaged_{0};
  std::atomic<bool> stopping_{false};
  std::thread triage_;
};

}  // namespace flash_sale
