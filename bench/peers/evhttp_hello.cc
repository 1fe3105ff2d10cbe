// An HTTP hello server on libevent's own HTTP server (evhttp), as its users
// write one: a generic callback answering 200 with "Hello, World!" as
// text/plain. evhttp adds Date and Content-Length itself, in that order
// after Content-Type, so its response has Ember's headers in another
// order; it parses the whole request itself.
//   evhttp_hello [--host=H] [--port=P]

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>

#include "bench/peers/hello_response.h"
#include "bench/peers/peer_flags.h"

namespace {

void Hello(evhttp_request* request, void*) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", "text/plain");
  evbuffer* body = evbuffer_new();
  evbuffer_add(body, ember::bench::kHelloBody.data(),
               ember::bench::kHelloBody.size());
  evhttp_send_reply(request, HTTP_OK, "OK", body);
  evbuffer_free(body);
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "An HTTP hello server on libevent's evhttp.", 8080);
  // Writing to a connection the peer has reset must fail with EPIPE, not
  // kill the process: the library writes with write(2)/writev(2), which
  // raise SIGPIPE there, and leaves ignoring it to the program.
  std::signal(SIGPIPE, SIG_IGN);
  event_base* base = event_base_new();
  evhttp* http = evhttp_new(base);
  evhttp_set_gencb(http, Hello, nullptr);
  // Its own listening socket, for the same backlog as the other servers
  // (evhttp_bind_socket listens with 128).
  evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
  evutil_make_listen_socket_reuseable(fd);
  evutil_make_socket_nonblocking(fd);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(flags.port);
  inet_pton(AF_INET, flags.host.c_str(), &address.sin_addr);
  evhttp_bound_socket* bound = nullptr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      listen(fd, ember::bench::kListenBacklog) == 0) {
    bound = evhttp_accept_socket_with_handle(http, fd);
  }
  if (bound == nullptr) {
    std::fprintf(stderr, "listen on %s:%u failed\n", flags.host.c_str(),
                 static_cast<unsigned>(flags.port));
    return 1;
  }
  ember::bench::PrintListening("hello server (evhttp)", flags.host,
                               ember::bench::BoundPort(
                                   evhttp_bound_socket_get_fd(bound)));
  event_base_dispatch(base);
  evhttp_free(http);
  event_base_free(base);
  return 0;
}
