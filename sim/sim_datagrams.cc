// SimNetwork's datagram sockets: binding, sending with the plan's losses,
// duplicates, reordering and truncation, and receiving.

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
  {
    const uint64_t base = Mix64(
        Mix64(io::HashBytes(HostRef(host).name) ^ 0x64677261'6d736f63ull) ^
        io::HashBytes(bound.ToString()));
    socket->fault_key_ = Mix64(base ^ NextOrdinal(base));
  }
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
           (options_.trace_bytes
                ? io::HashBytes(std::string_view(data, len), to.port())
                : 0));

  HostId dst;
  const bool known = FindOwner(to, &dst);
  Link* link = known ? LinkBetween(d->host_, dst) : nullptr;
  const uint64_t subject = d->fault_key_;
  auto label = [&] {
    return absl::StrCat("datagram ", d->local_.ToString(), " -> ",
                        to.ToString());
  };
  MaybeLinkFaults(link, subject, d->draws_[kDrawClog]++, label);
  if (!known || !HostRef(dst).up || LinkPartitioned(link)) {
    ++stats_.datagrams_lost;
    Fold(kTraceDatagramDrop, d->id_, len, 0);
    return IoResult::Ok(len);
  }
  Random params(0);
  auto strikes = [&](int kind, int draw, double p) {
    if (!(p > 0)) return false;
    const uint64_t point = PointOf(kind, subject, d->draws_[draw]++);
    if (!Strikes(point, p, &params)) return false;
    if (logging()) RecordFault(kind, point, label(), "");
    return true;
  };
  if (strikes(kFaultDatagramLoss, kDrawLoss, plan_.datagram_loss_probability)) {
    CountFault(kFaultDatagramLoss);
    ++stats_.datagrams_lost;
    Fold(kTraceDatagramDrop, d->id_, len, 1);
    return IoResult::Ok(len);
  }
  int copies = 1;
  if (strikes(kFaultDatagramDuplicate, kDrawDuplicate,
              plan_.datagram_duplicate_probability)) {
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
    if (len > 0 && strikes(kFaultDatagramTruncate, kDrawTruncate,
                           plan_.datagram_truncate_probability)) {
      CountFault(kFaultDatagramTruncate);
      ++stats_.datagrams_truncated;
      g.payload.resize(static_cast<size_t>(params.Below(len)));
    }
    int64_t due = now_ns_ + DrawLatencyNs(subject, d->draws_[kDrawLatency]++);
    if (strikes(kFaultDatagramReorder, kDrawReorder,
                plan_.datagram_reorder_probability)) {
      CountFault(kFaultDatagramReorder);
      ++stats_.datagrams_reordered;
      due += params.BetweenSigned(
          0, std::max<int64_t>(kMsNs, 2 * latency_max_ns_));
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

}  // namespace ember::sim
