// The abstract I/O interface: everything the reactor needs from the outside
// world.
//
// A `Network` is a clock, a way to wait for events until a deadline, and a
// factory for stream listeners, stream sockets and datagram sockets, plus
// asynchronous host name resolution. Two backends implement it: the real one
// (`io/epoll`, Linux epoll, shipped to production) and the simulated one
// (`sim/`, an in-memory network with a virtual clock and seeded faults).
// Nothing above `io/` names either backend; `main()` or a test picks one and
// hands it to the reactor.
//
// Readiness model. Every socket object (a `Handle`) has at most one
// `IoWatcher` and an interest mask. Readiness is level-triggered: while a
// handle is readable (data, end of stream, a pending error, or a pending
// connection on a listener) and its interest includes kReadable, each `Poll`
// reports it; likewise for kWritable (send space, a finished connect, or an
// error). Errors and hang-ups are reported as readiness so that the watcher
// reads or writes and gets the error from that call.
//
// Threads. A `Network` and its handles belong to one thread, the one calling
// `Poll`, except `Wake`, which any thread may call. Callbacks
// (`IoWatcher::OnIoReady`, resolve completions) run only from inside `Poll`,
// never re-entrantly from the call that caused them, and never after the
// handle they concern has been destroyed.
//
// Ownership. Factories return `std::unique_ptr`; destroying a handle closes
// it. A handle may be destroyed at any time on the network's thread, also
// from inside a watcher callback; no further callbacks reach its watcher.
// Every handle must be destroyed before its `Network`.

#ifndef EMBER_IO_NETWORK_H_
#define EMBER_IO_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/error.h"

namespace ember::io {

// Readiness and interest bits.
inline constexpr uint32_t kReadable = 1u << 0;
inline constexpr uint32_t kWritable = 1u << 1;

// A read-only span of bytes for gathered writes.
struct ConstBuffer {
  const char* data = nullptr;
  size_t size = 0;
};

// The outcome of one read, write, send or receive.
struct IoResult {
  enum class Code : uint8_t {
    kOk,           // `bytes` were transferred (a datagram may be 0 bytes).
    kWouldBlock,   // Nothing can be transferred now; wait for readiness.
    kEndOfStream,  // Read only: the peer half-closed; no more data comes.
    kError,        // `error` says what; the socket is unusable for this.
  };

  Code code = Code::kOk;
  size_t bytes = 0;
  absl::Status error;  // Set exactly when code == kError.

  static IoResult Ok(size_t n) { return {Code::kOk, n, absl::OkStatus()}; }
  static IoResult WouldBlock() {
    return {Code::kWouldBlock, 0, absl::OkStatus()};
  }
  static IoResult EndOfStream() {
    return {Code::kEndOfStream, 0, absl::OkStatus()};
  }
  static IoResult Error(absl::Status s) {
    return {Code::kError, 0, std::move(s)};
  }
  bool ok() const { return code == Code::kOk; }
};

// Receives readiness events for one handle.
class IoWatcher {
 public:
  // `readiness` is a non-empty subset of the handle's interest. Called only
  // from inside `Network::Poll`.
  virtual void OnIoReady(uint32_t readiness) = 0;

  // How many bytes from the watcher's address OnIoReady usually reads: a
  // hint, asked once when the watcher is set. A backend may fetch them into
  // the cache ahead of the call (the epoll backend does, for the next ready
  // watcher while it dispatches the current one), so that a server with
  // many connections does not stall on each one's state in turn. Zero
  // means the first cache line only.
  virtual size_t HotBytes() const { return 0; }

 protected:
  ~IoWatcher() = default;
};

// Base of all socket objects. Destroying a handle closes it.
class Handle {
 public:
  virtual ~Handle() = default;

  // Sets the watcher that receives readiness; nullptr detaches. The watcher
  // must outlive its registration.
  virtual void SetWatcher(IoWatcher* watcher) = 0;

