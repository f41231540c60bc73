// The verbs of the control protocol (docs/control-protocol.md): one JSON
// request in, response lines out, each a call on the public Bus API.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "base/thread_annotations.hpp"
#include "weir/bus.hpp"

namespace weir::internal {

// Which connection runs `weir consume --group` for which group, so that two
// consumers cannot commit over each other and `seek` cannot move a group
// under a running consumer. Released when the connection ends.
//
// Thread-safety: thread-safe (one mutex; held only for map operations).
class ConsumeLeases {
 public:
  // Empty on success, else why the group cannot be claimed.
  std::string claim(const std::string& group, std::uint64_t connection);
  bool held_by(const std::string& group, std::uint64_t connection) const;
  bool held_by_other(const std::string& group, std::uint64_t connection) const;
  void release_all(std::uint64_t connection);

 private:
  mutable Mutex mu_;
  std::map<std::string, std::uint64_t, std::less<>> holder_ GUARDED_BY(mu_);
};

// Writes one response line (a JSON object, without the newline); false if
// the client is gone, and the verb stops early.
using EmitLine = std::function<bool(const std::string&)>;

// Parses and runs one request line, emitting its response lines; the last
// line always carries "ok". Never throws. `connection` identifies the
// client for ConsumeLeases.
void serve_request(Bus& bus, ConsumeLeases& leases, std::uint64_t connection, std::string_view line,
                   const EmitLine& emit);

// The error line for a request that could not be read (too long, too slow).
std::string error_line(std::string_view code, std::string_view message);

}  // namespace weir::internal
