// The HTTP example on the real network:
//   ./bazelw run //examples/http:hello -- --port=8080
// then `curl http://127.0.0.1:8080/` says "Hello, World!". Keep-alive and
// pipelining work as HTTP/1.1 says; Ctrl-C lets open requests finish (up to
// 5 s), a second Ctrl-C stops at once.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/common/signals.h"
#include "examples/http/hello_server.h"
#include "io/epoll/epoll_network.h"
#include "protocols/http/http_server.h"
#include "reactor/reactor.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8080, "port to listen on (0 picks a free one)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "--port must be 0..65535, not %d\n", port);
    return 2;
  }
  auto network = ember::io::EpollNetwork::Create();
  if (!network.ok()) {
    std::fprintf(stderr, "%s\n", network.status().ToString().c_str());
    return 1;
  }
  ember::Reactor reactor(**network);
  ember::examples::ShutdownOnSignal signals(reactor, absl::Seconds(5));
  ember::protocols::HttpServer server(reactor, {},
                                      ember::examples::HandleHello);
  auto address =
      server.Listen(absl::GetFlag(FLAGS_host), static_cast<uint16_t>(port));
  if (!address.ok()) {
    std::fprintf(stderr, "cannot listen: %s\n",
                 address.status().ToString().c_str());
    return 1;
  }
  // Tests read this line to learn the port.
  std::printf("hello server listening on %s (Ctrl-C to stop)\n",
              address->ToString().c_str());
  std::fflush(stdout);
  absl::Status status = reactor.Run();
  if (!status.ok()) {
    std::fprintf(stderr, "reactor stopped: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
