// An HTTP/1.1 hello server on libevent bufferevents (libevent_server.h);
// it answers as hello_response.h says, finding each request's end with
// evbuffer_search.
//   libevent_hello [--host=H] [--port=P]

#include "bench/peers/hello_response.h"
#include "bench/peers/libevent_server.h"
#include "bench/peers/peer_flags.h"

namespace {

ember::bench::HelloResponse hello;

bool Answer(evbuffer* input, evbuffer* output) {
  for (;;) {
    evbuffer_ptr end = evbuffer_search(input, "\r\n\r\n", 4, nullptr);
    if (end.pos < 0) break;
    evbuffer_drain(input, static_cast<size_t>(end.pos) + 4);
    const std::string& response = hello.Get();
    evbuffer_add(output, response.data(), response.size());
  }
  return evbuffer_get_length(input) <= ember::bench::kRequestHeadBytesMax;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = ember::bench::ParsePeerFlags(
      argc, argv, "An HTTP hello server on libevent bufferevents.", 8080);
  return ember::bench::RunEventServer(flags.host, flags.port,
                                      "hello server (libevent)",
                                      /*no_delay=*/false, Answer);
}
