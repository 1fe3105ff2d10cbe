// A TCP echo server on libevent (libevent_server.h).
//   libevent_echo [--host=H] [--port=P]

#include "bench/peers/libevent_server.h"
#include "bench/peers/peer_flags.h"

namespace {

bool Echo(evbuffer* input, evbuffer* output) {
  return evbuffer_add_buffer(output, input) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "A TCP echo server on libevent.", 7000);
  return ember::bench::RunEventServer(flags.host, flags.port,
                                      "echo server (libevent)",
                                      /*no_delay=*/true, Echo);
}
