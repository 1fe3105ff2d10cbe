#include "sim/sim_network.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "io/error.h"
#include "io/hash.h"
#include "io/resolve.h"
#include "sim/internal/ring.h"

namespace ember::sim {

namespace {

using io::ErrorKind;
using io::IoResult;
using io::MakeError;

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kMsNs = 1'000'000;
constexpr size_t kDatagramBytesMax = 65507;
constexpr uint64_t kSweepEvents = 1024;
constexpr uint16_t kPortFirst = 32768;
constexpr uint16_t kPortLast = 60999;
// SYN retransmissions, as offsets from the connect, like Linux's 1 s initial
// RTO doubling each time.
constexpr int64_t kSynRetrySeconds[] = {1, 3, 7, 15, 31, 63};
constexpr int kSynRetries = 6;

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

constexpr const char* kFaultNames[kFaultKinds] = {
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

int64_t Ns(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

bool IsWildcard(const io::Address& a) {
  if (!a.is_ip()) return false;
  const size_t n = a.family() == io::Address::Family::kIpv4 ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if (a.ip_bytes()[i] != 0) return false;
  }
  return true;
}

io::Address WildcardOf(io::Address::Family family, uint16_t port) {
  if (family == io::Address::Family::kIpv4) return io::Address::Any4(port);
  return io::Address::Ipv6(std::array<uint8_t, 16>{}, port);
}

// The IP part alone, as `ip_owner_` keys it.
io::Address IpOnly(const io::Address& a) { return a.WithPort(0); }

}  // namespace

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

namespace {

// A run of stream bytes (or the end of stream) travelling one direction.
struct Segment {
  int64_t due_ns;
  uint32_t bytes;
  bool fin;
};

enum class EndState : uint8_t {
  kAbsent,      // server end before the SYN arrives
  kConnecting,  // client end before the answer
  kOpen,
  kFailed,  // client end whose connect failed
};

}  // namespace

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

