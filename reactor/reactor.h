// The reactor: Ember's event loop.
//
// A `Reactor` runs on one thread over one `io::Network` (the epoll backend in
// production, the simulator in tests). It dispatches I/O readiness to
// connections, runs timers and next-tick callbacks, starts servers and
// clients, and owns every connection it creates. Its API follows
// EventMachine's (`EM.run`, `EM.add_timer`, `EM.start_server`, `EM.connect`,
// ...), with what EventMachine's users asked for added: bounded outbound
// buffers with high/low-water callbacks, half-close, graceful shutdown,
// host names resolved without blocking the loop, and unbind reasons.
//
//   ember::io::EpollNetwork is one backend; any io::Network works:
//   auto net = ember::io::EpollNetwork::Create().value();
//   ember::Reactor reactor(*net);
//   reactor.StartServer("127.0.0.1", 8081, [] {
//     return std::make_unique<EchoConnection>();
//   });
//   return reactor.Run().ok() ? 0 : 1;
//
// Threads: everything runs on the reactor's thread (the one that called
// Run, or constructed it before Run). From other threads only `NextTick`,
// `Schedule`, `Stop` and `IsReactorThread` may be called.
//
// Determinism: the reactor reads time only from the network's clock, draws
// no randomness, iterates only ordered containers, and folds every event it
// dispatches into `trace()`, so that under the simulator one seed gives one
// run.

#ifndef EMBER_REACTOR_REACTOR_H_
#define EMBER_REACTOR_REACTOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/network.h"
#include "reactor/connection.h"
#include "reactor/timer_queue.h"
#include "reactor/trace.h"

namespace ember {

struct ReactorOptions {
  // Most user timers pending at once (EventMachine: 100,000); AddTimer fails
  // with kResourceExhausted beyond it. Connection timeouts do not count.
  size_t timers_max = 100000;
  // Bytes read per read call into the reactor's one reusable buffer.
  size_t read_chunk_bytes = 64 << 10;
  // Reads per readable event before other connections get their turn.
  int reads_per_event = 4;
  // Connections accepted per listener readiness event.
  int accepts_per_event = 64;
  // Back-off when accept fails (out of descriptors): the listener rests this
  // long before trying again, instead of spinning.
  absl::Duration accept_backoff = absl::Milliseconds(100);
  // Default for Connection::SetPendingConnectTimeout (EventMachine: 20 s).
  // For a host name it covers the lookup and the whole race of attempts.
  absl::Duration pending_connect_timeout = absl::Seconds(20);
  // Happy Eyeballs (RFC 8305 "Connection Attempt Delay"): when a host name
  // has several addresses, the next attempt starts this long after the last
  // one while earlier ones are still pending (at once when one fails). At
  // least 10 ms (RFC 8305 section 5); smaller values are raised to it.
  absl::Duration connection_attempt_delay = absl::Milliseconds(250);
  // Default for Connection::SetOutboundLimits.
  OutboundLimits outbound_limits;
  // Emptied 16 KiB outbound blocks kept for reuse by all connections
  // (256 = 4 MiB): bursts reuse memory instead of allocating it.
  size_t outbound_pool_blocks_max = 256;
  // Keep the dispatched events in trace() (and hash them, whatever
  // trace_hash says).
  bool record_trace = false;
  // Fold every dispatched event into trace().hash(). Unset: on when the
  // backend's runs are reproducible (io::Network::Reproducible(): the
  // simulator), where one seed must give one hash; off on epoll, where no
  // two runs could be compared and the hashing would only cost time.
  // trace().count() counts events either way.
  std::optional<bool> trace_hash;
  // Hash the bytes of every read, write and datagram into the trace, so two
  // runs that differ only in the content of a message differ in their hash.
  // Unset: on when the backend's runs are reproducible
  // (io::Network::Reproducible(): the simulator), off on epoll, where the
  // trace cannot be replayed and the hashing would only cost time.
  std::optional<bool> trace_content;
};

using ServerId = uint64_t;

class Reactor {
 public:
  using Callback = absl::AnyInvocable<void()>;
  using ConnectionFactory = absl::AnyInvocable<std::unique_ptr<Connection>()>;
  // Receives exceptions thrown by callbacks; `connection` is the connection
  // whose callback threw (already closing), or nullptr for timers and ticks.
  using ErrorHandler =
      std::function<void(std::exception_ptr error, Connection* connection)>;

  // `network` must outlive the reactor.
  explicit Reactor(io::Network& network, ReactorOptions options = {});
  // Closes every connection (Unbind with kReactorStopped) and server.
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // ---- The loop. ----

