#include "reactor/coro/stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/check.h"

namespace ember {
namespace coro_internal {

// The reactor-side half of a Stream: an ordinary Connection that hands what
// happens to the stream's state. Once the stream is gone (Detach), it
// behaves like a plain Connection closing after writing.
class StreamConnection final : public Connection {
 public:
  explicit StreamConnection(StreamState* state) : state_(state) {}
  ~StreamConnection() override {
    if (state_ != nullptr) state_->connection = nullptr;
  }

  void Detach() { state_ = nullptr; }

  void ConnectionCompleted() override {
    if (state_ != nullptr && state_->connecting != nullptr) {
      state_->connecting->OnConnected();
    }
  }

  void ReceiveData(std::string_view data) override {
    if (state_ == nullptr) return;
    state_->inbound.append(data.data(), data.size());
    if (state_->unread_bytes() >= state_->PauseThreshold() && !paused()) {
      Pause();
      state_->paused = true;
    }
    state_->WakeReader();
  }

  void ReceiveEof() override {
    if (state_ == nullptr) {
      Connection::ReceiveEof();
      return;
    }
    state_->eof = true;
    state_->WakeReader();
  }

  void HandshakeCompleted() override {
    if (state_ == nullptr) return;
    state_->handshake_done = true;
    if (state_->handshaking != nullptr) {
      state_->handshaking->Finish(absl::OkStatus());
    }
  }

  void OutboundHighWater() override {
    if (state_ != nullptr) state_->above_high_water = true;
  }

  void OutboundLowWater() override {
    if (state_ == nullptr) return;
    state_->above_high_water = false;
    if (state_->writer != nullptr) state_->writer->Finish(absl::OkStatus());
  }

  void Unbind(const UnbindReason& reason) override {
    StreamState* s = std::exchange(state_, nullptr);
    if (s == nullptr) return;
    s->connection = nullptr;
    s->ended = reason;
    if (s->connecting != nullptr) {
      // May destroy `s`.
      s->connecting->OnFailed(reason.status.ok()
                                  ? absl::CancelledError(absl::StrCat(
                                        "connect ended: ", reason.ToString()))
                                  : reason.status);
      return;
    }
    s->WakeReader();
    if (s->writer != nullptr) s->writer->Finish(s->WriteEndStatus());
    if (s->handshaking != nullptr) s->handshaking->Finish(s->WriteEndStatus());
    s->CancelOwnedTasks(s->ReadEndStatus());
  }