  // Sets which readiness to report (kReadable | kWritable, or 0). Takes
  // effect for the next readiness computed; an event already being
  // dispatched in this Poll for a bit now cleared is not delivered.
  virtual void SetInterest(uint32_t interest) = 0;
};

struct KeepAliveOptions {
  bool enabled = true;
  absl::Duration idle = absl::Seconds(60);      // before the first probe
  absl::Duration interval = absl::Seconds(10);  // between probes
  int probes = 6;                               // unanswered before reset
};

// Enabled keepalive options as Linux takes them: whole seconds, rounded up
// (a sub-second setting must not become "never"), idle and interval in
// [1, 32767] s, probes in [1, 127]. Every backend validates with this, so
// both accept and refuse the same options; kInvalidArgument otherwise.
struct KeepAliveSeconds {
  int idle = 0;
  int interval = 0;
  int probes = 0;
};
absl::StatusOr<KeepAliveSeconds> KeepAliveForKernel(
    const KeepAliveOptions& options);

// A connected byte stream (TCP or Unix stream socket).
class StreamSocket : public Handle {
 public:
  // For a socket made by `Network::Connect`: call after the first kWritable
  // readiness. OK once the connection is established; otherwise the reason
  // (kind kRefused, kTimedOut, kUnreachable, ...). The result is stable once
  // the connect has finished. Accepted sockets always return OK.
  virtual absl::Status FinishConnect() = 0;

  // Reads up to `len` bytes (len > 0) into `buf`.
  virtual IoResult Read(char* buf, size_t len) = 0;

  // Writes from the buffers in order; may write fewer bytes than offered
  // (a short write), never reorders them. `count` may be at most
  // kWriteBuffersMax.
  static constexpr size_t kWriteBuffersMax = 64;
  virtual IoResult Write(const ConstBuffer* buffers, size_t count) = 0;

  // Half-close: the peer reads end of stream after all written bytes.
  // Reading stays possible.
  virtual absl::Status ShutdownWrite() = 0;

  virtual absl::StatusOr<Address> LocalAddress() const = 0;
  virtual absl::StatusOr<Address> PeerAddress() const = 0;

  // TCP options; Unix sockets accept and ignore them (returning OK).
  virtual absl::Status SetNoDelay(bool on) = 0;
  virtual absl::Status SetKeepAlive(const KeepAliveOptions& options) = 0;
};

// A listening stream socket.
class Listener : public Handle {
 public:
  // Accepts one pending connection. Returns nullptr (with OK) when none is
  // pending. An error (for example kNoResources when out of descriptors)
  // leaves the pending connection queued, so level-triggered readiness
  // reports it again: the caller should back off before retrying.
  virtual absl::StatusOr<std::unique_ptr<StreamSocket>> Accept() = 0;

  // The bound address, with the real port when port 0 was asked for.
  virtual Address LocalAddress() const = 0;
};

// A datagram (UDP) socket.
class DatagramSocket : public Handle {
 public:
  // Sends one datagram. kWouldBlock when the send buffer is full.
  virtual IoResult SendTo(const Address& to, const char* data,
                          size_t len) = 0;

  // Receives one datagram into `buf`. When it is longer than `len`, the first
  // `len` bytes are returned and `*truncated` is set. `*from` gets the
  // sender's address.
  virtual IoResult ReceiveFrom(char* buf, size_t len, Address* from,
                               bool* truncated) = 0;

  virtual Address LocalAddress() const = 0;
};

struct ListenOptions {
  // Connections the kernel (or simulator) queues before Accept; when full,
  // further connects wait and eventually time out. Linux caps it at
  // net.core.somaxconn (4096 on current kernels); a burst of connects
  // larger than the backlog loses handshakes and waits for retransmits.
  int backlog = 4096;
  // SO_REUSEADDR; lets a restarted server bind while old connections linger.
  bool reuse_address = true;
  // SO_REUSEPORT; several listeners (one reactor per core) share a port.
  bool reuse_port = false;
};

struct ConnectOptions {
  // When set, bind to this local address (and port, if not 0) first.
  const Address* bind = nullptr;
};

using ResolveCallback =
    absl::AnyInvocable<void(absl::StatusOr<std::vector<Address>>)>;

class Network {
 public:
  virtual ~Network() = default;