  // Runs until Stop. Then closes every connection (Unbind with reason
  // kReactorStopped), stops every server and runs the shutdown hooks, last
  // added first. Returns OK, or the backend's error if Poll failed, or
  // kInternal if the error handler itself threw. May be called again.
  absl::Status Run();

  // Runs one turn: due timers, ticks, one Poll, writes. The Poll waits at
  // most until `deadline` (capped by the next timer), and not at all when a
  // timer or tick ran in this turn, so a caller stepping the loop sees their
  // effects before time moves on. For tests and for embedding in another
  // loop. Returns the backend's error, if any.
  absl::Status RunOnce(absl::Time deadline = absl::InfinitePast());

  // Asks Run to return at the end of the current turn. Thread-safe.
  void Stop();
  bool stopping() const { return stop_requested_.load(); }
  bool running() const { return running_; }

  // Runs `callback` on the reactor thread at the next turn. Thread-safe.
  // Ticks queued during a tick run on the next turn, not this one. Returns
  // the tick's id (never 0), for CancelTick.
  TickId NextTick(Callback callback);
  // Drops a tick that has not run yet (also one due later in the batch
  // running now). Reactor thread only. False when it already ran, was
  // cancelled, or is unknown.
  bool CancelTick(TickId id);
  // Runs `callback` now if called on the reactor thread, else NextTick.
  void Schedule(Callback callback);
  // Runs when Run is about to return, last added first.
  void AddShutdownHook(Callback hook);
  bool IsReactorThread() const;

  // Stops accepting, asks each connection to finish (ShutdownRequested,
  // default CloseAfterWriting), and once all are gone, or `drain` has passed
  // (then the rest close with kShutdown), stops the reactor; `done` runs
  // just before.
  void GracefulShutdown(absl::Duration drain, Callback done = nullptr);

  void SetErrorHandler(ErrorHandler handler);

  // ---- Time and timers. ----

  // The backend's monotonic clock, read fresh.
  absl::Time Now() { return network_.Now(); }
  // The time the events being handled began to be dispatched: refreshed
  // as a turn begins (before its timers and ticks), before the first I/O
  // callback of each poll and after a poll that dispatched nothing, so it
  // lags Now() by no more than the callbacks (and the writes they queued)
  // run since have taken. Free to read, where Now() asks the backend's
  // clock; for timestamps and deadlines taken per request.
  absl::Time LoopNow() const { return loop_time_; }
  absl::Time WallNow() { return network_.WallNow(); }

  // One-shot timer; a zero or negative delay fires on a later turn.
  absl::StatusOr<TimerId> AddTimer(absl::Duration delay, Callback callback);
  // Re-arms `interval` after each run (at least `interval` apart; drifts).
  absl::StatusOr<TimerId> AddPeriodicTimer(absl::Duration interval,
                                           Callback callback);
  // Also from inside the timer's own callback. False if not pending.
  bool CancelTimer(TimerId id);
  size_t TimerCount() const { return timers_.user_count(); }

  // ---- Servers and clients. ----

  // Listens on `host:port` (an IP literal, "localhost" meaning 127.0.0.1,
  // "0.0.0.0" or "::";
  // port 0 picks a free port: see ServerAddress). Each accepted connection
  // comes from `factory`, then gets PostInit.
  absl::StatusOr<ServerId> StartServer(std::string_view host, uint16_t port,
                                       ConnectionFactory factory,
                                       const io::ListenOptions& options = {});
  absl::StatusOr<ServerId> StartUnixServer(std::string_view path,
                                           ConnectionFactory factory);
  absl::StatusOr<io::Address> ServerAddress(ServerId id) const;
  // Stops accepting; established connections go on. A server whose
  // listener dies (Accept fails with kind kClosed: under the simulator, its
  // host crashed) is stopped by the reactor itself, so a restart hook can
  // listen again at once; StopServer then returns kNotFound.
  absl::Status StopServer(ServerId id);

