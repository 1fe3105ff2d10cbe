#include "protocols/smtp/smtp_server.h"

#include <memory>
#include <string_view>
#include <utility>

#include "io/check.h"
#include "protocols/tls/tls_connection.h"
#include "reactor/connection.h"

namespace ember::protocols {
namespace smtp_internal {

class SmtpServerConnection final : public Connection,
                                   private SmtpServerTransport {
 public:
  SmtpServerConnection(SmtpServer* server,
                       std::unique_ptr<SmtpServerHandler> handler,
                       const SmtpSessionOptions& session_options)
      : server_(server),
        tls_(server->options_.tls),
        command_timeout_(server->options_.command_timeout),
        data_timeout_(server->options_.data_timeout),
        handler_(std::move(handler)),
        session_(this, handler_.get(), session_options) {}

  ~SmtpServerConnection() override { CancelTimer(); }

  void Detach() { server_ = nullptr; }

  void PostInit() override {
    if (server_ != nullptr) {
      server_->connections_[id()] = this;
      server_->stats_.connections++;
    }
    session_.Start();
    AfterSession();
  }

  void ReceiveData(std::string_view data) override {
    session_.Feed(data);
    AfterSession();
  }

  void ReceiveEof() override {
    session_.Finish();
    CloseAfterWriting();
  }

  void Unbind(const UnbindReason& reason) override {
    CancelTimer();
    session_.Finish();
    if (server_ != nullptr) server_->connections_.erase(id());
  }

 private:
  // ---- SmtpServerTransport ----
  void Send(std::string_view bytes) override {
    SendData(bytes).IgnoreError();
  }
  bool StartTls() override {
    if (tls_ == nullptr) return false;
    return tls::StartTls(*this, tls_).ok();
  }
  void Close() override {
    CancelTimer();
    CloseAfterWriting();
  }
  void ScheduleContinue() override {
    CountAccepted();
    NextTick([this] {
      session_.Continue();
      AfterSession();
    });
  }

  void CountAccepted() {
    if (session_.messages_accepted() > counted_accepted_) {
      if (server_ != nullptr) {
        server_->stats_.messages_accepted +=
            session_.messages_accepted() - counted_accepted_;
      }
      counted_accepted_ = session_.messages_accepted();
    }
  }

  // Follows the session's stage: reading held or not, and its timer.
  void AfterSession() {
    CountAccepted();
    if (closing()) return;
    if (session_.holding_input()) {
      if (!paused()) Pause();
    } else if (paused()) {
      Resume();
    }
    ArmTimer();
  }

  void ArmTimer() {
    CancelTimer();
    absl::Duration timeout;
    switch (session_.stage()) {
      case SmtpStage::kCommand:
        timeout = command_timeout_;
        break;
      case SmtpStage::kData:
        timeout = data_timeout_;
        break;
      case SmtpStage::kAwaiting:
      case SmtpStage::kClosed:
        return;
    }
    // A timer of the connection's own: it never fails for want of room
    // (ReactorOptions::timers_max) and never runs after Unbind.
    timer_ = StartTimer(timeout, [this] {
      timer_ = 0;
      if (server_ != nullptr) server_->stats_.timeouts++;
      session_.TimedOut();
    });
  }

  void CancelTimer() {
    if (timer_ != 0) {
      Connection::CancelTimer(timer_);
      timer_ = 0;
    }
  }

  SmtpServer* server_;
  std::shared_ptr<const tls::TlsContext> tls_;
  const absl::Duration command_timeout_;
  const absl::Duration data_timeout_;
  std::unique_ptr<SmtpServerHandler> handler_;
  SmtpServerSession session_;
  TimerId timer_ = 0;
  uint64_t counted_accepted_ = 0;
};

}  // namespace smtp_internal

using smtp_internal::SmtpServerConnection;

SmtpServer::SmtpServer(Reactor& reactor, SmtpServerOptions options,
                       HandlerFactory factory)
    : reactor_(reactor),
      options_(std::move(options)),
      factory_(std::move(factory)) {
  EMBER_CHECK(factory_ != nullptr);
  options_.session.offer_starttls = options_.tls != nullptr;
}

SmtpServer::~SmtpServer() {
  StopListening();
  for (auto& [id, connection] : connections_) {
    connection->Detach();
    connection->CloseConnection();
  }
  connections_.clear();
}

Reactor::ConnectionFactory SmtpServer::Factory() {
  return [this]() -> std::unique_ptr<Connection> {
    std::unique_ptr<SmtpServerHandler> handler = factory_();
    EMBER_CHECK(handler != nullptr);
    return std::make_unique<SmtpServerConnection>(this, std::move(handler),
                                                  options_.session);
  };
}

absl::StatusOr<io::Address> SmtpServer::Listen(std::string_view host,
                                               uint16_t port) {
  EMBER_ASSIGN_OR_RETURN(ServerId id,
                         reactor_.StartServer(host, port, Factory()));
  auto address = reactor_.ServerAddress(id);
  if (!address.ok()) {
    reactor_.StopServer(id).IgnoreError();
    return address.status();
  }
  listeners_.push_back(id);
  return address;
}

void SmtpServer::StopListening() {
  for (ServerId id : listeners_) reactor_.StopServer(id).IgnoreError();
  listeners_.clear();
}

}  // namespace ember::protocols
