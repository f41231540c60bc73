// The shop's modules (see shop.hpp).
#include "shop.hpp"

namespace flash_sale {

namespace {
// "CENTS PLACED_US" -> PLACED_US
std::int64_t placed_us_of(std::string_view payload) {
  const auto sp = payload.find(' ');
  return sp == std::string_view::npos ? 0 : std::stoll(std::string(payload.substr(sp + 1)));
}
}  // namespace

weir::Status Shop::subscribe(weir::Bus& bus) {
  // Payments: a timeout holds back only its order (non-blocking retries),
  // 5 attempts with exponential backoff and full jitter, charges idempotent
  // by the event id (the provider's idempotency key) and recorded in a state
  // table; the captured payment is published to `payments` in the same
  // transaction as that record, the dedupe record and the offset. A dead
  // letter raises the DLQ alert, which opens an incident ticket.
  weir::SubscribeOptions pay{.group = "payments", .workers = 16, .max_attempts = 5};
  pay.retry_backoff = 5ms;
  pay.retry_backoff_max = 100ms;
  pay.retry_mode = weir::RetryMode::kNonBlocking;
  pay.breaker = {.enabled = true, .failure_ratio = 0.5, .min_calls = 50, .window = 1000ms, .cool_down = 100ms};
  pay.alerts.dlq_depth = 1;
  pay.alerts.dlq_oldest_age = std::chrono::seconds(kSlaUs / 1000000);
  pay.alerts.on_alert = [this](const weir::Alert& a) { open_ticket(a); };
  if (weir::Status s = bus.subscribe("orders", pay, [this](const weir::Message& m, weir::State& st) {
        const std::size_t order = order_of(m.key());
        auto charged = st.get("charges", m.key());
        if (!charged) return weir::Outcome::retry();
        if (!charged->has_value()) {
          // A crash after the charge and before this transaction commits
          // redelivers the order: the same id finds the provider's record.
          const std::string_view p = m.payload();
          switch (provider_.charge(order, m.id(), std::stol(std::string(p.substr(0, p.find(' ')))))) {
            case Provider::Answer::kTimeout: return weir::Outcome::retry();
            case Provider::Answer::kDeclined: return weir::Outcome::fail("card declined");
            default: break;
          }
          if (!st.put("charges", m.key(), "charged")) return weir::Outcome::retry();
        }
        // id "<order id>/1", derived: a replay publishes the same one.
        if (!st.publish("payments", {.key = m.key(), .payload = m.payload(), .type = "shop.payment.captured"}))
          return weir::Outcome::retry();
        return weir::Outcome::done();
      });
      !s)
    return s;
  // Fulfilment: one shipment per captured payment, published in the
  // transaction that moves its offset.
  if (weir::Status s = bus.subscribe(
          "payments", {.group = "fulfilment", .workers = 4}, [](const weir::Message& m, weir::State& st) {
            if (!st.publish("shipments", {.key = m.key(), .payload = m.payload(), .type = "shop.order.shipped"}))
              return weir::Outcome::retry();
            return weir::Outcome::done();
          });
      !s)
    return s;
  // Audit: placed -> shipped, by the events' own times (the payload carries
  // the checkout's). Dedupe: a redelivery after the crash is not measured twice.
  if (weir::Status s = bus.subscribe("shipments", {.group = "audit", .workers = 2, .dedupe = true},
                                     [this](const weir::Message& m) {
                                       say_("s " + std::to_string(m.time_us() - placed_us_of(m.payload())) + "\n");
                                       return weir::Outcome::done();
                                     });
      !s)
    return s;
  // Stock: per item, reservations must arrive in the order they were made.
  // The last sequence handled per item is state, committed with the offset,
  // so the check holds across the crash (a redelivered reservation was
  // rolled back with its offset, or is skipped by the dedupe store).
  return bus.subscribe("inventory", {.group = "stock", .workers = 2}, [this](const weir::Message& m, weir::State& st) {
    auto last = st.get("last_seq", m.key());
    if (!last) return weir::Outcome::retry();
    const std::uint64_t seq = std::stoull(std::string(m.payload()));
    if (last->has_value() && std::stoull(**last) >= seq) say_("o item " + std::string(m.key()) + "\n");
    if (!st.put("last_seq", m.key(), m.payload())) return weir::Outcome::retry();
    return weir::Outcome::done();
  });
}

// The DLQ alert's sink: an incident ticket, one JSON line in the tickets file.
void Shop::open_ticket(const weir::Alert& a) {
  if (a.kind != weir::AlertKind::kDlqDepth && a.kind != weir::AlertKind::kDlqAge) return;
  std::lock_guard<std::mutex> l(ticket_mu_);
  const std::int64_t now = wall_us();
  if (!a.raised) {
    // The DLQ is empty again (the on-call purged what it triaged): resolved.
    if (a.kind == weir::AlertKind::kDlqDepth && !open_ticket_.empty()) {
      append_line(tickets_, "{\"resolved\":\"" + open_ticket_ + "\",\"at_us\":" + std::to_string(now) + "}\n");
      open_ticket_.clear();
    }
    return;
  }
  if (!open_ticket_.empty()) return;  // one open ticket covers the DLQ until it is empty
  open_ticket_ = "INC-" + std::to_string(epoch_) + "-" + std::to_string(tickets_opened_.fetch_add(1) + 1);
  open_ticket_us_ = now;
  char line[512];
  std::snprintf(line, sizeof line,
                "{\"ticket\":\"%s\",\"opened_us\":%lld,\"owner\":\"payments-oncall\",\"group\":\"%.*s\","
                "\"alert\":\"%s\",\"value\":%.0f,\"sla_deadline_us\":%lld}\n",
                open_ticket_.c_str(), static_cast<long long>(now), static_cast<int>(a.group.size()), a.group.data(),
                a.kind == weir::AlertKind::kDlqDepth ? "dlq_depth" : "dlq_oldest_age", a.value,
                static_cast<long long>(now + kSlaUs));
  append_line(tickets_, line);
}

void Shop::triage_once(weir::Bus& bus) {
  std::string ticket;
  std::int64_t opened = 0;
  {
    std::lock_guard<std::mutex> l(ticket_mu_);
    ticket = open_ticket_;
    opened = open_ticket_us_;
  }
  if (ticket.empty()) return;
  auto dead = bus.dlq_list("payments", {}, 1000);
  if (!dead) return;
  for (const auto& d : *dead) {
    const std::int64_t now = wall_us();
    char line[512];
    std::snprintf(line, sizeof line,
                  "{\"triaged\":\"%s\",\"ticket\":\"%s\",\"ticket_opened_us\":%lld,\"dead_lettered_us\":%lld,"
                  "\"triaged_us\":%lld,\"reason\":\"%s\"}\n",
                  d.key.c_str(), ticket.c_str(), static_cast<long long>(opened),
                  static_cast<long long>(d.last_failure_us), static_cast<long long>(now), d.reason.c_str());
    append_line(tickets_, line);  // recorded before it leaves the DLQ: a crash between repeats it, never loses it
    weir::DeadLetterFilter one;
    one.dlq_offset = d.dlq_offset;
    if (bus.dlq_purge("payments", one)) triaged_.fetch_add(1);
  }
}

void Shop::start_triage(weir::Bus& bus) {
  triage_ = std::thread([this, &bus] {
    while (!stopping_.load()) {
      triage_once(bus);
      std::this_thread::sleep_for(200ms);
    }
  });
}

void Shop::stop() {
  stopping_.store(true);
  if (triage_.joinable()) triage_.join();
}

}  // namespace flash_sale
