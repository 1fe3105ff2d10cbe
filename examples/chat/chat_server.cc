#include "examples/chat/chat_server.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "protocols/line/line_connection.h"

namespace ember::examples {

class ChatServer::Client final : public protocols::LineConnection {
 public:
  Client(ChatServer* server, protocols::LineFramer::Options options)
      : LineConnection(std::move(options)), server_(server) {}

  const std::string& name() const { return name_; }

  void PostInit() override {
    OutboundLimits limits = outbound_limits();
    limits.max_bytes = server_->options_.client_outbound_bytes_max;
    limits.high_water_bytes = std::min(limits.high_water_bytes, limits.max_bytes);
    limits.low_water_bytes = std::min(limits.low_water_bytes,
                                      limits.high_water_bytes);
    limits.close_on_overflow = true;
    SetOutboundLimits(limits);
    server_->clients_.emplace(id(), this);
    SendData(kChatPrompt).IgnoreError();
  }

  void ReceiveLine(std::string_view line) override {
    if (name_.empty()) {
      if (line.empty()) {
        SendData(kChatPrompt).IgnoreError();
        return;
      }
      name_ = std::string(line);
      ++server_->stats_.joined;
      return;
    }
    ++server_->stats_.lines;
    server_->Broadcast(this, line);
  }

  void ReceiveLineError(const absl::Status& status) override {
    ++server_->stats_.overlong;
    SendData(absl::StrCat("ERROR: line longer than ",
                          server_->options_.line_bytes_max,
                          " bytes; closing\n"))
        .IgnoreError();
    CloseAfterWriting();
  }

  void Unbind(const UnbindReason& reason) override {
    if (reason.kind == UnbindKind::kOutboundOverflow) ++server_->stats_.too_slow;
    server_->clients_.erase(id());
  }

 private:
  ChatServer* server_;
  std::string name_;
};

ChatServer::ChatServer(Reactor& reactor, ChatOptions options)
    : reactor_(reactor), options_(options) {}

ChatServer::~ChatServer() { StopListening(); }

absl::StatusOr<io::Address> ChatServer::Listen(std::string_view host,
                                               uint16_t port) {
  protocols::LineFramer::Options framing;
  framing.line_bytes_max = options_.line_bytes_max;
  absl::StatusOr<ServerId> server =
      reactor_.StartServer(host, port, [this, framing] {
        return std::make_unique<Client>(this, framing);
      });
  if (!server.ok()) return server.status();
  server_ = *server;
  return reactor_.ServerAddress(server_);
}

void ChatServer::StopListening() {
  if (server_ != 0) {
    reactor_.StopServer(server_).IgnoreError();
    server_ = 0;
  }
}

void ChatServer::Broadcast(Client* from, std::string_view line) {
  scratch_.clear();
  absl::StrAppend(&scratch_, from->name(), " says: ",
                  absl::string_view(line.data(), line.size()), "\n");
  for (auto& [id, client] : clients_) {
    if (client == from || client->name().empty() || client->closing()) {
      continue;
    }
    // A refusal means the client stopped reading: with close_on_overflow
    // the reactor closes it, and it leaves the map in Unbind.
    if (client->SendData(scratch_).ok()) ++stats_.deliveries;
  }
}

}  // namespace ember::examples
