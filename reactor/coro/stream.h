// Streams for coroutines: connect, accept, read and write with co_await.
//
//   ember::Task<absl::Status> Client() {
//     absl::StatusOr<ember::Stream> stream =
//         co_await ember::Connect("db.example", 5432);
//     if (!stream.ok()) co_return stream.status();
//     EMBER_CO_RETURN_IF_ERROR(co_await stream->Write("ping\n"));
//     absl::StatusOr<std::string> reply = co_await stream->ReadExactly(5);
//     ...
//   }
//
//   absl::StatusOr<ember::Listener> listener =
//       ember::Listener::Listen(reactor, "127.0.0.1", 8080);
//   ... in a task: absl::StatusOr<ember::Stream> s = co_await
//       listener->Accept();
//
// A `Stream` is the coroutine side of one reactor connection. The reactor
// still owns the connection (a `Connection` subclass private to this file's
// implementation, so no other code changes); the stream buffers what
// arrives until a task reads it, and ends every await with a status when the
// connection ends. Destroying the stream closes the connection after
// writing what is queued (`Close()` closes at once), so a task that dies
// mid-await, or is destroyed with its group, leaves nothing behind.
//
// Statuses:
//   - Reads: the bytes, or kOutOfRange at the end of the stream (the peer
//     half-closed, after every buffered byte was read), or the connection's
//     end as its unbind status (kUnavailable for a reset, kDeadlineExceeded
//     for an inactivity timeout, kCancelled when closed locally or by the
//     reactor stopping).
//   - Writes: OK once queued and the outbound queue is below its high-water
//     mark: a write that leaves the queue at or above it waits until the
//     connection has flushed, and, if the queue is still above the mark,
//     until it falls to the low-water mark (OutboundLowWater), so
//     backpressure is automatic. kFailedPrecondition once closing,
//     kResourceExhausted past OutboundLimits::max_bytes (nothing queued), or
//     the connection's end status if it ends while the write waits.
//   - Awaits are cancelled like any other (kCancelled, kDeadlineExceeded);
//     a cancelled read takes no bytes, a cancelled write has already queued
//     its bytes.
//
// One read and one write may wait at a time per stream; a second
// concurrent one completes at once with kFailedPrecondition.
//
// Inbound buffering is bounded: past `StreamOptions::inbound_bytes_max`
// unread bytes the connection stops reading (the peer is pushed back by
// TCP) until a task reads below half of it.
//
// TLS: the stream's connection is an ordinary `Connection`, so a stream
// filter (protocols/tls/tls_stream.h: `tls::StartTls(stream, context)`) slots in
// between it and this buffer, from the first byte or mid-stream (STARTTLS),
// and reads and writes stay plaintext. `co_await stream.Handshake()`
// completes when the filter's handshake does (OK), or with the connection's
// end status when it fails (a TLS failure's status, kTls unbind), and at
// once with kFailedPrecondition when no filter was started.

#ifndef EMBER_REACTOR_CORO_STREAM_H_
#define EMBER_REACTOR_CORO_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"
#include "reactor/connection.h"
#include "reactor/coro/task.h"
#include "reactor/coro/task_group.h"
#include "reactor/reactor.h"

namespace ember {

struct StreamOptions {
  // Unread bytes buffered before the connection stops reading.
  size_t inbound_bytes_max = 1 << 20;
  // The most bytes one Read() returns.
  size_t read_bytes_max = 64 << 10;
};

class Stream;
class WriteAwaiter;
class AcceptAwaiter;
class HandshakeAwaiter;

namespace coro_internal {
class StreamConnection;
class StreamReadWaiter;
class ConnectWaiter;
struct ListenerState;

struct StreamState {
  explicit StreamState(StreamOptions options) : options(options) {}
  ~StreamState();

