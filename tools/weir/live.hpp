// The control endpoint of a live owner (weir/control.hpp), as the changing
// subcommands use it: when the directory has a live owner they send their
// change to it instead of opening the directory themselves.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "output.hpp"

namespace weir::cli {

// One connection to the owning process's control socket.
// Thread-safety: not thread-safe (one command, one thread).
class LiveOwner {
 public:
  // Connected to the owner of `dir` when a live bus owns it; nullptr when
  // nobody does (the command then works offline). An owner without a
  // control socket, or one that does not answer, fails the command (exit 1).
  static std::unique_ptr<LiveOwner> connect(const std::string& dir, const std::string& command);
  ~LiveOwner();
  LiveOwner(const LiveOwner&) = delete;
  LiveOwner& operator=(const LiveOwner&) = delete;

  // Sends one request; returns the response's data lines (`rows`) and its
  // final line. The final line's "ok" false makes it fail the command with
  // the owner's message, unless `allow_error`.
  Row request(const Row& req, std::vector<Row>* rows = nullptr, bool allow_error = false);

 private:
  LiveOwner(int fd, std::string dir) : fd_(fd), dir_(std::move(dir)) {}
  std::string read_line();
  int fd_;
  std::string dir_;
  std::string buf_;
};

}  // namespace weir::cli
