#include "live.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "commands.hpp"
#include "weir/control.hpp"
#include "weir/inspect.hpp"

namespace weir::cli {

std::unique_ptr<LiveOwner> LiveOwner::connect(const std::string& dir, const std::string& command) {
  auto owned = Inspector::owned(dir);
  if (!owned) fail(owned.status().message());
  if (!*owned) return nullptr;
  auto fd = control_connect(dir);
  if (!fd)
    fail(dir + " is in use by another process, and `weir " + command +
         "` cannot reach it: " + fd.status().message());
  return std::unique_ptr<LiveOwner>(new LiveOwner(*fd, dir));
}

LiveOwner::~LiveOwner() { ::close(fd_); }

std::string LiveOwner::read_line() {
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("reading from the owner of " + dir_ + ": " + std::strerror(errno));
    if (n == 0) fail("the owner of " + dir_ + " closed the control connection (it is stopping?)");
    buf_.append(chunk, static_cast<std::size_t>(n));
  }
}

Row LiveOwner::request(const Row& req, std::vector<Row>* rows, bool allow_error) {
  std::string line = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  for (std::size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("sending to the owner of " + dir_ + ": " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  for (;;) {
    Row r;
    try {
      r = Row::parse(read_line());
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("the owner of ") + dir_ + " answered with something that is not JSON: " + e.what());
    }
    if (!r.contains("ok")) {
      if (rows) rows->push_back(std::move(r));
      continue;
    }
    if (!r["ok"].get<bool>() && !allow_error)
      fail(naming_dir(r.value("error", std::string("the owner refused")), dir_));
    return r;
  }
}

}  // namespace weir::cli
