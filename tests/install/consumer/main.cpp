// Publishes and consumes one event through an installed weir.
#include <weir/weir.hpp>

#include <atomic>
#include <cstdio>

int main() {
  auto bus = weir::Bus::open({}).value();
  if (!bus->create_topic("t", {})) return 1;
  std::atomic<int> got{0};
  if (!bus->subscribe("t", {.group = "g"}, [&](const weir::Message& m) {
        got += m.payload() == "hello";
        return weir::Outcome::done();
      }))
    return 1;
  if (!bus->publish("t", {.payload = "hello"})) return 1;
  (void)bus->close();
  std::printf("installed weir delivered %d event\n", got.load());
  return got.load() == 1 ? 0 : 1;
}
