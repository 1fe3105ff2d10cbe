#include "examples/chat/coro_chat_server.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "protocols/line/line_framer.h"
#include "protocols/line/line_reader.h"

namespace ember::examples {

CoroChatServer::CoroChatServer(Reactor& reactor, ChatOptions options)
    : reactor_(reactor), options_(options), tasks_(reactor) {}

CoroChatServer::~CoroChatServer() { StopListening(); }

absl::StatusOr<io::Address> CoroChatServer::Listen(std::string_view host,
                                                   uint16_t port) {
  ListenerOptions options;
  // Accepted connections wait here only until the accept task's next turn.
  options.accept_queue_max = 4096;
  absl::StatusOr<Listener> listener =
      Listener::Listen(reactor_, host, port, options);
  if (!listener.ok()) return listener.status();
  listener_ = std::make_unique<Listener>(std::move(*listener));
  absl::StatusOr<TaskId> task =
      tasks_.Spawn(AcceptLoop(listener_.get(), ++generation_));
  if (!task.ok()) {
    listener_.reset();
    return task.status();
  }
  accept_task_ = *task;
  return listener_->address();
}

void CoroChatServer::StopListening() {
  if (listener_ == nullptr) return;
  // Closing now frees the address at once (a restarted host listens again
  // in the same turn); the accept loop sees the new generation and ends.
  ++generation_;
  listener_.reset();
  tasks_.Cancel(accept_task_);
  accept_task_ = 0;
}

Task<absl::Status> CoroChatServer::AcceptLoop(Listener* listener,
                                              uint64_t generation) {
  for (;;) {
    absl::StatusOr<Stream> stream = co_await listener->Accept();
    if (stream.ok()) {
      // At the task limit the stream is dropped, closing the connection.
      tasks_.Spawn(Serve(std::move(*stream))).IgnoreError();
    }
    if (generation != generation_) co_return absl::OkStatus();
    if (!stream.ok()) co_return stream.status();
  }
}

Task<absl::Status> CoroChatServer::Serve(Stream stream) {
  Connection* connection = stream.connection();
  if (connection == nullptr) co_return absl::OkStatus();  // Gone already.
  OutboundLimits limits = connection->outbound_limits();
  limits.max_bytes = options_.client_outbound_bytes_max;
  limits.high_water_bytes = std::min(limits.high_water_bytes, limits.max_bytes);
  limits.low_water_bytes = std::min(limits.low_water_bytes,
                                    limits.high_water_bytes);
  limits.close_on_overflow = true;
  connection->SetOutboundLimits(limits);

  Client client{&stream, ""};
  const uint64_t id = connection->id();
  clients_.emplace(id, &client);
  // Leaves the room however the task ends, also when it is destroyed.
  struct Leave {
    std::map<uint64_t, Client*>* clients;
    uint64_t id;
    ~Leave() { clients->erase(id); }
  } leave{&clients_, id};

  stream.Send(kChatPrompt).IgnoreError();
  protocols::LineFramer::Options framing;
  framing.line_bytes_max = options_.line_bytes_max;
  protocols::LineReader reader(stream, framing);
  for (;;) {
    absl::StatusOr<std::string> line = co_await reader.ReadLine();
    if (!line.ok()) {
      if (line.status().code() == absl::StatusCode::kResourceExhausted) {
        ++stats_.overlong;
        stream
            .Send(absl::StrCat("ERROR: line longer than ",
                               options_.line_bytes_max, " bytes; closing\n"))
            .IgnoreError();
      }
      // The end of the stream, an over-long line, or the connection's end.
      break;
    }
    if (client.name.empty()) {
      if (line->empty()) {
        stream.Send(kChatPrompt).IgnoreError();
      } else {
        client.name = std::move(*line);
        ++stats_.joined;
      }
      continue;
    }
    ++stats_.lines;
    Broadcast(&client, *line);
  }
  std::optional<UnbindReason> ended = stream.ended();
  if (ended.has_value() && ended->kind == UnbindKind::kOutboundOverflow) {
    ++stats_.too_slow;
  }
  // Whatever is queued still goes out; then the connection closes.
  stream.CloseAfterWriting();
  co_return absl::OkStatus();
}

void CoroChatServer::Broadcast(const Client* from, std::string_view line) {
  scratch_.clear();
  absl::StrAppend(&scratch_, from->name, " says: ",
                  absl::string_view(line.data(), line.size()), "\n");
  for (auto& [id, client] : clients_) {
    if (client == from || client->name.empty() || !client->stream->open()) {
      continue;
    }
    // A refusal means the client stopped reading: with close_on_overflow
    // the reactor closes it, and its task ends.
    if (client->stream->Send(scratch_).ok()) ++stats_.deliveries;
  }
}

absl::StatusOr<ChatServerKind> ParseChatServerKind(std::string_view name) {
  if (name == "callback") return ChatServerKind::kCallback;
  if (name == "coro") return ChatServerKind::kCoro;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown chat server \"", absl::string_view(name.data(), name.size()),
      "\": use callback or coro"));
}

std::string_view ChatServerKindName(ChatServerKind kind) {
  return kind == ChatServerKind::kCoro ? "coro" : "callback";
}

std::unique_ptr<ChatService> MakeChatServer(ChatServerKind kind,
                                            Reactor& reactor,
                                            ChatOptions options) {
  if (kind == ChatServerKind::kCoro) {
    return std::make_unique<CoroChatServer>(reactor, options);
  }
  return std::make_unique<ChatServer>(reactor, options);
}

}  // namespace ember::examples
