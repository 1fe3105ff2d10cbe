// An HTTP/1.1 hello server on a plain level-triggered epoll loop
// (epoll_loop.h); it answers as hello_response.h says.
//   epoll_hello [--host=H] [--port=P]

#include "bench/peers/epoll_loop.h"
#include "bench/peers/hello_response.h"
#include "bench/peers/peer_flags.h"

namespace {

ember::bench::HelloResponse hello;

bool Answer(ember::bench::EpollConnection& connection, std::string_view data) {
  connection.in.append(data);
  const size_t requests = ember::bench::TakeRequests(connection.in);
  if (connection.in.size() > ember::bench::kRequestHeadBytesMax) return false;
  ember::bench::AppendResponses(hello, requests, connection.out);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "An HTTP hello server on a hand-written epoll loop.", 8080);
  return ember::bench::RunEpollServer(flags.host, flags.port,
                                      "hello server (epoll)",
                                      /*no_delay=*/false, Answer);
}
