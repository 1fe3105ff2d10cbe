// SimNetwork's stream listeners: binding, listening and accepting.

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
// Streams: listeners.

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
  {
    const uint64_t base =
        Mix64(Mix64(io::HashBytes(HostRef(host).name) ^ 0x6c697374656e21ull) ^
              io::HashBytes(bound.ToString()));
    listener->fault_key_ = Mix64(base ^ NextOrdinal(base));
  }
  listener->bound_ = true;
  stream_binds_[{host, bound}].members.push_back(listener.get());
  Fold(kTraceListen, listener->id_, static_cast<uint32_t>(host), bound.port());
  return listener;
}

absl::StatusOr<std::unique_ptr<io::StreamSocket>> SimNetwork::ListenerAccept(
    SimListener* l) {
  if (!l->error_.ok()) return l->error_;
  if (l->queue_.empty()) return std::unique_ptr<io::StreamSocket>();
  bool no_resources =
      HostRef(l->host_).descriptors >= options_.descriptors_per_host_max;
  if (!no_resources && plan_.accept_no_resources_probability > 0) {
    Random params(0);
    const uint64_t point = PointOf(kFaultAcceptNoResources, l->fault_key_,
                                   l->draws_[kDrawAccept]++);
    if (Strikes(point, plan_.accept_no_resources_probability, &params)) {
      no_resources = true;
      CountFault(kFaultAcceptNoResources);
      if (logging()) {
        RecordFault(kFaultAcceptNoResources, point,
                    absl::StrCat("listener ", l->local_.ToString()), "");
      }
    }
  }
  if (no_resources) {
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

}  // namespace ember::sim
