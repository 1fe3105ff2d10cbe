// A TCP echo server on libuv (libuv_server.h).
//   libuv_echo [--host=H] [--port=P]

#include "bench/peers/libuv_server.h"
#include "bench/peers/peer_flags.h"

namespace {

bool Echo(ember::bench::UvConnection&, std::string_view data,
          std::string& out) {
  out.append(data);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "A TCP echo server on libuv.", 7000);
  return ember::bench::RunUvServer(flags.host, flags.port,
                                   "echo server (libuv)", /*no_delay=*/true,
                                   Echo);
}
