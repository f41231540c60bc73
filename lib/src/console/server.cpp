// ConsoleServer: HTTP/1.1, one connection at a time, `Connection: close`.
// A client gets kRequestTimeout to send its head and body, at most
// kMaxHeadBytes of head and kMaxBodyBytes of body; the serving thread also
// polls the stop eventfd, so no client can wedge shutdown.
#include "console/server.hpp"
#include "base/thread_annotations.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/stop_signal.hpp"
#include "control/verbs.hpp"
#include "weir/control.hpp"

namespace weir::internal {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxHeadBytes = 8 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(2);
constexpr auto kSendTimeout = std::chrono::seconds(2);
// The verbs a POST /api/control may use: the console's actions and reads.
const std::set<std::string, std::less<>> kConsoleVerbs = {
    "ping",   "topics", "describe_group", "dlq_list",   "dlq_show", "dlq_redrive",
    "dlq_purge", "pause", "resume",        "set_workers", "locate"};

std::string errno_text(int err) { return std::strerror(err); }

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string response(std::string_view status, std::string_view type, std::string_view body) {
  std::string r = "HTTP/1.1 ";
  r += status;
  r += "\r\nContent-Type: ";
  r += type;
  r += "\r\nContent-Length: " + std::to_string(body.size());
  // No framing by other sites; the page loads nothing from elsewhere.
  r += "\r\nCache-Control: no-store\r\nX-Frame-Options: DENY\r\nX-Content-Type-Options: nosniff";
  r += "\r\nContent-Security-Policy: default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";
  r += "\r\nConnection: close\r\n\r\n";
  r += body;
  return r;
}

std::string json_error(std::string_view status, std::string_view code, std::string_view message) {
  return response(status, "application/json", error_line(code, message));
}

// Lower-cased value of header `name` in `head`, or empty.
std::string header_value(std::string_view head, std::string_view name) {
  std::size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    std::size_t end = head.find('\n', pos + 1);
    std::string_view line = head.substr(pos + 1, end == std::string_view::npos ? head.size() - pos - 1 : end - pos - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto colon = line.find(':'); colon == name.size()) {
      bool same = true;
      for (std::size_t i = 0; i < name.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(line[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      if (same) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        return std::string(v);
      }
    }
    pos = end;
  }
  return {};
}

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

struct ConsoleServer::Impl {
  Bus& bus;
  const std::string url_file;
  std::string token;
  int listener = -1;
  StopSignal stop_signal;  // raised once stopping
  std::thread thread;
  ConsumeLeases leases;  // the console consumes nothing; serve_request needs one

  Impl(Bus& b, std::string f) : bus(b), url_file(std::move(f)) {}
  ~Impl() {
    if (listener >= 0) ::close(listener);
  }

  void run() {
    for (;;) {
      pollfd fds[2] = {{listener, POLLIN, 0}, {stop_signal.fd(), POLLIN, 0}};
      int n = ::poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || fds[1].revents != 0) return;
      int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      try {
        serve(c);
      } catch (...) {
        // Out of memory building a response: drop this connection only.
      }
      linger(c);
      ::close(c);
    }
  }

  // Reads until `done(buffer)` or a bound; false on timeout, EOF, stop.
  template <typename Done>
  bool read_until(int c, std::string& buf, Clock::time_point deadline, std::size_t max, Done done) {
    char chunk[4096];
    while (!done(buf)) {
      if (buf.size() > max) return false;
      int wait = remaining_ms(deadline);
      if (wait == 0) return false;
      pollfd fds[2] = {{c, POLLIN, 0}, {stop_signal.fd(), POLLIN, 0}};
      int n = ::poll(fds, 2, wait);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || fds[1].revents != 0) return false;
      ssize_t got = ::recv(c, chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(got));
    }
    return true;
  }

