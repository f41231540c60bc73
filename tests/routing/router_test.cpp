// Routing by type (TypeRouter): mixed types on one topic, each unknown-type
// policy, upcasting (versions and a renamed type) on first handling and on
// replay, a typed state handler with dedupe, batch routes, and the
// configuration errors.
#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <string>
#include <vector>

#include "../unit/test_util.hpp"

namespace {

// shop.order.placed: v2 "id|cents"; v1 was "id|dollars".
struct OrderPlaced {
  std::string id;
  long cents = 0;
};
// shop.order.cancelled: v1 "id".
struct OrderCancelled {
  std::string id;
};

weir::Result<std::pair<std::string, long>> split(std::string_view b) {
  const auto bar = b.find('|');
  long n = 0;
  if (bar == std::string_view::npos ||
      std::from_chars(b.data() + bar + 1, b.data() + b.size(), n).ec != std::errc())
    return weir::Status::invalid_argument("not 'id|number': '" + std::string(b) + "'");
  return std::make_pair(std::string(b.substr(0, bar)), n);
}

}  // namespace

template <>
struct weir::Codec<OrderPlaced> {
  static constexpr std::string_view type = "shop.order.placed";
  static constexpr std::uint32_t version = 2;
  static void encode(const OrderPlaced& v, std::string& out) { out = v.id + "|" + std::to_string(v.cents); }
  static weir::Result<OrderPlaced> decode(std::string_view b) {
    auto p = split(b);
    if (!p) return p.status();
    return OrderPlaced{p->first, p->second};
  }
};

template <>
struct weir::Codec<OrderCancelled> {
  static constexpr std::string_view type = "shop.order.cancelled";
  static constexpr std::uint32_t version = 1;
  static void encode(const OrderCancelled& v, std::string& out) { out = v.id; }
  static weir::Result<OrderCancelled> decode(std::string_view b) { return OrderCancelled{std::string(b)}; }
};

