// The event contract: envelope attributes, ids, traceparent, typed events,
// schema upcasting (also on replay of journal data), validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "test_util.hpp"

namespace weir {

// --- a typed event with three schema versions --------------------------------
// v1: "name"            v2: "name;cents"           v3: "name;cents;EUR"
struct Order {
  std::string name;
  long cents = 0;
  std::string currency;
};

template <>
struct Codec<Order> {
  static constexpr std::string_view type = "shop.order.placed";
  static constexpr std::uint32_t version = 3;
  static void encode(const Order& o, std::string& out) {
    out = o.name + ";" + std::to_string(o.cents) + ";" + o.currency;
  }
  static Result<Order> decode(std::string_view bytes) {
    const auto a = bytes.find(';');
    const auto b = bytes.find(';', a == std::string_view::npos ? a : a + 1);
    if (a == std::string_view::npos || b == std::string_view::npos)
      return Status::invalid_argument("malformed order '" + std::string(bytes) + "'");
    Order o{std::string(bytes.substr(0, a)), std::stol(std::string(bytes.substr(a + 1, b - a - 1))),
            std::string(bytes.substr(b + 1))};
    return o;
  }
};

namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::open_bus;

std::shared_ptr<SchemaRegistry> order_schemas() {
  auto r = std::make_shared<SchemaRegistry>();
  EXPECT_TRUE(r->add_upcaster("shop.order.placed", 1,
                              [](std::string_view v1) -> Result<std::string> { return std::string(v1) + ";0"; }));
  EXPECT_TRUE(r->add_upcaster("shop.order.placed", 2,
                              [](std::string_view v2) -> Result<std::string> { return std::string(v2) + ";EUR"; }));
  EXPECT_TRUE(r->set_validator("shop.order.placed", [](std::string_view bytes) {
    return bytes.find("bad") == std::string_view::npos ? Status::ok()
                                                       : Status::invalid_argument("order names may not contain 'bad'");
  }));
  return r;
}

const std::regex kUuidV7("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

struct Captured {
  std::mutex mu;
  std::vector<std::map<std::string, std::string>> seen;
  void add(const Message& m) {
    std::lock_guard<std::mutex> l(mu);
    seen.push_back({{"id", std::string(m.id())},
                    {"id_again", std::string(m.id())},
                    {"source", std::string(m.source())},
                    {"type", std::string(m.type())},
                    {"specversion", std::string(m.spec_version())},
                    {"content_type", std::string(m.content_type())},
                    {"dataschema", std::string(m.dataschema())},
                    {"schema_version", std::to_string(m.schema_version())},
                    {"traceparent", std::string(m.traceparent())},
                    {"x-tenant", std::string(m.header("x-tenant").value_or("-"))},
                    {"payload", std::string(m.payload())}});
  }
  std::size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return seen.size();
  }
};

constexpr std::string_view kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Envelope, EveryAttributeRoundTrips) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  const Header extra[] = {{"x-tenant", "acme"}};
  ASSERT_TRUE(bus->publish("t", {.key = "k", .payload = "body", .headers = extra, .id = "order-42/charge",
                                 .source = "/shop/checkout", .type = "shop.order.placed",
                                 .content_type = "application/json", .dataschema = "https://schemas/order/v2",
                                 .schema_version = 2, .traceparent = kTrace}));
  Captured c;
  ASSERT_TRUE(bus->subscribe("t", {.group = "g"}, [&](const Message& m) {
    c.add(m);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return c.size() == 1; }));
  auto& s = c.seen[0];
  EXPECT_EQ(s["id"], "order-42/charge");
  EXPECT_EQ(s["source"], "/shop/checkout");
  EXPECT_EQ(s["type"], "shop.order.placed");
  EXPECT_EQ(s["specversion"], "1.0");
  EXPECT_EQ(s["content_type"], "application/json");
  EXPECT_EQ(s["dataschema"], "https://schemas/order/v2");
  EXPECT_EQ(s["schema_version"], "2");
  EXPECT_EQ(s["traceparent"], kTrace);
  EXPECT_EQ(s["x-tenant"], "acme");
  EXPECT_EQ(s["payload"], "body");
}

TEST(Envelope, DerivedIdsAreStableUuidV7sDistinctPerOffset) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {.partitions = 3}));
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(bus->publish("t", {.key = std::to_string(i), .payload = "x"}));
  Captured c;
  ASSERT_TRUE(bus->subscribe("t", {.group = "g", .workers = 3}, [&](const Message& m) {
    c.add(m);
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return c.size() == 300; }));
  std::set<std::string> ids;
  for (auto& s : c.seen) {
    EXPECT_TRUE(std::regex_match(s["id"], kUuidV7)) << s["id"];
    EXPECT_EQ(s["id"], s["id_again"]);
    EXPECT_EQ(s["specversion"], "");  // no envelope was given
    ids.insert(s["id"]);
  }
  EXPECT_EQ(ids.size(), 300u);
}

