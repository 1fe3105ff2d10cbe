// An HTTP/1.1 server on reactor connections.
//
// `HttpServer` accepts connections on a Reactor, parses each byte stream
// into requests (HttpRequestParser, with its limits and its refusal of
// request smuggling) and hands every whole request to one handler together
// with an `HttpResponder`, through which the handler answers, at once or
// later (from a timer, another connection's callback, ...):
//
//   HttpServer server(reactor, {}, [](HttpRequest request,
//                                     HttpResponder responder) {
//     HttpResponse response;
//     response.headers.Set("Content-Type", "text/plain");
//     response.body = "Hello, World!";
//     responder.Send(std::move(response)).IgnoreError();
//   });
//   auto address = server.Listen("127.0.0.1", 8080);
//
// What the server does for the handler:
//   - Keep-alive and pipelining. Responses go out in request order, whatever
//     order handlers answer in: a response to a later request waits, buffered
//     up to `buffered_response_bytes_max`, until every earlier one is
//     complete. At most `pipeline_depth_max` requests per connection are
//     read and unanswered; at that limit the server stops reading (TCP then
//     pushes back on the client) until a response completes.
//   - Request bodies, by Content-Length or chunked (with trailers), are
//     collected whole, up to HttpParserOptions::body_bytes_max (413 beyond).
//   - "Expect: 100-continue": "HTTP/1.1 100 Continue" goes out (in order)
//     once the head is accepted; a head that is not (a Content-Length over
//     the body limit) is answered 413 without reading the body.
//   - HEAD: the handler answers as for GET; the server sends the head only,
//     with the Content-Length of the body the handler gave.
//   - Framing: Send sets Content-Length; StartChunked streams with the
//     chunked coding, or for an HTTP/1.0 client with no coding and a close.
//   - "Connection: close" from either side, and HTTP/1.0 without keep-alive,
//     end the connection after that response. Every close the server makes
//     after a response shuts its write side first and discards what the
//     client still sends for up to `linger_timeout`, so that the client reads
//     the response instead of a reset.
//   - Errors and limits are answered by the server itself, never reaching
//     the handler, with a short text body and "Connection: close", in order
//     after earlier responses: 400 malformed or smuggling-prone requests, 408
//     a head not complete `header_timeout` after it began (the first request:
//     after accept) or a body idle for `body_timeout`, 413 a body over the
//     limit, 414 a request line over the line limit, 431 header bytes, line
//     or count over the limits, 501 an unsupported transfer coding or
//     CONNECT, 505 an HTTP major version other than 1. A keep-alive
//     connection idle for `keep_alive_idle_timeout` is closed without a
//     response. A connection that never sent a byte is closed without a
//     response after `header_timeout`.
//   - Upgrade requests are handled as ordinary requests (the upgrade is
//     ignored); CONNECT is answered 501.
//
// Time comes only from the reactor's clock and timers, so the server behaves
// the same under the simulator for a given seed.
//
// Lifetime: the server must outlive neither its reactor nor be destroyed
// from inside its own handler; destroying it stops listening and closes its
// connections. Responders may outlive both: their calls then fail.
// Not thread-safe: use it, and responders, on the reactor's thread.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_SERVER_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "protocols/http/http_message.h"
#include "protocols/http/http_parser_options.h"
#include "protocols/tls/tls_context.h"
#include "reactor/reactor.h"

