#include "protocols/http/http_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "protocols/http/http_parser.h"
#include "protocols/http/http_serializer.h"
#include "protocols/tls/tls_connection.h"

namespace ember::protocols {

struct HttpClient::Pending {
  uint64_t id = 0;
  std::string method;
  std::string wire;  // The serialised request, until written.
  Callback done;
  TimerId timer = 0;
};

namespace http_internal {
namespace {

HttpParserOptions ParserOptions(const HttpClientOptions& options) {
  HttpParserOptions parser = options.parser;
  parser.pipeline_depth_max =
      std::max(parser.pipeline_depth_max, options.pipeline_depth);
  return parser;
}

}  // namespace

// One connection of an HttpClient: feeds the response parser and reports
// whole responses and the connection's end. Owned by the reactor; the client
// detaches it when it stops using it, after which it only closes.
class HttpClientConnection : public Connection,
                             private HttpResponseParser::Listener {
 public:
  HttpClientConnection(HttpClient* client, const HttpClientOptions& options)
      : client_(client),
        connect_timeout_(options.connect_timeout),
        idle_timeout_(options.idle_timeout),
        parser_(this, ParserOptions(options)) {}

  void Detach() { client_ = nullptr; }
  HttpResponseParser& parser() { return parser_; }

  // Arms the idle timeout while nothing is in flight.
  void SetIdle(bool idle) {
    if (idle == idle_) return;
    idle_ = idle;
    SetInactivityTimeout(idle ? idle_timeout_ : absl::ZeroDuration());
  }

  void PostInit() override { SetPendingConnectTimeout(connect_timeout_); }

  void ConnectionCompleted() override {
    // Over TLS the connection counts as established once the handshake is;
    // requests written now wait inside the filter until then.
    if (filter() == nullptr) established_ = true;
    if (client_ != nullptr) client_->OnConnected(this);
  }

  void HandshakeCompleted() override { established_ = true; }

  void ReceiveData(std::string_view data) override {
    if (client_ == nullptr || closing()) return;
    parser_.Feed(data);
  }

  void ReceiveEof() override {
    // The end of the stream ends a close-delimited body, or cuts a
    // response short.
    if (client_ != nullptr && !parser_.failed()) parser_.Finish();
    if (client_ != nullptr) {
      End(absl::UnavailableError(absl::StrCat("the server ", host_port(),
                                              " closed the connection")),
          false);
    }
    CloseAfterWriting();
  }

  void OutboundLowWater() override {
    if (client_ != nullptr) client_->OnWritable(this);
  }

  void Unbind(const UnbindReason& reason) override {
    if (client_ == nullptr) return;
    absl::Status status = reason.status;
    if (status.ok()) {
      status = absl::UnavailableError(
          absl::StrCat("connection to ", host_port(), " ended (",
                       AbslView(UnbindKindName(reason.kind)), ")"));
    }
    const bool fail_queued = !established_ ||
                             reason.kind == UnbindKind::kReactorStopped ||
                             reason.kind == UnbindKind::kShutdown;
    End(status, fail_queued);
  }

 private:
  std::string host_port() const {
    return client_ == nullptr
               ? std::string()
               : absl::StrCat(client_->host(), ":", client_->port());
  }

  void End(const absl::Status& status, bool fail_queued) {
    HttpClient* client = std::exchange(client_, nullptr);
    client->OnConnectionEnd(this, status, fail_queued);
  }

  void Fail(const absl::Status& status) {
    if (client_ != nullptr) End(status, false);
    CloseConnection();
  }

  void OnResponseHead(const HttpResponseHead& head) override {
    if (client_ == nullptr) return;
    if (head.status_code == 101 || head.upgrade) {
      Fail(absl::UnimplementedError(
          absl::StrCat("the server switched protocols (", head.status_code,
                       "); HttpClient speaks HTTP/1.1 only")));
      return;
    }
    interim_ = head.status_code < 200;
    if (interim_) return;  // 100 Continue, 103 Early Hints: skipped.
    response_.version = head.version;
    response_.status_code = head.status_code;
    response_.reason.assign(head.reason);
    response_.headers = HttpHeaders::From(head.headers);
    response_.body.clear();
    response_.trailers.clear();
    keep_alive_ = head.keep_alive;
  }

  void OnBody(std::string_view data) override {
    if (client_ == nullptr || interim_) return;
    response_.body.append(data.data(), data.size());
  }

  void OnMessageComplete(HttpFieldsView trailers) override {
    if (client_ == nullptr) return;
    if (interim_) {
      interim_ = false;
      return;
    }
    response_.trailers = HttpHeaders::From(trailers);
    HttpResponse response = std::exchange(response_, HttpResponse());
    client_->OnResponse(this, std::move(response), keep_alive_);
  }

  void OnError(const HttpParseError& error) override {
    Fail(absl::Status(error.status.code(),
                      absl::StrCat("bad response from ", host_port(), ": ",
                                   error.status.message())));
  }

  HttpClient* client_;
  const absl::Duration connect_timeout_;
  const absl::Duration idle_timeout_;
  HttpResponseParser parser_;
  HttpResponse response_;
  bool keep_alive_ = true;
  bool interim_ = false;
  bool established_ = false;
  bool idle_ = false;
};

}  // namespace http_internal

using http_internal::HttpClientConnection;

namespace {

void PostCallback(Reactor& reactor, HttpClient::Callback done,
                  absl::Status status) {
  reactor.NextTick(
      [done = std::move(done), status = std::move(status)]() mutable {
        done(std::move(status));
      });
}

}  // namespace

HttpClient::HttpClient(Reactor& reactor, std::string host, uint16_t port,
                       HttpClientOptions options)
    : reactor_(reactor),
      host_(std::move(host)),
      port_(port),
      options_(std::move(options)) {
  EMBER_CHECK(options_.pipeline_depth > 0);
  EMBER_CHECK(options_.pending_requests_max > 0);
  const bool ipv6 = host_.find(':') != std::string::npos;
  host_field_ = ipv6 ? absl::StrCat("[", host_, "]") : host_;
  if (port_ != 80) absl::StrAppend(&host_field_, ":", port_);
}

HttpClient::~HttpClient() {
  if (alive_ != nullptr) *alive_ = false;
  DropConnection();
  for (PendingList* list : {&in_flight_, &queued_}) {
    for (auto& pending : *list) {
      CancelTimer(pending.get());
      DeliverLater(std::move(pending),
                   absl::CancelledError("the HTTP client was destroyed"));
    }
    list->clear();
  }
}

absl::Status HttpClient::Request(HttpRequest request, Callback done) {
  if (pending() >= options_.pending_requests_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", options_.pending_requests_max,
                     " HTTP requests pending; request not sent"));
  }
  if (!request.headers.Contains("Host")) {
    request.headers.Set("Host", host_field_);
  }
  auto pending = std::make_unique<Pending>();
  EMBER_RETURN_IF_ERROR(AppendRequest(request, &pending->wire));
  const size_t outbound_max = reactor_.options().outbound_limits.max_bytes;
  if (pending->wire.size() > outbound_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a request of ", pending->wire.size(),
                     " bytes is larger than the outbound limit of ",
                     outbound_max, " bytes"));
  }
  pending->id = next_id_++;
  pending->method = std::move(request.method);
  pending->done = std::move(done);
  if (options_.response_timeout > absl::ZeroDuration()) {
    Pending* raw = pending.get();
    EMBER_ASSIGN_OR_RETURN(pending->timer,
                           reactor_.AddTimer(options_.response_timeout,
                                             [this, raw] { OnTimeout(raw); }));
  }
  queued_.push_back(std::move(pending));
  if (connection_ == nullptr) {
    Connect();
  } else {
    WriteRequests();
  }
  return absl::OkStatus();
}

