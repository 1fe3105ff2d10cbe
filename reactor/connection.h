// Connections: what application code subclasses to handle a byte stream.
//
// `Connection` is EventMachine's `EM::Connection` in C++. Subclass it,
// override the callbacks you need (`PostInit`, `ConnectionCompleted`,
// `ReceiveData`, `Unbind`, ...), and call its methods (`SendData`,
// `CloseConnection`, `Pause`, ...) from them. The reactor creates server-side
// connections through a factory, owns every connection, and destroys it after
// `Unbind` returns.
//
// Rules that hold for every callback:
// - Callbacks run on the reactor's thread, from the loop, never re-entrantly
//   from inside a method the handler called (`CloseConnection` inside
//   `ReceiveData` does not call `Unbind` there; the loop does, later in the
//   same turn).
// - `Unbind` is called exactly once for every connection whose `PostInit` ran,
//   with the reason it ended, and nothing is called after it.
// - A callback that throws closes its connection with reason
//   `UnbindKind::kHandlerError` and reports the exception to the reactor's
//   error handler; the loop goes on (see Reactor::SetErrorHandler).
//
// `DatagramConnection` is the counterpart for UDP sockets.

#ifndef EMBER_REACTOR_CONNECTION_H_
#define EMBER_REACTOR_CONNECTION_H_

#include <climits>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"
#include "reactor/outbound_buffer.h"
#include "reactor/stream_filter.h"
#include "reactor/timer_queue.h"

namespace ember {

class Reactor;
class ConnectRace;

// Identifies a NextTick callback, for Reactor::CancelTick.
using TickId = uint64_t;

namespace reactor_internal {
// An absl::Duration (or, as time since the Unix epoch, an absl::Time) in
// 8 bytes of nanoseconds instead of absl's 16, for what every connection
// carries. Saturates: +-292 years, beyond which a value is infinite.
class CompactDuration {
 public:
  CompactDuration() = default;
  explicit CompactDuration(absl::Duration d)
      : ns_(d == absl::InfiniteDuration()    ? kInfinite
            : d == -absl::InfiniteDuration() ? -kInfinite
                                             : absl::ToInt64Nanoseconds(d)) {}
  absl::Duration get() const {
    if (ns_ == kInfinite) return absl::InfiniteDuration();
    if (ns_ == -kInfinite) return -absl::InfiniteDuration();
    return absl::Nanoseconds(ns_);
  }
  // Nanoseconds, or +-kInfinite.
  static CompactDuration FromNanos(int64_t ns) {
    CompactDuration d;
    d.ns_ = ns;
    return d;
  }

  static constexpr int64_t kInfinite = INT64_MAX;

 private:
  int64_t ns_ = 0;
};
class CompactTime {
 public:
  CompactTime() = default;
  // One call into Abseil (ToUnixNanos has a fast path for times after
  // 1970), where subtracting the epoch and converting would take two: the
  // reactor converts its clock once a turn. Rounds down to the nanosecond.
  explicit CompactTime(absl::Time t)
      : since_epoch_(CompactDuration::FromNanos(
            t == absl::InfiniteFuture()  ? CompactDuration::kInfinite
            : t == absl::InfinitePast() ? -CompactDuration::kInfinite
                                        : absl::ToUnixNanos(t))) {}
  absl::Time get() const { return absl::UnixEpoch() + since_epoch_.get(); }

