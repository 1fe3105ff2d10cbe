// An HTTP/1.1 hello server on libuv (libuv_server.h); it answers as
// hello_response.h says.
//   libuv_hello [--host=H] [--port=P]

#include "bench/peers/hello_response.h"
#include "bench/peers/libuv_server.h"
#include "bench/peers/peer_flags.h"

namespace {

ember::bench::HelloResponse hello;

bool Answer(ember::bench::UvConnection& connection, std::string_view data,
            std::string& out) {
  connection.in.append(data);
  const size_t requests = ember::bench::TakeRequests(connection.in);
  if (connection.in.size() > ember::bench::kRequestHeadBytesMax) return false;
  ember::bench::AppendResponses(hello, requests, out);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "An HTTP hello server on libuv.", 8080);
  return ember::bench::RunUvServer(flags.host, flags.port,
                                   "hello server (libuv)", /*no_delay=*/false,
                                   Answer);
}
