// The simulated backend: a whole network of hosts in memory, on a virtual
// clock, with seeded fault injection.
//
// `SimNetwork` is one `io::Network`. One reactor drives it, in one thread, and
// every simulated server and client runs in that reactor; hosts are told
// apart by address. Handler code sees exactly the interface the epoll backend
// gives it (level-triggered readiness, callbacks only from inside `Poll`,
// handles closable at any time, errors built with `io::MakeError`), so the
// same code runs on both.
//
// Time. `Now()` starts at `SimOptions::monotonic_start` and moves only inside
// `Poll`. `Poll` first applies the simulator events already due. If anything
// is then ready (a watched handle, a finished resolve, a pending `Wake`), it
// dispatches without advancing time. Otherwise it jumps the clock straight to
// the next scheduled event (a delivery, a connect answer, a restart), applies
// it, and repeats until something is ready or the next event lies beyond the
// deadline, in which case the clock stops exactly at the deadline. An hour of
// idle virtual time therefore costs nothing, and `Poll` never blocks the
// thread. When nothing is ready, nothing is scheduled and the deadline is
// infinite, nothing can ever happen: `Poll` fails with kFailedPrecondition
// ("simulation is idle forever"), so a stuck test fails fast instead of
// hanging. `Poll` must not be called from inside a callback.
//
// Hosts. The default host "localhost" owns 127.0.0.1, ::1 and all Unix
// socket paths; `AddHost` adds more. A listener or datagram socket belongs to
// the host owning its IP (a wildcard IP, 0.0.0.0 or ::, to the default host,
// on all its addresses; :: also takes IPv4). A connecting socket belongs to
// the host owning `ConnectOptions::bind`'s IP, or else to the default host,
// using its first address of the remote's family. `SetDefaultHost` places
// code that listens on wildcards or connects without binding on another host.
// Connecting to an address no host owns gets no answer and times out. A
// host may own addresses of both families; `AddName` maps a name to any
// mix of them, and `SetAddressFault`, `SetFamilyFault` and the plan's
// address faults make one address or a whole family refuse, drop or slow
// connects (a dead IPv6 route is the classic case).
//
// Faults. The `FaultPlan` decides from the seed what happens to traffic (see
// sim/fault_plan.h); tests can also script faults: `ResetConnection`,
// `Partition`, `Clog`, `CrashHost`, `RestartHost`, `JumpWallClock`. Streams
// stay ordered and lossless while a connection lives. Semantics the plan does
// not change:
//  - A connect to a reachable host with no listener is refused (kRefused).
//    A connect whose SYN is lost (partition, host down, no such host, full
//    backlog) is retried at 1, 3, 7, 15, 31 and 63 seconds, like Linux SYN
//    retransmission, and fails with kTimedOut after
//    `SimOptions::connect_timeout` (75 s).
//  - A listener queues at most max(1, backlog) connections; SYNs beyond that
//    are dropped (and retried) as Linux does.
//  - Closing a socket with unread bytes resets the connection (Linux sends a
//    RST); closing it otherwise sends end of stream after the bytes written.
//    Bytes that later reach a closed socket reset the connection, so the
//    peer's writes eventually fail with kReset.
//  - A reset is sticky: every later read and write returns kReset, and the
//    handle stays readable and writable so its owner notices.
//  - Writes after `ShutdownWrite` fail with kReset, as EPIPE does on Linux.
//  - Crashing a host resets its connections (kReset), and kills its
//    listeners and datagram sockets: their calls fail with kClosed and they
//    report readiness until destroyed. Their addresses are free again, for
//    after `RestartHost`.
//  - Each host has `SimOptions::descriptors_per_host_max` descriptors; a
//    Listen, Connect or OpenDatagram beyond it fails with kNoResources, and
//    an Accept fails with kNoResources leaving the connection queued.
//  - Datagrams to an address nobody has bound are dropped silently. Each
//    socket queues at most `datagram_receive_buffer_bytes` (further arrivals
//    are dropped) and has at most `datagram_send_buffer_bytes` in flight
//    (further sends get kWouldBlock; one datagram may always be sent).
//  - Datagrams are not subject to the bandwidth limit.
//  - Keepalive settings are validated as on Linux and recorded; no probes
//    are simulated. TCP_NODELAY is recorded and has no effect (there is no
//    Nagle delay to turn off).
//
// Determinism. All choices come from `SimOptions::seed` through `Random`,
// each fault decided at its own stable point (sim/fault_schedule.h), or
// from `SimOptions::decisions` when a fuzzer supplies them;
// readiness is dispatched in handle creation order, scheduled events of
// equal time in the order they were scheduled, and nothing depends on a
// pointer value or a hash table's order. Every simulator event (its time,
// kind, ids and sizes) is folded into `trace_hash()`: the same seed, plan and
// program give the same hash on every run and machine.
//
// Invariants. After every event and every read or write the simulator checks
// (aborting, since a violation is a simulator bug) that for each direction of
// the connection involved, bytes written = bytes read + bytes waiting at the
// reader + bytes in flight + bytes discarded by a reset, crash or close, that
// no segment is delivered before its time, and that the clock never goes
// back; a full sweep over every connection and handle runs every 1024 events.

