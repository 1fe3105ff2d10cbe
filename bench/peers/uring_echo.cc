// A TCP echo server on a single-threaded io_uring loop (uring_loop.h).
//   uring_echo [--host=H] [--port=P]

#include "bench/peers/peer_flags.h"
#include "bench/peers/uring_loop.h"

namespace {

bool Echo(ember::bench::UringConnection& connection, std::string_view data) {
  connection.out.append(data);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "A TCP echo server on a hand-written io_uring loop.", 7000);
  return ember::bench::RunUringServer(flags.host, flags.port,
                                      "echo server (io_uring)",
                                      /*no_delay=*/true, Echo);
}
