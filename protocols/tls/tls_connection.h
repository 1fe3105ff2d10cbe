// TLS on reactor connections: the adapter from `TlsEngine` to the reactor's
// `StreamFilter`, and the calls that put it on a connection.
//
//   // A server: every accepted connection speaks TLS from its first byte.
//   auto context = TlsContext::Create(TlsRole::kServer, options).value();
//   reactor.StartServer("0.0.0.0", 443,
//       TlsServerFactory(context, [] { return std::make_unique<Echo>(); }));
//
//   // A client: the name is checked against the server's certificate.
//   auto client = TlsContext::Create(TlsRole::kClient, {}).value();
//   ConnectTls(reactor, "example.com", 443, std::make_unique<Probe>(), client);
//
//   // STARTTLS: upgrade an established connection, from its callbacks.
//   StartTls(*this, context, {.server_name = "mail.example.com"});
//
// The handler keeps speaking plaintext through ReceiveData and SendData;
// `HandshakeCompleted` tells it the session is up, and `TlsOf(*this)` what
// was negotiated. Failures end the connection with UnbindKind::kTls (or
// kTimedOut for the handshake timeout) and a status TlsFailureOf reads.
//
// Outbound limits count ciphertext queued for the socket plus plaintext kept
// until the handshake finishes (see Connection::OutboundDataSize); a SendData
// is admitted by its plaintext size, so the ciphertext may pass max_bytes by
// the record overhead of that one call (under 0.2 % plus 22 bytes a record).

#ifndef EMBER_PROTOCOLS_TLS_TLS_CONNECTION_H_
#define EMBER_PROTOCOLS_TLS_TLS_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocols/tls/tls_context.h"
#include "protocols/tls/tls_engine.h"
#include "reactor/connection.h"
#include "reactor/reactor.h"
#include "reactor/stream_filter.h"

namespace ember::tls {

// The StreamFilter that runs a TlsEngine.
class TlsFilter final : public StreamFilter {
 public:
  explicit TlsFilter(std::unique_ptr<TlsEngine> engine)
      : engine_(std::move(engine)) {}

  absl::Status Start() override { return engine_->Start(); }
  absl::Status ReceiveWire(std::string_view bytes) override {
    return engine_->FeedCiphertext(bytes);
  }
  absl::StatusOr<size_t> ReadPlain(char* buf, size_t len) override {
    return engine_->ReadPlaintext(buf, len);
  }
  bool HasBufferedPlain() const override { return engine_->HasBufferedInput(); }
  absl::Status WritePlain(std::string_view bytes) override {
    return engine_->WritePlaintext(bytes);
  }
  size_t pending_plain_bytes() const override {
    return engine_->pending_plaintext_bytes();
  }
  void TakeWire(absl::FunctionRef<void(std::string_view)> sink) override {
    engine_->TakeCiphertext(sink);
  }
  bool established() const override { return engine_->established(); }
  absl::Status CloseWrite() override { return engine_->CloseWrite(); }
  bool peer_closed() const override { return engine_->peer_closed(); }
  absl::Status EndOfInput() override { return engine_->EndOfInput(); }
  absl::Duration handshake_timeout() const override {
    return engine_->context().options().handshake_timeout;
  }
  absl::Status HandshakeTimeoutError() const override {
    return engine_->HandshakeTimeoutError(handshake_timeout());
  }

  const TlsEngine& engine() const { return *engine_; }

 private:
  std::unique_ptr<TlsEngine> engine_;
};

// Puts TLS on `connection` in the context's role (see
// Connection::StartFilter for when; a client's name to verify and send as
// SNI is `options.server_name`). Certificate times are judged by the
// connection's reactor's WallNow(). kFailedPrecondition when the connection
// already has a filter or is closing; kInvalidArgument when a verifying
// client has no server_name. On error nothing changes.
absl::Status StartTls(Connection& connection,
                      std::shared_ptr<const TlsContext> context,
                      const TlsSessionOptions& options = {});

// A factory for Reactor::StartServer whose connections (made by `inner`)
// speak TLS from the first byte. `context` must be a server context.
Reactor::ConnectionFactory TlsServerFactory(
    std::shared_ptr<const TlsContext> context,
    Reactor::ConnectionFactory inner);

// Reactor::Connect, then TLS as a client verifying `host` (a name or IP
// literal; override with options.server_name). Errors as Reactor::Connect,
// and StartTls's before it (then nothing is called on `connection`).
absl::StatusOr<Connection*> ConnectTls(
    Reactor& reactor, std::string_view host, uint16_t port,
    std::unique_ptr<Connection> connection,
    std::shared_ptr<const TlsContext> context, TlsSessionOptions options = {});

// The TLS session of `connection`, or nullptr when it has none.
const TlsEngine* TlsOf(const Connection& connection);

}  // namespace ember::tls

#endif  // EMBER_PROTOCOLS_TLS_TLS_CONNECTION_H_