#ifndef EMBER_SIM_SIM_NETWORK_H_
#define EMBER_SIM_SIM_NETWORK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/network.h"
#include "sim/fault_plan.h"
#include "sim/fault_schedule.h"
#include "sim/random.h"

namespace ember::sim {

namespace internal {
class SimHandle;
class SimStream;
class SimListener;
class SimDatagram;
}  // namespace internal

// Identifies a simulated host. The default host "localhost" is kLocalHost.
enum class HostId : uint32_t {};
inline constexpr HostId kLocalHost{0};

// A reachability fault for connects to one address or one address family
// (see SimNetwork::SetAddressFault).
struct AddressFault {
  enum class Kind : uint8_t { kNone, kBlackHole, kRefuse, kSlow };
  Kind kind = Kind::kNone;
  // kSlow: added to the handshake round trip of every connect.
  absl::Duration delay = absl::ZeroDuration();

  static AddressFault None() { return {}; }
  static AddressFault BlackHole() { return {Kind::kBlackHole}; }
  static AddressFault Refuse() { return {Kind::kRefuse}; }
  static AddressFault Slow(absl::Duration delay) { return {Kind::kSlow, delay}; }
};

struct SimOptions {
  // Every random choice derives from this.
  uint64_t seed = 1;
  FaultPlan plan = FaultPlan::Ideal();
  // Where `Now()` starts. Arbitrary, as CLOCK_MONOTONIC's epoch is.
  absl::Time monotonic_start = absl::FromUnixSeconds(1'000'000);
  // Where `WallNow()` starts (2023-11-14T22:13:20Z).
  absl::Time wall_start = absl::FromUnixSeconds(1'700'000'000);
  // How long an unanswered connect waits before kTimedOut (Linux's default
  // SYN retries give about two minutes; 75 s is the classic BSD value).
  absl::Duration connect_timeout = absl::Seconds(75);
  // Descriptors per host: listeners, connected and accepted sockets, and
  // datagram sockets count; queued unaccepted connections do not.
  int descriptors_per_host_max = 65536;
  // Per datagram socket (Linux's default rmem/wmem).
  size_t datagram_send_buffer_bytes = 212992;
  size_t datagram_receive_buffer_bytes = 212992;
  // Offload: the work runs on the network's thread, inside Poll, this long
  // after the call (drawn from the seed when min < max), then its `done`.
  // At most `offload_jobs_max` jobs wait; more fail with kResourceExhausted.
  absl::Duration offload_latency_min = absl::Milliseconds(1);
  absl::Duration offload_latency_max = absl::Milliseconds(20);
  size_t offload_jobs_max = 1024;
  // Fold a hash of the bytes of every write and datagram into trace_hash(),
  // not only their sizes. Off by default: TLS (and anything else that
  // encrypts with randomness the simulator cannot seed) writes other
  // ciphertext in every run, though of the same sizes, so its runs would
  // never agree. The reactor's trace folds the plaintext a handler sees
  // (ReactorOptions::trace_content), which is what a determinism check
  // compares; turn this on for code that drives io::Network directly.
  bool trace_bytes = false;
  // Which of the plan's faults may strike (sim/fault_schedule.h): all by
  // default; the shrinker and EMBER_KEEP_FAULTS keep only some.
  FaultFilter fault_filter;
  // Where the plan's fault decisions come from; null (the default) means
  // from `seed`, point by point. Not owned; must outlive the network.
  DecisionSource* decisions = nullptr;
  // Keep a record of at most this many injected faults (`fault_log()`);
  // 0, the default, keeps none and builds no text. Beyond the limit faults
  // still strike, and `fault_log_truncated()` says the log is incomplete.
  size_t fault_log_max = 0;
};

// Counters over a whole run. Two runs of one seed, plan and program have
// equal stats.
struct SimStats {
  uint64_t events_processed = 0;  // scheduled simulator events applied
  uint64_t polls = 0;
  uint64_t callbacks = 0;  // watcher and resolve callbacks run
  uint64_t bytes_written = 0;
  uint64_t bytes_delivered = 0;  // arrived at the reading end
  uint64_t bytes_read = 0;
  uint64_t bytes_discarded = 0;     // dropped by a reset, crash or close
  uint64_t connections_opened = 0;  // Connect calls that returned a socket
  uint64_t connections_established = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;
  uint64_t connections_timed_out = 0;
  uint64_t connections_reset = 0;
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_delivered = 0;  // queued at a receiving socket
  uint64_t datagrams_lost = 0;       // by the plan, a partition, or no receiver
  uint64_t datagrams_duplicated = 0;
  uint64_t datagrams_reordered = 0;
  uint64_t datagrams_truncated = 0;
  uint64_t resolves = 0;
  uint64_t invariant_checks = 0;
  // Faults injected, by kind ("clog", "crash", "partition", "reset",
  // "split", ...), counting both the plan's and scripted ones.
  std::map<std::string, uint64_t> faults;