 private:
  CompactDuration since_epoch_;
};
}  // namespace reactor_internal

// Why a connection ended.
enum class UnbindKind : uint8_t {
  kClosedLocally,    // CloseConnection / CloseAfterWriting by this side.
  kClosedByPeer,     // The peer closed (end of stream) and we closed after.
  kRefused,          // Connect refused: nobody listens there.
  kTimedOut,         // Pending-connect or inactivity timeout.
  kReset,            // The peer or network reset the connection.
  kUnreachable,      // No route to the host.
  kNameNotFound,     // The host name does not exist (or has no address).
  kNameLookupFailed, // Resolving failed for now (the name may exist).
  kHandlerError,     // A callback of this connection threw.
  kOutboundOverflow, // SendData past the hard limit with kCloseOnOverflow.
  kShutdown,         // Graceful shutdown's drain deadline passed.
  kReactorStopped,   // The reactor stopped (or was destroyed).
  kError,            // Any other I/O error; the status says what.
  kTls,              // TLS (a stream filter) failed: a handshake, a
                     // certificate, a record, or a truncated stream. The
                     // status says which (tls::TlsFailureOf reads it).
};

std::string_view UnbindKindName(UnbindKind kind);

// The unbind kind for an I/O error status (by its io::ErrorKind).
UnbindKind UnbindKindFor(const absl::Status& status);

struct UnbindReason {
  UnbindKind kind = UnbindKind::kClosedLocally;
  // OK for orderly ends (closed locally or by the peer); otherwise the error,
  // with the OS error kept in its message where there is one.
  absl::Status status;

  bool is_error() const { return !status.ok(); }
  std::string ToString() const;
};

// Limits on bytes queued for writing.
//
// When the queued bytes rise to `high_water_bytes`, `OutboundHighWater` is
// called once; when they fall back to `low_water_bytes`, `OutboundLowWater`.
// A fast producer pauses between the two. `SendData` never queues past
// `max_bytes`: it refuses the whole call (nothing queued, the caller keeps its
// data) with kResourceExhausted, and with `close_on_overflow` also closes
// the connection (reason kOutboundOverflow).
struct OutboundLimits {
  size_t high_water_bytes = 1 << 20;   // 1 MiB
  size_t low_water_bytes = 256 << 10;  // 256 KiB
  size_t max_bytes = 64 << 20;         // 64 MiB
  bool close_on_overflow = false;
};

class Connection : private io::IoWatcher {
 public:
  Connection();
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- Callbacks: override what you need. ----

  // Right after the reactor adopted the connection: for a client, before the
  // connect completes (SendData here is queued until it does); for a server,
  // right after accept.
  virtual void PostInit() {}

  // A client's connect succeeded.
  virtual void ConnectionCompleted() {}

  // Bytes arrived, cut at arbitrary boundaries. `data` is valid only during
  // the call.
  virtual void ReceiveData(std::string_view data) {}

  // The peer half-closed: no more data will arrive. The default closes after
  // writing what is queued; override to keep writing (half-close).
  virtual void ReceiveEof() { CloseAfterWriting(); }

  // The connection ended. Called once; the object is destroyed right after.
  virtual void Unbind(const UnbindReason& reason) {}

  // Queued outbound bytes reached the high-water mark / fell back to the
  // low-water mark (see OutboundLimits).
  virtual void OutboundHighWater() {}
  virtual void OutboundLowWater() {}

  // The connection's stream filter (TLS) finished its handshake; plaintext
  // queued by SendData before it now goes out. Query the filter (for TLS:
  // tls::TlsOf(*this)) for what was negotiated.
  virtual void HandshakeCompleted() {}

  // Reactor::GracefulShutdown began. The default closes after writing what
  // is queued; override to finish a response first.
  virtual void ShutdownRequested() { CloseAfterWriting(); }

  // ---- Methods. ----

  // Runs `callback` on the next turn of the loop, unless the connection has
  // ended by then (then it is dropped, never called). An exception from it
  // is this connection's handler error. The id cancels it (Reactor::
  // CancelTick). Precondition: the reactor has adopted the connection.
  TickId NextTick(absl::AnyInvocable<void()> callback);

  // A timer of this connection's: runs `callback` after `delay` unless it is
  // cancelled or the connection has ended by then (then it never runs).
  // Unlike Reactor::AddTimer it does not count against
  // ReactorOptions::timers_max, so a server may keep a timeout per
  // connection however many connections it holds; an exception from it is
  // this connection's handler error. A callback that captures no more than
  // two pointers (e.g. `[this]`) is stored without allocating.
  // Precondition: the reactor has adopted the connection.
  TimerId StartTimer(absl::Duration delay, absl::AnyInvocable<void()> callback);
  // Cancels a timer started by StartTimer; false when it is not pending.
  bool CancelTimer(TimerId id);

