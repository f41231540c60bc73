// MetricsServer: GET /metrics over plain POSIX sockets, one thread.
//
// The thread polls the listening socket and an eventfd; the destructor
// writes the eventfd and joins. Connections are served one at a time, in
// full, then closed (`Connection: close`): a scrape every few seconds needs
// nothing more. A client gets kRequestTimeout to send its request head and at
// most kMaxRequestBytes of it, so a slow or hostile client delays other
// scrapes by at most that long and never wedges shutdown (the eventfd is
// polled while reading, too).
//
// Thread-safety: the serving thread touches only the sockets, the eventfd and
// the Bus (whose metrics() is thread-safe); port() reads a value fixed before
// the thread starts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "weir/bus.hpp"
#include "weir/metrics.hpp"

namespace weir {
namespace {

constexpr std::size_t kMaxRequestBytes = 8 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(2);
constexpr auto kSendTimeout = std::chrono::seconds(2);
// After answering, unread request bytes (a POST body) are drained for this
// long so that close() does not reset the connection before the client has
// read the response.
constexpr auto kLingerTimeout = std::chrono::milliseconds(200);

std::string errno_text(int err) { return std::strerror(err); }

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string response(std::string_view status, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers = {}) {
  std::string r = "HTTP/1.1 ";
  r += status;
  r += "\r\nContent-Type: ";
  r += content_type;
  r += "\r\nContent-Length: ";
  r += std::to_string(body.size());
  r += "\r\n";
  r += extra_headers;
  r += "Connection: close\r\n\r\n";
  r += body;
  return r;
}

std::string plain(std::string_view status, std::string_view text) {
  std::string body(text);
  body += '\n';
  return response(status, "text/plain; charset=utf-8", body);
}

}  // namespace

struct MetricsServer::Impl {
  Bus& bus;
  Fd listener;
  Fd wake;  // eventfd: readable once the server is stopping
  std::uint16_t port = 0;
  std::thread thread;

  Impl(Bus& b, Fd l, Fd w, std::uint16_t p) : bus(b), listener(std::move(l)), wake(std::move(w)), port(p) {}

  void run() {
    for (;;) {
      pollfd fds[2] = {{listener.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      int n = ::poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // cannot happen with valid descriptors; stop serving rather than spin
      }
      if (fds[1].revents != 0) return;
      if (fds[0].revents == 0) continue;
      int c = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;  // the client left already, or a transient error (EMFILE): try again later
      Fd client(c);
      try {
        serve(client);
      } catch (...) {
        // Out of memory while building the response: drop this connection,
        // keep serving.
      }
    }
  }

  // Reads the request head (up to the blank line); empty when the client
  // sent nothing usable in time, or the server is stopping.
  // `too_large` is set when the head exceeds kMaxRequestBytes.
  std::string read_head(const Fd& client, bool& too_large) {
    const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
    std::string head;
    char buf[2048];
    while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
      if (head.size() >= kMaxRequestBytes) {
        too_large = true;
        return head;
      }
      int wait = remaining_ms(deadline);
      if (wait == 0) return {};
      pollfd fds[2] = {{client.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      int n = ::poll(fds, 2, wait);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || fds[1].revents != 0) return {};
      ssize_t got = ::recv(client.get(), buf, std::min(sizeof buf, kMaxRequestBytes - head.size()), 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return {};  // EOF before the head ended, or an error
      head.append(buf, static_cast<std::size_t>(got));
    }
    return head;
  }

  void serve(const Fd& client) {
    bool too_large = false;
    std::string head = read_head(client, too_large);
    if (too_large) {
      send_all(client, plain("431 Request Header Fields Too Large", "request head over 8 KiB"));
      return linger(client);
    }
    if (head.empty()) return;

    // Request line: METHOD SP TARGET SP VERSION
    std::string_view line(head);
    line = line.substr(0, line.find_first_of("\r\n"));
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1) {
      send_all(client, plain("400 Bad Request", "malformed request line"));
      return linger(client);
    }
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view path = target.substr(0, target.find('?'));

    if (path != "/metrics") {
      send_all(client, plain("404 Not Found", "not found; metrics are at /metrics"));
    } else if (method != "GET") {
      send_all(client, response("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET is allowed\n",
                                "Allow: GET\r\n"));
    } else if (auto snapshot = bus.metrics(); !snapshot) {
      send_all(client, plain("500 Internal Server Error", snapshot.status().to_string()));
    } else {
      send_all(client, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", to_prometheus(*snapshot)));
    }
    linger(client);
  }

  static void send_all(const Fd& client, const std::string& data) {
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kSendTimeout).count();
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(client.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the client left, or stopped reading for kSendTimeout
      sent += static_cast<std::size_t>(n);
    }
  }

  // Half-closes and discards what the client still sends, briefly, so the
  // response is not lost to a reset.
  void linger(const Fd& client) {
    ::shutdown(client.get(), SHUT_WR);
    const auto deadline = std::chrono::steady_clock::now() + kLingerTimeout;
    char buf[2048];
    for (std::size_t drained = 0; drained < 64 * 1024;) {
      int wait = remaining_ms(deadline);
      if (wait == 0) return;
      pollfd fds[2] = {{client.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      if (::poll(fds, 2, wait) <= 0 || fds[1].revents != 0) return;
      ssize_t got = ::recv(client.get(), buf, sizeof buf, 0);
      if (got <= 0) return;
      drained += static_cast<std::size_t>(got);
    }
  }
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(Bus& bus, const Config& config) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, config.bind_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(config.port);
    addr_len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, config.bind_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(config.port);
    addr_len = sizeof *v6;
  } else {
    return Status::invalid_argument("metrics server bind_address '" + config.bind_address +
                                    "' is not an IPv4 or IPv6 address");
  }
  const std::string where = "port " + std::to_string(config.port) + " on " + config.bind_address;

  Fd listener(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (listener.get() < 0) return Status::io_error("metrics server socket: " + errno_text(errno));
  int one = 1;
  if (::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    return Status::io_error("metrics server SO_REUSEADDR: " + errno_text(errno));
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0)
    return Status::io_error(where + ": " + errno_text(errno));
  if (::listen(listener.get(), 16) != 0) return Status::io_error(where + ": listen: " + errno_text(errno));

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0)
    return Status::io_error(where + ": getsockname: " + errno_text(errno));
  std::uint16_t port = bound.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port)
                                                  : ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);

  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) return Status::io_error("metrics server eventfd: " + errno_text(errno));

  auto impl = std::make_unique<Impl>(bus, std::move(listener), std::move(wake), port);
  try {
    impl->thread = std::thread([p = impl.get()] { p->run(); });
  } catch (const std::system_error& e) {
    return Status::resource_exhausted(std::string("metrics server thread: ") + e.what());
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  std::uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of overflowing its counter.
  [[maybe_unused]] ssize_t n = ::write(impl_->wake.get(), &one, sizeof one);
  impl_->thread.join();
}

std::uint16_t MetricsServer::port() const noexcept { return impl_->port; }

}  // namespace weir
