// A TCP echo server on a plain level-triggered epoll loop (epoll_loop.h).
//   epoll_echo [--host=H] [--port=P]

#include "bench/peers/epoll_loop.h"
#include "bench/peers/peer_flags.h"

namespace {

bool Echo(ember::bench::EpollConnection& connection, std::string_view data) {
  connection.out.append(data);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "A TCP echo server on a hand-written epoll loop.", 7000);
  return ember::bench::RunEpollServer(flags.host, flags.port,
                                      "echo server (epoll)",
                                      /*no_delay=*/true, Echo);
}
