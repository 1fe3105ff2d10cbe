// SmtpServer: SMTP on reactor connections, EventMachine's SmtpServer with
// what it lacked (limits, STARTTLS, AUTH, asynchronous acceptance).
//
//   class Store : public SmtpServerHandler {
//     void OnMessageComplete(const SmtpSessionInfo&, const SmtpEnvelope& env,
//                            SmtpCompletion done) override {
//       ... write the message, then later: done.Reply({250, "2.0.0 Kept"});
//     }
//   };
//   SmtpServer server(reactor, {}, [] { return std::make_unique<Store>(); });
//   auto address = server.Listen("127.0.0.1", 2525);
//
// Each accepted connection gets its own handler from the factory and one
// SmtpServerSession (smtp_server_session.h: the protocol, the limits and
// their reply codes). This adapter adds what needs the reactor: the
// connection, STARTTLS through the TLS filter (when `options.tls` is set),
// holding reads while a message awaits its answer, and the per-stage
// timeouts, after which the client gets "421 4.4.2" and the connection
// closes: `command_timeout` waiting for a command, `data_timeout` between
// reads of message text. While the application is answering a message no
// timeout runs: the answer is its to give. The TLS handshake has the TLS
// context's handshake_timeout.
//
// Time comes only from the reactor, so the server runs unchanged under the
// simulator. Lifetime: the server must not outlive its reactor nor be
// destroyed from inside a handler; destroying it stops listening and closes
// its connections (their handlers see OnMessageAborted for a message in
// progress). Not thread-safe.

#ifndef EMBER_PROTOCOLS_SMTP_SMTP_SERVER_H_
#define EMBER_PROTOCOLS_SMTP_SMTP_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "protocols/smtp/smtp_server_session.h"
#include "protocols/tls/tls_context.h"
#include "reactor/reactor.h"

namespace ember::protocols {

namespace smtp_internal {
class SmtpServerConnection;
}  // namespace smtp_internal

struct SmtpServerOptions {
  SmtpSessionOptions session;
  // A server TLS context: STARTTLS is offered (session.offer_starttls is
  // set from this). Null: no STARTTLS.
  std::shared_ptr<const tls::TlsContext> tls;
  // RFC 5321 4.5.3.2 suggests 5 minutes for commands and 3 minutes for
  // each block of message text.
  absl::Duration command_timeout = absl::Minutes(5);
  absl::Duration data_timeout = absl::Minutes(3);
};

struct SmtpServerStats {
  uint64_t connections = 0;
  uint64_t messages_accepted = 0;  // Answered 250.
  uint64_t timeouts = 0;
};

class SmtpServer {
 public:
  using HandlerFactory =
      absl::AnyInvocable<std::unique_ptr<SmtpServerHandler>()>;

  // `reactor` must outlive the server. `factory` makes one handler per
  // connection.
  SmtpServer(Reactor& reactor, SmtpServerOptions options,
             HandlerFactory factory);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  // Listens on `host:port` (port 0 picks one); returns the bound address.
  absl::StatusOr<io::Address> Listen(std::string_view host, uint16_t port);
  Reactor::ConnectionFactory Factory();
  void StopListening();

  size_t connection_count() const { return connections_.size(); }
  const SmtpServerStats& stats() const { return stats_; }
  const SmtpServerOptions& options() const { return options_; }

 private:
  friend class smtp_internal::SmtpServerConnection;

  Reactor& reactor_;
  SmtpServerOptions options_;
  HandlerFactory factory_;
  std::vector<ServerId> listeners_;
  // By connection id, so that teardown runs in one order every run.
  std::map<uint64_t, smtp_internal::SmtpServerConnection*> connections_;
  SmtpServerStats stats_;
};

}  // namespace ember::protocols

#endif  // EMBER_PROTOCOLS_SMTP_SMTP_SERVER_H_
