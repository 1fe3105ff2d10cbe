#include "examples/http/hello_server.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"

namespace ember::examples {
namespace {

using protocols::HttpRequestView;
using protocols::HttpResponder;
using protocols::HttpResponse;

HttpResponse Text(int status, std::string body) {
  HttpResponse response;
  response.status_code = status;
  response.reason = std::string(protocols::HttpReasonPhrase(status));
  response.headers.Set("Content-Type", "text/plain");
  response.body = std::move(body);
  return response;
}

HttpResponse NotAllowed(std::string_view allow) {
  HttpResponse response = Text(405, "405 Method Not Allowed\n");
  response.headers.Set("Allow", allow);
  return response;
}

// Out of line, as it runs once: HandleHello's usual case then sets up
// nothing for it.
ABSL_ATTRIBUTE_NOINLINE const protocols::HttpPreparedResponse* NewHello() {
  return new protocols::HttpPreparedResponse(
      *protocols::HttpPreparedResponse::Create(
          Text(200, std::string(kHelloBody))));
}

// Everything but the usual GET /: built per request. Kept out of line so
// that HandleHello's usual case sets up none of its locals.
ABSL_ATTRIBUTE_NOINLINE void HandleOther(const HttpRequestView& request,
                                         HttpResponder responder) {
  const bool get = request.method == "GET" || request.method == "HEAD";
  const std::string_view target = request.target;
  HttpResponse response;
  constexpr std::string_view kBytes = "/bytes/";
  if (target == "/") {
    response =
        get ? Text(200, std::string(kHelloBody)) : NotAllowed("GET, HEAD");
  } else if (target == "/echo") {
    if (request.method == "POST") {
      response = Text(200, std::string(request.body));
      response.headers.Set("Content-Type", "application/octet-stream");
    } else {
      response = NotAllowed("POST");
    }
  } else if (target.substr(0, kBytes.size()) == kBytes) {
    uint64_t n = 0;
    if (!get) {
      response = NotAllowed("GET, HEAD");
    } else if (!absl::SimpleAtoi(AbslView(target.substr(kBytes.size())), &n) ||
               n > kHelloBytesMax) {
      response = Text(400, absl::StrCat("400 Bad Request: /bytes/<n> takes n "
                                        "up to ",
                                        kHelloBytesMax, "\n"));
    } else {
      response = Text(200, std::string());
      response.headers.Set("Content-Type", "application/octet-stream");
      response.body.resize(n);
      for (uint64_t i = 0; i < n; ++i) {
        response.body[i] = static_cast<char>('a' + i % 26);
      }
    }
  } else {
    response = Text(404, "404 Not Found\n");
  }
  // Fails only when the connection is gone: nobody to tell.
  responder.Send(std::move(response)).IgnoreError();
}

}  // namespace

void HandleHello(const HttpRequestView& request, HttpResponder responder) {
  if ((request.method == "GET" || request.method == "HEAD") &&
      request.target == "/") {
    // The one response most requests get: checked and serialised once; each
    // send adds only Date and, when the connection ends, Connection.
    static const protocols::HttpPreparedResponse* const kHello = NewHello();
    // Fails only when the connection is gone: nobody to tell.
    responder.Send(*kHello).IgnoreError();
    return;
  }
  HandleOther(request, std::move(responder));
}

}  // namespace ember::examples
