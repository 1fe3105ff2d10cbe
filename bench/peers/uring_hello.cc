// An HTTP/1.1 hello server on a single-threaded io_uring loop
// (uring_loop.h); it answers as hello_response.h says.
//   uring_hello [--host=H] [--port=P]

#include "bench/peers/hello_response.h"
#include "bench/peers/peer_flags.h"
#include "bench/peers/uring_loop.h"

namespace {

ember::bench::HelloResponse hello;

bool Answer(ember::bench::UringConnection& connection, std::string_view data) {
  connection.in.append(data);
  const size_t requests = ember::bench::TakeRequests(connection.in);
  if (connection.in.size() > ember::bench::kRequestHeadBytesMax) return false;
  ember::bench::AppendResponses(hello, requests, connection.out);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "An HTTP hello server on a hand-written io_uring loop.",
      8080);
  return ember::bench::RunUringServer(flags.host, flags.port,
                                      "hello server (io_uring)",
                                      /*no_delay=*/false, Answer);
}
