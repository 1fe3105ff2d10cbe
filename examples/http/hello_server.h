// The hello server's request handler: the HTTP example's whole
// application, kept apart from main() so that tests run it over the
// simulator and over loopback alike.
//
//   GET /             200 "Hello, World!" (text/plain)
//   POST /echo        200 with the request body (any framing, e.g. chunked)
//   GET /bytes/<n>    200 with n bytes (n <= kHelloBytesMax) of a fixed
//                     pattern (byte i is 'a' + i % 26), for large bodies
//   HEAD on any of the GETs: the same headers, no body
//   anything else     404, or 405 for a known path with another method
//
// Keep-alive, pipelining, Expect: 100-continue and the limits come from
// HttpServer.

#ifndef EMBER_EXAMPLES_HTTP_HELLO_SERVER_H_
#define EMBER_EXAMPLES_HTTP_HELLO_SERVER_H_

#include <cstddef>
#include <string_view>

#include "protocols/http/http_message.h"
#include "protocols/http/http_server.h"

namespace ember::examples {

inline constexpr std::string_view kHelloBody = "Hello, World!";
// The largest /bytes/<n> body.
inline constexpr size_t kHelloBytesMax = 32 << 20;

// Answers one request as the table above says. It takes the request as
// views (HttpServer::ViewHandler), so a GET is never copied, and answers
// "GET /" with a response built once, so serving it allocates nothing.
void HandleHello(const protocols::HttpRequestView& request,
                 protocols::HttpResponder responder);

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_HTTP_HELLO_SERVER_H_
