// ControlServer: socket handling, framing and bounds. The verbs themselves
// are in verbs.cpp.
//
// Bounds (docs/control-protocol.md): a connection must send its first
// request within kFirstRequestTimeout; a request line, once begun, must be
// complete within kLineTimeout and hold at most kControlMaxRequestBytes;
// between requests a connection may stay idle for kIdleTimeout. A response
// line that the client does not read within kSendTimeout ends the
// connection. Each breach is answered with one error line, then the
// connection is closed; the bus is never touched by it.
#include "control/server.hpp"
#include "base/thread_annotations.hpp"

#include "base/stop_signal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "control/verbs.hpp"
#include "weir/control.hpp"

namespace weir {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kFirstRequestTimeout = std::chrono::seconds(3);
constexpr auto kLineTimeout = std::chrono::seconds(3);
constexpr auto kIdleTimeout = std::chrono::minutes(10);
constexpr auto kSendTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxConnections = 16;

std::string errno_text(int err) { return std::strerror(err); }

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// A sockaddr_un for <dir>/weir.sock. sun_path holds 107 characters; a longer
// path goes through /proc/self/fd/<dirfd>/, which the kernel resolves like
// any other path (`dir_fd` keeps the directory open meanwhile).
struct SocketAddress {
  sockaddr_un addr{};
  int dir_fd = -1;
  ~SocketAddress() {
    if (dir_fd >= 0) ::close(dir_fd);
  }
  Status set(std::string_view dir) {
    addr.sun_family = AF_UNIX;
    std::string path = (std::filesystem::path(std::string(dir)) / kControlSocketName).string();
    if (path.size() >= sizeof addr.sun_path) {
      dir_fd = ::open(std::string(dir).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (dir_fd < 0) return Status::io_error("cannot open '" + std::string(dir) + "': " + errno_text(errno));
      path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + std::string(kControlSocketName);
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return Status::ok();
  }
};

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

Result<int> control_connect(std::string_view dir) {
  SocketAddress a;
  if (Status s = a.set(dir); !s) return s;
  const std::string path = (std::filesystem::path(std::string(dir)) / kControlSocketName).string();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error("control socket: " + errno_text(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), sizeof a.addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT)
      return Status::not_found("no control socket at " + path +
                               " (the owning process runs with Options::control_socket off, or is not running)");
    if (err == ECONNREFUSED)
      return Status::failed_precondition("nobody listens on " + path + " (its owner stopped)");
    return Status::io_error("cannot connect to " + path + ": " + errno_text(err));
  }
  return fd;
}

namespace internal {

struct ControlServer::Impl {
  Bus& bus;
  const std::string path;  // <dir>/weir.sock, for messages and unlinking
  SocketAddress address;
  int listener = -1;
  StopSignal stop_signal;  // raised once stopping
  ino_t socket_inode = 0;  // ours: unlink only this file
  std::thread acceptor;
  ConsumeLeases leases;

  struct Connection {
    int fd = -1;
    std::uint64_t id = 0;
    std::thread thread;
    std::atomic<bool> done{false};  // release: set by the thread as its last step
  };
  Mutex mu_;
  std::list<Connection> connections_ GUARDED_BY(mu_);
  std::uint64_t next_id_ = 1;          // acceptor thread only

  Impl(Bus& b, std::string p) : bus(b), path(std::move(p)) {}
  ~Impl() {
    if (listener >= 0) ::close(listener);
  }

  bool stopping() const { return stop_signal.raised(); }

  void accept_loop() {
    for (;;) {
      pollfd fds[2] = {{listener, POLLIN, 0}, {stop_signal.fd(), POLLIN, 0}};
      int n = ::poll(fds, 2, 1000);
      if (n < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      reap();
      if (n <= 0 || fds[0].revents == 0) continue;
      int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;  // the client left already, or EMFILE: try again later
      MutexLock lock(mu_);
      if (connections_.size() >= kMaxConnections) {
        send_all(c, error_line("resource_exhausted", "too many control connections (" +
                                                         std::to_string(kMaxConnections) + "); try again") + "\n");
        ::close(c);
        continue;
      }
      Connection& conn = connections_.emplace_back();
      conn.fd = c;
      conn.id = next_id_++;
      try {
        conn.thread = std::thread([this, &conn] { serve(conn); });
      } catch (const std::system_error&) {
        ::close(c);
        connections_.pop_back();
      }
    }
  }

  // Joins finished connection threads. Acceptor thread only.
  void reap() {
    std::list<Connection> finished;
    {
      MutexLock lock(mu_);
      for (auto it = connections_.begin(); it != connections_.end();) {
        auto next = std::next(it);
        // Pairs with the release store that ends serve().
        if (it->done.load(std::memory_order_acquire)) finished.splice(finished.end(), connections_, it);
        it = next;
      }
    }
    for (Connection& c : finished) c.thread.join();
  }

  enum class Read { kLine, kEof, kTimeout, kTooLong, kStopping };

  // Reads one request line into `line` from `buf` and the socket.
  Read read_line(int fd, std::string& buf, std::string& line, Clock::duration idle) {
    auto deadline = Clock::now() + idle;
    bool begun = !buf.empty();
    if (begun) deadline = std::min(deadline, Clock::now() + kLineTimeout);
    char chunk[16384];
    for (;;) {
      if (auto nl = buf.find('\n'); nl != std::string::npos) {
        if (nl > kControlMaxRequestBytes) return Read::kTooLong;
        line.assign(buf, 0, nl);
        buf.erase(0, nl + 1);
        return Read::kLine;
      }
      if (buf.size() > kControlMaxRequestBytes) return Read::kTooLong;
      int wait = remaining_ms(deadline);
      if (wait == 0) return Read::kTimeout;
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_signal.fd(), POLLIN, 0}};
      int n = ::poll(fds, 2, wait);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || fds[1].revents != 0) return Read::kStopping;
      if (n == 0) continue;  // re-checks the deadline
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return Read::kEof;
      buf.append(chunk, static_cast<std::size_t>(got));
      if (!begun) {
        begun = true;
        deadline = Clock::now() + kLineTimeout;
      }
    }
  }