  void Reinit() {
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

// ---------------------------------------------------------------------------
// Construction, clock, events.

SimNetwork::SimNetwork(SimOptions options)
    : options_(std::move(options)),
      plan_(options_.plan),
      rng_(options_.seed),
      wall_rng_(Mix64(options_.seed ^ 0x57414c4c'434c4f43ull)),
      seed_rng_(Mix64(options_.seed ^ 0x52454143'544f5221ull)),
      latency_min_ns_(Ns(options_.plan.latency_min)),
      latency_max_ns_(Ns(options_.plan.latency_max)),
      fault_counts_(kFaultKinds, 0) {
  const absl::Status valid = plan_.Validate();
  EMBER_CHECK_MSG(valid.ok(), valid.ToString().c_str());
  EMBER_CHECK(options_.descriptors_per_host_max >= 0);
  EMBER_CHECK(options_.connect_timeout > absl::ZeroDuration());

  if (plan_.wall_drift_ppm_max > 0) {
    const int64_t ppb = plan_.wall_drift_ppm_max * 1000;
    wall_drift_ppb_ = wall_rng_.BetweenSigned(-ppb, ppb);
  }
  if (plan_.wall_jump_interval > absl::ZeroDuration()) {
    const int64_t interval = Ns(plan_.wall_jump_interval);
    next_wall_jump_ns_ =
        wall_rng_.BetweenSigned(interval / 2, interval + interval / 2);
  }

  auto host = std::make_unique<Host>();
  host->name = "localhost";
  host->ips = {io::Address::Loopback4(0), io::Address::Loopback6(0)};
  for (const io::Address& ip : host->ips) ip_owner_[ip] = kLocalHost;
  hosts_.push_back(std::move(host));
  // The seed itself is not folded into the trace hash: the hash says what
  // happened, so two seeds that lead to the same run hash alike.
}

SimNetwork::~SimNetwork() {
  EMBER_CHECK_MSG(handles_.empty(),
                  "every handle must be destroyed before its SimNetwork");
  CheckInvariants();
}

absl::Time SimNetwork::Now() {
  return options_.monotonic_start + absl::Nanoseconds(now_ns_);
}

absl::Time SimNetwork::WallNow() {
  const __int128 drift =
      static_cast<__int128>(now_ns_) * wall_drift_ppb_ / kNsPerSecond;
  return options_.wall_start +
         absl::Nanoseconds(now_ns_ + static_cast<int64_t>(drift) +
                           wall_jumps_ns_);
}

uint64_t SimNetwork::RandomSeed() { return seed_rng_.Next(); }

void SimNetwork::Wake() { wake_.store(true, std::memory_order_release); }

void SimNetwork::Fold(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  // A multiply-xorshift step per word: each is a bijection of the state,
  // so one differing word keeps two traces apart, and the shifts carry high
  // bits down so later words mix with all of it.
  constexpr uint64_t kOdd = 0x9e3779b97f4a7c15ull;
  uint64_t h = trace_hash_;
  h = (h ^ a) * kOdd;
  h = (h ^ (h >> 29) ^ b) * kOdd;
  h = (h ^ (h >> 29) ^ c) * kOdd;
  h = (h ^ (h >> 29) ^ d) * kOdd;
  trace_hash_ = h ^ (h >> 32);
}

void SimNetwork::CountFault(int kind) {
  ++fault_counts_[kind];
  Fold(kTraceFault, static_cast<uint64_t>(kind), static_cast<uint64_t>(now_ns_),
       0);
}

namespace {
struct EventLater {
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    if (a.time_ns != b.time_ns) return a.time_ns > b.time_ns;
    return a.seq > b.seq;
  }
};
}  // namespace

void SimNetwork::Schedule(int64_t time_ns, EventKind kind, uint32_t slot,
                          uint32_t gen, uint16_t aux) {
  EMBER_CHECK_MSG(time_ns >= now_ns_, "event scheduled in the past");
  heap_.push_back(Event{time_ns, next_seq_++, slot, gen, kind, aux});
  std::push_heap(heap_.begin(), heap_.end(), EventLater());
}

void SimNetwork::AdvanceTo(int64_t time_ns) {
  EMBER_CHECK_MSG(time_ns >= now_ns_, "the virtual clock went backwards");
  now_ns_ = time_ns;
  while (next_wall_jump_ns_ <= now_ns_) {
    const int64_t max = Ns(plan_.wall_jump_max);
    const int64_t jump = max > 0 ? wall_rng_.BetweenSigned(-max, max) : 0;
    wall_jumps_ns_ += jump;
    ++fault_counts_[kFaultWallJump];
    Fold(kTraceWallJump, static_cast<uint64_t>(next_wall_jump_ns_),
         static_cast<uint64_t>(jump), 0);
    const int64_t interval = Ns(plan_.wall_jump_interval);
    next_wall_jump_ns_ += std::max<int64_t>(
        1, wall_rng_.BetweenSigned(interval / 2, interval + interval / 2));
  }
}

void SimNetwork::ApplyDueEvents() {
  while (!heap_.empty() && heap_.front().time_ns <= now_ns_) {
    std::pop_heap(heap_.begin(), heap_.end(), EventLater());
    const Event e = heap_.back();
    heap_.pop_back();
    EMBER_CHECK(e.time_ns == now_ns_);
    ++stats_.events_processed;
    Fold(kTraceEvent, static_cast<uint64_t>(e.time_ns),
         (uint64_t{e.slot} << 32) | e.gen,
         (static_cast<uint64_t>(e.kind) << 16) | e.aux);
    ApplyEvent(e);
    if (++events_since_sweep_ >= kSweepEvents) CheckInvariants();
  }
}

void SimNetwork::ApplyEvent(const Event& e) {
  switch (e.kind) {
    case EventKind::kSynArrive:
      if (Conn* c = ConnAt(e.slot, e.gen)) OnSynArrive(c);
      return;
    case EventKind::kSynAckArrive:
      if (Conn* c = ConnAt(e.slot, e.gen)) OnSynAckArrive(c, e.aux != 0);
      return;
    case EventKind::kSynTimer:
      if (Conn* c = ConnAt(e.slot, e.gen)) OnSynTimer(c, e.aux);
      return;
    case EventKind::kDeliver:
      if (Conn* c = ConnAt(e.slot, e.gen)) OnDeliver(c, e.aux);
      return;
    case EventKind::kDatagram:
      OnDatagram(e.slot, e.gen);
      return;
    case EventKind::kResolve: {
      const uint64_t id = (uint64_t{e.gen} << 32) | e.slot;
      auto it = pending_resolves_.find(id);
      EMBER_CHECK(it != pending_resolves_.end());
      finished_resolves_.push_back(std::move(it->second));
      pending_resolves_.erase(it);
      return;
    }
    case EventKind::kOffload: {
      const uint64_t id = (uint64_t{e.gen} << 32) | e.slot;
      auto it = pending_offloads_.find(id);
      EMBER_CHECK(it != pending_offloads_.end());
      finished_offloads_.push_back(std::move(it->second));
      pending_offloads_.erase(it);
      return;
    }
    case EventKind::kRestart: {
      Host& h = HostRef(HostId{e.slot});
      if (!h.up && h.epoch == e.gen) RestartHost(HostId{e.slot});
      return;
    }
  }
}

bool SimNetwork::HasWork() const {
  return !ready_.empty() || !finished_resolves_.empty() ||
         !finished_offloads_.empty();
}

absl::StatusOr<int> SimNetwork::Poll(absl::Time deadline) {
  EMBER_CHECK_MSG(!in_poll_, "Poll called from inside a callback");
  in_poll_ = true;
  ++stats_.polls;
  int64_t deadline_ns;
  if (deadline == absl::InfiniteFuture()) {
    deadline_ns = INT64_MAX;
  } else if (deadline <= Now()) {
    deadline_ns = now_ns_;
  } else {
    deadline_ns = Ns(deadline - options_.monotonic_start);
  }

  ApplyDueEvents();
  if (!wake_.load(std::memory_order_acquire) && !HasWork()) {
    while (!heap_.empty() && heap_.front().time_ns <= deadline_ns) {
      AdvanceTo(heap_.front().time_ns);
      ApplyDueEvents();
      if (HasWork() || wake_.load(std::memory_order_acquire)) break;
    }
    if (!HasWork() && !wake_.load(std::memory_order_acquire)) {
      if (deadline_ns == INT64_MAX) {
        in_poll_ = false;
        return absl::FailedPreconditionError(
            "simulation is idle forever: nothing can ever happen");
      }
      if (deadline_ns > now_ns_) AdvanceTo(deadline_ns);
    }
  }
  wake_.store(false, std::memory_order_release);
  const int n = Dispatch();
  in_poll_ = false;
  return n;
}

int SimNetwork::Dispatch() {
  int n = 0;
  if (!finished_resolves_.empty()) {
    std::vector<PendingResolve> batch;
    batch.swap(finished_resolves_);
    for (PendingResolve& r : batch) {
      Fold(kTraceResolve, static_cast<uint64_t>(now_ns_), r.result.ok(), 0);
      std::move(r.done)(std::move(r.result));
      ++n;
    }
  }
  if (!finished_offloads_.empty()) {
    std::vector<PendingOffload> batch;
    batch.swap(finished_offloads_);
    for (PendingOffload& job : batch) {
      Fold(kTraceOffload, static_cast<uint64_t>(now_ns_), 0, 0);
      std::move(job.work)();
      std::move(job.done)();
      ++n;
    }
  }
  // Creation order, whatever order handles became ready in.
  dispatch_ids_.clear();
  for (const SimHandle* h : ready_) dispatch_ids_.push_back(h->id_);
  std::sort(dispatch_ids_.begin(), dispatch_ids_.end());
  for (uint64_t id : dispatch_ids_) {
    auto it = handles_.find(id);
    if (it == handles_.end()) continue;  // destroyed by an earlier callback
    SimHandle* h = it->second;
    if (!h->in_ready()) continue;  // no longer ready or interested
    const uint32_t readiness = h->Readiness() & h->interest_;
    if (readiness == 0 || h->watcher_ == nullptr) {
      Refresh(h);
      continue;
    }
    Fold(kTraceDispatch, id, readiness, static_cast<uint64_t>(now_ns_));
    ++n;
    h->watcher_->OnIoReady(readiness);  // may destroy h
  }
  stats_.callbacks += n;
  return n;
}

// ---------------------------------------------------------------------------
// Handles.

uint64_t SimNetwork::Register(SimHandle* handle) {
  const uint64_t id = next_handle_id_++;
  handles_.emplace(id, handle);
  return id;
}

void SimNetwork::Unregister(SimHandle* handle) {
  handles_.erase(handle->id_);
  if (handle->in_ready()) RemoveReady(handle);
}

void SimNetwork::RemoveReady(SimHandle* handle) {
  const size_t pos = handle->ready_pos_;
  EMBER_CHECK(pos < ready_.size() && ready_[pos] == handle);
  ready_[pos] = ready_.back();
  ready_[pos]->ready_pos_ = pos;
  ready_.pop_back();
  handle->ready_pos_ = SimHandle::kNotReady;
}

void SimNetwork::Refresh(SimHandle* handle) {
  const bool want = handle->watcher_ != nullptr &&
                    (handle->Readiness() & handle->interest_) != 0;
  if (want == handle->in_ready()) return;
  if (want) {
    handle->ready_pos_ = ready_.size();
    ready_.push_back(handle);
  } else {
    RemoveReady(handle);
  }
}

// ---------------------------------------------------------------------------
// Hosts and links.

SimNetwork::Host& SimNetwork::HostRef(HostId host) {
  const uint32_t i = static_cast<uint32_t>(host);
  EMBER_CHECK_MSG(i < hosts_.size(), "no such simulated host");
  return *hosts_[i];
}

const SimNetwork::Host& SimNetwork::HostRef(HostId host) const {
  const uint32_t i = static_cast<uint32_t>(host);
  EMBER_CHECK_MSG(i < hosts_.size(), "no such simulated host");
  return *hosts_[i];
}

bool SimNetwork::FindOwner(const io::Address& ip, HostId* host) const {
  if (ip.is_unix()) {
    *host = kLocalHost;
    return true;
  }
  if (!ip.is_ip()) return false;
  if (IsWildcard(ip)) {
    *host = default_host_;
    return true;
  }
  auto it = ip_owner_.find(IpOnly(ip));
  if (it == ip_owner_.end()) return false;
  *host = it->second;
  return true;
}

HostId SimNetwork::AddHost(std::string name, std::vector<io::Address> ips) {
  EMBER_CHECK_MSG(!ips.empty(), "a host needs at least one IP");
  const HostId id{static_cast<uint32_t>(hosts_.size())};
  auto host = std::make_unique<Host>();
  host->name = std::move(name);
  for (const io::Address& ip : ips) {
    EMBER_CHECK_MSG(ip.is_ip() && !IsWildcard(ip),
                    "host addresses must be IP literals, not wildcards");
    const io::Address key = IpOnly(ip);
    EMBER_CHECK_MSG(ip_owner_.find(key) == ip_owner_.end(),
                    "IP already owned by another simulated host");
    ip_owner_[key] = id;
    host->ips.push_back(key);
  }
  names_[absl::AsciiStrToLower(host->name)] = host->ips;
  hosts_.push_back(std::move(host));
  return id;
}

void SimNetwork::SetDefaultHost(HostId host) {
  HostRef(host);  // checks it exists
  default_host_ = host;
}

absl::StatusOr<HostId> SimNetwork::HostOf(const io::Address& address) const {
  HostId host;
  if (FindOwner(address, &host)) return host;
  return absl::NotFoundError(
      absl::StrCat("no simulated host owns ", address.ToString()));
}

const std::string& SimNetwork::HostName(HostId host) const {
  return HostRef(host).name;
}

bool SimNetwork::HostIsUp(HostId host) const { return HostRef(host).up; }

void SimNetwork::AddName(std::string_view name,
                         std::vector<io::Address> addresses) {
  names_[absl::AsciiStrToLower(AbslView(name))] = std::move(addresses);
}

SimNetwork::Link* SimNetwork::LinkBetween(HostId a, HostId b) {
  uint32_t x = static_cast<uint32_t>(a);
  uint32_t y = static_cast<uint32_t>(b);
  if (x > y) std::swap(x, y);
  return &links_[{x, y}];
}

int64_t SimNetwork::LinkBlockedUntil(const Link* link) const {
  if (link == nullptr) return now_ns_;
  return std::max(
      {now_ns_, link->clogged_until_ns, link->partitioned_until_ns});
}

bool SimNetwork::LinkPartitioned(const Link* link) const {
  return link != nullptr && link->partitioned_until_ns > now_ns_;
}

void SimNetwork::MaybeLinkFaults(Link* link) {
  if (link == nullptr) return;
  if (rng_.Chance(plan_.clog_probability)) {
    const int64_t d =
        Ns(rng_.DurationBetween(absl::ZeroDuration(), plan_.clog_duration_max));
    link->clogged_until_ns = std::max(link->clogged_until_ns, now_ns_ + d);
    CountFault(kFaultClog);
  }
  if (rng_.Chance(plan_.partition_probability)) {
    const int64_t d = Ns(rng_.DurationBetween(absl::ZeroDuration(),
                                              plan_.partition_duration_max));
    link->partitioned_until_ns =
        std::max(link->partitioned_until_ns, now_ns_ + d);
    CountFault(kFaultPartition);
  }
}

uint16_t SimNetwork::EphemeralPort(HostId host) {
  Host& h = HostRef(host);
  auto taken = [&](uint16_t port) {
    for (auto it = stream_binds_.lower_bound({host, io::Address()});
         it != stream_binds_.end() && it->first.first == host; ++it) {
      if (it->first.second.port() == port) return true;
    }
    for (auto it = datagram_binds_.lower_bound({host, io::Address()});
         it != datagram_binds_.end() && it->first.first == host; ++it) {
      if (it->first.second.port() == port) return true;
    }
    return false;
  };
  for (int tries = 0; tries <= kPortLast - kPortFirst; ++tries) {
    const uint16_t port = h.next_port;
    h.next_port = port == kPortLast ? kPortFirst : port + 1;
    if (!taken(port)) return port;
  }
  return h.next_port;  // every port bound: share one, as reuse would
}

absl::Status SimNetwork::TakeDescriptor(HostId host, std::string_view what) {
  Host& h = HostRef(host);
  if (h.descriptors >= options_.descriptors_per_host_max) {
    return MakeError(ErrorKind::kNoResources, what,
                     "too many open files (EMFILE)");
  }
  ++h.descriptors;
  return absl::OkStatus();
}

void SimNetwork::ReleaseDescriptor(HostId host) {
  Host& h = HostRef(host);
  EMBER_CHECK(h.descriptors > 0);
  --h.descriptors;
}

// ---------------------------------------------------------------------------
// Scripted faults.

void SimNetwork::Partition(HostId a, HostId b, absl::Duration duration) {
  Link* link = LinkBetween(a, b);
  link->partitioned_until_ns =
      std::max(link->partitioned_until_ns, now_ns_ + Ns(duration));
  CountFault(kFaultPartition);
}

void SimNetwork::Clog(HostId a, HostId b, absl::Duration duration) {
  Link* link = LinkBetween(a, b);
  link->clogged_until_ns =
      std::max(link->clogged_until_ns, now_ns_ + Ns(duration));
  CountFault(kFaultClog);
}

void SimNetwork::Heal(HostId a, HostId b) {
  Link* link = LinkBetween(a, b);
  link->clogged_until_ns = std::min(link->clogged_until_ns, now_ns_);
  link->partitioned_until_ns = std::min(link->partitioned_until_ns, now_ns_);
  // Deliveries waiting for the old heal time resume now.
  for (auto& slot : conns_) {
    Conn* c = slot.get();
    if (!c->live || c->link != link || c->dead) continue;
    for (int d = 0; d < 2; ++d) {
      if (!c->flows[d].segments.empty()) {
        ArmDelivery(c, d,
                    std::max(now_ns_, c->flows[d].segments.front().due_ns));
      }
    }
  }
}

int SimNetwork::ResetConnection(const io::Address& a, const io::Address& b) {
  int n = 0;
  for (auto& slot : conns_) {
    Conn* c = slot.get();
    if (!c->live || c->dead) continue;
    const io::Address& x = c->ends[0].local;
    const io::Address& y = c->ends[1].local;
    if ((x == a && y == b) || (x == b && y == a)) {
      if (c->ends[0].state == EndState::kConnecting) {
        const absl::Status s = MakeError(ErrorKind::kReset, "connect",
                                         "connection reset by the test");
        c->ends[0].state = EndState::kFailed;
        c->ends[0].connect_result = s;
        c->ends[0].error = s;
      }
      CountFault(kFaultReset);
      ResetConn(c, "connection reset by the test");
      MaybeFreeConn(c);
      ++n;
    }
  }
  return n;
}

void SimNetwork::CrashHost(HostId host) {
  Host& h = HostRef(host);
  if (!h.up) return;
  h.up = false;
  ++h.epoch;
  CountFault(kFaultCrash);
  Fold(kTraceCrash, static_cast<uint32_t>(host), h.epoch, 0);
  const absl::Status dead = MakeError(
      ErrorKind::kClosed, "socket", absl::StrCat("host ", h.name, " crashed"));

  // Listeners die; their queued connections go with them.
  for (auto it = stream_binds_.lower_bound({host, io::Address()});
       it != stream_binds_.end() && it->first.first == host;) {
    for (SimListener* l : it->second.members) {
      l->error_ = dead;
      l->bound_ = false;
      while (!l->queue_.empty()) {
        const ConnRef ref = l->queue_.front();
        l->queue_.pop_front();
        if (Conn* c = ConnAt(ref.slot, ref.gen)) {
          c->ends[1].released = true;
          ResetConn(c, absl::StrCat("host ", h.name, " crashed"));
          MaybeFreeConn(c);
        }
      }
      Refresh(l);
    }
    it = stream_binds_.erase(it);
  }
  for (auto it = datagram_binds_.lower_bound({host, io::Address()});
       it != datagram_binds_.end() && it->first.first == host;) {
    SimDatagram* d = it->second;
    d->error_ = dead;
    d->bound_ = false;
    while (!d->queue_.empty()) {
      const uint32_t slot = d->queue_.front();
      d->queue_.pop_front();
      ++stats_.datagrams_lost;
      FreeDatagram(slot);
    }
    d->queued_bytes_ = 0;
    Refresh(d);
    it = datagram_binds_.erase(it);
  }
  // Every connection with an end on the host is reset.
  const std::string why = absl::StrCat("host ", h.name, " crashed");
  for (auto& slot : conns_) {
    Conn* c = slot.get();
    if (!c->live || c->dead) continue;
    bool on_host = false;
    for (const End& e : c->ends) {
      if (e.state != EndState::kAbsent && e.host == host) on_host = true;
    }
    if (!on_host) continue;
    if (c->ends[0].state == EndState::kConnecting) {
      const absl::Status s = MakeError(ErrorKind::kReset, "connect", why);
      c->ends[0].state = EndState::kFailed;
      c->ends[0].connect_result = s;
      c->ends[0].error = s;
    }
    ResetConn(c, why);
    MaybeFreeConn(c);
  }
}

void SimNetwork::RestartHost(HostId host) {
  Host& h = HostRef(host);
  if (h.up) return;
  h.up = true;
  ++fault_counts_[kFaultRestart];
  Fold(kTraceRestart, static_cast<uint32_t>(host), h.epoch,
       static_cast<uint64_t>(now_ns_));
  if (h.restart_hook) {
    // The hook may replace itself; run a moved-out copy.
    absl::AnyInvocable<void()> hook = std::move(h.restart_hook);
    h.restart_hook = nullptr;
    hook();
    if (!h.restart_hook) h.restart_hook = std::move(hook);
  }
}

void SimNetwork::SetRestartHook(HostId host, absl::AnyInvocable<void()> hook) {
  HostRef(host).restart_hook = std::move(hook);
}

void SimNetwork::JumpWallClock(absl::Duration delta) {
  wall_jumps_ns_ += Ns(delta);
  ++fault_counts_[kFaultWallJump];
  Fold(kTraceWallJump, static_cast<uint64_t>(now_ns_),
       static_cast<uint64_t>(Ns(delta)), 1);
}

// ---------------------------------------------------------------------------
// Streams: connections.

SimNetwork::Conn* SimNetwork::ConnAt(uint32_t slot, uint32_t gen) {
  if (slot >= conns_.size()) return nullptr;
  Conn* c = conns_[slot].get();
  if (!c->live || c->gen != gen) return nullptr;
  return c;
}

SimNetwork::Conn* SimNetwork::NewConn() {
  Conn* c;
  if (!free_conns_.empty()) {
    c = conns_[free_conns_.back()].get();
    free_conns_.pop_back();
    c->Reinit();
  } else {
    conns_.push_back(std::make_unique<Conn>());
    c = conns_.back().get();
    c->slot = static_cast<uint32_t>(conns_.size() - 1);
  }
  c->live = true;
  c->id = next_conn_id_++;
  ++live_conns_;
  return c;
}

void SimNetwork::MaybeFreeConn(Conn* c) {
  if (!c->live || !c->ends[0].released || !c->ends[1].released) return;
  // Nobody can read what is left.
  DiscardFlow(c->flows[0]);
  DiscardFlow(c->flows[1]);
  CheckConn(c);
  c->live = false;
  ++c->gen;
  free_conns_.push_back(c->slot);
  --live_conns_;
}

void SimNetwork::DiscardFlow(Flow& f) {
  const uint64_t n = f.unread + f.in_flight;
  f.discarded += n;
  stats_.bytes_discarded += n;
  f.bytes.Clear();
  f.segments.clear();
  f.unread = 0;
  f.in_flight = 0;
}

void SimNetwork::ResetConn(Conn* c, std::string_view why) {
  if (c->dead) return;
  c->dead = true;
  ++stats_.connections_reset;
  Fold(kTraceReset, c->id, static_cast<uint64_t>(now_ns_),
       c->flows[0].unread + c->flows[0].in_flight + c->flows[1].unread +
           c->flows[1].in_flight);
  const absl::Status status =
      MakeError(ErrorKind::kReset, "connection reset", why);
  for (End& e : c->ends) {
    if (e.released || e.state == EndState::kAbsent) continue;
    if (e.state == EndState::kConnecting) {
      e.state = EndState::kFailed;
      e.connect_result = status;
    }
    if (e.error.ok()) e.error = status;
  }
  DiscardFlow(c->flows[0]);
  DiscardFlow(c->flows[1]);
  RefreshEnd(c, 0);
  RefreshEnd(c, 1);
  CheckConn(c);
}

void SimNetwork::RefreshEnd(Conn* c, int end) {
  if (c->ends[end].handle != nullptr) Refresh(c->ends[end].handle);
}

absl::StatusOr<std::unique_ptr<io::StreamSocket>> SimNetwork::Connect(
    const io::Address& remote_in, const io::ConnectOptions& options) {
  if (!remote_in.is_ip() && !remote_in.is_unix()) {
    return MakeError(ErrorKind::kAddressInvalid, "connect",
                     "unspecified remote address");
  }
  io::Address remote = remote_in;
  HostId local_host = default_host_;
  io::Address local;
  const io::Address* bind = options.bind;
  if (remote.is_unix()) {
    if (bind != nullptr && !bind->is_unix()) {
      return MakeError(ErrorKind::kAddressInvalid, "connect",
                       "cannot bind a Unix socket to an IP address");
    }
    local_host = kLocalHost;
    if (bind != nullptr) local = *bind;
  } else {
    if (bind != nullptr) {
      if (bind->family() != remote.family()) {
        return MakeError(ErrorKind::kAddressInvalid,
                         absl::StrCat("connect ", remote.ToString()),
                         absl::StrCat("bind address ", bind->ToString(),
                                      " is of another family"));
      }
      if (!FindOwner(*bind, &local_host)) {
        return MakeError(
            ErrorKind::kAddressInvalid, absl::StrCat("bind ", bind->ToString()),
            "cannot assign requested address: no simulated host owns it "
            "(EADDRNOTAVAIL)");
      }
    }
    const Host& h = HostRef(local_host);
    io::Address ip;
    if (bind != nullptr && !IsWildcard(*bind)) {
      ip = *bind;
    } else if (!h.FirstIp(remote.family(), 0, &ip)) {
      return MakeError(
          ErrorKind::kUnreachable, absl::StrCat("connect ", remote.ToString()),
          absl::StrCat("host ", h.name, " has no address of that family"));
    }
    const uint16_t port = bind != nullptr && bind->port() != 0
                              ? bind->port()
                              : EphemeralPort(local_host);
    local = ip.WithPort(port);
    if (IsWildcard(remote)) {
      // Like Linux, a connect to 0.0.0.0 or :: goes to the local host.
      const Host& dh = HostRef(default_host_);
      io::Address concrete;
      if (dh.FirstIp(remote.family(), remote.port(), &concrete)) {
        remote = concrete;
      }
    }
  }
  if (!HostRef(local_host).up) {
    return MakeError(
        ErrorKind::kUnreachable, absl::StrCat("connect ", remote.ToString()),
        absl::StrCat("host ", HostRef(local_host).name, " is down"));
  }
  EMBER_RETURN_IF_ERROR(
      TakeDescriptor(local_host, absl::StrCat("connect ", remote.ToString())));

  Conn* c = NewConn();
  c->remote = remote;
  c->ends[0].host = local_host;
  c->ends[0].local = local;
  c->ends[0].state = EndState::kConnecting;
  c->ends[0].released = false;
  HostId server_host;
  c->server_known = FindOwner(remote, &server_host);
  if (c->server_known) {
    c->ends[1].host = server_host;
    c->link = LinkBetween(local_host, server_host);
  }
  c->ends[1].local = remote;
  c->connect_start_ns = now_ns_;
  c->rtt_ns = Ns(rng_.DurationBetween(plan_.connect_latency_min,
                                      plan_.connect_latency_max));
  if (remote.is_ip()) {
    const AddressFault reach = ReachabilityOf(remote);
    if (reach.kind == AddressFault::Kind::kSlow) {
      CountFault(kFaultAddressSlow);
      c->rtt_ns += Ns(reach.delay);
    }
  }
  auto socket = std::make_unique<SimStream>(this, local_host, c, 0);
  c->ends[0].handle = socket.get();
  ++stats_.connections_opened;
  Fold(kTraceConnect, c->id, socket->id_, static_cast<uint64_t>(now_ns_));
  SendSyn(c, now_ns_ + c->rtt_ns / 2);
  return socket;
}

void SimNetwork::SendSyn(Conn* c, int64_t at_ns) {
  MaybeLinkFaults(c->link);
  Schedule(at_ns, EventKind::kSynArrive, c->slot, c->gen, 0);
}

SimNetwork::BindGroup* SimNetwork::FindListener(HostId host,
                                                const io::Address& to) {
  auto it = stream_binds_.find({host, to});
  if (it != stream_binds_.end()) return &it->second;
  if (!to.is_ip()) return nullptr;
  it = stream_binds_.find({host, WildcardOf(to.family(), to.port())});
  if (it != stream_binds_.end()) return &it->second;
  if (to.family() == io::Address::Family::kIpv4) {
    // A :: listener takes IPv4 too (Linux's default, bindv6only=0).
    it = stream_binds_.find(
        {host, WildcardOf(io::Address::Family::kIpv6, to.port())});
    if (it != stream_binds_.end()) return &it->second;
  }
  return nullptr;
}

void SimNetwork::OnSynArrive(Conn* c) {
  End& client = c->ends[0];
  if (client.state != EndState::kConnecting || c->established || c->dead) {
    return;  // answered already, or a duplicate of a retransmitted SYN
  }
  const AddressFault::Kind reach = c->remote.is_ip()
                                      ? ReachabilityOf(c->remote).kind
                                      : AddressFault::Kind::kNone;
  if (reach == AddressFault::Kind::kBlackHole) {
    CountFault(kFaultAddressBlackhole);
    OnSynLost(c);
    return;
  }
  // A refusing address answers even when no simulated host owns it (a
  // firewall on the way rejects).
  if ((!c->server_known && reach != AddressFault::Kind::kRefuse) ||
      (c->server_known && !HostRef(c->ends[1].host).up) ||
      LinkPartitioned(c->link)) {
    OnSynLost(c);
    return;
  }
  const int64_t blocked = LinkBlockedUntil(c->link);
  if (blocked > now_ns_) {
    Schedule(blocked, EventKind::kSynArrive, c->slot, c->gen, 0);
    return;
  }
  const int64_t back_ns = c->rtt_ns - c->rtt_ns / 2;
  if (reach == AddressFault::Kind::kRefuse) {
    CountFault(kFaultAddressRefuse);
    Schedule(now_ns_ + back_ns, EventKind::kSynAckArrive, c->slot, c->gen, 0);
    return;
  }
  BindGroup* group = FindListener(c->ends[1].host, c->remote);
  if (group == nullptr) {
    Schedule(now_ns_ + back_ns, EventKind::kSynAckArrive, c->slot, c->gen, 0);
    return;
  }
  SimListener* l = group->members[group->next % group->members.size()];
  if (l->queue_.size() >= static_cast<size_t>(l->backlog_)) {
    ++fault_counts_[kFaultBacklogFull];
    OnSynLost(c);
    return;
  }
  ++group->next;
  c->established = true;
  End& server = c->ends[1];
  server.state = EndState::kOpen;
  server.released = false;
  server.connect_result = absl::OkStatus();
  l->queue_.push_back(ConnRef{c->slot, c->gen});
  Refresh(l);
  Schedule(now_ns_ + back_ns, EventKind::kSynAckArrive, c->slot, c->gen, 1);
}

void SimNetwork::OnSynLost(Conn* c) {
  if (c->syn_timer) return;  // the running timer retransmits
  c->syn_timer = true;
  const int64_t timeout_ns = c->connect_start_ns + Ns(options_.connect_timeout);
  const int64_t first_ns =
      c->connect_start_ns + kSynRetrySeconds[0] * kNsPerSecond;
  Schedule(std::max(now_ns_, std::min(first_ns, timeout_ns)),
           EventKind::kSynTimer, c->slot, c->gen, 0);
}

void SimNetwork::OnSynTimer(Conn* c, int attempt) {
  End& client = c->ends[0];
  if (client.state != EndState::kConnecting) return;
  const int64_t timeout_ns = c->connect_start_ns + Ns(options_.connect_timeout);
  if (now_ns_ >= timeout_ns) {
    ++stats_.connections_timed_out;
    const absl::Status s = MakeError(
        ErrorKind::kTimedOut, absl::StrCat("connect ", c->remote.ToString()),
        "connection timed out (ETIMEDOUT)");
    client.state = EndState::kFailed;
    client.connect_result = s;
    client.error = s;
    // The server may have queued it, with the answer lost on the way back.
    if (c->established) ResetConn(c, "the client gave up connecting");
    RefreshEnd(c, 0);
    CheckConn(c);
    return;
  }
  // Retransmit, unless the server has answered and the answer is on its way.
  if (!c->established) SendSyn(c, now_ns_ + c->rtt_ns / 2);
  const int64_t next_ns =
      attempt + 1 < kSynRetries
          ? c->connect_start_ns + kSynRetrySeconds[attempt + 1] * kNsPerSecond
          : timeout_ns;
  Schedule(std::max(now_ns_, std::min(next_ns, timeout_ns)),
           EventKind::kSynTimer, c->slot, c->gen,
           static_cast<uint16_t>(attempt + 1));
}

void SimNetwork::OnSynAckArrive(Conn* c, bool accepted) {
  End& client = c->ends[0];
  if (client.state != EndState::kConnecting) return;
  const int64_t blocked = LinkBlockedUntil(c->link);
  if (blocked > now_ns_) {
    Schedule(blocked, EventKind::kSynAckArrive, c->slot, c->gen, accepted);
    return;
  }
  if (accepted) {
    client.state = EndState::kOpen;
    client.connect_result = absl::OkStatus();
    ++stats_.connections_established;
  } else {
    ++stats_.connections_refused;
    const absl::Status s = MakeError(
        ErrorKind::kRefused, absl::StrCat("connect ", c->remote.ToString()),
        "connection refused (ECONNREFUSED)");
    client.state = EndState::kFailed;
    client.connect_result = s;
    client.error = s;
  }
  RefreshEnd(c, 0);
  CheckConn(c);
}

// ---------------------------------------------------------------------------
// Streams: bytes.

void SimNetwork::ArmDelivery(Conn* c, int dir, int64_t at_ns) {
  Flow& f = c->flows[dir];
  if (at_ns >= f.armed_ns) return;
  f.armed_ns = at_ns;
  Schedule(at_ns, EventKind::kDeliver, c->slot, c->gen,
           static_cast<uint16_t>(dir));
}

void SimNetwork::QueueSegment(Conn* c, int dir, uint32_t bytes, bool fin) {
  Flow& f = c->flows[dir];
  const int64_t start = std::max(now_ns_, f.busy_until_ns);
  int64_t tx = 0;
  if (plan_.bandwidth_bytes_per_second > 0 && bytes > 0) {
    const __int128 num = static_cast<__int128>(bytes) * kNsPerSecond +
                         plan_.bandwidth_bytes_per_second - 1;
    tx = static_cast<int64_t>(num / plan_.bandwidth_bytes_per_second);
  }
  f.busy_until_ns = start + tx;
  const int64_t latency = DrawLatencyNs();
  const int64_t due = std::max(f.last_due_ns, f.busy_until_ns + latency);
  f.last_due_ns = due;
  f.segments.push_back(Segment{due, bytes, fin});
  if (!fin) f.in_flight += bytes;
  // The front segment may be past due, held only by a clog or partition
  // (OnDeliver then armed the heal time); never arm a delivery in the past.
  ArmDelivery(c, dir, std::max(now_ns_, f.segments.front().due_ns));
  MaybeLinkFaults(c->link);
}

void SimNetwork::OnDeliver(Conn* c, int dir) {
  Flow& f = c->flows[dir];
  if (now_ns_ >= f.armed_ns) f.armed_ns = INT64_MAX;
  if (c->dead || f.segments.empty()) return;
  const int64_t blocked = LinkBlockedUntil(c->link);
  if (blocked > now_ns_) {
    ArmDelivery(c, dir, blocked);
    return;
  }
  End& reader = c->ends[1 - dir];
  while (!f.segments.empty() && f.segments.front().due_ns <= now_ns_) {
    const Segment s = f.segments.front();
    f.segments.pop_front();
    if (s.fin) {
      f.fin_delivered = true;
      Fold(kTraceDeliver, c->id, static_cast<uint64_t>(dir), UINT64_MAX);
      continue;
    }
    EMBER_CHECK(f.in_flight >= s.bytes);
    f.in_flight -= s.bytes;
    f.unread += s.bytes;
    stats_.bytes_delivered += s.bytes;
    Fold(kTraceDeliver, c->id, static_cast<uint64_t>(dir), s.bytes);
    if (reader.released) {
      ResetConn(c, "bytes arrived at a closed socket");
      MaybeFreeConn(c);
      return;
    }
    if (rng_.Chance(plan_.reset_probability)) {
      CountFault(kFaultReset);
      ResetConn(c, "reset by the network");
      return;
    }
    if (plan_.crash_probability > 0) {
      Host& h = HostRef(reader.host);
      if (h.restart_hook && rng_.Chance(plan_.crash_probability)) {
        const HostId host = reader.host;
        CrashHost(host);
        const int64_t down = Ns(rng_.DurationBetween(absl::ZeroDuration(),
                                                     plan_.crash_downtime_max));
        Schedule(now_ns_ + down, EventKind::kRestart,
                 static_cast<uint32_t>(host), HostRef(host).epoch, 0);
        return;
      }
    }
  }
  if (!f.segments.empty()) ArmDelivery(c, dir, f.segments.front().due_ns);
  RefreshEnd(c, 1 - dir);
  CheckConn(c);
}

uint32_t SimNetwork::StreamReadiness(const SimStream* s) const {
  const Conn* c = s->conn_;
  const End& me = c->ends[s->end_];
  if (!me.error.ok()) return io::kReadable | io::kWritable;
  if (me.state != EndState::kOpen) return 0;
  uint32_t r = 0;
  const Flow& in = c->flows[1 - s->end_];
  if (in.unread > 0 || in.fin_delivered) r |= io::kReadable;
  if (me.write_shut || c->flows[s->end_].bytes.size() <
                           static_cast<uint64_t>(plan_.window_bytes)) {
    r |= io::kWritable;
  }
  return r;
}

IoResult SimNetwork::StreamRead(SimStream* s, char* buf, size_t len) {
  EMBER_CHECK_MSG(len > 0, "Read needs room for at least one byte");
  Conn* c = s->conn_;
  const int e = s->end_;
  End& me = c->ends[e];
  if (!me.error.ok()) return IoResult::Error(me.error);
  if (me.state != EndState::kOpen) return IoResult::WouldBlock();
  Flow& in = c->flows[1 - e];
  if (in.unread > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, in.unread));
    in.bytes.Take(buf, n);
    in.unread -= n;
    in.read += n;
    stats_.bytes_read += n;
    Fold(kTraceRead, c->id, static_cast<uint64_t>(e), n);
    RefreshEnd(c, e);
    RefreshEnd(c, 1 - e);  // the writer may have room again
    CheckConn(c);
    return IoResult::Ok(n);
  }
  if (in.fin_delivered) return IoResult::EndOfStream();
  return IoResult::WouldBlock();
}

IoResult SimNetwork::StreamWrite(SimStream* s, const io::ConstBuffer* buffers,
                                 size_t count) {
  EMBER_CHECK_MSG(count <= io::StreamSocket::kWriteBuffersMax,
                  "Write takes at most kWriteBuffersMax buffers");
  Conn* c = s->conn_;
  const int e = s->end_;
  End& me = c->ends[e];
  if (!me.error.ok()) return IoResult::Error(me.error);
  if (me.state != EndState::kOpen) return IoResult::WouldBlock();
  if (me.write_shut) {
    return IoResult::Error(
        MakeError(ErrorKind::kReset, "write", "shut down for writing (EPIPE)"));
  }
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += buffers[i].size;
  if (total == 0) return IoResult::Ok(0);
  Flow& f = c->flows[e];
  const uint64_t window = static_cast<uint64_t>(plan_.window_bytes);
  if (f.bytes.size() >= window) return IoResult::WouldBlock();
  size_t n =
      static_cast<size_t>(std::min<uint64_t>(total, window - f.bytes.size()));
  if (n > 1 && rng_.Chance(plan_.short_write_probability)) {
    n = static_cast<size_t>(rng_.Between(1, n - 1));
    CountFault(kFaultShortWrite);
  }
  size_t left = n;
  uint64_t content = n;
  for (size_t i = 0; i < count && left > 0; ++i) {
    const size_t take = std::min(left, buffers[i].size);
    f.bytes.Append(buffers[i].data, take);
    content = Mix64(content ^
                    io::HashBytes(std::string_view(buffers[i].data, take)));
    left -= take;
  }
  f.written += n;
  stats_.bytes_written += n;
  // The bytes themselves, not only how many: a run that writes other bytes
  // is another run.
  Fold(kTraceWrite, c->id, static_cast<uint64_t>(e), content);
  if (n > 1 && rng_.Chance(plan_.split_probability)) {
    CountFault(kFaultSplit);
    size_t rest = n;
    for (int piece = 1; rest > 0; ++piece) {
      const size_t size = piece < FaultPlan::kSplitPiecesMax && rest > 1
                              ? static_cast<size_t>(rng_.Between(1, rest))
                              : rest;
      QueueSegment(c, e, static_cast<uint32_t>(size), false);
      rest -= size;
    }
  } else {
    QueueSegment(c, e, static_cast<uint32_t>(n), false);
  }
  RefreshEnd(c, e);
  CheckConn(c);
  return IoResult::Ok(n);
}

absl::Status SimNetwork::StreamShutdownWrite(SimStream* s) {
  Conn* c = s->conn_;
  const int e = s->end_;
  End& me = c->ends[e];
  if (!me.error.ok()) return me.error;
  if (me.state != EndState::kOpen) {
    return MakeError(ErrorKind::kOther, "shutdown", "not connected (ENOTCONN)");
  }
  if (me.write_shut) return absl::OkStatus();
  me.write_shut = true;
  c->flows[e].fin_queued = true;
  QueueSegment(c, e, 0, true);
  Fold(kTraceShutdown, c->id, static_cast<uint64_t>(e), 0);
  RefreshEnd(c, e);
  return absl::OkStatus();
}

void SimNetwork::StreamClosed(SimStream* s) {
  Unregister(s);
  ReleaseDescriptor(s->host_);
  Conn* c = s->conn_;
  const int e = s->end_;
  End& me = c->ends[e];
  me.handle = nullptr;
  me.released = true;
  Fold(kTraceClose, c->id, static_cast<uint64_t>(e),
       static_cast<uint64_t>(now_ns_));
  if (c->dead || !me.error.ok()) {
    MaybeFreeConn(c);
    return;
  }
  if (me.state == EndState::kConnecting) {
    // The server may have queued it already; its kernel sees a RST.
    if (c->established) ResetConn(c, "the client closed while connecting");
    MaybeFreeConn(c);
    return;
  }
  if (c->flows[1 - e].unread > 0) {
    // Closing with unread bytes sends a RST, as on Linux.
    ResetConn(c, "the peer closed with unread bytes");
    MaybeFreeConn(c);
    return;
  }
  if (!me.write_shut) {
    me.write_shut = true;
    c->flows[e].fin_queued = true;
    QueueSegment(c, e, 0, true);
  }
  MaybeFreeConn(c);
}

// ---------------------------------------------------------------------------
// Streams: listeners.

namespace {

// Whether binding `a` and `b` on one host clash, as on Linux without
// SO_REUSEPORT: the same Unix path; or the same port where the families meet
// (an IPv6 wildcard takes IPv4 too) and either the same address or a
// wildcard on one side. Equal addresses clash here; the caller decides
// whether SO_REUSEPORT lets them share.
bool BindsOverlap(const io::Address& a, const io::Address& b) {
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

}  // namespace

absl::StatusOr<SimNetwork::LocalBinding> SimNetwork::BindLocal(
    const io::Address& address, std::string_view operation) {
  if (!address.is_ip() && !address.is_unix()) {
    return MakeError(ErrorKind::kAddressInvalid, operation,
                     "unspecified address");
  }
  const std::string what =
      absl::StrCat(AbslView(operation), " ", address.ToString());
  HostId host;
  if (!FindOwner(address, &host)) {
    return MakeError(ErrorKind::kAddressInvalid, what,
                     "cannot assign requested address: no simulated host "
                     "owns it (EADDRNOTAVAIL)");
  }
  if (!HostRef(host).up) {
    return MakeError(ErrorKind::kUnreachable, what,
                     absl::StrCat("host ", HostRef(host).name, " is down"));
  }
  io::Address bound = address;
  if (address.is_ip() && address.port() == 0) {
    bound = address.WithPort(EphemeralPort(host));
  }
  return LocalBinding{host, bound};
}

absl::StatusOr<std::unique_ptr<io::Listener>> SimNetwork::Listen(
    const io::Address& address, const io::ListenOptions& options) {
  absl::StatusOr<LocalBinding> binding = BindLocal(address, "listen");
  if (!binding.ok()) return binding.status();
  const HostId host = binding->host;
  const io::Address bound = binding->address;
  auto group_it = stream_binds_.find({host, bound});
  const bool join = group_it != stream_binds_.end() && options.reuse_port &&
                    !group_it->second.members.empty() &&
                    std::all_of(group_it->second.members.begin(),
                                group_it->second.members.end(),
                                [](SimListener* l) { return l->reuse_port_; });
  if (!join && AnyBindOverlaps(stream_binds_, host, bound)) {
    return MakeError(ErrorKind::kAddressInUse,
                     absl::StrCat("listen ", bound.ToString()),
                     "address already in use (EADDRINUSE)");
  }
  EMBER_RETURN_IF_ERROR(
      TakeDescriptor(host, absl::StrCat("listen ", bound.ToString())));
  auto listener = std::make_unique<SimListener>(this, host, bound,
                                                std::max(1, options.backlog));
  listener->reuse_port_ = options.reuse_port;
  listener->bound_ = true;
  stream_binds_[{host, bound}].members.push_back(listener.get());
  Fold(kTraceListen, listener->id_, static_cast<uint32_t>(host), bound.port());
  return listener;
}

absl::StatusOr<std::unique_ptr<io::StreamSocket>> SimNetwork::ListenerAccept(
    SimListener* l) {
  if (!l->error_.ok()) return l->error_;
  if (l->queue_.empty()) return std::unique_ptr<io::StreamSocket>();
  if (HostRef(l->host_).descriptors >= options_.descriptors_per_host_max ||
      rng_.Chance(plan_.accept_no_resources_probability)) {
    if (HostRef(l->host_).descriptors < options_.descriptors_per_host_max) {
      CountFault(kFaultAcceptNoResources);
    }
    return MakeError(ErrorKind::kNoResources, "accept",
                     "too many open files (EMFILE)");
  }
  const ConnRef ref = l->queue_.front();
  l->queue_.pop_front();
  Conn* c = ConnAt(ref.slot, ref.gen);
  EMBER_CHECK_MSG(c != nullptr, "a queued connection vanished");
  EMBER_CHECK(TakeDescriptor(l->host_, "accept").ok());
  auto socket = std::make_unique<SimStream>(this, l->host_, c, 1);
  c->ends[1].handle = socket.get();
  ++stats_.connections_accepted;
  Fold(kTraceAccept, c->id, socket->id_, static_cast<uint64_t>(now_ns_));
  Refresh(l);
  return socket;
}

void SimNetwork::ListenerClosed(SimListener* l) {
  Unregister(l);
  ReleaseDescriptor(l->host_);
  Fold(kTraceClose, l->id_, 0, static_cast<uint64_t>(now_ns_));
  if (l->bound_) {
    auto it = stream_binds_.find({l->host_, l->local_});
    EMBER_CHECK(it != stream_binds_.end());
    auto& members = it->second.members;
    members.erase(std::find(members.begin(), members.end(), l));
    if (members.empty()) stream_binds_.erase(it);
    l->bound_ = false;
  }
  // Connections nobody accepted are reset, as Linux does.
  while (!l->queue_.empty()) {
    const ConnRef ref = l->queue_.front();
    l->queue_.pop_front();
    if (Conn* c = ConnAt(ref.slot, ref.gen)) {
      c->ends[1].released = true;
      ResetConn(c, "the listener closed before accepting");
      MaybeFreeConn(c);
    }
  }
}

// ---------------------------------------------------------------------------
// Datagrams.

absl::StatusOr<std::unique_ptr<io::DatagramSocket>> SimNetwork::OpenDatagram(
    const io::Address& local) {
  absl::StatusOr<LocalBinding> binding = BindLocal(local, "bind");
  if (!binding.ok()) return binding.status();
  const HostId host = binding->host;
  const io::Address bound = binding->address;
  // Same overlap rules as streams, in the datagram port space.
  if (AnyBindOverlaps(datagram_binds_, host, bound)) {
    return MakeError(ErrorKind::kAddressInUse,
                     absl::StrCat("bind ", bound.ToString()),
                     "address already in use (EADDRINUSE)");
  }
  EMBER_RETURN_IF_ERROR(
      TakeDescriptor(host, absl::StrCat("bind ", bound.ToString())));
  auto socket = std::make_unique<SimDatagram>(this, host, bound);
  socket->bound_ = true;
  datagram_binds_[{host, bound}] = socket.get();
  Fold(kTraceOpenDatagram, socket->id_, static_cast<uint32_t>(host),
       bound.port());
  return socket;
}

SimDatagram* SimNetwork::FindDatagramSocket(HostId host,
                                            const io::Address& to) {
  auto it = datagram_binds_.find({host, to});
  if (it != datagram_binds_.end()) return it->second;
  if (!to.is_ip()) return nullptr;
  it = datagram_binds_.find({host, WildcardOf(to.family(), to.port())});
  if (it != datagram_binds_.end()) return it->second;
  if (to.family() == io::Address::Family::kIpv4) {
    it = datagram_binds_.find(
        {host, WildcardOf(io::Address::Family::kIpv6, to.port())});
    if (it != datagram_binds_.end()) return it->second;
  }
  return nullptr;
}

IoResult SimNetwork::DatagramSend(SimDatagram* d, const io::Address& to,
                                  const char* data, size_t len) {
  if (!d->error_.ok()) return IoResult::Error(d->error_);
  if (len > kDatagramBytesMax) {
    return IoResult::Error(
        MakeError(ErrorKind::kOther, "send", "message too long (EMSGSIZE)"));
  }
  const bool family_ok = (to.is_unix() && d->local_.is_unix()) ||
                         (to.is_ip() && d->local_.is_ip() &&
                          (to.family() == d->local_.family() ||
                           d->local_.family() == io::Address::Family::kIpv6));
  if (!family_ok) {
    return IoResult::Error(MakeError(
        ErrorKind::kAddressInvalid, absl::StrCat("send to ", to.ToString()),
        "address family not supported by this socket (EAFNOSUPPORT)"));
  }
  if (d->in_flight_bytes_ > 0 &&
      d->in_flight_bytes_ + len > options_.datagram_send_buffer_bytes) {
    return IoResult::WouldBlock();
  }
  ++stats_.datagrams_sent;
  Fold(kTraceDatagramSend, d->id_, len,
       static_cast<uint64_t>(now_ns_) ^
           io::HashBytes(std::string_view(data, len), to.port()));

  HostId dst;
  const bool known = FindOwner(to, &dst);
  Link* link = known ? LinkBetween(d->host_, dst) : nullptr;
  MaybeLinkFaults(link);
  if (!known || !HostRef(dst).up || LinkPartitioned(link)) {
    ++stats_.datagrams_lost;
    Fold(kTraceDatagramDrop, d->id_, len, 0);
    return IoResult::Ok(len);
  }
  if (rng_.Chance(plan_.datagram_loss_probability)) {
    CountFault(kFaultDatagramLoss);
    ++stats_.datagrams_lost;
    Fold(kTraceDatagramDrop, d->id_, len, 1);
    return IoResult::Ok(len);
  }
  int copies = 1;
  if (rng_.Chance(plan_.datagram_duplicate_probability)) {
    CountFault(kFaultDatagramDuplicate);
    ++stats_.datagrams_duplicated;
    copies = 2;
  }
  io::Address from = d->local_;
  if (from.is_ip() && IsWildcard(from)) {
    io::Address concrete;
    if (HostRef(d->host_).FirstIp(to.family(), from.port(), &concrete)) {
      from = concrete;
    }
  }
  for (int i = 0; i < copies; ++i) {
    uint32_t slot;
    if (!free_datagrams_.empty()) {
      slot = free_datagrams_.back();
      free_datagrams_.pop_back();
    } else {
      datagrams_.emplace_back();
      slot = static_cast<uint32_t>(datagrams_.size() - 1);
    }
    Datagram& g = datagrams_[slot];
    g.live = true;
    g.payload.assign(data, len);
    g.from = from;
    g.to = to;
    g.sender_id = d->id_;
    g.sent_bytes = len;
    g.charged = true;
    d->in_flight_bytes_ += len;
    if (len > 0 && rng_.Chance(plan_.datagram_truncate_probability)) {
      CountFault(kFaultDatagramTruncate);
      ++stats_.datagrams_truncated;
      g.payload.resize(static_cast<size_t>(rng_.Below(len)));
    }
    int64_t due = now_ns_ + DrawLatencyNs();
    if (rng_.Chance(plan_.datagram_reorder_probability)) {
      CountFault(kFaultDatagramReorder);
      ++stats_.datagrams_reordered;
      due +=
          rng_.BetweenSigned(0, std::max<int64_t>(kMsNs, 2 * latency_max_ns_));
    }
    due = std::max(due, LinkBlockedUntil(link));
    Schedule(due, EventKind::kDatagram, slot, g.gen, 0);
  }
  Refresh(d);
  return IoResult::Ok(len);
}

void SimNetwork::FreeDatagram(uint32_t slot) {
  Datagram& g = datagrams_[slot];
  EMBER_CHECK(g.live);
  g.live = false;
  ++g.gen;
  g.payload.clear();
  free_datagrams_.push_back(slot);
}

void SimNetwork::OnDatagram(uint32_t slot, uint32_t gen) {
  if (slot >= datagrams_.size()) return;
  Datagram& g = datagrams_[slot];
  if (!g.live || g.gen != gen) return;
  // It has left the sender's buffer, whatever happens to it now.
  if (g.charged) {
    g.charged = false;
    auto it = handles_.find(g.sender_id);
    if (it != handles_.end()) {
      auto* sender = static_cast<SimDatagram*>(it->second);
      EMBER_CHECK(sender->in_flight_bytes_ >= g.sent_bytes);
      sender->in_flight_bytes_ -= g.sent_bytes;
      Refresh(sender);
    }
  }
  HostId dst;
  SimDatagram* r = nullptr;
  if (FindOwner(g.to, &dst) && HostRef(dst).up) {
    HostId src;
    const bool src_known = FindOwner(g.from, &src);
    if (!src_known || !LinkPartitioned(LinkBetween(src, dst))) {
      r = FindDatagramSocket(dst, g.to);
    }
  }
  if (r == nullptr || r->queued_bytes_ + g.payload.size() >
                          options_.datagram_receive_buffer_bytes) {
    ++stats_.datagrams_lost;
    Fold(kTraceDatagramDrop, slot, g.payload.size(), 2);
    FreeDatagram(slot);
    return;
  }
  r->queue_.push_back(slot);
  r->queued_bytes_ += g.payload.size();
  ++stats_.datagrams_delivered;
  Refresh(r);
}

IoResult SimNetwork::DatagramReceive(SimDatagram* d, char* buf, size_t len,
                                     io::Address* from, bool* truncated) {
  if (!d->error_.ok()) return IoResult::Error(d->error_);
  if (d->queue_.empty()) return IoResult::WouldBlock();
  const uint32_t slot = d->queue_.front();
  d->queue_.pop_front();
  Datagram& g = datagrams_[slot];
  const size_t size = g.payload.size();
  const size_t n = std::min(len, size);
  if (n > 0) std::memcpy(buf, g.payload.data(), n);
  if (truncated != nullptr) *truncated = size > len;
  if (from != nullptr) *from = g.from;
  EMBER_CHECK(d->queued_bytes_ >= size);
  d->queued_bytes_ -= size;
  Fold(kTraceDatagramReceive, d->id_, size, n);
  FreeDatagram(slot);
  Refresh(d);
  return IoResult::Ok(n);
}

void SimNetwork::DatagramClosed(SimDatagram* d) {
  Unregister(d);
  ReleaseDescriptor(d->host_);
  Fold(kTraceClose, d->id_, 1, static_cast<uint64_t>(now_ns_));
  if (d->bound_) {
    datagram_binds_.erase({d->host_, d->local_});
    d->bound_ = false;
  }
  while (!d->queue_.empty()) {
    FreeDatagram(d->queue_.front());
    d->queue_.pop_front();
  }
}

// ---------------------------------------------------------------------------
// Name resolution.

absl::StatusOr<std::vector<io::Address>> SimNetwork::Lookup(
    std::string_view host) const {
  auto it = names_.find(absl::AsciiStrToLower(AbslView(host)));
  if (it == names_.end() || it->second.empty()) {
    return MakeError(ErrorKind::kNameNotFound,
                     absl::StrCat("resolve \"", AbslView(host), "\""),
                     "no such name in the simulated name table");
  }
  std::vector<io::Address> addresses = it->second;
  io::UsableFamilies usable{.ipv4 = false, .ipv6 = false};
  for (const io::Address& ip : HostRef(default_host_).ips) {
    if (ip.family() == io::Address::Family::kIpv4) usable.ipv4 = true;
    if (ip.family() == io::Address::Family::kIpv6) usable.ipv6 = true;
  }
  io::SortDestinations(addresses, usable);
  return addresses;
}

void SimNetwork::Resolve(std::string_view host, io::ResolveCallback done) {
  ++stats_.resolves;
  absl::StatusOr<std::vector<io::Address>> result;
  int64_t due = now_ns_;
  if (auto answer = io::AnswerWithoutLookup(host)) {
    // No resolver is asked, so no resolver can be slow or fail.
    result = *std::move(answer);
  } else {
    result = Lookup(host);
    if (result.ok() && rng_.Chance(plan_.resolve_failure_probability)) {
      CountFault(kFaultResolveFailure);
      result = MakeError(ErrorKind::kNameLookupFailed,
                         absl::StrCat("resolve \"", AbslView(host), "\""),
                         "temporary failure in name resolution (EAI_AGAIN)");
    }
    due += Ns(
        rng_.DurationBetween(absl::ZeroDuration(), plan_.resolve_latency_max));
  }
  const uint64_t id = next_resolve_id_++;
  pending_resolves_.emplace(id,
                            PendingResolve{std::move(done), std::move(result)});
  Fold(kTraceResolve, id, static_cast<uint64_t>(due), host.size());
  Schedule(due, EventKind::kResolve, static_cast<uint32_t>(id),
           static_cast<uint32_t>(id >> 32), 0);
}

void SimNetwork::SetAddressFault(const io::Address& ip, AddressFault fault) {
  EMBER_CHECK_MSG(ip.is_ip() && !IsWildcard(ip),
                  "SetAddressFault takes an IP address, not a wildcard");
  if (fault.kind == AddressFault::Kind::kNone) {
    address_faults_.erase(IpOnly(ip));
  } else {
    address_faults_[IpOnly(ip)] = fault;
  }
}

void SimNetwork::SetFamilyFault(io::Address::Family family,
                                AddressFault fault) {
  EMBER_CHECK_MSG(family == io::Address::Family::kIpv4 ||
                      family == io::Address::Family::kIpv6,
                  "SetFamilyFault takes kIpv4 or kIpv6");
  family_faults_[family == io::Address::Family::kIpv6 ? 1 : 0] = fault;
}

AddressFault SimNetwork::ReachabilityOf(const io::Address& remote) const {
  auto it = address_faults_.find(IpOnly(remote));
  if (it != address_faults_.end()) return it->second;
  const bool v6 = remote.family() == io::Address::Family::kIpv6;
  const AddressFault& family = family_faults_[v6 ? 1 : 0];
  if (family.kind != AddressFault::Kind::kNone) return family;
  // The plan's draws: each from a generator of its own, keyed by the seed
  // and what it decides, so a draw is the same whenever it is made and
  // takes nothing from the network's main stream.
  if (v6 && plan_.ipv6_blackhole_probability > 0) {
    Random dead(Mix64(options_.seed ^ 0x6970'7636'6465'6164ull));
    if (dead.Chance(plan_.ipv6_blackhole_probability)) {
      return AddressFault::BlackHole();
    }
  }
  if (plan_.address_blackhole_probability > 0 ||
      plan_.address_refuse_probability > 0) {
    uint64_t key = Mix64(options_.seed ^ 0x6164'6472'6573'7321ull);
    const std::array<uint8_t, 16>& bytes = remote.ip_bytes();
    for (size_t i = 0; i < bytes.size(); i += 8) {
      uint64_t word = 0;
      for (size_t j = 0; j < 8; ++j) word = word << 8 | bytes[i + j];
      key = Mix64(key ^ word);
    }
    Random draw(key ^ static_cast<uint64_t>(remote.family()));
    if (draw.Chance(plan_.address_blackhole_probability)) {
      return AddressFault::BlackHole();
    }
    if (draw.Chance(plan_.address_refuse_probability)) {
      return AddressFault::Refuse();
    }
  }
  return AddressFault::None();
}

absl::Status SimNetwork::Offload(absl::AnyInvocable<void()> work,
                                 absl::AnyInvocable<void()> done) {
  if (pending_offloads_.size() + finished_offloads_.size() >=
      options_.offload_jobs_max) {
    return absl::ResourceExhaustedError(absl::StrCat(
        pending_offloads_.size() + finished_offloads_.size(),
        " offloaded jobs outstanding, the limit; not queued"));
  }
  const absl::Duration latency =
      options_.offload_latency_min >= options_.offload_latency_max
          ? options_.offload_latency_min
          : rng_.DurationBetween(options_.offload_latency_min,
                                 options_.offload_latency_max);
  const int64_t due = now_ns_ + std::max<int64_t>(0, Ns(latency));
  const uint64_t id = next_offload_id_++;
  pending_offloads_.emplace(id,
                            PendingOffload{std::move(work), std::move(done)});
  Fold(kTraceOffload, id, static_cast<uint64_t>(due), 1);
  Schedule(due, EventKind::kOffload, static_cast<uint32_t>(id),
           static_cast<uint32_t>(id >> 32), 0);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Invariants and statistics.

void SimNetwork::CheckConn(const Conn* c) {
  ++stats_.invariant_checks;
  for (const Flow& f : c->flows) {
    EMBER_CHECK_MSG(f.written == f.read + f.unread + f.in_flight + f.discarded,
                    "stream bytes written != read + waiting + in flight + "
                    "discarded");
    EMBER_CHECK_MSG(f.bytes.size() == f.unread + f.in_flight,
                    "stream buffer out of step with its counters");
    EMBER_CHECK_MSG(f.bytes.size() <= static_cast<uint64_t>(plan_.window_bytes),
                    "stream direction holds more than its window");
    if (!f.segments.empty()) {
      EMBER_CHECK_MSG(
          f.segments.front().due_ns >= now_ns_ || f.armed_ns != INT64_MAX,
          "segments in flight with no delivery scheduled");
    }
  }
}

void SimNetwork::CheckInvariants() {
  events_since_sweep_ = 0;
  EMBER_CHECK_MSG(heap_.empty() || heap_.front().time_ns >= now_ns_,
                  "a scheduled event lies in the past");
  size_t live = 0;
  for (const auto& slot : conns_) {
    const Conn* c = slot.get();
    if (!c->live) continue;
    ++live;
    CheckConn(c);
    for (const Flow& f : c->flows) {
      uint64_t in_segments = 0;
      int64_t last = INT64_MIN;
      for (size_t i = 0; i < f.segments.size(); ++i) {
        const Segment& s = f.segments[i];
        EMBER_CHECK_MSG(s.due_ns >= last, "stream segments out of order");
        last = s.due_ns;
        if (!s.fin) in_segments += s.bytes;
      }
      EMBER_CHECK_MSG(in_segments == f.in_flight,
                      "segments in flight do not add up");
    }
    // A handle means not released; a client end without one is released
    // (a server end may wait in a listener's queue with none).
    for (int e = 0; e < 2; ++e) {
      const End& end = c->ends[e];
      if (end.handle != nullptr) {
        EMBER_CHECK_MSG(!end.released, "a released end still has a handle");
      } else if (e == 0) {
        EMBER_CHECK_MSG(end.released, "a client end lost its handle");
      }
    }
  }
  EMBER_CHECK_MSG(live == live_conns_, "live connection count is off");
  for (const auto& [id, handle] : handles_) {
    ++stats_.invariant_checks;
    const bool want = handle->watcher_ != nullptr &&
                      (handle->Readiness() & handle->interest_) != 0;
    EMBER_CHECK_MSG(want == handle->in_ready(),
                    "a handle's readiness changed without a refresh");
  }
  EMBER_CHECK(ready_.size() <= handles_.size());
}

SimStats SimNetwork::stats() const {
  SimStats s = stats_;
  for (int k = 0; k < kFaultKinds; ++k) {
    if (fault_counts_[k] > 0) s.faults[kFaultNames[k]] = fault_counts_[k];
  }
  return s;
}

std::string SimStats::ToString() const {
  std::string out = absl::StrCat(
      "events=", events_processed, " polls=", polls, " callbacks=", callbacks,
      " bytes written=", bytes_written, " delivered=", bytes_delivered,
      " read=", bytes_read, " discarded=", bytes_discarded,
      " connections opened=", connections_opened,
      " established=", connections_established,
      " accepted=", connections_accepted, " refused=", connections_refused,
      " timed_out=", connections_timed_out, " reset=", connections_reset,
      " datagrams sent=", datagrams_sent, " delivered=", datagrams_delivered,
      " lost=", datagrams_lost, " duplicated=", datagrams_duplicated,
      " reordered=", datagrams_reordered, " truncated=", datagrams_truncated,
      " resolves=", resolves, " invariant_checks=", invariant_checks,
      " faults={");
  bool first = true;
  for (const auto& [name, count] : faults) {
    absl::StrAppend(&out, first ? "" : " ", name, "=", count);
    first = false;
  }
  absl::StrAppend(&out, "}");
  return out;
}

}  // namespace ember::sim