namespace weir {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

std::shared_ptr<SchemaRegistry> schemas() {
  auto r = std::make_shared<SchemaRegistry>();
  EXPECT_TRUE(r->add_upcaster("shop.order.placed", 1, [](std::string_view v1) -> Result<std::string> {
    auto p = split(v1);
    if (!p) return p.status();
    return p->first + "|" + std::to_string(p->second * 100);
  }));
  return r;
}

// An event of any type and version, as an older or foreign producer sends it.
Event raw(std::string_view type, std::uint32_t version, std::string_view key, std::string_view payload,
          std::string_view id = {}) {
  return Event{.key = key, .payload = payload, .id = id, .type = type, .schema_version = version};
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<testing::ScratchDir>(
        std::string("router-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Options o = dir_->options();
    o.offset_commit_interval = 2ms;
    bus_ = testing::open_bus(o);
    ASSERT_TRUE(bus_->create_topic("mem", {.partitions = 2}));
    ASSERT_TRUE(bus_->create_topic("disk", {.partitions = 2, .durability = Durability::kJournaled}));
  }
  void TearDown() override { bus_.reset(); }
  void put(const std::string& topic, const Event& e) {
    ASSERT_TRUE(bus_->publish(topic, e, {.ack = topic == "disk" ? Ack::kJournal : Ack::kNone}));
  }
  std::unique_ptr<testing::ScratchDir> dir_;
  std::unique_ptr<Bus> bus_;
  std::mutex mu_;
  std::vector<std::string> log_;  // what the routes saw, in order
  void note(std::string s) {
    std::lock_guard<std::mutex> l(mu_);
    log_.push_back(std::move(s));
  }
  // The group's dead letters (none when it has no dead-letter topic yet).
  std::vector<DeadLetter> letters(const std::string& group) {
    auto l = bus_->dlq_list(group);
    return l ? *l : std::vector<DeadLetter>{};
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> l(mu_);
    return log_;
  }
};

TEST_F(RouterTest, MixedTypesOnOneTopicReachTheirRoutesInKeyOrder) {
  TypeRouter router(UnknownType::kSkip, schemas());
  router.on<OrderPlaced>([&](const OrderPlaced& o, const Message&) {
          note("placed " + o.id + " " + std::to_string(o.cents));
          return Outcome::done();
        })
      .on<OrderCancelled>([&](const OrderCancelled& c, const Message&) {
        note("cancelled " + c.id);
        return Outcome::done();
      });
  auto topic = bus_->topic("mem").value();
  ASSERT_TRUE(publish(topic, OrderPlaced{"a", 250}, {.key = "k"}));
  put("mem", raw("shop.order.audited", 1, "k", "whatever"));
  ASSERT_TRUE(publish(topic, OrderCancelled{"a"}, {.key = "k"}));
  put("mem", raw("shop.order.placed", 1, "k", "b|3"));  // v1: dollars, upcast to cents
  auto h = router.handler();
  ASSERT_TRUE(h) << h.status().to_string();
  ASSERT_TRUE(bus_->subscribe("mem", {.group = "g"}, std::move(h).value()));
  ASSERT_TRUE(eventually([&] { return log().size() == 3 && router.unknown_types() == 1; }));
  EXPECT_EQ(log(), (std::vector<std::string>{"placed a 250", "cancelled a", "placed b 300"}));
  EXPECT_EQ(letters("g").size(), 0u);
  EXPECT_TRUE(eventually([&] { return bus_->describe_group("g")->partitions[topic.partition_for("k")].lag == 0; }));
}

class UnknownTypePolicy : public RouterTest, public ::testing::WithParamInterface<UnknownType> {};

TEST_P(UnknownTypePolicy, IsAppliedAsChosen) {
  TypeRouter router(GetParam());
  router.on<OrderCancelled>([&](const OrderCancelled& c, const Message&) {
    note(c.id);
    return Outcome::done();
  });
  put("mem", raw("shop.order.audited", 3, "k", "?"));
  put("mem", raw("shop.order.cancelled", 1, "k", "after"));
  ASSERT_TRUE(bus_->subscribe("mem", {.group = "g", .max_attempts = 2, .retry_backoff = 1ms, .jitter = false},
                              router.handler().value()));
  ASSERT_TRUE(eventually([&] { return log().size() == 1; }));  // the next event of the key passes in every case
  EXPECT_EQ(log(), std::vector<std::string>{"after"});
  const std::string why = "no route for event type 'shop.order.audited' (schema version 3)";
  std::vector<DeadLetter> dead;
  ASSERT_TRUE(eventually([&] {
    dead = letters("g");
    return GetParam() == UnknownType::kSkip || dead.size() == 1;
  }));
  switch (GetParam()) {
    case UnknownType::kSkip:
      EXPECT_TRUE(dead.empty());
      EXPECT_EQ(router.unknown_types(), 1u);
      break;
    case UnknownType::kDeadLetter:
      EXPECT_EQ(dead[0].reason, why);
      EXPECT_EQ(dead[0].attempts, 1u);
      EXPECT_EQ(router.unknown_types(), 1u);
      break;
    case UnknownType::kRetry:
      EXPECT_EQ(dead[0].reason, "gave up after 2 attempts; last failure: " + why);
      EXPECT_EQ(router.unknown_types(), 2u);
      break;
  }
  if (!dead.empty()) {
    EXPECT_EQ(dead[0].type, "shop.order.audited");
  }
}

std::string policy_name(const ::testing::TestParamInfo<UnknownType>& p) {
  switch (p.param) {
    case UnknownType::kSkip: return "Skip";
    case UnknownType::kDeadLetter: return "DeadLetter";
    case UnknownType::kRetry: return "Retry";
  }
  return "Other";
}
INSTANTIATE_TEST_SUITE_P(Policies, UnknownTypePolicy,
                         ::testing::Values(UnknownType::kSkip, UnknownType::kDeadLetter, UnknownType::kRetry),
                         policy_name);

TEST_F(RouterTest, OldVersionsAndARenamedTypeAreUpcastAgainOnReplay) {
  put("disk", raw("shop.order.created", 1, "k", "x|1"));  // the type's old name, v1 payload
  put("disk", raw("shop.order.placed", 1, "k", "y|2"));
  put("disk", raw("shop.order.placed", 2, "k", "z|300"));
  put("disk", raw("shop.order.placed", 3, "k", "w|1"));  // newer than this consumer: refused
  auto route = [&](const OrderPlaced& o, const Message& m) {
    note(o.id + " " + std::to_string(o.cents) + " " + std::string(m.type()));
    return Outcome::done();
  };
  for (int pass = 0; pass < 2; ++pass) {
    TypeRouter router(UnknownType::kDeadLetter, schemas());
    router.on<OrderPlaced>(route).renamed<OrderPlaced>("shop.order.created", 1);
    ASSERT_TRUE(bus_->subscribe("disk", {.group = "g"}, router.handler().value()));
    const std::size_t n = pass + 1;
    ASSERT_TRUE(eventually([&] { return log().size() == 3 * n && letters("g").size() == n; }));
    ASSERT_TRUE(bus_->unsubscribe("g"));
    ASSERT_TRUE(bus_->seek("g", "disk", SeekTo::earliest()));  // replay everything
  }
  const std::vector<std::string> once = {"x 100 shop.order.created", "y 200 shop.order.placed",
                                         "z 300 shop.order.placed"};
  std::vector<std::string> twice = once;
  twice.insert(twice.end(), once.begin(), once.end());
  EXPECT_EQ(log(), twice);
  auto dead = letters("g");
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].reason.find("cannot decode event of type 'shop.order.placed'"), std::string::npos);
  EXPECT_NE(dead[0].reason.find("schema version 3, newer than this consumer's 2"), std::string::npos)
      << dead[0].reason;
}

