// Configuration: librdkafka's properties pass through; its errors surface as
// weir errors with librdkafka's message; properties that would break the
// bridge's guarantees are refused by name.
#include <gtest/gtest.h>

#include "mock_kafka.hpp"

namespace weir::kafka {
namespace {

using namespace testing;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_.create_topic("orders", 1);
    bus_ = Bus::open({}).value();
    ASSERT_TRUE(bus_->create_topic("orders", {.partitions = 1}));
  }
  Status mirror(Config extra) {
    auto m = Mirror::start(*bus_, {.topic = "orders", .kafka = kafka_.config(std::move(extra))});
    return m ? Status::ok() : m.status();
  }
  Status group(Config extra) {
    auto g = Group::start(*bus_, {.topic = "orders", .kafka = kafka_.config(std::move(extra)), .group = {.group = "g"}},
                          Handler([](const Message&) { return Outcome::done(); }));
    return g ? Status::ok() : g.status();
  }
  MockCluster kafka_;
  std::unique_ptr<Bus> bus_;
};

TEST_F(ConfigTest, UnknownPropertyIsInvalidArgumentWithLibrdkafkasMessage) {
  for (const Status& s : {mirror({{"no.such.property", "1"}}), group({{"no.such.property", "1"}})}) {
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("No such configuration property"), std::string::npos) << s.to_string();
    EXPECT_NE(s.message().find("no.such.property"), std::string::npos) << s.to_string();
  }
}

TEST_F(ConfigTest, BadValueIsInvalidArgumentWithLibrdkafkasMessage) {
  const Status s = mirror({{"acks", "banana"}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("acks"), std::string::npos) << s.to_string();
  const Status g = group({{"session.timeout.ms", "-5"}});
  EXPECT_EQ(g.code(), Code::kInvalidArgument) << g.to_string();
}

TEST_F(ConfigTest, PropertiesThatBreakGuaranteesAreRefusedByName) {
  Status s = mirror({{"enable.idempotence", "false"}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("enable.idempotence"), std::string::npos) << s.to_string();
  s = mirror({{"partitioner", "consistent_random"}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("murmur2_random"), std::string::npos) << s.to_string();
  s = group({{"enable.auto.offset.store", "true"}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("enable.auto.offset.store"), std::string::npos) << s.to_string();
  // The required values themselves are accepted, in any case.
  EXPECT_TRUE(mirror({{"enable.idempotence", "TRUE"}, {"partitioner", "murmur2_random"}}));
  EXPECT_TRUE(group({{"enable.auto.offset.store", "false"}}));
}

TEST_F(ConfigTest, BadOptionsAndMissingThingsAreClearErrors) {
  auto m = Mirror::start(*bus_, {.topic = "nope", .kafka = kafka_.config()});
  EXPECT_EQ(m.status().code(), Code::kNotFound);
  auto g = Group::start(*bus_, {.topic = "orders", .kafka = kafka_.config()},
                        Handler([](const Message&) { return Outcome::done(); }));
  EXPECT_EQ(g.status().code(), Code::kInvalidArgument);  // no group name
  // A memory staging topic cannot carry dedupe.
  SubscribeOptions so{.group = "g"};
  so.dedupe = true;
  g = Group::start(*bus_, {.topic = "orders", .kafka = kafka_.config(), .group = so,
                           .staging_durability = Durability::kMemory},
                   Handler([](const Message&) { return Outcome::done(); }));
  EXPECT_EQ(g.status().code(), Code::kInvalidArgument);
  // No cluster answers: metadata times out with a clear error.
  auto dead = Mirror::start(*bus_, {.topic = "orders", .kafka = {{"bootstrap.servers", "127.0.0.1:1"}, {"log_level", "0"}},
                                    .start_timeout = std::chrono::milliseconds(300)});
  EXPECT_EQ(dead.status().code(), Code::kDeadlineExceeded);
  EXPECT_NE(dead.status().message().find("orders"), std::string::npos) << dead.status().to_string();
}

}  // namespace
}  // namespace weir::kafka
