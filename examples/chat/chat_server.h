// The chat server from EventMachine's introduction, done properly.
//
// Each client is greeted with "Please enter your name: "; its first
// non-empty line is its name, and every later line goes to every other named
// client as "NAME says: LINE\n". Lines may be split across reads or arrive
// several per read (LineConnection frames them), clients may leave at any
// moment, and every buffer is bounded:
//   - a line longer than `line_bytes_max` gets "ERROR: ..." and a close;
//   - a client that reads too slowly to keep up (its outbound queue passes
//     `client_outbound_bytes_max`) is disconnected rather than buffered for
//     without end.
//
// The server only needs a Reactor, so the same code runs over the real
// network (server_main.cc) and the simulator (sim_main.cc, the tests).

#ifndef EMBER_EXAMPLES_CHAT_CHAT_SERVER_H_
#define EMBER_EXAMPLES_CHAT_CHAT_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "io/address.h"
#include "reactor/reactor.h"

namespace ember::examples {

inline constexpr std::string_view kChatPrompt = "Please enter your name: ";

struct ChatOptions {
  size_t line_bytes_max = 4096;
  size_t client_outbound_bytes_max = 1 << 20;
};

struct ChatStats {
  uint64_t joined = 0;         // Clients that gave a name.
  uint64_t lines = 0;          // Lines received from named clients.
  uint64_t deliveries = 0;     // "NAME says: ..." lines queued to others.
  uint64_t overlong = 0;       // Clients closed for an over-long line.
  uint64_t too_slow = 0;       // Clients closed for not reading.
};

// What a chat server offers its owner, whichever way it is written: this
// callback one, or CoroChatServer (coro_chat_server.h), the same server
// written with coroutines.
class ChatService {
 public:
  virtual ~ChatService() = default;
  // Starts listening; returns the bound address (useful with port 0).
  virtual absl::StatusOr<io::Address> Listen(std::string_view host,
                                             uint16_t port) = 0;
  virtual void StopListening() = 0;
  // Connected clients, named or not.
  virtual size_t client_count() const = 0;
  virtual const ChatStats& stats() const = 0;
};

class ChatServer final : public ChatService {
 public:
  explicit ChatServer(Reactor& reactor, ChatOptions options = {});
  ~ChatServer() override;
  ChatServer(const ChatServer&) = delete;
  ChatServer& operator=(const ChatServer&) = delete;

  absl::StatusOr<io::Address> Listen(std::string_view host,
                                     uint16_t port) override;
  void StopListening() override;

  size_t client_count() const override { return clients_.size(); }
  const ChatStats& stats() const override { return stats_; }

 private:
  class Client;
  void Broadcast(Client* from, std::string_view line);

  Reactor& reactor_;
  const ChatOptions options_;
  ServerId server_ = 0;
  // Ordered by connection id, so every run broadcasts in the same order.
  std::map<uint64_t, Client*> clients_;
  ChatStats stats_;
  std::string scratch_;
};

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_CHAT_CHAT_SERVER_H_