absl::Status HttpClient::Request(std::string_view method,
                                 std::string_view target, HttpHeaders headers,
                                 std::string body, Callback done) {
  HttpRequest request;
  request.method.assign(method);
  request.target.assign(target);
  request.headers = std::move(headers);
  request.body = std::move(body);
  return Request(std::move(request), std::move(done));
}

absl::Status HttpClient::Get(std::string_view target, Callback done) {
  return Request("GET", target, HttpHeaders(), std::string(), std::move(done));
}

void HttpClient::Close() {
  DropConnection();
  for (PendingList* list : {&in_flight_, &queued_}) {
    for (auto& pending : *list) {
      CancelTimer(pending.get());
      DeliverLater(std::move(pending),
                   absl::CancelledError("HttpClient::Close"));
    }
    list->clear();
  }
}

void HttpClient::Connect() {
  EMBER_CHECK(connection_ == nullptr);
  auto connection = std::make_unique<HttpClientConnection>(this, options_);
  HttpClientConnection* raw = connection.get();
  absl::StatusOr<Connection*> started = raw;
  if (options_.tls != nullptr) {
    tls::TlsSessionOptions session;
    session.server_name =
        options_.tls_server_name.empty() ? host_ : options_.tls_server_name;
    absl::Status status = tls::StartTls(*connection, options_.tls, session);
    if (!status.ok()) started = status;
  }
  if (started.ok()) {
    started = reactor_.Connect(host_, port_, std::move(connection));
  }
  if (!started.ok()) {
    // Arguments that can never work: fail what waits, from the loop.
    for (auto& pending : queued_) {
      CancelTimer(pending.get());
      DeliverLater(std::move(pending), started.status());
    }
    queued_.clear();
    return;
  }
  connection_ = raw;
  connection_ready_ = false;
  stats_.connections_opened++;
}

