// Internal to the simulator: the records SimNetwork keeps (hosts, flows,
// connections, datagrams), its handle classes, and the constants and small
// helpers its source files share. Included only by sim/*.cc.

#ifndef EMBER_SIM_INTERNAL_SIM_INTERNAL_H_
#define EMBER_SIM_INTERNAL_SIM_INTERNAL_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "io/address.h"
#include "io/check.h"
#include "io/error.h"
#include "io/network.h"
#include "sim/internal/ring.h"
#include "sim/sim_network.h"

namespace ember::sim {

using io::ErrorKind;
using io::IoResult;
using io::MakeError;

inline constexpr int64_t kNsPerSecond = 1'000'000'000;
inline constexpr int64_t kMsNs = 1'000'000;
inline constexpr size_t kDatagramBytesMax = 65507;
inline constexpr uint64_t kSweepEvents = 1024;
inline constexpr uint16_t kPortFirst = 32768;
inline constexpr uint16_t kPortLast = 60999;
// SYN retransmissions, as offsets from the connect, like Linux's 1 s initial
// RTO doubling each time.
inline constexpr int64_t kSynRetrySeconds[] = {1, 3, 7, 15, 31, 63};
inline constexpr int kSynRetries = 6;
// Stream faults that strike "per segment" (resets, crashes, clogs and
// partitions) are decided once per block of this many bytes of the stream,
// so that how the bytes were cut into segments does not move them.
inline constexpr uint64_t kStreamBlockBytes = 512;

enum FaultKind : int {
  kFaultAcceptNoResources,
  kFaultBacklogFull,
  kFaultClog,
  kFaultCrash,
  kFaultDatagramDuplicate,
  kFaultDatagramLoss,
  kFaultDatagramReorder,
  kFaultDatagramTruncate,
  kFaultPartition,
  kFaultReset,
  kFaultResolveFailure,
  kFaultRestart,
  kFaultShortWrite,
  kFaultSplit,
  kFaultWallJump,
  kFaultAddressBlackhole,
  kFaultAddressRefuse,
  kFaultAddressSlow,
  kFaultKinds,
};

inline constexpr const char* kFaultNames[kFaultKinds] = {
    "accept_no_resources",
    "backlog_full",
    "clog",
    "crash",
    "datagram_duplicate",
    "datagram_loss",
    "datagram_reorder",
    "datagram_truncate",
    "partition",
    "reset",
    "resolve_failure",
    "restart",
    "short_write",
    "split",
    "wall_jump",
    "address_blackhole",
    "address_refuse",
    "address_slow",
};

// Tags for what is folded into the trace hash besides scheduled events.
enum TraceTag : uint64_t {
  kTraceEvent = 1,
  kTraceConnect,
  kTraceListen,
  kTraceAccept,
  kTraceWrite,
  kTraceRead,
  kTraceShutdown,
  kTraceClose,
  kTraceReset,
  kTraceDeliver,
  kTraceDispatch,
  kTraceDatagramSend,
  kTraceDatagramReceive,
  kTraceDatagramDrop,
  kTraceResolve,
  kTraceFault,
  kTraceCrash,
  kTraceRestart,
  kTraceWallJump,
  kTraceOpenDatagram,
  kTraceOffload,
};

inline int64_t Ns(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

inline bool IsWildcard(const io::Address& a) {
  if (!a.is_ip()) return false;
  const size_t n = a.family() == io::Address::Family::kIpv4 ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if (a.ip_bytes()[i] != 0) return false;
  }
  return true;
}

inline io::Address WildcardOf(io::Address::Family family, uint16_t port) {
  if (family == io::Address::Family::kIpv4) return io::Address::Any4(port);
  return io::Address::Ipv6(std::array<uint8_t, 16>{}, port);
}

// The IP part alone, as `ip_owner_` keys it.
inline io::Address IpOnly(const io::Address& a) { return a.WithPort(0); }

// ---------------------------------------------------------------------------
// Internal records.

struct SimNetwork::Host {
  std::string name;
  std::vector<io::Address> ips;  // port 0
  bool up = true;
  uint32_t epoch = 0;  // crashes so far; stale restarts are ignored
  uint16_t next_port = kPortFirst;
  int descriptors = 0;
  absl::AnyInvocable<void()> restart_hook;

