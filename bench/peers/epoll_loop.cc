#include "bench/peers/epoll_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "bench/peers/peer_flags.h"

namespace ember::bench {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
constexpr int kEventsMax = 256;

void Close(EpollConnection* connection) {
  close(connection->fd);  // also removes it from the epoll set
  delete connection;
}

void Watch(int epoll_fd, int op, EpollConnection* connection,
           uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = connection;
  if (epoll_ctl(epoll_fd, op, connection->fd, &event) != 0) {
    std::perror("epoll_ctl");
  }
}

// Writes what the connection has queued. Returns false on a write error.
bool Flush(int epoll_fd, EpollConnection* connection, bool watching_out) {
  size_t written = 0;
  while (written < connection->out.size()) {
    ssize_t n = send(connection->fd, connection->out.data() + written,
                     connection->out.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      break;
    } else {
      return false;
    }
  }
  connection->out.erase(0, written);
  const bool want_out = !connection->out.empty();
  if (want_out != watching_out) {
    Watch(epoll_fd, EPOLL_CTL_MOD, connection, want_out ? EPOLLOUT : EPOLLIN);
  }
  return true;
}

}  // namespace

int RunEpollServer(const std::string& host, uint16_t port,
                   std::string_view what, bool no_delay, EpollOnRead on_read) {
  int listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) !=
          0 ||
      listen(listen_fd, kListenBacklog) != 0) {
    std::perror("listen");
    return 1;
  }
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event listen_event{};
  listen_event.events = EPOLLIN;
  listen_event.data.ptr = nullptr;  // the listening socket
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &listen_event);
  PrintListening(what, host, BoundPort(listen_fd));

  static char buffer[kReadBytes];
  epoll_event events[kEventsMax];
  for (;;) {
    const int ready = epoll_wait(epoll_fd, events, kEventsMax, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      std::perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < ready; ++i) {
      auto* connection = static_cast<EpollConnection*>(events[i].data.ptr);
      if (connection == nullptr) {
        for (;;) {
          int fd = accept4(listen_fd, nullptr, nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;  // EAGAIN, or out of descriptors: try later
          if (no_delay) SetNoDelay(fd);
          auto* accepted = new EpollConnection;
          accepted->fd = fd;
          Watch(epoll_fd, EPOLL_CTL_ADD, accepted, EPOLLIN);
        }
        continue;
      }
      const bool watching_out = !connection->out.empty();
      if (watching_out) {
        if (!Flush(epoll_fd, connection, true)) Close(connection);
        continue;
      }
      ssize_t n = recv(connection->fd, buffer, sizeof buffer, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0 ||
          !on_read(*connection,
                   std::string_view(buffer, static_cast<size_t>(n))) ||
          !Flush(epoll_fd, connection, false)) {
        Close(connection);
      }
    }
  }
}

}  // namespace ember::bench