namespace ember::protocols {

namespace http_internal {
struct ResponseSlot;
struct ServerShared;
class HttpServerConnection;
}  // namespace http_internal

struct HttpServerOptions {
  // Limits on each request: header bytes, field count and line length (431,
  // 414), body bytes (413), chunk size lines (400).
  HttpParserOptions parser;
  // A request head must be complete this long after its first byte arrived
  // (for a connection's first request: after accept); otherwise 408 and a
  // close (a connection that sent nothing is closed without a response).
  absl::Duration header_timeout = absl::Seconds(30);
  // A request body that receives no byte for this long: 408 and a close.
  absl::Duration body_timeout = absl::Seconds(30);
  // A connection with no request in progress and no response pending is
  // closed after this long, without a response.
  absl::Duration keep_alive_idle_timeout = absl::Seconds(60);
  // Requests read and not yet completely answered, per connection. At the
  // limit the server stops reading until a response completes.
  size_t pipeline_depth_max = 64;
  // Response bytes waiting behind an earlier unfinished response, per
  // connection. A Send or WriteChunk that would pass it fails with
  // kResourceExhausted and queues nothing.
  size_t buffered_response_bytes_max = 16 << 20;
  // After its last response the server half-closes and discards input for
  // at most this long before closing (see the file comment).
  absl::Duration linger_timeout = absl::Seconds(2);
  // Adds a Date field (from Reactor::WallNow) to responses that lack one.
  bool date_header = true;
  // HTTPS: a server TlsContext; every accepted connection then speaks TLS
  // from its first byte (offer ALPN "http/1.1" in it for clients that ask).
  std::shared_ptr<const tls::TlsContext> tls;
};

// Counters over the server's life.
struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t requests = 0;         // Whole requests handed to the handler.
  uint64_t responses = 0;        // Complete responses, handler's and errors.
  uint64_t continues_sent = 0;   // 100 (Continue) interim responses.
  uint64_t pipeline_pauses = 0;  // Times reading stopped at the depth limit.
  uint64_t header_timeouts = 0;
  uint64_t body_timeouts = 0;
  uint64_t idle_timeouts = 0;
  uint64_t dropped_responders = 0;  // Responders destroyed unanswered (500).
  // Responses the server made itself, by status (400, 408, 413, ...).
  std::map<int, uint64_t> errors;
};

// The handler's end of one request: answer once, with Send, or stream with
// StartChunked, WriteChunk... and Finish. Move-only; move it into a timer or
// another callback to answer later.
//
// Every method returns:
//   - kUnavailable when the connection is gone or closing (the response can
//     no longer be delivered; drop it),
//   - kFailedPrecondition when called out of order (Send twice, WriteChunk
//     before StartChunked, anything on an empty responder),
//   - kInvalidArgument for a response the serialiser refuses (see
//     http_serializer.h) or that breaks a rule below,
//   - kResourceExhausted when the bytes do not fit the connection's
//     outbound queue or `buffered_response_bytes_max`; nothing is queued
//     and the call may be retried.
// On any error the responder's state is unchanged.
//
// A responder destroyed before its response is complete: if nothing was
// sent, the server answers 500; if a stream was started, the connection is
// closed after what was sent, so that the client sees an incomplete body.
// A response validated and serialised once, to be sent many times: a
// static page, a health check, a canned error. Sending one copies bytes and
// adds only what depends on the connection (Connection, Date), so it costs
// a fraction of Send(const HttpResponse&), which checks and formats every
// field each time. The bytes on the wire are the same as Send would write
// for the response `Create` was given.
class HttpPreparedResponse {
 public:
  // Fails for what Send(const HttpResponse&) would refuse: a status outside
  // 200..999, Transfer-Encoding, trailers, a body with 204 or 304, or a
  // field that is not well formed.
  static absl::StatusOr<HttpPreparedResponse> Create(
      const HttpResponse& response);

  int status_code() const { return status_code_; }
  // The body; what a GET gets after the head.
  const std::string& body() const { return body_; }

 private:
  friend class http_internal::HttpServerConnection;
  HttpPreparedResponse() = default;

  // The head without its final CRLF, for a GET and (when the handler set
  // its own Content-Length, which an answer to HEAD keeps) for a HEAD.
  const std::string& head(bool head_request) const {
    return head_request && !head_for_head_.empty() ? head_for_head_ : head_;
  }

  // Unique to each Create; copies share it, as they share the bytes.
  // Servers key their cached bytes by it, so a moved-from response, which
  // no longer holds those bytes, has 0, which matches nothing.
  struct Id {
    uint64_t value = 0;
    Id() = default;
    Id(const Id&) = default;
    Id& operator=(const Id&) = default;
    Id(Id&& other) noexcept : value(std::exchange(other.value, 0)) {}
    Id& operator=(Id&& other) noexcept {
      value = std::exchange(other.value, 0);
      return *this;
    }
  };
  Id id_;
  int status_code_ = 200;
  std::string head_;
  std::string head_for_head_;
  std::string body_;
  bool close_ = false;       // A Connection field lists "close".
  bool keep_alive_ = false;  // A Connection field lists "keep-alive".
  bool date_ = false;        // The response sets its own Date.
};

class HttpResponder {
 public:
  HttpResponder() = default;
  HttpResponder(HttpResponder&& other) noexcept;
  HttpResponder& operator=(HttpResponder&& other) noexcept;
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;
  // Inline: most responders are destroyed answered or moved from, with
  // nothing to do.
  ~HttpResponder() {
    if (slot_ != nullptr) Release();
  }

