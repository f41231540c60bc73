// The control endpoint and the web console: live operations on a running
// bus from outside it.
//
// A bus opened with Options::data_dir (and Options::control_socket left on)
// listens on a Unix domain socket named kControlSocketName in its data
// directory, mode 0600 (only the directory's owner may connect). The `weir`
// tool uses it for every changing verb (produce, consume --group, seek, dlq
// redrive/purge, pause, resume, set-workers) when the directory has a live
// owner. The protocol (one JSON request per line, one or more JSON response
// lines) is documented in docs/control-protocol.md.
//
// Guarantees: requests are served on the endpoint's own threads, never on a
// publish or dispatch path; each request line is bounded in size
// (kControlMaxRequestBytes) and in time; a malformed, oversized, unknown or
// stalled request is answered with an error and cannot stop the bus.
//
// Thread-safety: constants only.
#pragma once

#include <cstddef>
#include <string_view>

#include "weir/status.hpp"

namespace weir {

// File name of the control socket inside the data directory. A socket left
// by a crashed owner is replaced by the next bus that opens the directory
// (weir.lock tells whether an owner is live).
inline constexpr std::string_view kControlSocketName = "weir.sock";

// File name, inside the data directory, of the web console's URL with its
// per-start access token (Options::console), mode 0600; removed at close.
inline constexpr std::string_view kConsoleUrlFileName = "weir.console";

// Largest request line the endpoint reads (1 MiB); a longer one is answered
// with an error and the connection is closed.
inline constexpr std::size_t kControlMaxRequestBytes = std::size_t{1} << 20;

// Version of the JSON protocol, reported by the "ping" verb.
inline constexpr int kControlProtocolVersion = 1;

// Connects to the control endpoint of the bus owning `dir` and returns the
// connected socket (blocking, close-on-exec); the caller owns and closes it.
// Works for directory paths of any length. Errors: kNotFound (no socket:
// no live owner, or one with Options::control_socket off), kFailedPrecondition
// (a socket file nobody listens on: its owner died), kIoError otherwise.
// Thread-safe.
Result<int> control_connect(std::string_view dir);

}  // namespace weir
