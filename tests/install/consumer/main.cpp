// Publishes and consumes one event through an installed weir, and checks
// that the library linked is the kind (argv[1]: "static" or "shared") and the
// version the headers say.
#include <weir/weir.hpp>

#include <atomic>
#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
  const weir::BuildInfo info = weir::build_info();
  std::printf("weir %.*s (%s library, %.*s, %.*s)\n", static_cast<int>(info.version.size()), info.version.data(),
              info.shared ? "shared" : "static", static_cast<int>(info.compiler.size()), info.compiler.data(),
              static_cast<int>(info.build_type.size()), info.build_type.data());
  if (info.version != WEIR_VERSION_STRING || info.major != WEIR_VERSION_MAJOR) {
    std::fprintf(stderr, "headers say %s, library says %.*s\n", WEIR_VERSION_STRING,
                 static_cast<int>(info.version.size()), info.version.data());
    return 1;
  }
  if (argc > 1 && (std::string_view(argv[1]) == "shared") != info.shared) {
    std::fprintf(stderr, "expected a %s libweir, linked a %s one\n", argv[1], info.shared ? "shared" : "static");
    return 1;
  }
  auto bus = weir::Bus::open({}).value();
  if (!bus->create_topic("t", {})) return 1;
  std::atomic<int> got{0};
  if (!bus->subscribe("t", {.group = "g"}, [&](const weir::Message& m) {
        got += m.payload() == "hello";
        return weir::Outcome::done();
      }))
    return 1;
  if (!bus->publish("t", {.payload = "hello"})) return 1;
  bus->close().ignore();
  std::printf("installed weir delivered %d event\n", got.load());
  return got.load() == 1 ? 0 : 1;
}