TEST(Envelope, DerivedIdsSurviveJournalRestart) {
  testing::ScratchDir dir("envelope");
  Options o = dir.options();
  std::vector<std::string> first, second;
  for (auto* out : {&first, &second}) {
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("t", {.durability = Durability::kJournaled}));
    if (out == &first) {
      for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus->publish("t", {.payload = "x"}));
    }
    std::mutex mu;
    ASSERT_TRUE(bus->subscribe("t", {.group = out == &first ? "a" : "b"}, [&](const Message& m) {
      std::lock_guard<std::mutex> l(mu);
      out->emplace_back(m.id());
      return Outcome::done();
    }));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return out->size() == 5;
    }));
    ASSERT_TRUE(bus->close());
  }
  EXPECT_EQ(first, second);
}

TEST(Envelope, NewEventIdsAreOrderedPerThreadAndUniqueAcrossThreads) {
  constexpr int kThreads = 4, kPer = 20000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> ths;
  for (int t = 0; t < kThreads; ++t)
    ths.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) ids[t].push_back(new_event_id());
    });
  for (auto& th : ths) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      ASSERT_TRUE(std::regex_match(v[i], kUuidV7)) << v[i];
      if (i) {
        ASSERT_LT(v[i - 1], v[i]) << "ids of one thread must sort in generation order";
      }
    }
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPer));
}

TEST(Envelope, TraceparentValidation) {
  EXPECT_TRUE(is_valid_traceparent(kTrace));
  EXPECT_TRUE(is_valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"));
  for (std::string_view bad :
       {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // v00 has no extras
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",            // upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",            // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",            // zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",            // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",             // short trace id
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"})
    EXPECT_FALSE(is_valid_traceparent(bad)) << bad;

  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  auto r = bus->publish("t", {.payload = "x", .traceparent = "00-nope"});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("traceparent"), std::string::npos);
}

TEST(Envelope, ReservedHeadersAreRefused) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("t", {}));
  for (const char* name : {"ce_id", "ce_type", "traceparent", "content-type"}) {
    const Header h[] = {{name, "x"}};
    auto r = bus->publish("t", {.payload = "x", .headers = h});
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << name;
    EXPECT_NE(r.status().message().find("reserved"), std::string::npos);
  }
}

TEST(Typed, PublishDecodeAndUpcastChain) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("orders", {}));
  auto schemas = order_schemas();
  auto topic = bus->topic("orders").value();
  // Old producers: v1 and v2 payloads, raw.
  ASSERT_TRUE(topic.publish({.payload = "tea", .type = "shop.order.placed", .schema_version = 1}));
  ASSERT_TRUE(topic.publish({.payload = "cake;450", .type = "shop.order.placed", .schema_version = 2}));
  ASSERT_TRUE(publish(topic, Order{"pie", 300, "GBP"}, {.key = "o3", .source = "/shop"}, schemas.get()));
  std::mutex mu;
  std::vector<std::string> got;
  ASSERT_TRUE(bus->subscribe("orders", {.group = "billing"},
                             typed_handler<Order>(schemas, [&](const Order& o, const Message& m) {
                               std::lock_guard<std::mutex> l(mu);
                               got.push_back(o.name + "/" + std::to_string(o.cents) + "/" + o.currency + "@v" +
                                             std::to_string(m.schema_version()));
                               return Outcome::done();
                             })));
  ASSERT_TRUE(bus->close());
  EXPECT_EQ(got, (std::vector<std::string>{"tea/0/EUR@v1", "cake/450/EUR@v2", "pie/300/GBP@v3"}));
}

TEST(Typed, ValidationRejectsBeforeEnqueue) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("orders", {}));
  auto schemas = order_schemas();
  auto topic = bus->topic("orders").value();
  auto r = publish(topic, Order{"bad apple", 1, "EUR"}, {}, schemas.get());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("failed validation"), std::string::npos);
  ASSERT_TRUE(bus->subscribe("orders", {.group = "g"}, [](const Message&) { return Outcome::done(); }));
  EXPECT_EQ(bus->describe_group("g")->partitions[0].end, 0u);  // nothing was enqueued
}