  // The whole response. Status 200..999 (interim responses are the
  // server's); no Transfer-Encoding (use StartChunked). Content-Length is
  // set to the body's size, except that an answer to HEAD keeps one the
  // handler set (the length a GET would get). The version is set to 1.1,
  // an empty reason to the standard phrase, and "Connection: close" is
  // added when the connection ends after this response.
  // The server serialises `response` as it is, adding its own fields after
  // the handler's, so a handler may keep a response and send it again.
  absl::Status Send(const HttpResponse& response);
  // The same for a prepared response: the same bytes, at less cost. The
  // responder does not keep a reference; `response` may go after the call.
  absl::Status Send(const HttpPreparedResponse& response);

  // Starts a streamed response: `head`'s status line and fields now, and
  // its body, if any, as the first chunk. Status 200..999 except 204 and
  // 304; neither Content-Length nor Transfer-Encoding set. Chunked for
  // HTTP/1.1 clients; for HTTP/1.0 ones the body is delimited by the close.
  absl::Status StartChunked(const HttpResponse& head);
  // One piece of the body (empty data sends nothing). For HEAD, discarded.
  absl::Status WriteChunk(std::string_view data);
  // Ends the body with `trailers` (sent with the chunked coding only).
  absl::Status Finish(const HttpHeaders& trailers = HttpHeaders());

  // The connection is there and this response is not complete.
  bool active() const;
  // The request was HEAD (the body will not be sent).
  bool head_request() const { return head_request_; }

 private:
  friend class http_internal::HttpServerConnection;
  HttpResponder(http_internal::ResponseSlot* slot, bool head_request);
  void Release();
  absl::Status Inactive() const;

  http_internal::ResponseSlot* slot_ = nullptr;
  bool head_request_ = false;
  bool done_ = false;  // The response was completed through this responder.
  bool gone_ = false;  // The connection ended first.
};

class HttpServer {
 public:
  // Gets every whole request; answers through the responder, now or later.
  // Runs on the reactor's thread; an exception it throws closes the
  // connection (see Reactor::SetErrorHandler).
  //
  // The request is the server's, lent for the call: a handler that takes it
  // as `HttpRequest&&` or `const HttpRequest&` and does not move from it
  // lets the server reuse its buffers for a later request, so that serving
  // requests of the same shape allocates nothing. A handler taking
  // `HttpRequest` by value (or moving from it) keeps what it took.
  using Handler =
      absl::AnyInvocable<void(HttpRequest&& request, HttpResponder responder)>;
  // Gets every whole request as views, valid only until the handler
  // returns; answers as above. A request without a body is handed over
  // straight from the bytes it arrived in, never copied, so this is the
  // cheapest way to serve (see the README's Performance section); one with
  // a body is collected first, as for Handler. Copy what must outlive the
  // call (HttpRequestView::ToOwned).
  using ViewHandler = absl::AnyInvocable<void(const HttpRequestView& request,
                                              HttpResponder responder)>;

  // `reactor` must outlive the server.
  HttpServer(Reactor& reactor, HttpServerOptions options, Handler handler);
  HttpServer(Reactor& reactor, HttpServerOptions options,
             ViewHandler handler);
  // Stops listening and closes every connection at once.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on `host:port` (port 0 picks one); returns the bound address.
  // May be called more than once, for several addresses.
  absl::StatusOr<io::Address> Listen(std::string_view host, uint16_t port);
  // Connections served by this server, for listeners started elsewhere
  // (Reactor::StartUnixServer, ...). Valid while the server lives.
  Reactor::ConnectionFactory Factory();
  // Stops every listener started by Listen; connections go on.
  void StopListening();

  size_t connection_count() const { return connections_.size(); }
  const HttpServerStats& stats() const { return stats_; }
  const HttpServerOptions& options() const;
  Reactor& reactor() const { return reactor_; }

 private:
  friend class http_internal::HttpServerConnection;

  // Exactly one of the two handlers is set.
  HttpServer(Reactor& reactor, HttpServerOptions options, Handler handler,
             ViewHandler view_handler);

  Reactor& reactor_;
  // Options and what the connections share; they keep it alive.
  const std::shared_ptr<http_internal::ServerShared> shared_;
  // One of the two is set.
  Handler handler_;
  ViewHandler view_handler_;
  std::vector<ServerId> listeners_;
  // By connection id, so that teardown runs in one order every run.
  std::map<uint64_t, http_internal::HttpServerConnection*> connections_;
  HttpServerStats stats_;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_SERVER_H_