  // The status reads end with once the buffer is empty and no more comes.
  absl::Status ReadEndStatus() const;
  // The status writes fail with once the connection ended.
  absl::Status WriteEndStatus() const;
  // The bytes received and not yet read.
  std::string_view unread() const {
    return std::string_view(inbound).substr(inbound_begin);
  }
  size_t unread_bytes() const { return inbound.size() - inbound_begin; }
  // Marks the first `n` unread bytes read (amortised O(1) per byte: the
  // buffer is compacted only when most of it has been read).
  void Consume(size_t n);
  // Puts `data` in front of the unread bytes.
  void Prepend(std::string_view data);
  // Bytes were consumed: read again if paused.
  void Consumed();
  // Buffered bytes at which reading pauses: the limit, or more while a
  // ReadExactly waits for more than the limit.
  size_t PauseThreshold() const;
  void WakeReader();

  StreamOptions options;
  StreamConnection* connection = nullptr;  // Null once it ended.
  std::string inbound;  // Unread from inbound_begin on.
  size_t inbound_begin = 0;
  bool eof = false;
  bool paused = false;
  bool above_high_water = false;
  std::optional<UnbindReason> ended;
  // Tasks to cancel when the connection ends (Stream::CancelOnEnd).
  std::vector<TaskHandle> owned_tasks;
  void CancelOwnedTasks(const absl::Status& status);
  size_t reader_needs = 0;
  StreamReadWaiter* reader = nullptr;
  WriteAwaiter* writer = nullptr;
  ConnectWaiter* connecting = nullptr;
  HandshakeAwaiter* handshaking = nullptr;
  bool handshake_done = false;  // The connection's filter is established.
};

// The base of read awaitables on a stream (Read, ReadExactly, and
// protocol readers such as protocols::LineReader): `TryRead` is called
// when the task suspends and each time bytes, the end of the stream or the
// connection's end arrive; it reads `unread()`, `Consume`s what it takes,
// and returns true once it stored its result.
class StreamReadWaiter : public Waiter {
 public:
  explicit StreamReadWaiter(StreamState* state) : state_(state) {}
  StreamReadWaiter(StreamReadWaiter&&) = default;

 protected:
  ~StreamReadWaiter() { Stop(); }
  virtual bool TryRead() = 0;

  std::string_view unread() const { return state_->unread(); }
  void Consume(size_t n) { state_->Consume(n); }
  void Prepend(std::string_view data) { state_->Prepend(data); }
  // True when no byte beyond `unread()` will ever come.
  bool finished() const {
    return state_->eof || state_->connection == nullptr;
  }
  absl::Status EndStatus() const { return state_->ReadEndStatus(); }
  void Consumed() { state_->Consumed(); }
  StreamState* state() const { return state_; }

 private:
  friend struct StreamState;
  bool Start() final;
  void Stop() final;
  void OnEvent();

  StreamState* state_;
};

}  // namespace coro_internal

// `co_await stream.Read(n)` / `ReadExactly(n)`: StatusOr<std::string>.
class [[nodiscard]] ReadAwaiter final : public coro_internal::StreamReadWaiter {
 public:
  enum class Mode { kSome, kExactly };
  ReadAwaiter(coro_internal::StreamState* state, Mode mode, size_t bytes)
      : StreamReadWaiter(state), mode_(mode), bytes_(bytes) {}
  ReadAwaiter(ReadAwaiter&&) = default;
  absl::StatusOr<std::string> await_resume() { return std::move(result_); }

 private:
  bool TryRead() override;
  void Fail(absl::Status status) override { result_ = std::move(status); }
  Mode mode_;
  size_t bytes_;
  absl::StatusOr<std::string> result_;
};

// `co_await stream.Write(data)`: absl::Status.
class [[nodiscard]] WriteAwaiter final : public coro_internal::Waiter {
 public:
  WriteAwaiter(coro_internal::StreamState* state, std::string_view data)
      : state_(state), data_(data) {}
  WriteAwaiter(WriteAwaiter&&) = default;
  ~WriteAwaiter() { Stop(); }
  absl::Status await_resume() { return std::move(result_); }