  friend bool operator==(const SimStats&, const SimStats&) = default;
  std::string ToString() const;
};

class SimNetwork final : public io::Network {
 public:
  // Precondition: `options.plan.Validate()` is OK.
  explicit SimNetwork(SimOptions options = SimOptions());
  // Precondition: every handle made by this network has been destroyed.
  // Pending resolutions are dropped without running.
  ~SimNetwork() override;

  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // --- io::Network ---
  absl::Time Now() override;
  absl::Time WallNow() override;
  // Successive values of a stream derived from the seed.
  uint64_t RandomSeed() override;
  // Always: one seed, plan and program give one run.
  bool Reproducible() const override { return true; }
  absl::StatusOr<int> Poll(absl::Time deadline) override;
  void Wake() override;
  absl::StatusOr<std::unique_ptr<io::Listener>> Listen(
      const io::Address& address, const io::ListenOptions& options) override;
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> Connect(
      const io::Address& remote, const io::ConnectOptions& options) override;
  absl::StatusOr<std::unique_ptr<io::DatagramSocket>> OpenDatagram(
      const io::Address& local) override;
  // What io/resolve.h answers (literals; "localhost" and names under
  // ".localhost": ::1 and 127.0.0.1; names under ".invalid": kNameNotFound)
  // is answered without a lookup, from the next Poll. Other names look up
  // the simulated name table: a host's name gives its IPs, a name added with
  // `AddName` its addresses, in RFC 6724 order for the default host (a
  // family it has no address of goes last); the lookup takes the plan's
  // resolve latency and may fail with kNameLookupFailed (see
  // FaultPlan::resolve_failure_probability). Names are matched without
  // regard to ASCII case; a name not in the table is kNameNotFound.
  void Resolve(std::string_view host, io::ResolveCallback done) override;
  // Runs `work`, then `done`, inside a later Poll, after the options'
  // offload latency: deterministic, and no thread is ever started.
  absl::Status Offload(absl::AnyInvocable<void()> work,
                       absl::AnyInvocable<void()> done) override;