  // Connects to `host:port`. The reactor takes `connection`, calls
  // PostInit, then ConnectionCompleted or Unbind (kRefused, kTimedOut,
  // kNameNotFound, ...). Returns the connection, valid until its Unbind
  // returns, or an error for arguments that can never work (then nothing is
  // called on `connection`).
  //
  // An IP literal is connected to directly. A host name is resolved without
  // blocking the loop ("localhost" is ::1 and 127.0.0.1 on every backend,
  // without asking the system), and then every address is tried as RFC
  // 8305 (Happy Eyeballs v2) says: in RFC 6724 order with the families
  // interleaved, a new attempt every `connection_attempt_delay` (250 ms)
  // while earlier ones are pending, the next at once when one fails. The
  // first to connect wins (ConnectionCompleted, PeerName() is its address);
  // the others are closed without any callback. When all fail, Unbind's
  // status keeps each address's error, and its kind is the most telling
  // one (kRefused, then kTimedOut, kReset, kUnreachable). The pending-
  // connect timeout covers the lookup and the whole race. A name that does
  // not exist is kNameNotFound; a lookup that failed for now (EAI_AGAIN) is
  // kNameLookupFailed.
  absl::StatusOr<Connection*> Connect(std::string_view host, uint16_t port,
                                      std::unique_ptr<Connection> connection);
  absl::StatusOr<Connection*> ConnectUnix(
      std::string_view path, std::unique_ptr<Connection> connection);
  // Connects from a chosen local address (and port, unless 0). A host name's
  // race is restricted to the bound address's family; when the name has no
  // address of that family, Unbind says so (kUnreachable).
  absl::StatusOr<Connection*> BindConnect(
      std::string_view bind_host, uint16_t bind_port, std::string_view host,
      uint16_t port, std::unique_ptr<Connection> connection);
  absl::StatusOr<Connection*> ConnectTo(
      const io::Address& address, std::unique_ptr<Connection> connection,
      const io::Address* bind = nullptr);

  // Opens a UDP socket on `host:port` (port 0 = any).
  absl::StatusOr<DatagramConnection*> OpenDatagramSocket(
      std::string_view host, uint16_t port,
      std::unique_ptr<DatagramConnection> connection);

  // Stream and datagram connections alive (servers not counted).
  size_t ConnectionCount() const {
    return connections_.size() + datagrams_.size();
  }

  // The reactor's live objects, for leak checks and soak monitors.
  struct Stats {
    size_t connections = 0;       // Stream connections, in any state.
    size_t datagram_sockets = 0;
    size_t servers = 0;
    size_t timers = 0;            // User and internal timers pending.
    size_t user_timers = 0;
    size_t outbound_bytes = 0;    // Queued for writing, all connections.
    size_t ticks = 0;             // Next-tick callbacks waiting.
  };
  // O(connections): sums the outbound queues.
  Stats stats() const;

  const Trace& trace() const { return trace_; }
  Trace& trace() { return trace_; }
  const ReactorOptions& options() const { return options_; }
  io::Network& network() { return network_; }

 private:
  friend class Connection;
  friend class ConnectRace;
  friend class DatagramConnection;
  struct Server;

  Connection* Adopt(std::unique_ptr<Connection> connection);
  absl::StatusOr<ServerId> Listen(const io::Address& address,
                                  const io::ListenOptions& options,
                                  ConnectionFactory factory);
  absl::StatusOr<Connection*> BindConnectImpl(
      const io::Address* bind, std::string_view host, uint16_t port,
      std::unique_ptr<Connection> connection);
  // Connects `c` (resolving) to what its host name resolved to: the Happy
  // Eyeballs race, or the unbind that says why there is nothing to race.
  void StartRace(Connection* c, const std::string& host, uint16_t port,
                 absl::StatusOr<std::vector<io::Address>> resolved,
                 const std::optional<io::Address>& bind);
  void OnServerReadable(Server* server);
  // Runs the ticks queued before this call; true if any ran. Inline, as
  // most turns have none.
  bool RunTicks() {
    if (ticks_.empty() && !remote_pending_.load()) return false;
    return RunQueuedTicks();
  }
  bool RunQueuedTicks();
  void FlushPending();
  void ReapClosed();
  // Something closed (or a server stopped) waits for ReapClosed.
  bool ClosedPending() const {
    return !closed_list_.empty() || !closed_datagrams_.empty() ||
           !stopped_servers_.empty();
  }
  // After a dispatch (the turn's timers and ticks, or a Poll): writes what
  // callbacks queued, unbinds what they closed, and destroys ended connect
  // races. Inline, as most dispatches leave nothing: the checks alone cost
  // less than a call's register saves, twice a turn.
  void EndDispatch() {
    if (!flush_list_.empty() || ClosedPending() || draining_ ||
        !retired_races_.empty()) {
      EndDispatchWork();
    }
  }
  void EndDispatchWork();
  void CloseAll(UnbindKind kind);
  void CheckDrained();
  void Teardown();
  // `owner`: the id of the connection the timer belongs to (it then runs
  // only while that connection lives, guarded as its callback), or 0.
  TimerId AddInternalTimer(absl::Duration delay, Callback callback,
                           uint64_t owner = 0);