 private:
  friend class coro_internal::StreamConnection;
  friend struct coro_internal::StreamState;
  bool Start() override;
  void Stop() override;
  void Fail(absl::Status status) override { result_ = std::move(status); }
  void Finish(absl::Status status) {
    Stop();
    result_ = std::move(status);
    Complete();
  }

  coro_internal::StreamState* state_;
  std::string_view data_;
  TimerId recheck_timer_ = 0;
  absl::Status result_;
};

// `co_await stream.Handshake()`: absl::Status, once the stream filter's
// handshake (TLS) has completed, or the connection's end status.
class [[nodiscard]] HandshakeAwaiter final : public coro_internal::Waiter {
 public:
  explicit HandshakeAwaiter(coro_internal::StreamState* state)
      : state_(state) {}
  HandshakeAwaiter(HandshakeAwaiter&&) = default;
  ~HandshakeAwaiter() { Stop(); }
  absl::Status await_resume() { return std::move(result_); }

 private:
  friend class coro_internal::StreamConnection;
  bool Start() override;
  void Stop() override;
  void Fail(absl::Status status) override { result_ = std::move(status); }
  void Finish(absl::Status status) {
    Stop();
    result_ = std::move(status);
    Complete();
  }

  coro_internal::StreamState* state_;
  absl::Status result_;
};

class Stream {
 public:
  // An empty stream: every operation fails with kFailedPrecondition.
  Stream();
  explicit Stream(std::unique_ptr<coro_internal::StreamState> state);
  Stream(Stream&&) noexcept;
  Stream& operator=(Stream&&) noexcept;
  // Closes the connection after writing what is queued.
  ~Stream();

  // At least one byte (at most `max_bytes`, 0 meaning
  // StreamOptions::read_bytes_max), as soon as any is buffered.
  ReadAwaiter Read(size_t max_bytes = 0);
  // Exactly `bytes` bytes. At the end of the stream with fewer buffered,
  // kOutOfRange, and the bytes stay buffered for Read.
  ReadAwaiter ReadExactly(size_t bytes);
  // Queues `data` (copied when the await starts), then waits while the
  // outbound queue is above its high-water mark.
  WriteAwaiter Write(std::string_view data);
  // Waits for the handshake of the filter started on this stream's
  // connection (protocols::StartTls): OK once it completed (at once if it
  // already has), the connection's end status if it fails, and
  // kFailedPrecondition when no filter was started. One task at a time.
  HandshakeAwaiter Handshake();
  // Queues `data` without waiting (Connection::SendData).
  absl::Status Send(std::string_view data);
  // Puts bytes back in front of the unread ones (for protocol readers that
  // read ahead). Never blocks reading: the limit applies to new bytes.
  void Unread(std::string_view data);

  // Sends end of stream after the queued bytes; reading goes on.
  void CloseWrite();
  void CloseAfterWriting();
  // Closes now, discarding queued bytes.
  void Close();

  bool valid() const { return state_ != nullptr; }
  // The connection lives and no close was asked for.
  bool open() const;
  // The reactor's connection (for its settings: outbound limits, timeouts,
  // addresses), or nullptr once it ended. Valid until it ends.
  Connection* connection() const;
  // Why the connection ended, once it did.
  std::optional<UnbindReason> ended() const;
  // The peer half-closed (every byte before it is buffered or read).
  bool eof() const { return state_ != nullptr && state_->eof; }
  size_t buffered_bytes() const {
    return state_ != nullptr ? state_->unread_bytes() : 0;
  }

  // Makes the connection own `task` too: when the connection ends (or this
  // stream is destroyed), the task is cancelled softly with the end status
  // (kCancelled for a destroyed stream), so a task that does not read the
  // stream, such as a heartbeat writer, still ends with it. At most
  // kOwnedTasksMax per stream (kResourceExhausted beyond);
  // kFailedPrecondition when the connection already ended.
  static constexpr size_t kOwnedTasksMax = 64;
  absl::Status CancelOnEnd(TaskHandle task);