  // The monotonic clock: never goes backwards. Arbitrary epoch.
  virtual absl::Time Now() = 0;

  // The wall clock (UTC). May jump; use only to show or stamp times.
  virtual absl::Time WallNow() = 0;

  // A seed for the reactor's generator: from the OS on the real backend, from
  // the simulation's seed on the simulated one.
  virtual uint64_t RandomSeed() = 0;

  // True when a run over this network replays exactly from its seed (the
  // simulator), so that a trace of it is worth keeping in full: the reactor
  // then hashes the bytes of every read and write into its trace. Nothing
  // but tracing may depend on it; behaviour must be the same either way.
  virtual bool Reproducible() const { return false; }

  // Waits until a watched handle is ready, a resolve completes, `Wake` is
  // called, or the clock reaches `deadline` (absl::InfinitePast() = do not
  // wait, absl::InfiniteFuture() = no deadline), then dispatches what is
  // ready. Returns the number of callbacks run. An error means the backend
  // itself failed (not a socket); the reactor stops with it.
  virtual absl::StatusOr<int> Poll(absl::Time deadline) = 0;

  // Makes a current or the next Poll return promptly. Thread-safe.
  virtual void Wake() = 0;

  virtual absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Address& address, const ListenOptions& options) = 0;

  // Starts a non-blocking connect. Immediate failures (bad address, no
  // descriptors) are returned here; everything else is reported through
  // kWritable readiness and `StreamSocket::FinishConnect`.
  virtual absl::StatusOr<std::unique_ptr<StreamSocket>> Connect(
      const Address& remote, const ConnectOptions& options) = 0;

  // Opens a datagram socket bound to `local` (port 0 = any).
  virtual absl::StatusOr<std::unique_ptr<DatagramSocket>> OpenDatagram(
      const Address& local) = 0;

  // Resolves a host name (or numeric literal) to addresses (port 0), most
  // preferred first (RFC 6724 order), without blocking the caller. `done`
  // runs from a later Poll, never from inside Resolve. Literals, "localhost"
  // and names under ".localhost" (::1 and 127.0.0.1) and names under
  // ".invalid" are answered by the rules in io/resolve.h, the same on every
  // backend, without asking any resolver. Failures: kNameNotFound (the name
  // does not exist or has no address), kNameLookupFailed (the lookup failed
  // for now, e.g. EAI_AGAIN: retrying may help), kNoResources (too many
  // lookups pending). Pending resolutions are dropped silently when the
  // Network is destroyed.
  virtual void Resolve(std::string_view host, ResolveCallback done) = 0;

  // Runs `work`, which may block (a file read, a password hash, a database
  // call), without stalling the loop, then `done` on the network's thread
  // from a later Poll, never from inside Offload. The backend decides
  // where: the real one runs `work` on a bounded pool of worker threads (so
  // `work` must not touch what the loop's thread uses without its own
  // synchronisation; handing a result to `done` through state both own is
  // safe, since `done` runs after `work` returned); the simulator runs it
  // on the network's thread, inside a Poll, at a simulated later time, so
  // a program using it stays deterministic. Returns kResourceExhausted when
  // the backend's limit of outstanding jobs is reached (then neither runs;
  // both are destroyed). When the network is destroyed, jobs not yet
  // started are dropped unrun, jobs running are waited for, and the `done`
  // of every job not yet delivered is dropped.
  virtual absl::Status Offload(absl::AnyInvocable<void()> work,
                               absl::AnyInvocable<void()> done) = 0;
};

}  // namespace ember::io

#endif  // EMBER_IO_NETWORK_H_