  // --- The world ---
  // Adds a host owning `ips` (IP literals; ports are ignored) and makes its
  // name resolve to them. Preconditions: `ips` is not empty and holds no IP
  // already owned, and no wildcard.
  HostId AddHost(std::string name, std::vector<io::Address> ips);
  // Where sockets on wildcard addresses and connects without a bind go from
  // now on. Sockets already open stay where they are.
  void SetDefaultHost(HostId host);
  HostId default_host() const { return default_host_; }
  // The host owning an IP (wildcards: the default host; Unix paths:
  // kLocalHost), or kNotFound.
  absl::StatusOr<HostId> HostOf(const io::Address& address) const;
  const std::string& HostName(HostId host) const;
  bool HostIsUp(HostId host) const;
  // Makes `name` resolve to `addresses` (ports are kept as given), replacing
  // an earlier entry.
  void AddName(std::string_view name, std::vector<io::Address> addresses);

  // --- Scripted faults (take effect at once; callbacks follow from Poll) ---
  // Makes connects to `ip` (its port is ignored) get no answer (kBlackHole:
  // SYNs are retransmitted until the connect times out), be refused
  // (kRefuse, whether or not anyone listens), or take `delay` longer
  // (kSlow, for connects started from now on); AddressFault::None() lifts
  // it. A connect already waiting is judged at its next SYN. An address's
  // own fault comes before its family's, and both before the plan's draws.
  void SetAddressFault(const io::Address& ip, AddressFault fault);
  // The same for every address of `family` (kIpv4 or kIpv6).
  void SetFamilyFault(io::Address::Family family, AddressFault fault);
  // Resets every connection between the endpoints `a` and `b` (either may be
  // the client), including one still connecting. Returns how many.
  int ResetConnection(const io::Address& a, const io::Address& b);
  // Cuts the link between two hosts (or a host and itself) for `duration`
  // from now; see FaultPlan::partition_probability for what that does.
  // Extends, never shortens, a partition already in place.
  void Partition(HostId a, HostId b, absl::Duration duration);
  // Stalls the link for `duration` from now: nothing on it moves until then.
  void Clog(HostId a, HostId b, absl::Duration duration);
  // Ends any partition or clog of the link now.
  void Heal(HostId a, HostId b);
  // Crashes a host (see the top of this file). No-op if already down.
  void CrashHost(HostId host);
  // Brings a crashed host back and runs its restart hook, from inside this
  // call. No-op if it is up.
  void RestartHost(HostId host);
  // Runs on every restart of `host` (scripted or from the plan), typically to
  // listen again. Having a hook makes a host eligible for the plan's random
  // crashes. The hook runs on the network's thread, from `RestartHost` or
  // from inside `Poll`.
  void SetRestartHook(HostId host, absl::AnyInvocable<void()> hook);
  // Moves the wall clock by `delta` (either sign). `Now()` is unaffected.
  void JumpWallClock(absl::Duration delta);

  // --- Observation ---
  SimStats stats() const;
  uint64_t trace_hash() const { return trace_hash_; }
  const SimOptions& options() const { return options_; }
  const FaultPlan& plan() const { return options_.plan; }
  size_t scheduled_events() const { return heap_.size(); }
  // Handles alive now (of every kind).
  size_t open_handles() const { return handles_.size(); }
  // Runs the full invariant sweep now (it also runs periodically).
  void CheckInvariants();
  // The plan's faults injected so far, in order (see
  // SimOptions::fault_log_max). Scripted faults are not in it.
  const std::vector<FaultRecord>& fault_log() const { return fault_log_; }
  bool fault_log_truncated() const { return fault_log_truncated_; }
  // Faults the decisions called for that the filter suppressed.
  uint64_t faults_suppressed() const { return faults_suppressed_; }

