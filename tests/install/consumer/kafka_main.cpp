// Links weir::kafka from the installed package: a mirror with an unknown
// librdkafka property must be refused with librdkafka's own message.
#include <weir/kafka.hpp>
#include <weir/weir.hpp>

#include <cstdio>

int main() {
  auto bus = weir::Bus::open({}).value();
  if (!bus->create_topic("orders", {})) return 1;
  auto m = weir::kafka::Mirror::start(
      *bus, {.topic = "orders", .kafka = {{"bootstrap.servers", "127.0.0.1:1"}, {"no.such.property", "1"}}});
  if (m || m.status().code() != weir::Code::kInvalidArgument) {
    std::fprintf(stderr, "expected kInvalidArgument, got %s\n", m ? "ok" : m.status().to_string().c_str());
    return 1;
  }
  std::printf("weir::kafka from the installed package: %s\n", m.status().to_string().c_str());
  return 0;
}