  // Queues bytes for writing (copied). Returns kFailedPrecondition once the
  // connection is closing or closed (EventMachine silently drops them), and
  // kResourceExhausted when the queue would exceed OutboundLimits::max_bytes;
  // in both cases nothing is queued. With a stream filter, `data` is
  // plaintext: it is encrypted at once (or kept until the handshake
  // finishes) and the ciphertext is queued.
  absl::Status SendData(std::string_view data);

  // Puts `filter` (TLS) between the socket and this handler, from now on:
  // bytes read after this call go through it, and so does every later
  // SendData; bytes queued before it go out as they are, first (so a
  // STARTTLS server can queue its "go ahead" and then call this). May be
  // called before the reactor adopts the connection (a server factory, a
  // client before Connect: the filter starts once connected) or on a
  // connected one, also from inside ReceiveData (bytes of the current chunk
  // after the command that asked for TLS are the handler's to discard).
  // Starts the filter's handshake timeout. Returns kFailedPrecondition when
  // a filter is already installed or the connection is closing; then
  // nothing changes.
  absl::Status StartFilter(std::unique_ptr<StreamFilter> filter);
  // The installed filter, or nullptr.
  StreamFilter* filter() const { return filter_.get(); }

  // Closes now: queued bytes are discarded. Unbind follows from the loop.
  void CloseConnection();
  // Closes once every queued byte is written. Later SendData calls fail.
  void CloseAfterWriting();
  // Half-close: sends end of stream after the queued bytes; reading goes on.
  void CloseWrite();

  // Stops (resumes) reading. Pausing inside ReceiveData takes effect at
  // once: no further ReceiveData until Resume. Unlike EventMachine's pause,
  // queued bytes keep being written, so a connection paused at its
  // outbound high-water mark drains and reaches the low-water mark.
  void Pause();
  void Resume();
  bool paused() const { return paused_; }

  absl::StatusOr<io::Address> PeerName() const;
  absl::StatusOr<io::Address> LocalName() const;

  // Closes the connection with reason kTimedOut after `timeout` without
  // reads or writes; zero (the default) disables.
  void SetInactivityTimeout(absl::Duration timeout);
  absl::Duration inactivity_timeout() const {
    return inactivity_timeout_.get();
  }

  // Fails a connect still pending after `timeout` with reason kTimedOut.
  // Default: ReactorOptions::pending_connect_timeout (20 s). Takes effect
  // when set before or during the connect.
  void SetPendingConnectTimeout(absl::Duration timeout);
  absl::Duration pending_connect_timeout() const {
    return pending_connect_timeout_.get();
  }

  // Bytes queued and not yet written. With a filter: the wire bytes queued
  // plus the plaintext the filter keeps until its handshake finishes; the
  // outbound limits and water marks count this sum.
  size_t OutboundDataSize() const {
    return outbound_.size() +
           (filter_ != nullptr ? filter_->pending_plain_bytes() : 0);
  }
  // Time since the last read or write.
  absl::Duration IdleTime() const;

  void SetOutboundLimits(const OutboundLimits& limits);
  const OutboundLimits& outbound_limits() const;

  absl::Status SetNoDelay(bool on);
  absl::Status SetKeepAlive(const io::KeepAliveOptions& options);

  // The reactor's id for this connection (EventMachine's signature); ids are
  // never reused within a reactor.
  uint64_t id() const { return id_; }
  Reactor& reactor() const { return *reactor_; }
  bool connected() const { return state_ == Lifecycle::kConnected; }
  // True from the moment a close was asked for (or the connection failed).
  bool closing() const {
    return state_ >= Lifecycle::kClosing || close_after_connect_;
  }

 protected:
  // Called at the end of Resume() (from whatever called it), for adapters
  // that hold input back while paused (LineConnection): they should arrange
  // to deliver it from the loop (NextTick), never from inside this call.
  virtual void ReadingResumed() {}