  // The first IP of `family`, with `port`; false when the host has none.
  bool FirstIp(io::Address::Family family, uint16_t port,
               io::Address* out) const {
    for (const io::Address& ip : ips) {
      if (ip.family() == family) {
        *out = ip.WithPort(port);
        return true;
      }
    }
    return false;
  }
};

// A run of stream bytes (or the end of stream) travelling one direction.
struct Segment {
  int64_t due_ns;
  uint32_t bytes;
  bool fin;
  uint64_t offset;  // of its first byte in the stream
};

enum class EndState : uint8_t {
  kAbsent,      // server end before the SYN arrives
  kConnecting,  // client end before the answer
  kOpen,
  kFailed,  // client end whose connect failed
};

// The decision points counted per datagram socket and listener: each kind
// has its own ordinal, so one kind's points are numbered the same whatever
// the others do. (A stream's points are numbered by stream offset.)
enum DrawKind : int {
  kDrawLatency,
  kDrawClog,
  kDrawLoss,
  kDrawDuplicate,
  kDrawTruncate,
  kDrawReorder,
  kDrawAccept,
  kDrawKinds,
};

// One direction of a connection: bytes from ends[d] to ends[1 - d].
struct SimNetwork::Flow {
  internal::ByteRing bytes;  // `unread` at the front, `in_flight` behind
  internal::RingQueue<Segment> segments;  // in flight, due times ascending
  uint64_t unread = 0;
  uint64_t in_flight = 0;
  uint64_t written = 0;
  uint64_t read = 0;
  uint64_t discarded = 0;
  int64_t busy_until_ns = 0;     // bandwidth: when the sender's line is free
  int64_t last_due_ns = 0;       // no segment may arrive before this
  int64_t armed_ns = INT64_MAX;  // earliest delivery event scheduled
  bool fin_queued = false;
  bool fin_delivered = false;
  // Bytes put into segments so far: the next segment's offset in the
  // stream, which numbers its decision points.
  uint64_t queued = 0;
  // Blocks of kStreamBlockBytes whose link-fault points (queued_blocks)
  // and reset and crash points (delivered_blocks) were decided.
  uint64_t queued_blocks = 0;
  uint64_t delivered_blocks = 0;

  void Reinit() {
    queued = queued_blocks = delivered_blocks = 0;
    bytes.Clear();
    segments.clear();
    unread = in_flight = written = read = discarded = 0;
    busy_until_ns = last_due_ns = 0;
    armed_ns = INT64_MAX;
    fin_queued = fin_delivered = false;
  }
};

struct SimNetwork::End {
  internal::SimStream* handle = nullptr;
  HostId host = kLocalHost;
  io::Address local;
  EndState state = EndState::kAbsent;
  // No handle now and none will come: the owner closed it, or it was never
  // created or accepted.
  bool released = true;
  bool write_shut = false;
  absl::Status connect_result;  // client: how the connect ended
  absl::Status error;           // sticky once set
};

struct SimNetwork::Conn {
  uint32_t slot = 0;
  uint32_t gen = 0;
  bool live = false;
  uint64_t id = 0;
  // The connection's identity for fault decisions: the client's host, the
  // address it connects to, and how many connections that host opened to
  // that address before (sim/fault_schedule.h).
  uint64_t key = 0;
  uint32_t syn_attempts = 0;  // SYNs sent, numbering their points
  End ends[2];           // 0: client, 1: server
  Flow flows[2];         // flows[d] carries ends[d]'s writes
  Link* link = nullptr;  // null when no host owns the server address
  bool server_known = false;
  io::Address remote;        // where the client connects
  bool established = false;  // the server has queued it
  bool dead = false;         // reset: nothing moves any more
  bool syn_timer = false;    // the retransmission timer is running
  int64_t connect_start_ns = 0;
  int64_t rtt_ns = 0;

