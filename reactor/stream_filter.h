// A stream filter: a layer between a connection's socket and its handler
// that transforms the bytes both ways (TLS is the one Ember ships).
//
// The reactor knows filters only through this interface, so `reactor/` does
// not depend on any TLS library. A connection with a filter reads wire bytes
// from its socket and feeds them to `ReceiveWire`; it pulls handler bytes
// with `ReadPlain` and passes them to `ReceiveData`; `SendData` hands the
// handler's bytes to `WritePlain`; and whatever wire bytes the filter
// produces (`TakeWire`) go to the connection's outbound queue. The filter
// never touches the socket, the clock or the loop, so it works the same over
// every backend.
//
// Install one with `Connection::StartFilter` (see connection.h), before the
// connection is adopted (a server factory, a client before Connect) or at
// any time later on an established connection (STARTTLS).
//
// Every method is called on the reactor's thread, from the connection, never
// from inside another of the filter's methods. An error status returned by
// any method is final: the connection ends with it (unbind kind kTls), after
// a best-effort write of the wire bytes the filter queued (an alert, say).

#ifndef EMBER_REACTOR_STREAM_FILTER_H_
#define EMBER_REACTOR_STREAM_FILTER_H_

#include <cstddef>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ember {

class StreamFilter {
 public:
  virtual ~StreamFilter() = default;

  // The connection is connected and the filter begins (a TLS client queues
  // its hello). Called once.
  virtual absl::Status Start() = 0;

  // Wire bytes read from the socket, valid only during the call.
  virtual absl::Status ReceiveWire(std::string_view bytes) = 0;

  // Copies up to `len` (> 0) handler bytes into `buf`; 0 when none is ready
  // without more wire bytes.
  virtual absl::StatusOr<size_t> ReadPlain(char* buf, size_t len) = 0;

  // True when ReadPlain may return bytes without more wire bytes (they wait
  // inside the filter, for example after the handler paused).
  virtual bool HasBufferedPlain() const = 0;

  // The handler's bytes to send. The filter either transforms them into
  // wire bytes at once or keeps them (before its handshake finished).
  virtual absl::Status WritePlain(std::string_view bytes) = 0;

  // Handler bytes kept inside the filter, not yet turned into wire bytes.
  virtual size_t pending_plain_bytes() const = 0;

  // Hands the wire bytes queued by the calls above to `sink` and forgets
  // them.
  virtual void TakeWire(absl::FunctionRef<void(std::string_view)> sink) = 0;

  // True once the handshake (if the filter has one) has finished: the
  // connection then calls `Connection::HandshakeCompleted`, once.
  virtual bool established() const = 0;

  // Ends the handler's write direction in the filter's own terms (TLS:
  // close_notify), queuing wire bytes. Called once, when the handler closed
  // or half-closed and no handler bytes are pending.
  virtual absl::Status CloseWrite() = 0;

  // True once the peer ended its direction inside the filter's protocol
  // (TLS: close_notify): no more handler bytes will come.
  virtual bool peer_closed() const = 0;

  // The socket reached end of stream. OK if the peer ended orderly (see
  // peer_closed); otherwise the error that says what was lost.
  virtual absl::Status EndOfInput() = 0;

  // The handshake must finish within this long, counted from Start; zero
  // for no limit. When it passes, the connection ends with kind kTimedOut
  // and `HandshakeTimeoutError()`.
  virtual absl::Duration handshake_timeout() const = 0;
  virtual absl::Status HandshakeTimeoutError() const = 0;
};

}  // namespace ember

#endif  // EMBER_REACTOR_STREAM_FILTER_H_