  void serve(int c) {
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kSendTimeout).count();
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const auto deadline = Clock::now() + kRequestTimeout;
    std::string buf;
    const bool got_head = read_until(c, buf, deadline, kMaxHeadBytes,
                                     [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    const std::size_t head_end = got_head ? buf.find("\r\n\r\n") + 4 : buf.size();
    if (head_end > kMaxHeadBytes)
      return send_all(c, json_error("431 Request Header Fields Too Large", "invalid_argument", "request head over 8 KiB"));
    if (!got_head) return;
    const std::string head = buf.substr(0, head_end);
    std::string_view line(head);
    line = line.substr(0, line.find("\r\n"));
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return send_all(c, json_error("400 Bad Request", "invalid_argument", "malformed request line"));
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view path = target.substr(0, target.find('?'));

    if (method == "GET" && (path == "/" || path == "/index.html"))
      return send_all(c, response("200 OK", "text/html; charset=utf-8", kConsolePage));
    if (method == "GET" && path == "/api/state") {
      auto m = bus.metrics();
      if (!m) return send_all(c, json_error("500 Internal Server Error", std::string(code_name(m.status().code())),
                                            m.status().message()));
      return send_all(c, response("200 OK", "application/json", console_state_json(*m, bus)));
    }
    if (method == "GET" && path == "/metrics") {
      auto m = bus.metrics();
      if (!m) return send_all(c, json_error("500 Internal Server Error", "internal", m.status().message()));
      return send_all(c, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", to_prometheus(*m)));
    }
    if (path == "/api/control") {
      if (method != "POST")
        return send_all(c, json_error("405 Method Not Allowed", "invalid_argument", "use POST for /api/control"));
      if (!same_secret(header_value(head, "X-Weir-Token"), token))
        return send_all(c, json_error("403 Forbidden", "permission_denied",
                                      "missing or wrong X-Weir-Token: open the URL that `weir console-url DIR` prints"));
      const std::string length_text = header_value(head, "Content-Length");
      std::size_t length = 0;
      try {
        length = length_text.empty() ? 0 : std::stoul(length_text);
      } catch (...) {
        return send_all(c, json_error("400 Bad Request", "invalid_argument", "bad Content-Length"));
      }
      if (length > kMaxBodyBytes)
        return send_all(c, json_error("413 Payload Too Large", "invalid_argument", "request body over 64 KiB"));
      if (!read_until(c, buf, deadline, head_end + length,
                      [&](const std::string& b) { return b.size() >= head_end + length; }))
        return send_all(c, json_error("408 Request Timeout", "deadline_exceeded", "request body not received in time"));
      return send_all(c, control(std::string_view(buf).substr(head_end, length)));
    }
    send_all(c, json_error("404 Not Found", "not_found", "no such page; the console is at /"));
  }

  // Discards what the client still sends, briefly, so that closing with
  // unread bytes does not reset the connection before it read the answer.
  void linger(int c) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(200);
    char chunk[4096];
    for (std::size_t drained = 0; drained < 256 * 1024;) {
      int wait = remaining_ms(deadline);
      if (wait == 0) return;
      pollfd fds[2] = {{c, POLLIN, 0}, {stop_signal.fd(), POLLIN, 0}};
      if (::poll(fds, 2, wait) <= 0 || fds[1].revents != 0) return;
      ssize_t got = ::recv(c, chunk, sizeof chunk, 0);
      if (got <= 0) return;
      drained += static_cast<std::size_t>(got);
    }
  }

  // One control request from the page; answers its lines as a JSON array.
  std::string control(std::string_view body) {
    std::string verb;
    try {
      auto j = nlohmann::json::parse(body);
      if (j.is_object() && j.contains("verb") && j["verb"].is_string()) verb = j["verb"].get<std::string>();
    } catch (const nlohmann::json::exception&) {
      // serve_request reports it
    }
    std::string out = "[";
    if (!verb.empty() && !kConsoleVerbs.count(verb)) {
      out += error_line("invalid_argument", "verb '" + verb + "' is not available from the console");
    } else {
      bool first = true;
      serve_request(bus, leases, 0, body, [&](const std::string& l) {
        if (!first) out += ',';
        first = false;
        out += l;
        return true;
      });
    }
    out += "]";
    return response("200 OK", "application/json", out);
  }

  static void send_all(int c, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(c, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(c, SHUT_WR);
  }

  void stop_accepting() {
    stop_signal.raise([this] { ::unlink(url_file.c_str()); });
  }

  void stop() {
    stop_accepting();
    if (!stop_signal.claim_join()) return;
    if (thread.joinable()) thread.join();
  }
};

Result<std::unique_ptr<ConsoleServer>> ConsoleServer::start(Bus& bus, const std::string& dir,
                                                           const ConsoleOptions& options) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  std::string host = options.bind_address;
  if (::inet_pton(AF_INET, options.bind_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
    addr_len = sizeof *v4;
    if (host == "0.0.0.0") host = "127.0.0.1";
  } else if (::inet_pton(AF_INET6, options.bind_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    addr_len = sizeof *v6;
    host = "[" + (host == "::" ? std::string("::1") : host) + "]";
  } else {
    return Status::invalid_argument("Options::console.bind_address '" + options.bind_address +
                                    "' is not an IPv4 or IPv6 address");
  }
  auto impl = std::make_unique<Impl>(bus, (std::filesystem::path(dir) / kConsoleUrlFileName).string());
  const std::string where = "console port " + std::to_string(options.port) + " on " + options.bind_address;
  impl->listener = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (impl->listener < 0) return Status::io_error("console socket: " + errno_text(errno));
  int one = 1;
  ::setsockopt(impl->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(impl->listener, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0)
    return Status::io_error(where + ": " + errno_text(errno));
  if (::listen(impl->listener, 16) != 0) return Status::io_error(where + ": listen: " + errno_text(errno));
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(impl->listener, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0)
    return Status::io_error(where + ": getsockname: " + errno_text(errno));
  const std::uint16_t port = bound.ss_family == AF_INET
                                 ? ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port)
                                 : ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);

  unsigned char raw[16];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
    return Status::io_error("console token: getrandom: " + errno_text(errno));
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : raw) {
    impl->token += kHex[b >> 4];
    impl->token += kHex[b & 15];
  }
  // Written whole under a temporary name, then renamed: a reader sees the
  // old file or the new one, never a part, and never a wider mode.
  const std::string url = "http://" + host + ":" + std::to_string(port) + "/#token=" + impl->token + "\n";
  const std::string tmp = impl->url_file + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot write " + tmp + ": " + errno_text(errno));
  const bool wrote = ::write(fd, url.data(), url.size()) == static_cast<ssize_t>(url.size());
  ::close(fd);
  if (!wrote || ::rename(tmp.c_str(), impl->url_file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::io_error("cannot write " + impl->url_file + ": " + errno_text(errno));
  }
  if (Status s = impl->stop_signal.open("console"); !s) {
    ::unlink(impl->url_file.c_str());
    return s;
  }
  try {
    impl->thread = std::thread([p = impl.get()] { p->run(); });
  } catch (const std::system_error& e) {
    ::unlink(impl->url_file.c_str());
    return Status::resource_exhausted(std::string("console thread: ") + e.what());
  }
  return std::unique_ptr<ConsoleServer>(new ConsoleServer(std::move(impl)));
}

ConsoleServer::ConsoleServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsoleServer::~ConsoleServer() { stop(); }
void ConsoleServer::stop_accepting() { impl_->stop_accepting(); }
void ConsoleServer::stop() { impl_->stop(); }

}  // namespace weir::internal