 private:
  friend class internal::SimHandle;
  friend class internal::SimStream;
  friend class internal::SimListener;
  friend class internal::SimDatagram;

  struct Host;
  struct Flow;
  struct End;
  struct Conn;
  struct Datagram;

  // Faults on the link between two hosts (or a host and itself).
  struct Link {
    int64_t clogged_until_ns = 0;
    int64_t partitioned_until_ns = 0;
    uint32_t host_a = 0;  // the two hosts, lower id first
    uint32_t host_b = 0;
  };
  // Listeners on one address: several with SO_REUSEPORT, in creation order;
  // connections go to them in turn.
  struct BindGroup {
    std::vector<internal::SimListener*> members;
    size_t next = 0;
  };
  struct PendingResolve {
    io::ResolveCallback done;
    absl::StatusOr<std::vector<io::Address>> result;
  };

  // A scheduled simulator event: a plain record in a binary heap ordered by
  // (time, seq), so equal times run in scheduling order.
  enum class EventKind : uint16_t {
    kSynArrive,     // slot/gen: conn
    kSynAckArrive,  // slot/gen: conn; aux: 1 accepted, 0 refused
    kSynTimer,      // slot/gen: conn; aux: retransmissions so far
    kDeliver,       // slot/gen: conn; aux: direction
    kDatagram,      // slot/gen: datagram record
    kResolve,       // slot/gen: resolve id, low and high half
    kRestart,       // slot: host; gen: host epoch
    kOffload,       // slot/gen: offload id, low and high half
  };
  struct Event {
    int64_t time_ns;
    uint64_t seq;
    uint32_t slot;
    uint32_t gen;
    EventKind kind;
    uint16_t aux;
  };
  struct ConnRef {
    uint32_t slot;
    uint32_t gen;
  };
  using BindKey = std::pair<HostId, io::Address>;

