// ControlServer: the control endpoint of a bus that owns a data directory
// (see weir/control.hpp and docs/control-protocol.md).
//
// Built on the public Bus API only, like MetricsServer. One accepting thread
// plus one thread per connection (at most kMaxConnections at once; more are
// answered with an error and closed), so a long request (a rate-limited
// redrive, a publish waiting for fsync) never holds up another client, and
// nothing runs on a publish or dispatch thread.
//
// Thread-safety: stop_accepting() and stop() are thread-safe and idempotent;
// the destructor calls stop(). The bus must outlive the server.
#pragma once

#include <memory>
#include <string>

#include "weir/bus.hpp"

namespace weir::internal {

class ControlServer {
 public:
  // Binds <dir>/weir.sock (replacing a stale one: the caller owns the
  // directory's lock, so no other owner can be listening) and starts
  // accepting. Errors: kIoError (bind/listen failed, with the system's
  // reason), kFailedPrecondition (weir.sock exists and is not a socket).
  static Result<std::unique_ptr<ControlServer>> start(Bus& bus, const std::string& dir);

  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Removes the socket file and stops accepting; connections still open are
  // asked to end (their current request finishes against the bus, which
  // fails it at once once closed). Thread-safe, idempotent.
  void stop_accepting();
  // stop_accepting(), then waits for every connection thread. Thread-safe,
  // idempotent; must not be called from a connection thread.
  void stop();

  struct Impl;

 private:
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::internal
