// ConsoleServer: the web console of a bus (Options::console), over HTTP on
// its own thread, built on the public Bus API like MetricsServer.
//
//   GET  /             the page (console/page.cpp), polling the two below
//   GET  /api/state    Bus::metrics() as JSON, with hot keys of skewed partitions
//   GET  /metrics      Prometheus text, as MetricsServer serves it
//   POST /api/control  one control-protocol request (docs/control-protocol.md)
//                      limited to the console's verbs; needs the header
//                      X-Weir-Token with the per-start token
//
// The token (128 random bits, hex) is written with the URL to
// <dir>/weir.console, mode 0600; no cookies are set, so another site cannot
// act through a visitor's browser (it cannot read the token, and a custom
// header on a cross-origin request needs CORS, which is never granted).
//
// Thread-safety: stop_accepting() and stop() are thread-safe and idempotent;
// the destructor calls stop(). The bus must outlive the server.
#pragma once

#include <memory>
#include <string>

#include "weir/bus.hpp"

namespace weir::internal {

class ConsoleServer {
 public:
  // Errors: kInvalidArgument (bad address), kIoError (bind/listen failed,
  // or the token file could not be written).
  static Result<std::unique_ptr<ConsoleServer>> start(Bus& bus, const std::string& dir, const ConsoleOptions& options);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Removes the token file and asks the serving thread to stop after the
  // request in hand. Thread-safe, idempotent.
  void stop_accepting();
  // stop_accepting(), then joins the thread. Thread-safe, idempotent.
  void stop();

  struct Impl;

 private:
  explicit ConsoleServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The page, one self-contained HTML document (console/page.cpp).
extern const char* const kConsolePage;

// Bus::metrics() as the JSON of GET /api/state (console/state.cpp), with
// the hot keys (Bus::hot_keys) of each skewed partition.
std::string console_state_json(const MetricsSnapshot& m, const Bus& bus);

}  // namespace weir::internal
