// SimNetwork's core: construction, the clock and its events, Poll and
// dispatch, the handle registry, hosts and links, and name resolution.
// Streams, listeners, datagrams, faults and invariants have files of their
// own (sim_*.cc) that share sim/internal/sim_internal.h.

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
// Construction, clock, events.

SimNetwork::SimNetwork(SimOptions options)
    : options_(std::move(options)),
      plan_(options_.plan),
      rng_(options_.seed),
      draw_salt_(Mix64(options_.seed ^ 0x64726177'73616c74ull)),
      decide_salt_(Mix64(options_.seed ^ 0x66617565'6c747321ull)),
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

bool SimNetwork::Strikes(uint64_t point, double probability, Random* params) {
  if (!(probability > 0)) return false;
  uint64_t param_seed = 0;
  bool strikes;
  if (probability >= 1) {
    strikes = true;
    param_seed = Mix64(point ^ decide_salt_ ^ 0x706172616d73ull);
  } else if (options_.decisions != nullptr) {
    strikes = options_.decisions->Decide(point, probability, &param_seed);
  } else {
    // Counter-based: the point and the seed alone decide, so no other
    // decision of the run can move this one.
    const uint64_t bits = Mix64(point ^ decide_salt_);
    strikes = static_cast<double>(bits >> 11) * 0x1.0p-53 < probability;
    param_seed = Mix64(bits ^ 0x706172616d73ull);
  }
  if (!strikes) return false;
  if (!options_.fault_filter.Allows(point)) {
    ++faults_suppressed_;
    return false;
  }
  *params = Random(param_seed);
  return true;
}

void SimNetwork::RecordFault(int kind, uint64_t point, std::string where,
                             std::string detail) {
  if (fault_log_.size() >= options_.fault_log_max) {
    fault_log_truncated_ = true;
    return;
  }
  fault_log_.push_back(FaultRecord{kFaultNames[kind], point,
                                   absl::Nanoseconds(now_ns_), std::move(where),
                                   std::move(detail)});
}

std::string SimNetwork::ConnLabel(const Conn* c, int dir) const {
  const io::Address& client = c->ends[0].local;
  const io::Address& server = c->remote;
  return dir == 0 ? absl::StrCat("c", c->id, " ", client.ToString(), " -> ",
                                 server.ToString())
                  : absl::StrCat("c", c->id, " ", server.ToString(), " -> ",
                                 client.ToString());
}

std::string SimNetwork::LinkLabel(const Link* link) const {
  return absl::StrCat("link ", hosts_[link->host_a]->name, " <-> ",
                      hosts_[link->host_b]->name);
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
    int64_t jump = max > 0 ? wall_rng_.BetweenSigned(-max, max) : 0;
    // Jumps come at drawn times, not per occurrence: the decision source
    // is not asked, but the filter may suppress one (the draws above are
    // made either way, so later jumps stay where they were).
    const uint64_t point = PointOf(kFaultWallJump, 0, wall_jumps_drawn_++);
    if (options_.fault_filter.Allows(point)) {
      wall_jumps_ns_ += jump;
      ++fault_counts_[kFaultWallJump];
      if (logging()) {
        RecordFault(
            kFaultWallJump, point, "the wall clock",
            absl::StrCat("by ", absl::FormatDuration(absl::Nanoseconds(jump))));
      }
    } else {
      ++faults_suppressed_;
      jump = 0;
    }
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
    // The sweep visits every connection, so it runs once per kSweepEvents
    // events or once per connection's worth of events, whichever is rarer:
    // its cost per event stays constant however many connections there are
    // (a million idle ones would otherwise make every event cost a million).
    if (++events_since_sweep_ >=
        std::max<uint64_t>(kSweepEvents, conns_.size())) {
      CheckInvariants();
    }
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
  Link* link = &links_[{x, y}];
  link->host_a = x;
  link->host_b = y;
  return link;
}

int64_t SimNetwork::LinkBlockedUntil(const Link* link) const {
  if (link == nullptr) return now_ns_;
  return std::max(
      {now_ns_, link->clogged_until_ns, link->partitioned_until_ns});
}

bool SimNetwork::LinkPartitioned(const Link* link) const {
  return link != nullptr && link->partitioned_until_ns > now_ns_;
}

void SimNetwork::MaybeLinkFaults(Link* link, uint64_t subject, uint64_t ordinal,
                                 absl::FunctionRef<std::string()> via) {
  if (link == nullptr) return;
  Random params(0);
  if (plan_.clog_probability > 0) {
    const uint64_t point = PointOf(kFaultClog, subject, ordinal);
    if (Strikes(point, plan_.clog_probability, &params)) {
      const int64_t d = Ns(params.DurationBetween(absl::ZeroDuration(),
                                                  plan_.clog_duration_max));
      link->clogged_until_ns = std::max(link->clogged_until_ns, now_ns_ + d);
      CountFault(kFaultClog);
      if (logging()) {
        RecordFault(
            kFaultClog, point, LinkLabel(link),
            absl::StrCat("for ", absl::FormatDuration(absl::Nanoseconds(d)),
                         ", drawn on ", via()));
      }
    }
  }
  if (plan_.partition_probability > 0) {
    const uint64_t point = PointOf(kFaultPartition, subject, ordinal);
    if (Strikes(point, plan_.partition_probability, &params)) {
      const int64_t d = Ns(params.DurationBetween(
          absl::ZeroDuration(), plan_.partition_duration_max));
      link->partitioned_until_ns =
          std::max(link->partitioned_until_ns, now_ns_ + d);
      CountFault(kFaultPartition);
      if (logging()) {
        RecordFault(
            kFaultPartition, point, LinkLabel(link),
            absl::StrCat("for ", absl::FormatDuration(absl::Nanoseconds(d)),
                         ", drawn on ", via()));
      }
    }
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
    const uint64_t subject =
        io::HashBytes(absl::AsciiStrToLower(AbslView(host)));
    const uint32_t ordinal = NextOrdinal(Mix64(subject ^ kFaultResolveFailure));
    Random params(0);
    if (result.ok() && plan_.resolve_failure_probability > 0) {
      const uint64_t point = PointOf(kFaultResolveFailure, subject, ordinal);
      if (Strikes(point, plan_.resolve_failure_probability, &params)) {
        CountFault(kFaultResolveFailure);
        if (logging()) {
          RecordFault(kFaultResolveFailure, point,
                      absl::StrCat("name \"", AbslView(host), "\""), "");
        }
        result = MakeError(ErrorKind::kNameLookupFailed,
                           absl::StrCat("resolve \"", AbslView(host), "\""),
                           "temporary failure in name resolution (EAI_AGAIN)");
      }
    }
    due += Ns(
        DrawAt(PointOf(kPointLatency, subject, ordinal))
            .DurationBetween(absl::ZeroDuration(), plan_.resolve_latency_max));
  }
  const uint64_t id = next_resolve_id_++;
  pending_resolves_.emplace(id,
                            PendingResolve{std::move(done), std::move(result)});
  Fold(kTraceResolve, id, static_cast<uint64_t>(due), host.size());
  Schedule(due, EventKind::kResolve, static_cast<uint32_t>(id),
           static_cast<uint32_t>(id >> 32), 0);
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

}  // namespace ember::sim
