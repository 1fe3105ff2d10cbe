// SimNetwork's stream connections: connecting (SYNs, refusals, timeouts)
// and the bytes (segments, delivery, reads, writes, half-close, close).

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
#include "sim/internal/sim_internal.h"

namespace ember::sim {

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
  {
    // The connection's identity: its client host, where it connects, and
    // how many connections that host opened there before. A connection
    // elsewhere, or from another host, never shifts it.
    const uint64_t base = Mix64(
        Mix64(io::HashBytes(HostRef(local_host).name) ^ 0x636f6e6e65637421ull) ^
        io::HashBytes(remote.ToString()));
    c->key = Mix64(base ^ NextOrdinal(base));
  }
  c->rtt_ns = Ns(DrawAt(PointOf(kPointConnectLatency, c->key, 0))
                     .DurationBetween(plan_.connect_latency_min,
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
  MaybeLinkFaults(c->link, SynSubject(c->key), c->syn_attempts++,
                  [&] { return absl::StrCat("a SYN of ", ConnLabel(c, 0)); });
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
  // A segment's points are numbered by its first byte's offset in the
  // stream: a write delivered whole or cut in pieces starts at the same
  // offset, so its first segment fares the same either way, and later
  // writes are unaffected by how earlier ones were cut.
  const uint64_t subject = FlowSubject(c->key, dir);
  const uint64_t offset = f.queued;
  f.queued += bytes;
  const int64_t latency = DrawLatencyNs(subject, offset);
  const int64_t due = std::max(f.last_due_ns, f.busy_until_ns + latency);
  f.last_due_ns = due;
  f.segments.push_back(Segment{due, bytes, fin, offset});
  if (!fin) f.in_flight += bytes;
  // The front segment may be past due, held only by a clog or partition
  // (OnDeliver then armed the heal time); never arm a delivery in the past.
  ArmDelivery(c, dir, std::max(now_ns_, f.segments.front().due_ns));
  // Clogs and partitions: per block of the stream sent, like resets.
  for (; f.queued_blocks * kStreamBlockBytes < f.queued; ++f.queued_blocks) {
    MaybeLinkFaults(c->link, subject, f.queued_blocks, [&] {
      return absl::StrCat("a segment of ", ConnLabel(c, dir));
    });
  }
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
    // Resets and crashes are decided per block of the stream, when the
    // block's first byte is delivered: the same bytes meet the same
    // decisions however they were cut into segments.
    const uint64_t subject = FlowSubject(c->key, dir);
    Random params(0);
    const uint64_t end_block =
        (s.offset + s.bytes + kStreamBlockBytes - 1) / kStreamBlockBytes;
    for (; f.delivered_blocks < end_block; ++f.delivered_blocks) {
      const uint64_t block = f.delivered_blocks;
      if (plan_.reset_probability > 0) {
        const uint64_t point = PointOf(kFaultReset, subject, block);
        if (Strikes(point, plan_.reset_probability, &params)) {
          ++f.delivered_blocks;
          CountFault(kFaultReset);
          if (logging()) {
            RecordFault(
                kFaultReset, point, ConnLabel(c, dir),
                absl::StrCat("after ", f.read + f.unread, " bytes delivered"));
          }
          ResetConn(c, "reset by the network");
          return;
        }
      }
      if (plan_.crash_probability > 0) {
        Host& h = HostRef(reader.host);
        const uint64_t point =
            h.restart_hook ? PointOf(kFaultCrash, subject, block) : 0;
        if (h.restart_hook &&
            Strikes(point, plan_.crash_probability, &params)) {
          ++f.delivered_blocks;
          const HostId host = reader.host;
          const int64_t down = Ns(params.DurationBetween(
              absl::ZeroDuration(), plan_.crash_downtime_max));
          if (logging()) {
            RecordFault(
                kFaultCrash, point, absl::StrCat("host ", h.name),
                absl::StrCat("on a segment of ", ConnLabel(c, dir),
                             ", down for ",
                             absl::FormatDuration(absl::Nanoseconds(down))));
          }
          CrashHost(host);
          Schedule(now_ns_ + down, EventKind::kRestart,
                   static_cast<uint32_t>(host), HostRef(host).epoch, 0);
          return;
        }
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
  const uint64_t subject = FlowSubject(c->key, e);
  Random params(0);
  if (n > 1 && plan_.short_write_probability > 0) {
    const uint64_t point = PointOf(kFaultShortWrite, subject, f.written);
    if (Strikes(point, plan_.short_write_probability, &params)) {
      const size_t asked = n;
      n = static_cast<size_t>(params.Between(1, n - 1));
      CountFault(kFaultShortWrite);
      if (logging()) {
        RecordFault(kFaultShortWrite, point, ConnLabel(c, e),
                    absl::StrCat(n, " of ", asked, " bytes accepted"));
      }
    }
  }
  size_t left = n;
  uint64_t content = n;
  for (size_t i = 0; i < count && left > 0; ++i) {
    const size_t take = std::min(left, buffers[i].size);
    f.bytes.Append(buffers[i].data, take);
    if (options_.trace_bytes) {
      content = Mix64(content ^
                      io::HashBytes(std::string_view(buffers[i].data, take)));
    }
    left -= take;
  }
  f.written += n;
  stats_.bytes_written += n;
  // With trace_bytes, the bytes themselves, not only how many.
  Fold(kTraceWrite, c->id, static_cast<uint64_t>(e), content);
  uint64_t split_point = 0;
  if (n > 1 && plan_.split_probability > 0) {
    split_point = PointOf(kFaultSplit, subject, f.written - n);
  }
  if (split_point != 0 &&
      Strikes(split_point, plan_.split_probability, &params)) {
    CountFault(kFaultSplit);
    size_t rest = n;
    int pieces = 0;
    std::string sizes;
    for (int piece = 1; rest > 0; ++piece) {
      const size_t size = piece < FaultPlan::kSplitPiecesMax && rest > 1
                              ? static_cast<size_t>(params.Between(1, rest))
                              : rest;
      QueueSegment(c, e, static_cast<uint32_t>(size), false);
      rest -= size;
      ++pieces;
      if (logging()) absl::StrAppend(&sizes, pieces > 1 ? "+" : "", size);
    }
    if (logging()) {
      RecordFault(kFaultSplit, split_point, ConnLabel(c, e),
                  absl::StrCat("a write of ", n, " bytes in ", pieces,
                               " pieces: ", sizes));
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

}  // namespace ember::sim