 private:
  StreamState* state_;
};

void StreamState::CancelOwnedTasks(const absl::Status& status) {
  std::vector<TaskHandle> tasks;
  tasks.swap(owned_tasks);
  for (const TaskHandle& task : tasks) task.Cancel(status);
}

StreamState::~StreamState() {
  CancelOwnedTasks(absl::CancelledError("the stream was destroyed"));
  if (connection != nullptr) {
    StreamConnection* c = std::exchange(connection, nullptr);
    c->Detach();
    c->CloseAfterWriting();
  }
  if (reader != nullptr) {
    StreamReadWaiter* r = reader;
    r->Cancel(absl::CancelledError("the stream was destroyed"));
    r->state_ = nullptr;
  }
  if (writer != nullptr) {
    WriteAwaiter* w = writer;
    w->Cancel(absl::CancelledError("the stream was destroyed"));
    w->state_ = nullptr;
  }
}

size_t StreamState::PauseThreshold() const {
  return std::max(options.inbound_bytes_max, reader_needs);
}

absl::Status StreamState::ReadEndStatus() const {
  if (eof) return absl::OutOfRangeError("end of stream");
  if (ended.has_value()) {
    if (!ended->status.ok()) return ended->status;
    if (ended->kind == UnbindKind::kClosedByPeer) {
      return absl::OutOfRangeError("end of stream");
    }
    return absl::CancelledError(
        absl::StrCat("the connection ended: ", ended->ToString()));
  }
  return absl::CancelledError("the connection was closed");
}

absl::Status StreamState::WriteEndStatus() const {
  if (ended.has_value() && !ended->status.ok()) return ended->status;
  return absl::FailedPreconditionError(absl::StrCat(
      "the connection ended",
      ended.has_value() ? absl::StrCat(": ", ended->ToString()) : ""));
}

void StreamState::Consumed() {
  if (paused && connection != nullptr &&
      unread_bytes() < PauseThreshold() / 2 + 1) {
    paused = false;
    connection->Resume();
  }
}

void StreamState::Consume(size_t n) {
  EMBER_CHECK(n <= unread_bytes());
  inbound_begin += n;
  if (inbound_begin == inbound.size()) {
    inbound.clear();
    inbound_begin = 0;
  } else if (inbound_begin >= 4096 && inbound_begin * 2 >= inbound.size()) {
    inbound.erase(0, inbound_begin);
    inbound_begin = 0;
  }
}

void StreamState::Prepend(std::string_view data) {
  if (data.size() <= inbound_begin) {
    inbound_begin -= data.size();
    inbound.replace(inbound_begin, data.size(), data.data(), data.size());
  } else {
    inbound.replace(0, inbound_begin, data.data(), data.size());
    inbound_begin = 0;
  }
}

void StreamState::WakeReader() {
  if (reader != nullptr) reader->OnEvent();
}

// ---------------------------------------------------------- Read waiters

bool StreamReadWaiter::Start() {
  if (state_ == nullptr) {
    Fail(absl::FailedPreconditionError("read from an empty Stream"));
    return false;
  }
  if (state_->reader != nullptr) {
    Fail(absl::FailedPreconditionError(
        "another task is already reading this stream"));
    return false;
  }
  if (TryRead()) return false;
  state_->reader = this;
  // A read waiting for more than the buffer limit must be let in.
  state_->Consumed();
  return true;
}

void StreamReadWaiter::Stop() {
  if (state_ != nullptr && state_->reader == this) {
    state_->reader = nullptr;
    state_->reader_needs = 0;
  }
}

void StreamReadWaiter::OnEvent() {
  if (!waiting()) return;
  if (TryRead()) {
    state_->reader = nullptr;
    state_->reader_needs = 0;
    Complete();
  }
}

}  // namespace coro_internal

bool ReadAwaiter::TryRead() {
  const std::string_view in = unread();
  if (mode_ == Mode::kSome) {
    if (!in.empty()) {
      const size_t max =
          bytes_ != 0 ? bytes_ : state()->options.read_bytes_max;
      const size_t n = std::min(max, in.size());
      result_ = std::string(in.substr(0, n));
      Consume(n);
      Consumed();
      return true;
    }
  } else {
    if (in.size() >= bytes_) {
      result_ = std::string(in.substr(0, bytes_));
      Consume(bytes_);
      Consumed();
      return true;
    }
    state()->reader_needs = bytes_;
  }
  if (finished()) {
    absl::Status end = EndStatus();
    if (mode_ == Mode::kExactly && !in.empty() &&
        end.code() == absl::StatusCode::kOutOfRange) {
      end = absl::OutOfRangeError(
          absl::StrCat("end of stream after ", in.size(), " of ", bytes_,
                       " bytes (they stay buffered)"));
    }
    result_ = std::move(end);
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ Write

bool WriteAwaiter::Start() {
  if (state_ == nullptr) {
    result_ = absl::FailedPreconditionError("write to an empty Stream");
    return false;
  }
  if (state_->connection == nullptr) {
    result_ = state_->WriteEndStatus();
    return false;
  }
  if (state_->writer != nullptr) {
    result_ = absl::FailedPreconditionError(
        "another task is already writing to this stream");
    return false;
  }
  Connection* connection = state_->connection;
  result_ = connection->SendData(data_);
  data_ = {};
  if (!result_.ok()) return false;
  if (!state_->above_high_water &&
      connection->OutboundDataSize() < connection->outbound_limits().high_water_bytes) {
    return false;
  }
  // Above the mark. The connection reports crossing it only when it
  // flushes, at the end of the turn: look again on the next turn (a
  // zero-delay timer, cancellable unlike a tick), then wait for the
  // low-water mark if the flush left the queue above it.
  absl::StatusOr<TimerId> timer = reactor().AddTimer(
      absl::ZeroDuration(), [this] {
        recheck_timer_ = 0;
        if (!state_->above_high_water) Finish(absl::OkStatus());
      });
  if (!timer.ok()) {
    result_ = timer.status();
    return false;
  }
  recheck_timer_ = *timer;
  state_->writer = this;
  return true;
}

bool HandshakeAwaiter::Start() {
  if (state_ == nullptr) {
    result_ = absl::FailedPreconditionError("handshake on an empty Stream");
    return false;
  }
  if (state_->handshake_done) {
    result_ = absl::OkStatus();
    return false;
  }
  if (state_->connection == nullptr) {
    result_ = state_->WriteEndStatus();
    return false;
  }
  if (state_->connection->filter() == nullptr) {
    result_ = absl::FailedPreconditionError(
        "no handshake to wait for: start TLS on the stream first "
        "(protocols::StartTls)");
    return false;
  }
  if (state_->handshaking != nullptr) {
    result_ = absl::FailedPreconditionError(
        "another task already waits for this stream's handshake");
    return false;
  }
  state_->handshaking = this;
  return true;
}

void HandshakeAwaiter::Stop() {
  if (state_ != nullptr && state_->handshaking == this) {
    state_->handshaking = nullptr;
  }
}

void WriteAwaiter::Stop() {
  if (recheck_timer_ != 0) {
    reactor().CancelTimer(recheck_timer_);
    recheck_timer_ = 0;
  }
  if (state_ != nullptr && state_->writer == this) state_->writer = nullptr;
}

// ----------------------------------------------------------------- Stream

Stream::Stream() = default;
Stream::Stream(std::unique_ptr<coro_internal::StreamState> state)
    : state_(std::move(state)) {}
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;
Stream::~Stream() = default;

HandshakeAwaiter Stream::Handshake() { return HandshakeAwaiter(state_.get()); }

ReadAwaiter Stream::Read(size_t max_bytes) {
  return ReadAwaiter(state_.get(), ReadAwaiter::Mode::kSome, max_bytes);
}

ReadAwaiter Stream::ReadExactly(size_t bytes) {
  return ReadAwaiter(state_.get(), ReadAwaiter::Mode::kExactly, bytes);
}

WriteAwaiter Stream::Write(std::string_view data) {
  return WriteAwaiter(state_.get(), data);
}

absl::Status Stream::Send(std::string_view data) {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError("write to an empty Stream");
  }
  if (state_->connection == nullptr) return state_->WriteEndStatus();
  return state_->connection->SendData(data);
}

absl::Status Stream::CancelOnEnd(TaskHandle task) {
  if (state_ == nullptr || state_->connection == nullptr) {
    return absl::FailedPreconditionError("the connection already ended");
  }
  if (state_->owned_tasks.size() >= kOwnedTasksMax) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "a stream owns at most ", kOwnedTasksMax, " tasks"));
  }
  state_->owned_tasks.push_back(std::move(task));
  return absl::OkStatus();
}