  // For read awaitables built on StreamReadWaiter elsewhere (such as
  // protocols::LineReader); nullptr for an empty stream.
  coro_internal::StreamState* internal_state() const { return state_.get(); }

 private:
  std::unique_ptr<coro_internal::StreamState> state_;
};

// `co_await Connect(host, port)`: StatusOr<Stream> once connected. The host
// is an IP literal or a name, resolved by the reactor without blocking.
// Errors: the reactor's connect errors (kInvalidArgument for arguments that
// can never work), or the unbind status: kUnavailable (refused,
// unreachable, reset), kNotFound (name not found), kDeadlineExceeded (the
// connection's pending-connect timeout).
struct StreamConnectOptions {
  StreamOptions stream;
  // Connection::SetPendingConnectTimeout; zero keeps the reactor's default.
  absl::Duration connect_timeout = absl::ZeroDuration();
};

namespace coro_internal {

class ConnectWaiter final : public Waiter {
 public:
  ConnectWaiter(std::string host, uint16_t port, StreamConnectOptions options)
      : host_(std::move(host)), port_(port), options_(options) {}
  ConnectWaiter(ConnectWaiter&&) = default;
  ~ConnectWaiter() { Stop(); }
  absl::StatusOr<Stream> await_resume() { return std::move(result_); }

 private:
  friend class StreamConnection;
  bool Start() override;
  void Stop() override;
  void Fail(absl::Status status) override { result_ = std::move(status); }
  void OnConnected();
  void OnFailed(absl::Status status);

  std::string host_;
  uint16_t port_;
  StreamConnectOptions options_;
  std::unique_ptr<StreamState> state_;
  absl::StatusOr<Stream> result_ = absl::UnknownError("not connected");
};

}  // namespace coro_internal

inline coro_internal::ConnectWaiter Connect(std::string_view host,
                                            uint16_t port,
                                            StreamConnectOptions options = {}) {
  return coro_internal::ConnectWaiter(std::string(host), port, options);
}

struct ListenerOptions {
  // Accepted connections waiting for an Accept. Beyond it new connections
  // are closed at once (the peer sees end of stream); `refused()` counts
  // them.
  size_t accept_queue_max = 128;
  StreamOptions stream;
  io::ListenOptions listen;
};

// A listening socket whose connections are taken with `co_await Accept()`.
class Listener {
 public:
  // Listens like Reactor::StartServer (same host forms, port 0 = any).
  static absl::StatusOr<Listener> Listen(Reactor& reactor,
                                         std::string_view host, uint16_t port,
                                         ListenerOptions options = {});
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;
  // Stops listening; connections accepted and not yet taken are closed,
  // and a waiting Accept ends with kCancelled.
  ~Listener();

  // StatusOr<Stream>: the next connection, in the order accepted.
  // kCancelled once closed; kFailedPrecondition when another Accept waits.
  AcceptAwaiter Accept();
  void Close();

  io::Address address() const;
  size_t queued() const;
  uint64_t refused() const;

 private:
  explicit Listener(std::unique_ptr<coro_internal::ListenerState> state);
  std::unique_ptr<coro_internal::ListenerState> state_;
};

class [[nodiscard]] AcceptAwaiter final : public coro_internal::Waiter {
 public:
  explicit AcceptAwaiter(coro_internal::ListenerState* state)
      : state_(state) {}
  AcceptAwaiter(AcceptAwaiter&&) = default;
  ~AcceptAwaiter() { Stop(); }
  absl::StatusOr<Stream> await_resume() { return std::move(result_); }

 private:
  friend struct coro_internal::ListenerState;
  bool Start() override;
  void Stop() override;
  void Fail(absl::Status status) override { result_ = std::move(status); }

  coro_internal::ListenerState* state_;
  absl::StatusOr<Stream> result_ = absl::UnknownError("not accepted");
};

}  // namespace ember

#endif  // EMBER_REACTOR_CORO_STREAM_H_
