#include "bench/peers/libevent_server.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>

#include <csignal>
#include <cstdio>

#include "bench/peers/peer_flags.h"

namespace ember::bench {
namespace {

constexpr size_t kOutputBytesMax = 1 << 20;

struct Server {
  bool no_delay = false;
  EventOnRead on_read = nullptr;
};

Server server;

void OnRead(bufferevent* connection, void*) {
  evbuffer* output = bufferevent_get_output(connection);
  if (!server.on_read(bufferevent_get_input(connection), output)) {
    bufferevent_free(connection);
    return;
  }
  if (evbuffer_get_length(output) >= kOutputBytesMax) {
    bufferevent_disable(connection, EV_READ);
  }
}

void OnWritten(bufferevent* connection, void*) {
  // Called when the output has drained to the low-water mark (0).
  bufferevent_enable(connection, EV_READ);
}

void OnEvent(bufferevent* connection, short events, void*) {
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(connection);
}

void OnAccept(evconnlistener* listener, evutil_socket_t fd, sockaddr*, int,
              void*) {
  event_base* base = evconnlistener_get_base(listener);
  bufferevent* connection =
      bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (connection == nullptr) {
    evutil_closesocket(fd);
    return;
  }
  if (server.no_delay) SetNoDelay(fd);
  bufferevent_setcb(connection, OnRead, OnWritten, OnEvent, nullptr);
  bufferevent_enable(connection, EV_READ | EV_WRITE);
}

}  // namespace

int RunEventServer(const std::string& host, uint16_t port,
                   std::string_view what, bool no_delay, EventOnRead on_read) {
  // Writing to a connection the peer has reset must fail with EPIPE, not
  // kill the process: the library writes with write(2)/writev(2), which
  // raise SIGPIPE there, and leaves ignoring it to the program.
  std::signal(SIGPIPE, SIG_IGN);
  server.no_delay = no_delay;
  server.on_read = on_read;
  event_base* base = event_base_new();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  evconnlistener* listener = evconnlistener_new_bind(
      base, OnAccept, nullptr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
      kListenBacklog, reinterpret_cast<sockaddr*>(&address), sizeof address);
  if (listener == nullptr) {
    std::perror("listen");
    return 1;
  }
  PrintListening(what, host, BoundPort(evconnlistener_get_fd(listener)));
  event_base_dispatch(base);
  evconnlistener_free(listener);
  event_base_free(base);
  return 0;
}

}  // namespace ember::bench