  void Reinit() {
    for (End& e : ends) e = End();
    for (Flow& f : flows) f.Reinit();
    link = nullptr;
    server_known = false;
    remote = io::Address();
    established = dead = syn_timer = false;
    connect_start_ns = rtt_ns = 0;
    key = 0;
    syn_attempts = 0;
  }
};

struct SimNetwork::Datagram {
  std::string payload;  // capacity kept across reuse
  io::Address from;
  io::Address to;
  uint64_t sender_id = 0;
  size_t sent_bytes = 0;  // charged to the sender's send buffer
  uint32_t gen = 0;
  bool live = false;
  bool charged = false;  // still counted in the sender's in-flight bytes
};

// ---------------------------------------------------------------------------
// Handles.

namespace internal {

class SimHandle {
 public:
  SimHandle(SimNetwork* net, HostId host) : net_(net), host_(host) {
    id_ = net_->Register(this);
  }
  virtual ~SimHandle() = default;

  // What the handle would report now, before masking by interest.
  virtual uint32_t Readiness() const = 0;

  void DoSetWatcher(io::IoWatcher* watcher) {
    watcher_ = watcher;
    net_->Refresh(this);
  }
  void DoSetInterest(uint32_t interest) {
    interest_ = interest & (io::kReadable | io::kWritable);
    net_->Refresh(this);
  }

  SimNetwork* const net_;
  const HostId host_;
  // Listeners and datagram sockets: identity and decision points for the
  // faults that hit them (see Conn::key).
  uint64_t fault_key_ = 0;
  uint32_t draws_[kDrawKinds] = {};
  uint64_t id_ = 0;
  io::IoWatcher* watcher_ = nullptr;
  uint32_t interest_ = 0;
  // Position in SimNetwork::ready_, or kNotReady.
  static constexpr size_t kNotReady = SIZE_MAX;
  size_t ready_pos_ = kNotReady;
  bool in_ready() const { return ready_pos_ != kNotReady; }
};

class SimStream final : public io::StreamSocket, public SimHandle {
 public:
  SimStream(SimNetwork* net, HostId host, SimNetwork::Conn* conn, int end)
      : SimHandle(net, host), conn_(conn), end_(end) {}
  ~SimStream() override { net_->StreamClosed(this); }

  void SetWatcher(io::IoWatcher* watcher) override { DoSetWatcher(watcher); }
  void SetInterest(uint32_t interest) override { DoSetInterest(interest); }
  uint32_t Readiness() const override { return net_->StreamReadiness(this); }

  absl::Status FinishConnect() override {
    const SimNetwork::End& me = conn_->ends[end_];
    if (end_ == 1) return absl::OkStatus();
    if (me.state == EndState::kConnecting) {
      return absl::FailedPreconditionError(
          absl::StrCat("connect ", conn_->remote.ToString(),
                       ": still in progress (wait for kWritable)"));
    }
    return me.connect_result;
  }
  IoResult Read(char* buf, size_t len) override {
    return net_->StreamRead(this, buf, len);
  }
  IoResult Write(const io::ConstBuffer* buffers, size_t count) override {
    return net_->StreamWrite(this, buffers, count);
  }
  absl::Status ShutdownWrite() override {
    return net_->StreamShutdownWrite(this);
  }
  absl::StatusOr<io::Address> LocalAddress() const override {
    return conn_->ends[end_].local;
  }
  absl::StatusOr<io::Address> PeerAddress() const override {
    const SimNetwork::End& me = conn_->ends[end_];
    if (me.state != EndState::kOpen) {
      return MakeError(ErrorKind::kOther, "peer address",
                       "not connected (ENOTCONN)");
    }
    return conn_->ends[1 - end_].local;
  }
  absl::Status SetNoDelay(bool on) override {
    no_delay_ = on;
    return absl::OkStatus();
  }
  // Validated as Linux would take it (whole seconds, rounded up); otherwise
  // recorded only: the simulator sends no probes.
  absl::Status SetKeepAlive(const io::KeepAliveOptions& options) override {
    if (conn_->remote.is_unix()) return absl::OkStatus();
    if (options.enabled) {
      EMBER_RETURN_IF_ERROR(io::KeepAliveForKernel(options).status());
    }
    keep_alive_ = options;
    return absl::OkStatus();
  }