  // Runs a handler callback, catching what it throws. With a connection, the
  // connection is closed with kHandlerError. Returns false if it threw.
  bool Guard(Connection* c, absl::FunctionRef<void()> f);
  bool GuardDatagram(DatagramConnection* c, absl::FunctionRef<void()> f);
  void ReportError(std::exception_ptr error, Connection* c);

  char* read_buffer() { return read_buffer_.get(); }
  // Called first by everything Poll dispatches (I/O readiness, resolves):
  // the loop's time becomes the time the first of them began, not the time
  // the Poll began waiting, so timers armed and activity stamped from here
  // count from after the wait. One clock read serves a whole Poll (events
  // ready together are dispatched within moments of each other; the clock
  // and its conversions cost about 100 instructions a read): a dispatch late
  // in a long batch sees a time up to the batch's own run time early.
  void StampDispatchTime() {
    if (dispatch_stamped_) return;
    dispatch_stamped_ = true;
    SetLoopTime(network_.Now());
  }
  // Connections stamp activity with the compact form of loop_time_ (Touch),
  // often many times a turn and in some turns not at all (a turn's first
  // clock read is for its timers): converted once, on first use.
  void SetLoopTime(absl::Time now) {
    loop_time_ = now;
    loop_stamp_current_ = false;
  }
  reactor_internal::CompactTime LoopStamp() {
    if (!loop_stamp_current_) {
      loop_stamp_ = reactor_internal::CompactTime(loop_time_);
      loop_stamp_current_ = true;
    }
    return loop_stamp_;
  }

  io::Network& network_;
  ReactorOptions options_;
  TimerQueue timers_;
  Trace trace_;
  BlockPool block_pool_;
  std::unique_ptr<char[]> read_buffer_;

  // Ordered by id so that teardown and drain run in a fixed order.
  // A B-tree: about 20 bytes an entry, where a std::map node costs 64.
  absl::btree_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::map<uint64_t, std::unique_ptr<DatagramConnection>> datagrams_;
  std::map<ServerId, std::unique_ptr<Server>> servers_;

  std::vector<std::unique_ptr<Server>> stopped_servers_;  // Reaped per turn.
  uint64_t next_id_ = 1;
  // The clock as of the start of the current dispatch (the turn's timers
  // and ticks, or one I/O event or resolve from inside Poll): timers are
  // armed and activity stamped against it.
  absl::Time loop_time_;
  reactor_internal::CompactTime loop_stamp_;  // loop_time_, as stamped,
  bool loop_stamp_current_ = false;           // when this is set.
  // StampDispatchTime has read the clock during the current Poll.
  bool dispatch_stamped_ = false;
  // Where Connection::Flush (and FailFilter) gathers the outbound blocks
  // for one write: no user code runs between the gather and the write, so
  // one array serves every connection, and a flush does not fill 64
  // entries on its stack.
  io::ConstBuffer write_buffers_[io::StreamSocket::kWriteBuffersMax];
  // Cleared when the reactor dies, so resolve callbacks that outlive it do
  // nothing.
  std::shared_ptr<Reactor*> alive_;

  std::vector<Connection*> flush_list_;
  std::vector<Connection*> flush_scratch_;
  std::vector<Connection*> closed_list_;
  // Connect races that ended during this turn; destroyed at its end, since
  // the one that ended may be running (connect_race.h).
  std::vector<std::unique_ptr<ConnectRace>> retired_races_;
  std::vector<Connection*> reap_scratch_;
  std::vector<DatagramConnection*> closed_datagrams_;

  struct Tick {
    TickId id;
    Callback callback;  // Null once cancelled.
  };
  std::vector<Tick> ticks_;
  std::vector<Tick> ticks_running_;
  size_t tick_running_index_ = 0;  // The next of ticks_running_ to run.
  std::atomic<TickId> next_tick_id_{1};
  std::mutex remote_mu_;
  std::vector<Tick> remote_ticks_;  // Guarded by remote_mu_.
  std::atomic<bool> remote_pending_{false};
  std::vector<Callback> shutdown_hooks_;

  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> owner_thread_;
  bool running_ = false;
  bool draining_ = false;
  Callback drain_done_;
  TimerId drain_timer_ = 0;
  ErrorHandler error_handler_;
  absl::Status fatal_;
};

}  // namespace ember

#endif  // EMBER_REACTOR_REACTOR_H_
