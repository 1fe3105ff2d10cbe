// An HTTP/1.1 client on reactor connections.
//
// `HttpClient` talks to one server (host and port) over one connection at a
// time, opened when the first request needs it and kept alive for the next
// ones:
//
//   HttpClient client(reactor, "127.0.0.1", 8080);
//   client.Get("/", [](absl::StatusOr<HttpResponse> response) {
//     if (response.ok()) use(response->status_code, response->body);
//   }).IgnoreError();
//
// Requests are written in the order they were made. With the default
// `pipeline_depth` of 1 the next request is written once the previous
// response is complete; a larger depth writes up to that many before their
// responses arrive (pipelining). Responses are read by Content-Length,
// chunked coding (trailers kept) or, when the server gives neither, until it
// closes; interim 1xx responses are skipped; a response to HEAD has no body.
//
// Every request whose Request call returned OK gets exactly one callback,
// from the reactor's loop (never from inside Request), with the response or
// an error:
//   - kDeadlineExceeded: no complete response within `response_timeout` of
//     the Request call, or the connect timed out;
//   - kUnavailable: the connection failed or the server closed it before the
//     response was complete (refused, reset, end of stream), or the server
//     said "Connection: close" in an earlier response on the connection;
//   - kNotFound: the host name did not resolve;
//   - kInvalidArgument / kResourceExhausted / kUnimplemented: the response
//     was malformed / over a limit of `parser` / an upgrade (101);
//   - kCancelled: Close was called or the client destroyed.
// A connection that fails after it was established fails only the requests
// written to it; requests not yet written go to a new connection. A connect
// that fails fails every request waiting for it. Nothing is retried: a
// request the server may have seen is never sent twice.
//
// Host names are resolved by the reactor without blocking. Time comes only
// from the reactor's clock, so the client behaves the same under the
// simulator for a given seed.
//
// Lifetime: the reactor must outlive the client; callbacks may destroy the
// client. Callbacks still pending when the client is destroyed run with
// kCancelled on the reactor's next turn (if the reactor is destroyed first,
// they are dropped unrun). Not thread-safe: use on the reactor's thread.

#ifndef EMBER_PROTOCOLS_HTTP_HTTP_CLIENT_H_
#define EMBER_PROTOCOLS_HTTP_HTTP_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "protocols/http/http_message.h"
#include "protocols/http/http_parser_options.h"
#include "protocols/tls/tls_context.h"
#include "reactor/reactor.h"

namespace ember::protocols {

namespace http_internal {
class HttpClientConnection;
}  // namespace http_internal

struct HttpClientOptions {
  // Limits on each response (body_bytes_max, header sizes).
  HttpParserOptions parser;
  // A connect (including name resolution) that takes longer fails its
  // requests with kDeadlineExceeded.
  absl::Duration connect_timeout = absl::Seconds(10);
  // From the Request call to the complete response; zero for none. A
  // request that times out after it was written closes the connection
  // (its response can no longer be told apart), failing the other written
  // requests with kUnavailable.
  absl::Duration response_timeout = absl::Seconds(30);
  // A kept-alive connection with nothing in flight is closed after this
  // long; zero keeps it until the server closes it.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Requests written and awaiting their responses; 1 means one at a time.
  size_t pipeline_depth = 1;
  // Requests accepted and not yet answered (queued and in flight). Request
  // fails with kResourceExhausted beyond it.
  size_t pending_requests_max = 1024;
  // HTTPS: a client TlsContext (verification on by default). Each
  // connection then verifies the server's certificate against
  // `tls_server_name` (empty: the host given to the constructor). A TLS
  // failure fails the waiting requests with its status (see
  // tls::TlsFailureOf).
  std::shared_ptr<const tls::TlsContext> tls;
  std::string tls_server_name;
};

struct HttpClientStats {
  uint64_t connections_opened = 0;
  uint64_t requests_written = 0;
  uint64_t responses = 0;  // Complete responses delivered.
  uint64_t failures = 0;   // Callbacks with an error.
};

class HttpClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>)>;

  // `reactor` must outlive the client. `host` is an IP literal or a name.
  HttpClient(Reactor& reactor, std::string host, uint16_t port,
             HttpClientOptions options = HttpClientOptions());
  // Closes the connection; pending callbacks run with kCancelled on the
  // reactor's next turn.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` (its Host field is added when missing; a body gets a
  // Content-Length unless the request is chunked). Returns OK and later
  // calls `done` exactly once; or returns kInvalidArgument for a request
  // the serialiser refuses, kResourceExhausted past pending_requests_max or
  // for a request larger than the connection's outbound limit, and then
  // never calls `done`.
  absl::Status Request(HttpRequest request, Callback done);
  absl::Status Request(std::string_view method, std::string_view target,
                       HttpHeaders headers, std::string body, Callback done);
  absl::Status Get(std::string_view target, Callback done);

  // Fails every pending request with kCancelled (on the next turn) and
  // closes the connection. The client stays usable.
  void Close();

  // Requests accepted and not yet answered.
  size_t pending() const { return queued_.size() + in_flight_.size(); }
  // A connection is open or opening.
  bool connected() const { return connection_ != nullptr; }
  const HttpClientStats& stats() const { return stats_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

 private:
  friend class http_internal::HttpClientConnection;
  struct Pending;
  using PendingList = std::deque<std::unique_ptr<Pending>>;

  // From the connection, on the reactor's loop.
  void OnConnected(http_internal::HttpClientConnection* connection);
  void OnResponse(http_internal::HttpClientConnection* connection,
                  HttpResponse&& response, bool keep_alive);
  // The connection is over (failed, closed by the server, or unusable);
  // `status` is what its written requests fail with.
  void OnConnectionEnd(http_internal::HttpClientConnection* connection,
                       const absl::Status& status, bool connect_failed);
  void OnWritable(http_internal::HttpClientConnection* connection);

  void Connect();
  void WriteRequests();
  void OnTimeout(Pending* pending);
  // Stops using the current connection and closes it.
  void DropConnection();
  // Runs the callback now (from the loop). Returns false if the callback
  // destroyed the client.
  bool Deliver(std::unique_ptr<Pending> pending,
               absl::StatusOr<HttpResponse> result);
  // Fails every request in `list`, in order. Returns false if a callback
  // destroyed the client.
  bool FailAll(PendingList& list, const absl::Status& status);
  // For when the client is gone: runs the callbacks of `list` (timers
  // already cancelled) on the reactor's next turn.
  static void PostAll(Reactor& reactor, PendingList& list,
                      const absl::Status& status);
  // Runs the callback on the reactor's next turn.
  void DeliverLater(std::unique_ptr<Pending> pending, absl::Status status);
  void CancelTimer(Pending* pending);

  Reactor& reactor_;
  const std::string host_;
  const uint16_t port_;
  const HttpClientOptions options_;
  std::string host_field_;  // The Host value for requests without one.

  http_internal::HttpClientConnection* connection_ = nullptr;
  bool connection_ready_ = false;  // Connected, not yet retired.
  PendingList queued_;             // Not written yet, in order.
  PendingList in_flight_;          // Written, in order.
  HttpClientStats stats_;
  uint64_t next_id_ = 1;
  // Set while a callback runs, cleared by the destructor: tells Deliver
  // whether the client still exists when the callback returns.
  bool* alive_ = nullptr;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_HTTP_HTTP_CLIENT_H_
