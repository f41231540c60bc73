// Stand-ins for the names README.md's C++ snippets use without defining them
// (the user's own functions and variables). Declarations only: the snippets
// are compiled, not linked or run (tests/readme/check.sh).
#pragma once

#include <weir/weir.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

void invoice(std::string_view key, std::string_view payload);
void log(const std::string& line);
void page_owner(std::string_view group, std::string_view reason);
extern std::unique_ptr<weir::Bus> bus;
extern weir::Handler charge;
extern weir::Topic orders;
extern std::int64_t a_week_ago_us, yesterday_us, now_us;
extern std::string order_id, json, bytes, current_traceparent;

struct Order {
  std::string id;
  long cents = 0;
};
template <>
struct weir::Codec<Order> {
  static constexpr std::string_view type = "shop.order.placed";
  static constexpr std::uint32_t version = 2;
  static void encode(const Order& v, std::string& out);
  static weir::Result<Order> decode(std::string_view bytes);
};
extern Order order;
bool bill(const Order& o);
weir::Result<std::string> upgrade_v1_to_v2(std::string_view v1);
weir::Status check_order(std::string_view encoded);

struct ChargeReceipt {
  std::string id;
};
struct PaymentProvider {
  std::optional<ChargeReceipt> charge(std::string_view payload, std::string_view idempotency_key);
};
extern PaymentProvider provider;

struct Reply {};
Reply reply(int status, std::string body, std::string_view content_type = "text/plain");

// Routing by type (README "Routing by type").
extern std::shared_ptr<weir::SchemaRegistry> schemas;
struct OrderPlaced {
  std::string id;
  long cents = 0;
};
struct OrderCancelled {
  std::string id;
};
template <>
struct weir::Codec<OrderPlaced> {
  static constexpr std::string_view type = "shop.order.placed";
  static constexpr std::uint32_t version = 2;
  static void encode(const OrderPlaced& v, std::string& out);
  static weir::Result<OrderPlaced> decode(std::string_view bytes);
};
template <>
struct weir::Codec<OrderCancelled> {
  static constexpr std::string_view type = "shop.order.cancelled";
  static constexpr std::uint32_t version = 1;
  static void encode(const OrderCancelled& v, std::string& out);
  static weir::Result<OrderCancelled> decode(std::string_view bytes);
};