void HttpClient::OnConnected(HttpClientConnection* connection) {
  if (connection != connection_) return;
  connection_ready_ = true;
  WriteRequests();
}

void HttpClient::OnWritable(HttpClientConnection* connection) {
  if (connection == connection_) WriteRequests();
}

void HttpClient::WriteRequests() {
  if (connection_ == nullptr || !connection_ready_) return;
  const size_t outbound_max = connection_->outbound_limits().max_bytes;
  while (!queued_.empty() && in_flight_.size() < options_.pipeline_depth) {
    Pending* pending = queued_.front().get();
    // Wait for room (OutboundLowWater calls back) rather than fail.
    if (pending->wire.size() > outbound_max - connection_->OutboundDataSize()) {
      break;
    }
    if (!connection_->SendData(pending->wire).ok()) break;  // Closing.
    absl::Status expected =
        connection_->parser().ExpectResponseTo(pending->method);
    EMBER_CHECK_MSG(expected.ok(), "response parser depth below the pipeline");
    std::string().swap(pending->wire);
    stats_.requests_written++;
    in_flight_.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  connection_->SetIdle(in_flight_.empty());
}

void HttpClient::OnResponse(HttpClientConnection* connection,
                            HttpResponse&& response, bool keep_alive) {
  if (connection != connection_) return;
  if (in_flight_.empty()) {
    // A response nobody asked for: the stream can no longer be trusted.
    DropConnection();
    if (!queued_.empty()) Connect();
    return;
  }
  std::unique_ptr<Pending> pending = std::move(in_flight_.front());
  in_flight_.pop_front();
  CancelTimer(pending.get());
  if (!keep_alive) {
    // The server closes after this response: requests written behind it
    // will not be answered; those not written go to a new connection.
    DropConnection();
    PendingList orphans = std::move(in_flight_);
    in_flight_.clear();
    for (auto& orphan : orphans) CancelTimer(orphan.get());
    Reactor& reactor = reactor_;
    if (!Deliver(std::move(pending), std::move(response))) {
      PostAll(reactor, orphans,
              absl::CancelledError("the HTTP client was destroyed"));
      return;
    }
    if (!FailAll(orphans,
                 absl::UnavailableError(
                     "the server closed the connection after an earlier "
                     "response (Connection: close)"))) {
      return;
    }
    if (!queued_.empty() && connection_ == nullptr) Connect();
    return;
  }
  if (!Deliver(std::move(pending), std::move(response))) return;
  WriteRequests();
}

void HttpClient::OnConnectionEnd(HttpClientConnection* connection,
                                 const absl::Status& status, bool fail_queued) {
  if (connection != connection_) return;
  connection_ = nullptr;
  connection_ready_ = false;
  PendingList failed = std::move(in_flight_);
  in_flight_.clear();
  if (fail_queued) {
    for (auto& pending : queued_) failed.push_back(std::move(pending));
    queued_.clear();
  }
  if (!FailAll(failed, status)) return;
  if (!queued_.empty() && connection_ == nullptr) Connect();
}

void HttpClient::OnTimeout(Pending* pending) {
  pending->timer = 0;
  const absl::Status timeout = absl::DeadlineExceededError(
      absl::StrCat("no response from ", host_, ":", port_, " within ",
                   absl::FormatDuration(options_.response_timeout)));
  auto queued = std::find_if(queued_.begin(), queued_.end(),
                             [&](const auto& p) { return p.get() == pending; });
  if (queued != queued_.end()) {
    std::unique_ptr<Pending> owned = std::move(*queued);
    queued_.erase(queued);
    Deliver(std::move(owned), timeout);
    return;
  }
  auto written =
      std::find_if(in_flight_.begin(), in_flight_.end(),
                   [&](const auto& p) { return p.get() == pending; });
  EMBER_CHECK_MSG(written != in_flight_.end(), "timer of an unknown request");
  // Its response may still come, and would be taken for the next one's:
  // the connection is done.
  std::unique_ptr<Pending> owned = std::move(*written);
  in_flight_.erase(written);
  PendingList orphans = std::move(in_flight_);
  in_flight_.clear();
  DropConnection();
  for (auto& orphan : orphans) CancelTimer(orphan.get());
  Reactor& reactor = reactor_;
  if (!Deliver(std::move(owned), timeout)) {
    PostAll(reactor, orphans,
            absl::CancelledError("the HTTP client was destroyed"));
    return;
  }
  if (!FailAll(orphans, absl::UnavailableError(
                            "connection closed after another request on it "
                            "timed out"))) {
    return;
  }
  if (!queued_.empty() && connection_ == nullptr) Connect();
}

void HttpClient::DropConnection() {
  if (connection_ == nullptr) return;
  connection_->Detach();
  connection_->CloseConnection();
  connection_ = nullptr;
  connection_ready_ = false;
}

bool HttpClient::Deliver(std::unique_ptr<Pending> pending,
                         absl::StatusOr<HttpResponse> result) {
  CancelTimer(pending.get());
  if (result.ok()) {
    stats_.responses++;
  } else {
    stats_.failures++;
  }
  Callback done = std::move(pending->done);
  pending.reset();
  bool alive = true;
  bool* const outer = alive_;
  alive_ = &alive;
  done(std::move(result));
  if (!alive) {
    if (outer != nullptr) *outer = false;
    return false;
  }
  alive_ = outer;
  return true;
}

bool HttpClient::FailAll(PendingList& list, const absl::Status& status) {
  // Timers first: a callback that destroys the client leaves the rest to
  // run from the loop, and their timers must not fire into it.
  for (auto& pending : list) CancelTimer(pending.get());
  Reactor& reactor = reactor_;
  while (!list.empty()) {
    std::unique_ptr<Pending> pending = std::move(list.front());
    list.pop_front();
    if (!Deliver(std::move(pending), status)) {
      PostAll(reactor, list, status);
      return false;
    }
  }
  return true;
}

void HttpClient::PostAll(Reactor& reactor, PendingList& list,
                         const absl::Status& status) {
  for (auto& pending : list) {
    EMBER_CHECK(pending->timer == 0);
    PostCallback(reactor, std::move(pending->done), status);
  }
  list.clear();
}

void HttpClient::DeliverLater(std::unique_ptr<Pending> pending,
                              absl::Status status) {
  stats_.failures++;
  PostCallback(reactor_, std::move(pending->done), std::move(status));
}

void HttpClient::CancelTimer(Pending* pending) {
  if (pending->timer != 0) {
    reactor_.CancelTimer(pending->timer);
    pending->timer = 0;
  }
}

}  // namespace ember::protocols