  // SendData's common case at a fraction of its cost, for a subclass that
  // writes many small pieces (a server's responses): queues `data` and
  // returns true when the connection is connected and open for writing,
  // has no stream filter, and the bytes fit OutboundLimits::max_bytes;
  // water marks and the flush work as for SendData. Otherwise it queues
  // nothing, reports nothing and returns false: the caller then calls
  // SendData, which says why.
  bool TrySendData(std::string_view data);

  // Asks for OutboundLowWater once the queue has drained to the low-water
  // mark, whether or not it passed the high-water mark: for a subclass that
  // holds bytes back until they fit under OutboundLimits::max_bytes. Heard
  // from the loop after a flush, as a crossing is; with the queue empty and
  // nothing to flush it would never come, so ask only while bytes wait.
  void WantLowWater() { above_high_water_ = true; }

  // How many bytes from the start of this object an event usually reads.
  // The epoll backend fetches them into the cache for the next ready
  // connection while it serves the one before, so that a server with
  // thousands of connections does not stall on each one's state in turn.
  // The default covers Connection's own members; a subclass that reads
  // members of its own on every event may cover them too (the HTTP
  // server's connection gives the part a usual request reads). Asked once,
  // when the socket is attached; a hint only, with no effect on behaviour.
  size_t HotBytes() const override { return sizeof(Connection); }

 private:
  friend class Reactor;
  friend class ConnectRace;

  // After queueing, `queued` bytes now: marks a crossing of the high-water
  // mark, to be heard from the loop.
  void NoteHighWater(size_t queued, size_t high_water_bytes);

  enum class Lifecycle : uint8_t {
    kResolving,   // Waiting for a host name lookup.
    kConnecting,  // Waiting for the connect to finish.
    kConnected,
    kClosing,     // CloseAfterWriting: flushing, then closing.
    kClosed,      // Waiting to be reaped (Unbind, destroy) this turn.
  };

  void OnIoReady(uint32_t readiness) override;
  void HandleReadable();
  // Hands bytes (plaintext, with a filter) or the end of stream to the
  // handler, traced.
  void DeliverData(std::string_view data);
  void DeliverEof();
  // Delivers a high-water mark crossed by SendData and a low-water mark
  // reached by writing; false if the connection closed meanwhile.
  bool NotifyWaterMarks();
  void FinishConnecting();
  // Writes as much as the socket takes. Returns false if the connection
  // failed or closed.
  bool Flush();
  void UpdateInterest();
  // Ends the connection: the reactor reaps it (Unbind, then destroy) at the
  // end of the current turn.
  void MarkClosed(UnbindKind kind, absl::Status status);
  // MarkClosed with the kind that fits an I/O error.
  void Fail(absl::Status status);
  void ScheduleFlush();
  void ArmConnectTimer();
  void ArmInactivityTimer();
  void OnInactivityTimer();
  void Touch();

  // ---- Stream filter plumbing. ----
  // Starts the installed filter on a connected connection.
  void StartFilterNow();
  // Moves the filter's wire bytes to the outbound queue.
  void DrainFilterWire();
  // Ends the connection with a filter error, writing its last wire bytes
  // (an alert) first if the socket takes them.
  void FailFilter(absl::Status status);
  // Hands plaintext waiting in the filter to ReceiveData until none is left,
  // the handler pauses or the connection closes. False if it closed.
  bool DeliverFilterPlain();
  // Calls HandshakeCompleted once the filter is established.
  void CheckHandshake();
  // Writes the filter's close (close_notify) once nothing is pending.
  void MaybeCloseFilter();
  // True when nothing of the filter's holds up a close or half-close.
  bool FilterFlushed() const;
  // After a read event's callbacks: writes what they queued, if this
  // connection is the last one queued for the turn's flush.
  void FlushAfterEvent();

