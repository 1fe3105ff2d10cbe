#include "protocols/tls/tls_connection.h"

#include <string>
#include <utility>

#include "io/absl_compat.h"
#include "io/check.h"

namespace ember::tls {

absl::Status StartTls(Connection& connection,
                      std::shared_ptr<const TlsContext> context,
                      const TlsSessionOptions& options) {
  if (connection.filter() != nullptr) {
    return absl::FailedPreconditionError(
        "StartTls: the connection already has a stream filter");
  }
  Connection* c = &connection;
  // Read lazily: a connection made by a factory has no reactor yet.
  TlsEngine::WallClock clock = [c] { return c->reactor().WallNow(); };
  EMBER_ASSIGN_OR_RETURN(
      std::unique_ptr<TlsEngine> engine,
      TlsEngine::Create(std::move(context), options, std::move(clock)));
  return connection.StartFilter(std::make_unique<TlsFilter>(std::move(engine)));
}

Reactor::ConnectionFactory TlsServerFactory(
    std::shared_ptr<const TlsContext> context,
    Reactor::ConnectionFactory inner) {
  EMBER_CHECK_MSG(context != nullptr && context->role() == TlsRole::kServer,
                  "TlsServerFactory needs a server TlsContext");
  return [context = std::move(context),
          inner = std::move(inner)]() mutable -> std::unique_ptr<Connection> {
    std::unique_ptr<Connection> connection = inner();
    if (connection == nullptr) return nullptr;
    // A server engine cannot fail to be created but for memory.
    absl::Status status = StartTls(*connection, context);
    EMBER_CHECK_MSG(status.ok(), "StartTls on a new server connection");
    return connection;
  };
}

absl::StatusOr<Connection*> ConnectTls(
    Reactor& reactor, std::string_view host, uint16_t port,
    std::unique_ptr<Connection> connection,
    std::shared_ptr<const TlsContext> context, TlsSessionOptions options) {
  EMBER_CHECK(connection != nullptr);
  if (options.server_name.empty()) options.server_name = std::string(host);
  EMBER_RETURN_IF_ERROR(StartTls(*connection, std::move(context), options));
  return reactor.Connect(host, port, std::move(connection));
}

const TlsEngine* TlsOf(const Connection& connection) {
  const auto* filter = dynamic_cast<const TlsFilter*>(connection.filter());
  return filter != nullptr ? &filter->engine() : nullptr;
}

}  // namespace ember::tls
