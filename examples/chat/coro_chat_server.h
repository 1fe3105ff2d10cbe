// The chat server again, written with coroutines.
//
// Same protocol, limits and statistics as ChatServer (chat_server.h): a
// prompt, the first non-empty line as the name, every later line to every
// other named client as "NAME says: LINE", "ERROR: ..." and a close for an
// over-long line, and a disconnect for a client that reads too slowly. The
// difference is the shape of the code: one task accepts, and one task per
// client reads its lines in a loop, as if blocking, where the callback
// version keeps each client's state across callbacks by hand.
//
// `MakeChatServer` builds either version behind `ChatService`, so the
// programs, the simulation and the tests run both.

#ifndef EMBER_EXAMPLES_CHAT_CORO_CHAT_SERVER_H_
#define EMBER_EXAMPLES_CHAT_CORO_CHAT_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "examples/chat/chat_server.h"
#include "io/address.h"
#include "reactor/coro/stream.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"

namespace ember::examples {

class CoroChatServer final : public ChatService {
 public:
  explicit CoroChatServer(Reactor& reactor, ChatOptions options = {});
  // Stops listening and destroys every client's task (closing its
  // connection after what is queued).
  ~CoroChatServer() override;
  CoroChatServer(const CoroChatServer&) = delete;
  CoroChatServer& operator=(const CoroChatServer&) = delete;

  absl::StatusOr<io::Address> Listen(std::string_view host,
                                     uint16_t port) override;
  void StopListening() override;
  size_t client_count() const override { return clients_.size(); }
  const ChatStats& stats() const override { return stats_; }

 private:
  struct Client {
    Stream* stream;
    std::string name;
  };

  Task<absl::Status> AcceptLoop(Listener* listener, uint64_t generation);
  Task<absl::Status> Serve(Stream stream);
  void Broadcast(const Client* from, std::string_view line);

  Reactor& reactor_;
  const ChatOptions options_;
  std::unique_ptr<Listener> listener_;
  // Bumped when the listener goes, so its accept loop stops using it.
  uint64_t generation_ = 0;
  TaskId accept_task_ = 0;
  // Ordered by connection id, so every run broadcasts in the same order.
  std::map<uint64_t, Client*> clients_;
  ChatStats stats_;
  std::string scratch_;
  // Last, so the tasks (which use the members above) go first.
  TaskGroup tasks_;
};

enum class ChatServerKind { kCallback, kCoro };

// "callback" or "coro"; kInvalidArgument for anything else.
absl::StatusOr<ChatServerKind> ParseChatServerKind(std::string_view name);
std::string_view ChatServerKindName(ChatServerKind kind);

std::unique_ptr<ChatService> MakeChatServer(ChatServerKind kind,
                                            Reactor& reactor,
                                            ChatOptions options = {});

}  // namespace ember::examples

#endif  // EMBER_EXAMPLES_CHAT_CORO_CHAT_SERVER_H_