  // Laid out for size (a server holds one per client): the flags together,
  // and what most connections never set (their own outbound limits) kept
  // out of line.
  Reactor* reactor_ = nullptr;
  uint64_t id_ = 0;
  std::unique_ptr<io::StreamSocket> socket_;
  uint32_t interest_ = 0;
  Lifecycle state_ = Lifecycle::kConnecting;
  bool paused_ = false;
  bool eof_received_ = false;
  bool write_shutdown_requested_ = false;
  bool write_shutdown_done_ = false;
  bool flush_scheduled_ = false;
  bool above_high_water_ = false;
  bool high_water_pending_ = false;  // Crossed in SendData, not yet told.
  bool close_after_connect_ = false;
  bool connect_timeout_set_ = false;  // SetPendingConnectTimeout was called.
  bool filter_started_ = false;
  bool handshake_reported_ = false;
  bool filter_close_sent_ = false;
  bool filter_drain_scheduled_ = false;
  UnbindReason reason_;
  OutboundBuffer outbound_;
  // Set by SetOutboundLimits; otherwise the reactor's.
  std::unique_ptr<OutboundLimits> limits_;
  reactor_internal::CompactTime last_activity_;
  reactor_internal::CompactDuration inactivity_timeout_;
  reactor_internal::CompactDuration pending_connect_timeout_;
  TimerId inactivity_timer_ = 0;
  TimerId connect_timer_ = 0;
  TimerId handshake_timer_ = 0;
  // Connecting to a host name with several addresses (Happy Eyeballs); null
  // otherwise. socket_ stays null until an attempt wins.
  std::unique_ptr<ConnectRace> race_;
  std::unique_ptr<StreamFilter> filter_;
};

// A UDP socket's handler. `ReceiveDatagram` gets whole datagrams (possibly
// empty) with the sender's address; `SendDatagram` sends to any peer, and
// `Reply` to the sender of the datagram being handled.
class DatagramConnection : private io::IoWatcher {
 public:
  // Datagrams waiting for send space are queued up to this many bytes in
  // all; beyond it SendDatagram fails with kResourceExhausted.
  static constexpr size_t kQueuedBytesMax = 4 << 20;
  // Largest datagram received whole; longer ones arrive truncated (IPv4 UDP
  // payloads are at most 65,507 bytes, so this never cuts a UDP datagram).
  static constexpr size_t kDatagramBytesMax = 65536;

  DatagramConnection();
  virtual ~DatagramConnection();
  DatagramConnection(const DatagramConnection&) = delete;
  DatagramConnection& operator=(const DatagramConnection&) = delete;

  virtual void PostInit() {}
  virtual void ReceiveDatagram(std::string_view data,
                               const io::Address& from) {}
  virtual void Unbind(const UnbindReason& reason) {}

  // Sends (or queues) one datagram. kInvalidArgument when longer than
  // kDatagramBytesMax, kResourceExhausted when the queue is full,
  // kFailedPrecondition when closed.
  absl::Status SendDatagram(std::string_view data, const io::Address& to);
  // Sends to the sender of the datagram being received (inside
  // ReceiveDatagram only; kFailedPrecondition elsewhere).
  absl::Status Reply(std::string_view data);

  void CloseConnection();
  io::Address LocalName() const;
  uint64_t id() const { return id_; }
  Reactor& reactor() const { return *reactor_; }

 private:
  friend class Reactor;
  void OnIoReady(uint32_t readiness) override;
  // Sends queued datagrams until the socket would block.
  void FlushQueue();
  // The trace digest of a datagram: its peer's address, and its bytes when
  // the trace hashes content.
  uint64_t DatagramDigest(std::string_view data, const io::Address& peer) const;
  // Ends the socket: the reactor reaps it (Unbind, then destroy) at the end
  // of the current turn.
  void MarkClosed(UnbindKind kind, absl::Status status);

  struct Queued {
    io::Address to;
    std::string data;
  };

  Reactor* reactor_ = nullptr;
  uint64_t id_ = 0;
  std::unique_ptr<io::DatagramSocket> socket_;
  bool closed_ = false;
  const io::Address* current_sender_ = nullptr;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  UnbindReason reason_;
};

}  // namespace ember

#endif  // EMBER_REACTOR_CONNECTION_H_