  // --- Clock and events ---
  int64_t NowNs() const { return now_ns_; }
  void Schedule(int64_t time_ns, EventKind kind, uint32_t slot, uint32_t gen,
                uint16_t aux);
  void AdvanceTo(int64_t time_ns);
  void ApplyDueEvents();
  void ApplyEvent(const Event& e);
  int Dispatch();
  bool HasWork() const;
  void Fold(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
  // One-way latency for a segment or datagram, per the plan, drawn at the
  // latency point (`subject`, `ordinal`).
  int64_t DrawLatencyNs(uint64_t subject, uint64_t ordinal) {
    return latency_min_ns_ == latency_max_ns_
               ? latency_min_ns_
               : DrawAt(PointOf(kPointLatency, subject, ordinal))
                     .BetweenSigned(latency_min_ns_, latency_max_ns_);
  }
  void CountFault(int kind);

  // --- Decision points (sim/fault_schedule.h) ---
  static constexpr uint64_t kPointLatency = 1000;
  static constexpr uint64_t kPointConnectLatency = 1001;
  // The identity of the `ordinal`-th point of `kind` on `subject`.
  static uint64_t PointOf(uint64_t kind, uint64_t subject, uint64_t ordinal) {
    return Mix64(Mix64(Mix64(kind * 0x9e3779b97f4a7c15ull) ^ subject) ^
                 ordinal);
  }
  // A generator for a choice that is not a fault (a latency) at `point`,
  // from the seed alone.
  Random DrawAt(uint64_t point) const { return Random(point ^ draw_salt_); }
  // Whether the plan's fault at `point`, of rate `probability`, strikes
  // (asking the decision source, then the filter); `params` is then the
  // generator for its parameters. A rate of 0 asks nobody.
  bool Strikes(uint64_t point, double probability, Random* params);
  bool logging() const { return options_.fault_log_max > 0; }
  void RecordFault(int kind, uint64_t point, std::string where,
                   std::string detail);
  // The next ordinal for a subject counted outside connections.
  uint32_t NextOrdinal(uint64_t key) { return ordinals_[key]++; }
  // "c3 127.0.0.1:32768 -> 127.0.0.1:7000" for direction `dir` of `c`.
  std::string ConnLabel(const Conn* c, int dir) const;
  std::string LinkLabel(const Link* link) const;
  // The subject of direction `dir` of a connection. Its points are
  // numbered by stream offset (see Flow::queued).
  static uint64_t FlowSubject(uint64_t conn_key, int dir) {
    return Mix64(conn_key ^ static_cast<uint64_t>(dir + 1));
  }
  // The subject of a connection's SYNs, numbered by attempt.
  static uint64_t SynSubject(uint64_t conn_key) {
    return Mix64(conn_key ^ 0x73796e73'796e7321ull);
  }

  // --- Hosts and links ---
  Host& HostRef(HostId host);
  const Host& HostRef(HostId host) const;
  // The host owning `ip` (wildcard -> default), or nullptr-like false.
  bool FindOwner(const io::Address& ip, HostId* host) const;
  Link* LinkBetween(HostId a, HostId b);
  // Virtual time until which the link is stalled (clog or partition), or
  // now when it is not.
  int64_t LinkBlockedUntil(const Link* link) const;
  bool LinkPartitioned(const Link* link) const;
  // The plan's clog and partition draws for something sent on `link`, at
  // the points (`subject`, `ordinal`) of each kind; `via` says, for the
  // fault log, what was sent.
  void MaybeLinkFaults(Link* link, uint64_t subject, uint64_t ordinal,
                       absl::FunctionRef<std::string()> via);
  uint16_t EphemeralPort(HostId host);
  // Where a listener or datagram socket on `address` lives: the owning host
  // (which must be up) and the address with an ephemeral port for port 0.
  struct LocalBinding {
    HostId host;
    io::Address address;
  };
  absl::StatusOr<LocalBinding> BindLocal(const io::Address& address,
                                         std::string_view operation);
  absl::Status TakeDescriptor(HostId host, std::string_view what);
  void ReleaseDescriptor(HostId host);

  // --- Handles ---
  uint64_t Register(internal::SimHandle* handle);
  void Unregister(internal::SimHandle* handle);
  // Recomputes whether the handle has anything to report.
  void Refresh(internal::SimHandle* handle);
  void RemoveReady(internal::SimHandle* handle);

  // --- Streams ---
  Conn* ConnAt(uint32_t slot, uint32_t gen);
  Conn* NewConn();
  void MaybeFreeConn(Conn* c);
  void ResetConn(Conn* c, std::string_view why);
  void DiscardFlow(Flow& f);
  void RefreshEnd(Conn* c, int end);
  void SendSyn(Conn* c, int64_t at_ns);
  void OnSynArrive(Conn* c);
  void OnSynLost(Conn* c);
  void OnSynAckArrive(Conn* c, bool accepted);
  void OnSynTimer(Conn* c, int attempt);
  void OnDeliver(Conn* c, int dir);
  void ArmDelivery(Conn* c, int dir, int64_t at_ns);
  void QueueSegment(Conn* c, int dir, uint32_t bytes, bool fin);
  void CheckConn(const Conn* c);
  uint32_t StreamReadiness(const internal::SimStream* s) const;
  io::IoResult StreamRead(internal::SimStream* s, char* buf, size_t len);
  io::IoResult StreamWrite(internal::SimStream* s, const io::ConstBuffer* b,
                           size_t count);
  absl::Status StreamShutdownWrite(internal::SimStream* s);
  void StreamClosed(internal::SimStream* s);
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> ListenerAccept(
      internal::SimListener* l);
  void ListenerClosed(internal::SimListener* l);
  BindGroup* FindListener(HostId host, const io::Address& to);

  // --- Datagrams ---
  io::IoResult DatagramSend(internal::SimDatagram* d, const io::Address& to,
                            const char* data, size_t len);
  io::IoResult DatagramReceive(internal::SimDatagram* d, char* buf, size_t len,
                               io::Address* from, bool* truncated);
  void DatagramClosed(internal::SimDatagram* d);
  void OnDatagram(uint32_t slot, uint32_t gen);
  void FreeDatagram(uint32_t slot);
  internal::SimDatagram* FindDatagramSocket(HostId host, const io::Address& to);

  // --- Resolution and reachability ---
  absl::StatusOr<std::vector<io::Address>> Lookup(std::string_view host) const;
  // What happens to connects to `remote`: the scripted fault of the address,
  // else of its family, else the plan's draws for this run.
  AddressFault ReachabilityOf(const io::Address& remote);

  SimOptions options_;
  const FaultPlan& plan_;
  Random rng_;                  // offload latencies
  const uint64_t draw_salt_;    // the seed, mixed, for DrawAt
  const uint64_t decide_salt_;  // the seed, mixed, for seeded decisions
  Random wall_rng_;  // wall clock jumps, apart so reading it shifts nothing
  Random seed_rng_;  // values for RandomSeed()

  // The plan's latency bounds, converted once: the hot paths draw from them.
  const int64_t latency_min_ns_;
  const int64_t latency_max_ns_;

  int64_t now_ns_ = 0;
  uint64_t next_seq_ = 0;
  std::vector<Event> heap_;
  std::atomic<bool> wake_{false};
  bool in_poll_ = false;

  // Wall clock: elapsed virtual time, scaled by the drift, plus jumps.
  int64_t wall_drift_ppb_ = 0;
  int64_t wall_jumps_ns_ = 0;
  int64_t next_wall_jump_ns_ = INT64_MAX;

  std::vector<std::unique_ptr<Host>> hosts_;
  HostId default_host_ = kLocalHost;
  std::map<io::Address, HostId> ip_owner_;                 // IPs with port 0
  std::map<std::pair<uint32_t, uint32_t>, Link> links_;    // stable addresses
  std::map<std::string, std::vector<io::Address>> names_;  // lower case
  std::map<io::Address, AddressFault> address_faults_;     // IPs with port 0
  AddressFault family_faults_[2];                          // IPv4, IPv6

  uint64_t next_handle_id_ = 1;
  absl::btree_map<uint64_t, internal::SimHandle*> handles_;  // by id
  // Handles with something to report, in no order (each knows its index);
  // Dispatch sorts their ids.
  std::vector<internal::SimHandle*> ready_;
  std::vector<uint64_t> dispatch_ids_;

  std::vector<std::unique_ptr<Conn>> conns_;  // slots, reused
  std::vector<uint32_t> free_conns_;
  size_t live_conns_ = 0;
  uint64_t next_conn_id_ = 1;
  std::map<BindKey, BindGroup> stream_binds_;
  std::map<BindKey, internal::SimDatagram*> datagram_binds_;

  std::vector<Datagram> datagrams_;  // slots, reused
  std::vector<uint32_t> free_datagrams_;

  uint64_t next_resolve_id_ = 1;
  std::map<uint64_t, PendingResolve> pending_resolves_;
  std::vector<PendingResolve> finished_resolves_;

  struct PendingOffload {
    absl::AnyInvocable<void()> work;
    absl::AnyInvocable<void()> done;
  };
  uint64_t next_offload_id_ = 1;
  std::map<uint64_t, PendingOffload> pending_offloads_;
  std::vector<PendingOffload> finished_offloads_;

  SimStats stats_;
  std::vector<uint64_t> fault_counts_;
  std::map<uint64_t, uint32_t> ordinals_;
  std::vector<FaultRecord> fault_log_;
  bool fault_log_truncated_ = false;
  uint64_t faults_suppressed_ = 0;
  uint64_t wall_jumps_drawn_ = 0;
  // Address faults drawn from the plan and logged already (the same draw
  // is looked at again on every connect).
  std::map<uint64_t, bool> address_faults_logged_;
  uint64_t trace_hash_ = 0xcbf29ce484222325ull;
  uint64_t events_since_sweep_ = 0;
};

}  // namespace ember::sim

#endif  // EMBER_SIM_SIM_NETWORK_H_
