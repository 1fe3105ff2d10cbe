// Incremental HTTP/1.1 parsers: HttpRequestParser (server side) and
// HttpResponseParser (client side). Pure byte-stream state machines: bytes in
// through Feed, cut anywhere, events out on a Listener; no sockets, no
// clocks. An adapter onto a reactor connection feeds them what it reads.
//
// Events, per message:
//   OnRequestHead / OnResponseHead   once, when the header section is whole
//   OnBody                           zero or more times, decoded body bytes
//   OnMessageComplete                once, with the trailer fields (if any)
// or, at any point, OnError once, after which nothing more is delivered and
// the connection should be closed (a server first answers with
// `error.http_status`). The events are the same however the input is cut,
// once adjacent OnBody chunks are joined.
//
// Bodies are streamed: OnBody hands out views of the caller's bytes without
// copying (chunk framing removed). HttpRequestCollector and
// HttpResponseCollector (http_collector.h) accumulate whole messages for
// callers that prefer that.
//
// Zero-copy heads: a header section that arrives within one Feed call is
// parsed in place; one that straddles calls is copied once into an internal
// buffer. Either way the views in a head are valid during its callback and,
// for a message without a body (framing kNone) whose head callback does not
// pause the parser, until OnMessageComplete returns: that message completes
// within the same Feed call, and nothing touches the head's bytes or its
// field list before then.
// In steady state (keep-alive, similar requests) parsing allocates nothing.
//
// What is refused (RFC 9112), each with the status to answer:
//   400  malformed start line or field line; a bare LF or CR; whitespace
//        between a field name and its colon; obsolete line folding; control
//        bytes in values; both Content-Length and Transfer-Encoding;
//        Content-Length values that differ or are not digits (a list of
//        equal values is accepted); chunked not the final coding, or applied
//        twice; Transfer-Encoding in HTTP/1.0; a missing or repeated Host in
//        HTTP/1.1; malformed chunk size, extension or chunk CRLF; a chunk
//        size line longer than chunk_line_bytes_max.
//   413  Content-Length, or a chunked or close-delimited body, over
//        body_bytes_max.
//   414  a request line over line_bytes_max.
//   431  a field line over line_bytes_max; a header (or trailer) section
//        over header_bytes_max; more than header_count_max fields.
//   501  a transfer coding other than chunked (requests).
//   505  an HTTP major version other than 1.
//
// Pausing. A callback may call Pause(): Feed returns right after that event,
// with the number of bytes consumed; the caller keeps the rest and feeds it
// again after Resume(). A server uses this to hold pipelined requests while
// it answers one, or to wait before reading a body after
// "Expect: 100-continue". After a message whose head has `upgrade` set
// (CONNECT, an Upgrade request, a 101 response, a 2xx answer to CONNECT) the
// parser pauses by itself: the unconsumed bytes belong to the new protocol,
// or, for a server that declines the upgrade, Resume() carries on with HTTP.
//
// Lifetime: the listener is not owned and must outlive the parser. The parser
// must not be destroyed, nor Feed/Finish called, from inside its callbacks.
// Not thread-safe.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_PARSER_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_PARSER_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "protocols/http/http_listener.h"
#include "protocols/http/http_message.h"
#include "protocols/http/http_parser_options.h"
#include "protocols/http/internal/http_parser_core.h"

namespace ember::protocols {

class HttpRequestParser {
 public:
  // OnRequestHead, OnBody, OnMessageComplete, OnError (http_listener.h).
  using Listener = HttpRequestListener;

  // `listener` must be non-null and outlive the parser.
  HttpRequestParser(Listener* listener, const HttpParserOptions& options)
      : options_(options), core_(options_, listener) {}
  explicit HttpRequestParser(Listener* listener)
      : HttpRequestParser(listener, HttpParserOptions()) {}

  // Parses `data`; returns the bytes consumed, which is all of them unless
  // the parser paused (or failed) on the way. Precondition: not inside a
  // callback, Finish not called.
  size_t Feed(std::string_view data) { return core_.Feed(data); }
  // The end of the stream: between requests nothing happens; inside one it
  // is an OnError with kUnavailable. Call at most once.
  void Finish() { core_.Finish(); }

  void Pause() { core_.Pause(); }
  void Resume() { core_.Resume(); }
  bool paused() const { return core_.paused(); }
  bool failed() const { return core_.failed(); }
  // Between messages: no byte of a next request has arrived (except empty
  // lines). A server may close an idle connection without answering.
  bool idle() const { return core_.idle(); }

 private:
  const HttpParserOptions options_;  // The core reads them in place.
  http_internal::HttpParserCore core_;
};

class HttpResponseParser {
 public:
  // OnResponseHead, OnBody, OnMessageComplete, OnError (http_listener.h).
  using Listener = HttpResponseListener;

  HttpResponseParser(Listener* listener, const HttpParserOptions& options)
      : options_(options), core_(options_, listener) {}
  explicit HttpResponseParser(Listener* listener)
      : HttpResponseParser(listener, HttpParserOptions()) {}

  // Tells the parser which request the next unanswered response answers,
  // in the order the requests were sent: a response to HEAD has no body, a
  // 2xx to CONNECT opens a tunnel. Only the method matters. A response with
  // nothing queued is read as an answer to GET. Fails with
  // kResourceExhausted when pipeline_depth_max requests already wait.
  absl::Status ExpectResponseTo(std::string_view method);

  size_t Feed(std::string_view data) { return core_.Feed(data); }
  // The end of the stream: completes a close-delimited body; inside any
  // other message it is an OnError with kUnavailable.
  void Finish() { core_.Finish(); }

  void Pause() { core_.Pause(); }
  void Resume() { core_.Resume(); }
  bool paused() const { return core_.paused(); }
  bool failed() const { return core_.failed(); }
  bool idle() const { return core_.idle(); }

 private:
  const HttpParserOptions options_;  // The core reads them in place.
  http_internal::HttpParserCore core_;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_PARSER_H_
