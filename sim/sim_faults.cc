// SimNetwork's scripted faults (partitions, clogs, resets, crashes and
// restarts, wall clock jumps) and the reachability of addresses (scripted
// or drawn from the plan).

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

AddressFault SimNetwork::ReachabilityOf(const io::Address& remote) {
  auto it = address_faults_.find(IpOnly(remote));
  if (it != address_faults_.end()) return it->second;
  const bool v6 = remote.family() == io::Address::Family::kIpv6;
  const AddressFault& family = family_faults_[v6 ? 1 : 0];
  if (family.kind != AddressFault::Kind::kNone) return family;
  // The plan's draws: each from a generator of its own, keyed by the seed
  // and what it decides, so a draw is the same whenever it is made and
  // takes nothing from the network's main stream.
  // A drawn fault is filtered and logged like the others; its point is
  // the address (or IPv6 as a whole), since it is drawn once per run.
  auto allowed = [&](int kind, uint64_t subject, const std::string& where) {
    const uint64_t point = PointOf(kind, subject, 0);
    if (!options_.fault_filter.Allows(point)) return false;
    if (logging() && !address_faults_logged_[point]) {
      address_faults_logged_[point] = true;
      RecordFault(kind, point, where, "");
    }
    return true;
  };
  if (v6 && plan_.ipv6_blackhole_probability > 0) {
    Random dead(Mix64(options_.seed ^ 0x6970'7636'6465'6164ull));
    if (dead.Chance(plan_.ipv6_blackhole_probability) &&
        allowed(kFaultAddressBlackhole, 6, "all of IPv6")) {
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
    const std::string where =
        absl::StrCat("address ", IpOnly(remote).ToString());
    if (draw.Chance(plan_.address_blackhole_probability) &&
        allowed(kFaultAddressBlackhole, key, where)) {
      return AddressFault::BlackHole();
    }
    if (draw.Chance(plan_.address_refuse_probability) &&
        allowed(kFaultAddressRefuse, key, where)) {
      return AddressFault::Refuse();
    }
  }
  return AddressFault::None();
}

}  // namespace ember::sim