void Stream::Unread(std::string_view data) {
  if (state_ != nullptr) state_->Prepend(data);
}

void Stream::CloseWrite() {
  if (state_ != nullptr && state_->connection != nullptr) {
    state_->connection->CloseWrite();
  }
}

void Stream::CloseAfterWriting() {
  if (state_ != nullptr && state_->connection != nullptr) {
    state_->connection->CloseAfterWriting();
  }
}

void Stream::Close() {
  if (state_ != nullptr && state_->connection != nullptr) {
    state_->connection->CloseConnection();
  }
}

bool Stream::open() const {
  return state_ != nullptr && state_->connection != nullptr &&
         !state_->connection->closing();
}

Connection* Stream::connection() const {
  return state_ != nullptr ? state_->connection : nullptr;
}

std::optional<UnbindReason> Stream::ended() const {
  if (state_ == nullptr) return std::nullopt;
  return state_->ended;
}

// ---------------------------------------------------------------- Connect

namespace coro_internal {

bool ConnectWaiter::Start() {
  state_ = std::make_unique<StreamState>(options_.stream);
  auto connection = std::make_unique<StreamConnection>(state_.get());
  StreamConnection* raw = connection.get();
  state_->connection = raw;
  state_->connecting = this;
  absl::StatusOr<Connection*> started =
      reactor().Connect(host_, port_, std::move(connection));
  if (!started.ok()) {
    // The reactor destroyed the connection unused.
    state_->connecting = nullptr;
    state_.reset();
    result_ = started.status();
    return false;
  }
  if (options_.connect_timeout > absl::ZeroDuration() &&
      state_->connection != nullptr) {
    raw->SetPendingConnectTimeout(options_.connect_timeout);
  }
  return true;
}

void ConnectWaiter::Stop() {
  if (state_ == nullptr) return;
  state_->connecting = nullptr;
  if (state_->connection != nullptr) state_->connection->CloseConnection();
  state_.reset();
}

void ConnectWaiter::OnConnected() {
  state_->connecting = nullptr;
  result_ = Stream(std::move(state_));
  Complete();
}

void ConnectWaiter::OnFailed(absl::Status status) {
  state_->connecting = nullptr;
  state_.reset();
  result_ = std::move(status);
  Complete();
}

// --------------------------------------------------------------- Listener

struct ListenerState {
  ListenerState(Reactor* reactor, ListenerOptions options)
      : reactor(reactor), options(std::move(options)) {}
  ~ListenerState() { Close(); }