TEST(Typed, UndecodableEventsFailPermanently) {
  auto bus = open_bus();
  ASSERT_TRUE(bus->create_topic("orders", {}));
  auto topic = bus->topic("orders").value();
  ASSERT_TRUE(topic.publish({.payload = "x", .type = "shop.refund"}));                           // wrong type
  auto schemas = order_schemas();
  std::mutex mu;
  std::vector<std::string> reasons;
  auto subscribe = [&](const std::string& group, std::shared_ptr<SchemaRegistry> reg) {
    SubscribeOptions so{.group = group};
    so.on_failure = [&](const FailureReport& r) {
      std::lock_guard<std::mutex> l(mu);
      reasons.emplace_back(r.reason);
    };
    ASSERT_TRUE(bus->subscribe("orders", so, typed_handler<Order>(reg, [](const Order&, const Message&) {
                                 ADD_FAILURE() << "an undecodable event reached the handler";
                                 return Outcome::done();
                               })));
  };
  subscribe("wrong-type", schemas);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return reasons.size() == 1;
  }));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_NE(reasons[0].find("cannot decode"), std::string::npos);
    EXPECT_NE(reasons[0].find("'shop.refund' is not 'shop.order.placed'"), std::string::npos) << reasons[0];
  }
  // Dead-lettered with the reason, then acked: the partition goes on.
  EXPECT_FALSE(bus->describe_group("wrong-type")->partitions[0].stopped);
  std::atomic<bool> in_dlq{false};
  ASSERT_TRUE(bus->subscribe("wrong-type.dlq", {.group = "triage"}, [&](const Message& m) {
    in_dlq = m.type() == "shop.refund" &&
             m.header("weir.dlq.reason").value_or("").find("cannot decode") != std::string_view::npos;
    return Outcome::done();
  }));
  ASSERT_TRUE(eventually([&] { return in_dlq.load(); }));

  // Newer than the consumer knows, and a v3 payload that does not parse.
  ASSERT_TRUE(bus->create_topic("more", {}));
  ASSERT_TRUE(bus->publish("more", {.payload = "x", .type = "shop.order.placed", .schema_version = 9}));
  ASSERT_TRUE(bus->create_topic("broken", {}));
  ASSERT_TRUE(bus->publish("broken", {.payload = "no-separators", .type = "shop.order.placed", .schema_version = 3}));
  for (const char* t : {"more", "broken"}) {
    SubscribeOptions so{.group = std::string("g-") + t};
    so.on_failure = [&](const FailureReport& r) {
      std::lock_guard<std::mutex> l(mu);
      reasons.emplace_back(r.reason);
    };
    ASSERT_TRUE(bus->subscribe(t, so, typed_handler<Order>(schemas, [](const Order&, const Message&) {
                                 ADD_FAILURE() << "an undecodable event reached the handler";
                                 return Outcome::done();
                               })));
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return reasons.size() == 3;
  }));
  std::lock_guard<std::mutex> l(mu);
  const std::string all = reasons[1] + "|" + reasons[2];
  EXPECT_NE(all.find("schema version 9, newer than this consumer's 3"), std::string::npos) << all;
  EXPECT_NE(all.find("malformed order 'no-separators'"), std::string::npos) << all;
}

TEST(Typed, VersionChecksAndMissingUpcasters) {
  auto schemas = std::make_shared<SchemaRegistry>();
  EXPECT_EQ(schemas->add_upcaster("", 1, [](std::string_view) -> Result<std::string> { return std::string(); }).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(schemas->add_upcaster("t", 0, [](std::string_view) -> Result<std::string> { return std::string(); }).code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(schemas->add_upcaster("t", 1, [](std::string_view b) -> Result<std::string> { return std::string(b); }));
  EXPECT_EQ(schemas->add_upcaster("t", 1, [](std::string_view b) -> Result<std::string> { return std::string(b); }).code(),
            Code::kAlreadyExists);
  auto missing = schemas->upcast("t", 1, 3, "x");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("from version 2 to 3"), std::string::npos);
  EXPECT_EQ(schemas->upcast("t", 3, 1, "x").status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(schemas->add_upcaster("t", 2, [](std::string_view) -> Result<std::string> {
    return Status::invalid_argument("field 'sku' is missing");
  }));
  auto failed = schemas->upcast("t", 1, 3, "x");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.status().message().find("from version 2: field 'sku' is missing"), std::string::npos);
}

TEST(Typed, UpcastOnReplayOfOldJournalData) {
  testing::ScratchDir dir("replay");
  Options o = dir.options();
  {
    // Yesterday's producer wrote v1 and v2 events.
    auto bus = Bus::open(o).value();
    ASSERT_TRUE(bus->create_topic("orders", {.durability = Durability::kJournaled}));
    ASSERT_TRUE(bus->publish("orders", {.payload = "tea", .type = "shop.order.placed", .schema_version = 1}));
    ASSERT_TRUE(bus->publish("orders", {.payload = "cake;450", .type = "shop.order.placed", .schema_version = 2}));
    ASSERT_TRUE(bus->close());
  }
  auto bus = Bus::open(o).value();
  auto schemas = order_schemas();
  std::mutex mu;
  std::vector<std::string> got;
  ASSERT_TRUE(bus->subscribe("orders", {.group = "replay"},
                             typed_handler<Order>(schemas, [&](const Order& ord, const Message&) {
                               std::lock_guard<std::mutex> l(mu);
                               got.push_back(ord.name + "/" + std::to_string(ord.cents) + "/" + ord.currency);
                               return Outcome::done();
                             })));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> l(mu);
    return got.size() == 2;
  }));
  EXPECT_EQ(got, (std::vector<std::string>{"tea/0/EUR", "cake/450/EUR"}));
  ASSERT_TRUE(bus->close());
}

}  // namespace
}  // namespace weir