  SimNetwork::Conn* const conn_;
  const int end_;
  bool no_delay_ = false;
  io::KeepAliveOptions keep_alive_{.enabled = false};
};

class SimListener final : public io::Listener, public SimHandle {
 public:
  SimListener(SimNetwork* net, HostId host, io::Address local, int backlog)
      : SimHandle(net, host), local_(std::move(local)), backlog_(backlog) {}
  ~SimListener() override { net_->ListenerClosed(this); }

  void SetWatcher(io::IoWatcher* watcher) override { DoSetWatcher(watcher); }
  void SetInterest(uint32_t interest) override { DoSetInterest(interest); }
  uint32_t Readiness() const override {
    if (!error_.ok()) return io::kReadable | io::kWritable;
    return queue_.empty() ? 0 : io::kReadable;
  }

  absl::StatusOr<std::unique_ptr<io::StreamSocket>> Accept() override {
    return net_->ListenerAccept(this);
  }
  io::Address LocalAddress() const override { return local_; }

  const io::Address local_;
  const int backlog_;  // at least 1
  bool reuse_port_ = false;
  bool bound_ = false;
  absl::Status error_;  // set when its host crashed
  RingQueue<SimNetwork::ConnRef> queue_;
};

class SimDatagram final : public io::DatagramSocket, public SimHandle {
 public:
  SimDatagram(SimNetwork* net, HostId host, io::Address local)
      : SimHandle(net, host), local_(std::move(local)) {}
  ~SimDatagram() override { net_->DatagramClosed(this); }

  void SetWatcher(io::IoWatcher* watcher) override { DoSetWatcher(watcher); }
  void SetInterest(uint32_t interest) override { DoSetInterest(interest); }
  uint32_t Readiness() const override {
    if (!error_.ok()) return io::kReadable | io::kWritable;
    uint32_t r = 0;
    if (!queue_.empty()) r |= io::kReadable;
    if (in_flight_bytes_ < net_->options_.datagram_send_buffer_bytes) {
      r |= io::kWritable;
    }
    return r;
  }

  IoResult SendTo(const io::Address& to, const char* data,
                  size_t len) override {
    return net_->DatagramSend(this, to, data, len);
  }
  IoResult ReceiveFrom(char* buf, size_t len, io::Address* from,
                       bool* truncated) override {
    return net_->DatagramReceive(this, buf, len, from, truncated);
  }
  io::Address LocalAddress() const override { return local_; }

  const io::Address local_;
  bool bound_ = false;
  absl::Status error_;         // set when its host crashed
  RingQueue<uint32_t> queue_;  // datagram slots, arrival order
  size_t queued_bytes_ = 0;
  size_t in_flight_bytes_ = 0;
};

}  // namespace internal

using internal::SimDatagram;
using internal::SimHandle;
using internal::SimListener;
using internal::SimStream;

// Whether binding `a` and `b` on one host clash, as on Linux without
// SO_REUSEPORT: the same Unix path; or the same port where the families meet
// (an IPv6 wildcard takes IPv4 too) and either the same address or a
// wildcard on one side. Equal addresses clash here; the caller decides
// whether SO_REUSEPORT lets them share.
inline bool BindsOverlap(const io::Address& a, const io::Address& b) {
  if (a.is_unix() || b.is_unix()) return a == b;
  if (a.port() != b.port()) return false;
  const bool v6_any =
      (IsWildcard(a) && a.family() == io::Address::Family::kIpv6) ||
      (IsWildcard(b) && b.family() == io::Address::Family::kIpv6);
  if (a.family() != b.family() && !v6_any) return false;
  return a == b || IsWildcard(a) || IsWildcard(b);
}

// Whether `addr` clashes with anything bound on `host` in `table` (keyed by
// host, then address).
template <typename Table>
bool AnyBindOverlaps(const Table& table, HostId host, const io::Address& addr) {
  for (auto it = table.lower_bound({host, io::Address()});
       it != table.end() && it->first.first == host; ++it) {
    if (BindsOverlap(it->first.second, addr)) return true;
  }
  return false;
}

}  // namespace ember::sim

#endif  // EMBER_SIM_INTERNAL_SIM_INTERNAL_H_