  std::unique_ptr<Connection> Make() {
    if (closed) return nullptr;
    if (waiter == nullptr && queue.size() >= options.accept_queue_max) {
      ++refused;
      return nullptr;
    }
    auto state = std::make_unique<StreamState>(options.stream);
    auto connection = std::make_unique<StreamConnection>(state.get());
    state->connection = connection.get();
    if (waiter != nullptr) {
      AcceptAwaiter* w = std::exchange(waiter, nullptr);
      w->result_ = Stream(std::move(state));
      w->Complete();
    } else {
      queue.push_back(std::move(state));
    }
    return connection;
  }

  void Close() {
    if (closed) return;
    closed = true;
    if (server != 0) reactor->StopServer(server).IgnoreError();
    queue.clear();
    if (waiter != nullptr) {
      AcceptAwaiter* w = waiter;
      w->Cancel(absl::CancelledError("the listener was closed"));
      w->state_ = nullptr;
    }
  }

  Reactor* reactor;
  const ListenerOptions options;
  ServerId server = 0;
  bool closed = false;
  std::deque<std::unique_ptr<StreamState>> queue;
  AcceptAwaiter* waiter = nullptr;
  uint64_t refused = 0;
};

}  // namespace coro_internal

absl::StatusOr<Listener> Listener::Listen(Reactor& reactor,
                                          std::string_view host, uint16_t port,
                                          ListenerOptions options) {
  io::ListenOptions listen = options.listen;
  auto state = std::make_unique<coro_internal::ListenerState>(
      &reactor, std::move(options));
  coro_internal::ListenerState* raw = state.get();
  absl::StatusOr<ServerId> server = reactor.StartServer(
      host, port, [raw] { return raw->Make(); }, listen);
  if (!server.ok()) {
    state->closed = true;
    return server.status();
  }
  state->server = *server;
  return Listener(std::move(state));
}

Listener::Listener(std::unique_ptr<coro_internal::ListenerState> state)
    : state_(std::move(state)) {}
Listener::Listener(Listener&&) noexcept = default;
Listener& Listener::operator=(Listener&&) noexcept = default;
Listener::~Listener() = default;

AcceptAwaiter Listener::Accept() { return AcceptAwaiter(state_.get()); }

void Listener::Close() {
  if (state_ != nullptr) state_->Close();
}

io::Address Listener::address() const {
  if (state_ == nullptr || state_->closed) return io::Address();
  absl::StatusOr<io::Address> address =
      state_->reactor->ServerAddress(state_->server);
  return address.ok() ? *address : io::Address();
}

size_t Listener::queued() const {
  return state_ != nullptr ? state_->queue.size() : 0;
}

uint64_t Listener::refused() const {
  return state_ != nullptr ? state_->refused : 0;
}

bool AcceptAwaiter::Start() {
  if (state_ == nullptr || state_->closed) {
    result_ = absl::CancelledError("the listener is closed");
    return false;
  }
  if (state_->waiter != nullptr) {
    result_ = absl::FailedPreconditionError(
        "another task is already accepting on this listener");
    return false;
  }
  if (!state_->queue.empty()) {
    result_ = Stream(std::move(state_->queue.front()));
    state_->queue.pop_front();
    return false;
  }
  state_->waiter = this;
  return true;
}

void AcceptAwaiter::Stop() {
  if (state_ != nullptr && state_->waiter == this) state_->waiter = nullptr;
}

}  // namespace ember
