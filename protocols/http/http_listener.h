// The event interfaces of the HTTP/1.1 parsers (see http_parser.h for the
// contract: which events, in what order, how long their views live). They
// live apart from the parsers so that the parsing core can call them
// directly, one virtual call per event.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_LISTENER_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_LISTENER_H_

#include <string_view>

#include "protocols/http/http_message.h"

namespace ember::protocols {

class HttpRequestListener {
 public:
  virtual ~HttpRequestListener() = default;
  // The request line and header section, with the framing derived from
  // them. Views are valid only during the call.
  virtual void OnRequestHead(const HttpRequestHead& head) = 0;
  // Decoded body bytes (never empty). Valid only during the call.
  virtual void OnBody(std::string_view data) = 0;
  // The request is complete. `trailers` is empty unless a chunked body
  // ended with trailer fields; valid only during the call.
  virtual void OnMessageComplete(HttpFieldsView trailers) = 0;
  // The stream is unusable; nothing follows.
  virtual void OnError(const HttpParseError& error) = 0;
};

class HttpResponseListener {
 public:
  virtual ~HttpResponseListener() = default;
  // The status line and header section. A 1xx (other than 101) head is
  // followed by OnMessageComplete and then by the final response's head.
  virtual void OnResponseHead(const HttpResponseHead& head) = 0;
  virtual void OnBody(std::string_view data) = 0;
  virtual void OnMessageComplete(HttpFieldsView trailers) = 0;
  virtual void OnError(const HttpParseError& error) = 0;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_LISTENER_H_