TEST_F(RouterTest, TypedStateRoutesWithDedupeCountEachEventOnce) {
  TypeRouter router(UnknownType::kSkip, schemas());
  router
      .on<OrderPlaced>([](const OrderPlaced& o, const Message&, State& s) {
        auto cur = s.get("open", o.id);
        if (!cur) return Outcome::retry();
        const long before = *cur ? std::stol(**cur) : 0;
        return s.put("open", o.id, std::to_string(before + o.cents)) ? Outcome::done() : Outcome::retry();
      })
      .on<OrderCancelled>([](const OrderCancelled& c, const Message&, State& s) {
        return s.put("open", c.id, "cancelled") ? Outcome::done() : Outcome::retry();
      });
  EXPECT_EQ(router.handler().status().code(), Code::kFailedPrecondition);  // a State route needs state_handler()
  put("disk", raw("shop.order.placed", 2, "a", "a|100", "id-1"));
  put("disk", raw("shop.order.placed", 2, "a", "a|100", "id-1"));  // a duplicate (same id)
  put("disk", raw("shop.order.placed", 1, "a", "a|1", "id-2"));    // v1: +100 cents
  put("disk", raw("shop.order.placed", 2, "b", "b|5", "id-3"));
  put("disk", raw("shop.order.cancelled", 1, "b", "b", "id-4"));
  put("disk", raw("shop.order.audited", 1, "b", "-", "id-5"));     // skipped, recorded
  put("disk", raw("shop.order.cancelled", 1, "b", "b", "id-4"));   // a duplicate
  auto h = router.state_handler();
  ASSERT_TRUE(h) << h.status().to_string();
  ASSERT_TRUE(bus_->subscribe("disk", {.group = "ledger"}, std::move(h).value()));
  ASSERT_TRUE(eventually([&] { return bus_->describe_group("ledger")->duplicates_skipped == 2; }));
  ASSERT_TRUE(eventually([&] { return bus_->read_state("ledger", "open", "b").value_or(std::nullopt) == "cancelled"; }));
  ASSERT_TRUE(eventually([&] { return bus_->read_state("ledger", "open", "a").value_or(std::nullopt) == "200"; }));
  EXPECT_EQ(router.unknown_types(), 1u);
}

TEST_F(RouterTest, BatchRoutesGetRunsOfTheirTypeAndComposeWithEventRoutes) {
  std::vector<std::string> calls;
  TypeRouter router(UnknownType::kDeadLetter);
  router
      .on_batch<OrderPlaced>([&](std::span<const OrderPlaced> v, std::span<const Message> ms) {
        EXPECT_EQ(v.size(), ms.size());
        std::string s = "batch";
        for (const auto& o : v) s += " " + o.id;
        note(s);
        return BatchOutcome::all(v.size());
      })
      .on<OrderCancelled>([&](const OrderCancelled& c, const Message&) {
        note("one " + c.id);
        return Outcome::done();
      });
  ASSERT_TRUE(bus_->create_topic("one", {.partitions = 1}));
  for (const char* id : {"p1", "p2"}) put("one", raw("shop.order.placed", 2, "k", std::string(id) + "|1"));
  put("one", raw("shop.order.cancelled", 1, "k", "c1"));
  for (const char* id : {"p3", "p4"}) put("one", raw("shop.order.placed", 2, "k", std::string(id) + "|1"));
  put("one", raw("shop.order.placed", 2, "k", "p5|notanumber"));  // ends the run; dead-lettered
  put("one", raw("shop.order.placed", 2, "k", "p6|1"));
  EXPECT_EQ(router.state_handler().status().code(), Code::kFailedPrecondition);
  auto h = router.batch_handler();
  ASSERT_TRUE(h) << h.status().to_string();
  ASSERT_TRUE(bus_->subscribe("one", {.group = "g"}, std::move(h).value()));
  ASSERT_TRUE(eventually([&] { return log().size() == 4; }));
  EXPECT_EQ(log(), (std::vector<std::string>{"batch p1 p2", "one c1", "batch p3 p4", "batch p6"}));
  auto dead = letters("g");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].reason.find("cannot decode event of type 'shop.order.placed'"), std::string::npos);
}

TEST_F(RouterTest, ConfigurationErrorsAreNamed) {
  auto noop = [](const OrderPlaced&, const Message&) { return Outcome::done(); };
  {
    TypeRouter r(UnknownType::kSkip);
    r.on<OrderPlaced>(noop).on<OrderPlaced>(noop);
    EXPECT_EQ(r.handler().status().to_string(),
              "invalid_argument: TypeRouter: two routes for event type 'shop.order.placed'");
  }
  {
    TypeRouter r(UnknownType::kSkip);
    r.on<OrderCancelled>([](const OrderCancelled&, const Message&) { return Outcome::done(); })
        .renamed<OrderPlaced>("shop.order.created", 1);
    EXPECT_EQ(r.handler().status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.handler().status().message().find("which has no route"), std::string::npos);
  }
  {
    TypeRouter r(UnknownType::kSkip);
    r.on<OrderPlaced>(noop).renamed<OrderPlaced>("shop.order.created", 3);
    EXPECT_NE(r.handler().status().message().find("as_version must be 1..2"), std::string::npos);
  }
  {
    TypeRouter r(UnknownType::kSkip);
    r.on<OrderPlaced>(noop)
        .on<OrderCancelled>([](const OrderCancelled&, const Message&) { return Outcome::done(); })
        .renamed<OrderPlaced>("shop.order.cancelled", 1);
    EXPECT_NE(r.handler().status().message().find("already has a route"), std::string::npos);
  }
}

}  // namespace
}  // namespace weir