  // After an error line: half-close and discard what the client still
  // sends, briefly, so that it reads the error instead of a reset.
  void linger(int fd) {
    ::shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    char chunk[65536];
    for (std::size_t drained = 0; drained < (std::size_t{64} << 20);) {
      int wait = remaining_ms(deadline);
      if (wait == 0) return;
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_signal.fd(), POLLIN, 0}};
      if (::poll(fds, 2, wait) <= 0 || fds[1].revents != 0) return;
      ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return;
      drained += static_cast<std::size_t>(got);
    }
  }

  void serve(Connection& conn) {
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kSendTimeout).count();
    ::setsockopt(conn.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bool client_gone = false;
    const EmitLine emit = [&](const std::string& json) {
      std::string l = json;
      l += '\n';
      std::size_t sent = 0;
      while (sent < l.size()) {
        ssize_t n = ::send(conn.fd, l.data() + sent, l.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          client_gone = true;  // left, or stopped reading for kSendTimeout
          return false;
        }
        sent += static_cast<std::size_t>(n);
      }
      return true;
    };
    std::string buf, line;
    Clock::duration idle = kFirstRequestTimeout;
    while (!client_gone) {
      Read r = read_line(conn.fd, buf, line, idle);
      if (r == Read::kEof) break;
      if (r == Read::kStopping) {
        emit(error_line("closed", "the bus is closing"));
        break;
      }
      if (r == Read::kTooLong) {
        emit(error_line("invalid_argument", "request line over " + std::to_string(kControlMaxRequestBytes) +
                                                " bytes; nothing was done"));
        linger(conn.fd);
        break;
      }
      if (r == Read::kTimeout) {
        emit(error_line("deadline_exceeded",
                        buf.empty() ? "no request within " +
                                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(idle).count()) +
                                          " s; closing"
                                    : "request line not completed within " +
                                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kLineTimeout)
                                                             .count()) +
                                          " s; nothing was done"));
        linger(conn.fd);
        break;
      }
      serve_request(bus, leases, conn.id, line, emit);
      idle = kIdleTimeout;
    }
    leases.release_all(conn.id);
    ::close(conn.fd);
    conn.done.store(true, std::memory_order_release);  // pairs with the acquire in reap()
  }

  void stop_accepting() {
    stop_signal.raise([this] {
      // Unlink only our own socket file: after a close, a new owner may
      // have bound its own there.
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == socket_inode)
        ::unlink(address.addr.sun_path);
    });
  }

  void stop() {
    stop_accepting();
    if (!stop_signal.claim_join()) return;
    if (acceptor.joinable()) acceptor.join();
    // The acceptor is gone: the list no longer changes except for `done`.
    std::list<Connection> all;
    {
      MutexLock lock(mu_);
      all.swap(connections_);
    }
    for (Connection& c : all) c.thread.join();
  }
};

Result<std::unique_ptr<ControlServer>> ControlServer::start(Bus& bus, const std::string& dir) {
  auto impl = std::make_unique<Impl>(bus, (std::filesystem::path(dir) / kControlSocketName).string());
  if (Status s = impl->address.set(dir); !s) return s;
  struct stat st {};
  if (::lstat(impl->path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Status::failed_precondition(impl->path + " exists and is not a socket; remove it (or open the bus with "
                                                      "Options::control_socket = false)");
    // Left by an owner that died: we hold the directory's lock, so nobody
    // listens on it.
    if (::unlink(impl->address.addr.sun_path) != 0 && errno != ENOENT)
      return Status::io_error("cannot remove stale " + impl->path + ": " + errno_text(errno));
  }
  impl->listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (impl->listener < 0) return Status::io_error("control socket: " + errno_text(errno));
  if (::bind(impl->listener, reinterpret_cast<const sockaddr*>(&impl->address.addr), sizeof impl->address.addr) != 0)
    return Status::io_error("cannot bind " + impl->path + ": " + errno_text(errno));
  if (::chmod(impl->address.addr.sun_path, 0600) != 0 || ::stat(impl->address.addr.sun_path, &st) != 0) {
    const int err = errno;
    ::unlink(impl->address.addr.sun_path);
    return Status::io_error("cannot restrict " + impl->path + " to mode 0600: " + errno_text(err));
  }
  impl->socket_inode = st.st_ino;
  if (::listen(impl->listener, 16) != 0) {
    const int err = errno;
    ::unlink(impl->address.addr.sun_path);
    return Status::io_error("cannot listen on " + impl->path + ": " + errno_text(err));
  }
  if (Status s = impl->stop_signal.open("control"); !s) {
    ::unlink(impl->address.addr.sun_path);
    return s;
  }
  try {
    impl->acceptor = std::thread([p = impl.get()] { p->accept_loop(); });
  } catch (const std::system_error& e) {
    ::unlink(impl->address.addr.sun_path);
    return Status::resource_exhausted(std::string("control thread: ") + e.what());
  }
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlServer::~ControlServer() { stop(); }
void ControlServer::stop_accepting() { impl_->stop_accepting(); }
void ControlServer::stop() { impl_->stop(); }

}  // namespace internal
}  // namespace weir
