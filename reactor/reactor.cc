#include "reactor/reactor.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/absl_compat.h"
#include "io/check.h"
#include "io/error.h"
#include "io/resolve.h"
#include "reactor/connect_race.h"

namespace ember {

struct Reactor::Server final : io::IoWatcher {
  Reactor* reactor = nullptr;
  ServerId id = 0;
  std::unique_ptr<io::Listener> listener;
  ConnectionFactory factory;
  bool stopped = false;

  void OnIoReady(uint32_t) override {
    reactor->StampDispatchTime();
    if (!stopped) reactor->OnServerReadable(this);
  }
};

namespace {

std::string ExceptionMessage(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

// The addresses StartServer and OpenDatagramSocket accept without a lookup.
absl::StatusOr<io::Address> LocalAddress(std::string_view host,
                                         uint16_t port) {
  if (host == "localhost") return io::Address::Loopback4(port);
  if (host.empty()) return io::Address::Any4(port);
  absl::StatusOr<io::Address> address = io::Address::ParseIp(host, port);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on \"", AbslView(host),
                     "\": give an IP address literal, \"localhost\", "
                     "\"0.0.0.0\" or \"::\""));
  }
  return address;
}

}  // namespace

Reactor::Reactor(io::Network& network, ReactorOptions options)
    : network_(network),
      options_(std::move(options)),
      block_pool_(options_.outbound_pool_blocks_max),
      read_buffer_(new char[std::max(options_.read_chunk_bytes,
                                     DatagramConnection::kDatagramBytesMax)]),
      alive_(std::make_shared<Reactor*>(this)),
      owner_thread_(std::this_thread::get_id()) {
  EMBER_CHECK(options_.read_chunk_bytes > 0);
  EMBER_CHECK(options_.reads_per_event > 0);
  EMBER_CHECK(options_.accepts_per_event > 0);
  options_.connection_attempt_delay =
      std::max(options_.connection_attempt_delay, absl::Milliseconds(10));
  trace_.set_recording(options_.record_trace);
  trace_.set_hashing(options_.record_trace ||
                     options_.trace_hash.value_or(network_.Reproducible()));
  trace_.set_content(
      options_.trace_content.value_or(network_.Reproducible()));
  SetLoopTime(network_.Now());
}

Reactor::~Reactor() {
  *alive_ = nullptr;
  CloseAll(UnbindKind::kReactorStopped);
  servers_.clear();
  stopped_servers_.clear();
  retired_races_.clear();
}

// ------------------------------------------------------------------ The loop

absl::Status Reactor::Run() {
  owner_thread_.store(std::this_thread::get_id());
  running_ = true;
  while (!stop_requested_.load() && fatal_.ok()) {
    absl::Status status = RunOnce(absl::InfiniteFuture());
    if (!status.ok() && fatal_.ok()) fatal_ = status;
  }
  Teardown();
  running_ = false;
  stop_requested_.store(false);
  absl::Status result = std::move(fatal_);
  fatal_ = absl::OkStatus();
  return result;
}

void Reactor::EndDispatchWork() {
  if (!flush_list_.empty()) FlushPending();
  if (ClosedPending() || draining_) ReapClosed();
  if (!retired_races_.empty()) retired_races_.clear();
}

absl::Status Reactor::RunOnce(absl::Time deadline) {
  SetLoopTime(network_.Now());
  const size_t timers_ran =
      timers_.RunDue(loop_time_, [this](TimerId id, TimerQueue::Callback& cb,
                                         uint64_t owner) {
        trace_.Record(loop_time_, TraceKind::kTimer, id, 0);
        if (owner == 0) {
          Guard(nullptr, [&] { cb(); });
          return;
        }
        // A connection's timer (Connection::StartTimer) runs only while
        // the connection lives, as one of its callbacks.
        auto it = connections_.find(owner);
        if (it == connections_.end() ||
            it->second->state_ == Connection::Lifecycle::kClosed) {
          return;
        }
        Guard(it->second.get(), [&] { cb(); });
      });
  const bool ticks_ran = RunTicks();
  EndDispatch();
  if (stop_requested_.load() || !fatal_.ok()) return absl::OkStatus();

  absl::Time wait_until = std::min(deadline, timers_.NextDeadline());
  // When callbacks ran, return after a look at I/O without waiting, so a
  // caller stepping the loop sees their effects before time moves on.
  if (timers_ran > 0 || ticks_ran || !ticks_.empty() ||
      remote_pending_.load()) {
    wait_until = absl::InfinitePast();
  }
  dispatch_stamped_ = false;
  absl::StatusOr<int> polled = network_.Poll(wait_until);
  if (!polled.ok()) return polled.status();
  // What follows (flushes, unbinds) counts from the Poll's dispatch time
  // when it dispatched anything, as the dispatched callbacks did; after a
  // bare wait, from now.
  if (!dispatch_stamped_) SetLoopTime(network_.Now());
  EndDispatch();
  return absl::OkStatus();
}

void Reactor::Stop() {
  stop_requested_.store(true);
  network_.Wake();
}

bool Reactor::IsReactorThread() const {
  return owner_thread_.load() == std::this_thread::get_id();
}

TickId Reactor::NextTick(Callback callback) {
  const TickId id = next_tick_id_.fetch_add(1);
  if (IsReactorThread()) {
    ticks_.push_back(Tick{id, std::move(callback)});
    return id;
  }
  {
    std::lock_guard<std::mutex> lock(remote_mu_);
    remote_ticks_.push_back(Tick{id, std::move(callback)});
    remote_pending_.store(true);
  }
  network_.Wake();
  return id;
}

bool Reactor::CancelTick(TickId id) {
  auto cancel = [id](std::vector<Tick>& ticks, size_t from) {
    for (size_t i = from; i < ticks.size(); ++i) {
      if (ticks[i].id == id && ticks[i].callback != nullptr) {
        ticks[i].callback = nullptr;
        return true;
      }
    }
    return false;
  };
  if (cancel(ticks_, 0) || cancel(ticks_running_, tick_running_index_)) {
    return true;
  }
  std::lock_guard<std::mutex> lock(remote_mu_);
  return cancel(remote_ticks_, 0);
}

void Reactor::Schedule(Callback callback) {
  if (IsReactorThread()) {
    Guard(nullptr, [&] { callback(); });
    return;
  }
  NextTick(std::move(callback));
}

void Reactor::AddShutdownHook(Callback hook) {
  shutdown_hooks_.push_back(std::move(hook));
}

void Reactor::SetErrorHandler(ErrorHandler handler) {
  error_handler_ = std::move(handler);
}

bool Reactor::RunQueuedTicks() {
  if (remote_pending_.load()) {
    std::lock_guard<std::mutex> lock(remote_mu_);
    for (Tick& t : remote_ticks_) ticks_.push_back(std::move(t));
    remote_ticks_.clear();
    remote_pending_.store(false);
  }
  if (ticks_.empty()) return false;
  // Ticks queued while these run go to `ticks_` and wait for the next turn.
  ticks_running_.swap(ticks_);
  for (tick_running_index_ = 0; tick_running_index_ < ticks_running_.size();) {
    Tick& tick = ticks_running_[tick_running_index_++];
    if (tick.callback == nullptr) continue;  // Cancelled.
    Callback callback = std::move(tick.callback);
    trace_.Record(loop_time_, TraceKind::kTick, tick.id, 0);
    Guard(nullptr, [&] { callback(); });
  }
  ticks_running_.clear();
  tick_running_index_ = 0;
  return true;
}

void Reactor::FlushPending() {
  while (!flush_list_.empty()) {
    flush_scratch_.swap(flush_list_);
    for (Connection* c : flush_scratch_) {
      c->flush_scheduled_ = false;
      c->Flush();
    }
    flush_scratch_.clear();
  }
}

void Reactor::ReapClosed() {
  while (ClosedPending()) {
    stopped_servers_.clear();
    reap_scratch_.swap(closed_list_);
    for (Connection* c : reap_scratch_) {
      if (c->flush_scheduled_) {
        // Queued for a flush by a callback run since the last FlushPending.
        flush_list_.erase(
            std::remove(flush_list_.begin(), flush_list_.end(), c),
            flush_list_.end());
      }
      // Reaped once: closed, with nothing of the connect left running.
      EMBER_CHECK(c->state_ == Connection::Lifecycle::kClosed &&
                  c->race_ == nullptr && c->connect_timer_ == 0);
      EMBER_CHECK(connections_.count(c->id_) == 1);
      c->socket_.reset();
      c->outbound_.Clear();
      trace_.Record(loop_time_, TraceKind::kUnbind, c->id_,
                    static_cast<uint64_t>(c->reason_.kind),
                    TraceDigest(c->reason_.status));
      const UnbindReason reason = c->reason_;
      try {
        c->Unbind(reason);
      } catch (...) {
        ReportError(std::current_exception(), c);
      }
      connections_.erase(c->id_);
    }
    reap_scratch_.clear();

    std::vector<DatagramConnection*> datagrams;
    datagrams.swap(closed_datagrams_);
    for (DatagramConnection* d : datagrams) {
      d->socket_.reset();
      trace_.Record(loop_time_, TraceKind::kUnbind, d->id_,
                    static_cast<uint64_t>(d->reason_.kind),
                    TraceDigest(d->reason_.status));
      const UnbindReason reason = d->reason_;
      try {
        d->Unbind(reason);
      } catch (...) {
        ReportError(std::current_exception(), nullptr);
      }
      datagrams_.erase(d->id_);
    }
  }
  if (draining_) CheckDrained();
}

void Reactor::CloseAll(UnbindKind kind) {
  const absl::Status status = absl::CancelledError(
      kind == UnbindKind::kShutdown ? "graceful shutdown deadline passed"
                                    : "the reactor stopped");
  for (auto& [id, c] : connections_) {
    if (c->state_ != Connection::Lifecycle::kClosed) c->MarkClosed(kind, status);
  }
  for (auto& [id, d] : datagrams_) d->MarkClosed(kind, status);
  ReapClosed();
}

void Reactor::Teardown() {
  draining_ = false;
  CloseAll(UnbindKind::kReactorStopped);
  for (auto& [id, server] : servers_) server->stopped = true;
  servers_.clear();
  stopped_servers_.clear();
  // Hooks run last added first; each may throw without stopping the rest.
  while (!shutdown_hooks_.empty()) {
    Callback hook = std::move(shutdown_hooks_.back());
    shutdown_hooks_.pop_back();
    Guard(nullptr, [&] { hook(); });
  }
  // Nothing queued for this run leaks into the next one.
  ticks_.clear();
  {
    std::lock_guard<std::mutex> lock(remote_mu_);
    remote_ticks_.clear();
    remote_pending_.store(false);
  }
  timers_.Clear();
  drain_timer_ = 0;
  ReapClosed();
  retired_races_.clear();
}

void Reactor::GracefulShutdown(absl::Duration drain, Callback done) {
  if (draining_) return;
  draining_ = true;
  drain_done_ = std::move(done);
  std::vector<ServerId> server_ids;
  for (auto& [id, server] : servers_) server_ids.push_back(id);
  for (ServerId id : server_ids) StopServer(id).IgnoreError();
  for (auto& [id, d] : datagrams_) d->CloseConnection();
  std::vector<uint64_t> ids;
  ids.reserve(connections_.size());
  for (auto& [id, c] : connections_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    Connection* c = it->second.get();
    if (c->closing()) continue;
    Guard(c, [c] { c->ShutdownRequested(); });
  }
  drain_timer_ = AddInternalTimer(drain, [this] {
    drain_timer_ = 0;
    CloseAll(UnbindKind::kShutdown);
  });
}

void Reactor::CheckDrained() {
  if (!connections_.empty()) return;
  draining_ = false;
  if (drain_timer_ != 0) {
    timers_.Cancel(drain_timer_);
    drain_timer_ = 0;
  }
  if (drain_done_) {
    Callback done = std::move(drain_done_);
    drain_done_ = nullptr;
    Guard(nullptr, [&] { done(); });
  }
  Stop();
}

Reactor::Stats Reactor::stats() const {
  Stats s;
  s.connections = connections_.size();
  s.datagram_sockets = datagrams_.size();
  s.servers = servers_.size();
  s.timers = timers_.size();
  s.user_timers = timers_.user_count();
  for (const auto& [id, c] : connections_) s.outbound_bytes += c->outbound_.size();
  s.ticks = static_cast<size_t>(
      std::count_if(ticks_.begin(), ticks_.end(),
                    [](const Tick& t) { return t.callback != nullptr; }));
  return s;
}

// ------------------------------------------------------------------- Errors

bool Reactor::Guard(Connection* c, absl::FunctionRef<void()> f) {
  try {
    f();
    return true;
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    if (c != nullptr && c->state_ != Connection::Lifecycle::kClosed) {
      c->MarkClosed(UnbindKind::kHandlerError,
                    absl::InternalError(absl::StrCat(
                        "a callback of connection ", c->id_,
                        " threw: ", ExceptionMessage(error))));
    }
    ReportError(error, c);
    return false;
  }
}

bool Reactor::GuardDatagram(DatagramConnection* d,
                            absl::FunctionRef<void()> f) {
  try {
    f();
    return true;
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    d->MarkClosed(UnbindKind::kHandlerError,
                  absl::InternalError(absl::StrCat(
                      "a callback of datagram socket ", d->id_,
                      " threw: ", ExceptionMessage(error))));
    ReportError(error, nullptr);
    return false;
  }
}

void Reactor::ReportError(std::exception_ptr error, Connection* c) {
  trace_.Record(loop_time_, TraceKind::kError, c != nullptr ? c->id_ : 0, 0);
  if (!error_handler_) {
    std::fprintf(stderr, "ember: %s%s threw: %s\n",
                 c != nullptr ? "a callback of connection " : "a callback",
                 c != nullptr ? std::to_string(c->id_).c_str() : "",
                 ExceptionMessage(error).c_str());
    return;
  }
  try {
    error_handler_(error, c);
  } catch (...) {
    if (fatal_.ok()) {
      fatal_ = absl::InternalError(absl::StrCat(
          "the reactor's error handler threw: ",
          ExceptionMessage(std::current_exception())));
    }
    stop_requested_.store(true);
  }
}

// ------------------------------------------------------------------- Timers

absl::StatusOr<TimerId> Reactor::AddTimer(absl::Duration delay,
                                          Callback callback) {
  if (timers_.user_count() >= options_.timers_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many timers: ", timers_.user_count(),
                     " pending, the limit is ", options_.timers_max));
  }
  return timers_.Add(network_.Now() + std::max(delay, absl::ZeroDuration()),
                     absl::ZeroDuration(), TimerQueue::Origin::kUser,
                     std::move(callback));
}

absl::StatusOr<TimerId> Reactor::AddPeriodicTimer(absl::Duration interval,
                                                  Callback callback) {
  if (interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "a periodic timer needs an interval greater than zero");
  }
  if (timers_.user_count() >= options_.timers_max) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many timers: ", timers_.user_count(),
                     " pending, the limit is ", options_.timers_max));
  }
  return timers_.Add(network_.Now() + interval, interval,
                     TimerQueue::Origin::kUser, std::move(callback));
}

bool Reactor::CancelTimer(TimerId id) { return timers_.Cancel(id); }

TimerId Reactor::AddInternalTimer(absl::Duration delay, Callback callback,
                                  uint64_t owner) {
  return timers_.Add(loop_time_ + std::max(delay, absl::ZeroDuration()),
                     absl::ZeroDuration(), TimerQueue::Origin::kInternal,
                     std::move(callback), owner);
}

// ------------------------------------------------------------------ Servers

absl::StatusOr<ServerId> Reactor::StartServer(std::string_view host,
                                              uint16_t port,
                                              ConnectionFactory factory,
                                              const io::ListenOptions& options) {
  EMBER_ASSIGN_OR_RETURN(io::Address address, LocalAddress(host, port));
  return Listen(address, options, std::move(factory));
}

absl::StatusOr<ServerId> Reactor::StartUnixServer(std::string_view path,
                                                  ConnectionFactory factory) {
  EMBER_ASSIGN_OR_RETURN(io::Address address, io::Address::Unix(path));
  return Listen(address, io::ListenOptions{}, std::move(factory));
}

absl::StatusOr<ServerId> Reactor::Listen(const io::Address& address,
                                         const io::ListenOptions& options,
                                         ConnectionFactory factory) {
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<io::Listener> listener,
                         network_.Listen(address, options));
  auto server = std::make_unique<Server>();
  server->reactor = this;
  server->id = next_id_++;
  server->listener = std::move(listener);
  server->factory = std::move(factory);
  server->listener->SetWatcher(server.get());
  server->listener->SetInterest(io::kReadable);
  const ServerId id = server->id;
  servers_.emplace(id, std::move(server));
  return id;
}

absl::StatusOr<io::Address> Reactor::ServerAddress(ServerId id) const {
  auto it = servers_.find(id);
  if (it == servers_.end()) {
    return absl::NotFoundError(absl::StrCat("no server ", id));
  }
  return it->second->listener->LocalAddress();
}

absl::Status Reactor::StopServer(ServerId id) {
  auto it = servers_.find(id);
  if (it == servers_.end()) {
    return absl::NotFoundError(absl::StrCat("no server ", id));
  }
  it->second->stopped = true;
  // Close the listening socket now, so new connects are refused at once; the
  // rest of the server goes at the end of the turn, since StopServer may be
  // called from inside this server's own accept path.
  it->second->listener.reset();
  stopped_servers_.push_back(std::move(it->second));
  servers_.erase(it);
  return absl::OkStatus();
}

void Reactor::OnServerReadable(Server* server) {
  for (int i = 0; i < options_.accepts_per_event && !server->stopped; ++i) {
    absl::StatusOr<std::unique_ptr<io::StreamSocket>> accepted =
        server->listener->Accept();
    if (!accepted.ok()) {
      trace_.Record(loop_time_, TraceKind::kError, server->id,
                    static_cast<uint64_t>(io::KindOf(accepted.status())),
                    TraceDigest(accepted.status()));
      if (io::KindOf(accepted.status()) == io::ErrorKind::kClosed) {
        // The listener is dead (its host crashed, say): it will never
        // accept again, so the server is stopped rather than retried
        // forever. Listening again on its address needs no StopServer.
        StopServer(server->id).IgnoreError();
        return;
      }
      // Typically out of descriptors. The pending connection stays queued;
      // rest instead of spinning on level-triggered readiness.
      server->listener->SetInterest(0);
      const ServerId id = server->id;
      AddInternalTimer(options_.accept_backoff, [this, id] {
        auto it = servers_.find(id);
        if (it != servers_.end()) {
          it->second->listener->SetInterest(io::kReadable);
        }
      });
      return;
    }
    if (*accepted == nullptr) return;
    std::unique_ptr<Connection> connection;
    try {
      connection = server->factory();
    } catch (...) {
      ReportError(std::current_exception(), nullptr);
    }
    // A factory may refuse (return nullptr): the socket just closes.
    if (connection == nullptr) continue;
    Connection* c = Adopt(std::move(connection));
    c->socket_ = std::move(*accepted);
    c->state_ = Connection::Lifecycle::kConnected;
    c->socket_->SetWatcher(c);
    trace_.Record(loop_time_, TraceKind::kAccept, c->id_, server->id);
    c->StartFilterNow();  // A filter from the factory (a TLS server).
    if (c->state_ == Connection::Lifecycle::kClosed) continue;
    Guard(c, [c] { c->PostInit(); });
    if (c->state_ == Connection::Lifecycle::kClosed) continue;
    if (c->inactivity_timeout() > absl::ZeroDuration() &&
        c->inactivity_timer_ == 0) {
      c->ArmInactivityTimer();
    }
    c->UpdateInterest();
    c->ScheduleFlush();
  }
}

Connection* Reactor::Adopt(std::unique_ptr<Connection> connection) {
  Connection* c = connection.get();
  EMBER_CHECK(c != nullptr);
  EMBER_CHECK_MSG(c->reactor_ == nullptr,
                  "a connection can be handed to a reactor only once");
  c->reactor_ = this;
  c->id_ = next_id_++;
  c->outbound_.set_pool(&block_pool_);
  // A timeout set before the connection was handed over stays.
  if (!c->connect_timeout_set_) {
    c->pending_connect_timeout_ =
        reactor_internal::CompactDuration(options_.pending_connect_timeout);
  }
  c->last_activity_ = LoopStamp();
  connections_.emplace(c->id_, std::move(connection));
  return c;
}

// ------------------------------------------------------------------ Clients

absl::StatusOr<Connection*> Reactor::Connect(
    std::string_view host, uint16_t port,
    std::unique_ptr<Connection> connection) {
  return BindConnectImpl(nullptr, host, port, std::move(connection));
}

absl::StatusOr<Connection*> Reactor::BindConnect(
    std::string_view bind_host, uint16_t bind_port, std::string_view host,
    uint16_t port, std::unique_ptr<Connection> connection) {
  absl::StatusOr<io::Address> bind = io::Address::ParseIp(bind_host, bind_port);
  if (!bind.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot bind to \"", AbslView(bind_host),
                     "\": give an IP address literal"));
  }
  return BindConnectImpl(&*bind, host, port, std::move(connection));
}

absl::StatusOr<Connection*> Reactor::ConnectUnix(
    std::string_view path, std::unique_ptr<Connection> connection) {
  EMBER_ASSIGN_OR_RETURN(io::Address address, io::Address::Unix(path));
  return ConnectTo(address, std::move(connection));
}

absl::StatusOr<Connection*> Reactor::BindConnectImpl(
    const io::Address* bind, std::string_view host, uint16_t port,
    std::unique_ptr<Connection> connection) {
  if (connection == nullptr) {
    return absl::InvalidArgumentError("Connect needs a connection object");
  }
  if (host.empty()) {
    return absl::InvalidArgumentError("Connect needs a host");
  }
  absl::StatusOr<io::Address> literal = io::Address::ParseIp(host, port);
  if (literal.ok()) return ConnectTo(*literal, std::move(connection), bind);

  // A host name: resolve it without blocking the loop, then connect.
  Connection* c = Adopt(std::move(connection));
  c->state_ = Connection::Lifecycle::kResolving;
  c->ArmConnectTimer();
  Guard(c, [c] { c->PostInit(); });
  std::optional<io::Address> bind_copy;
  if (bind != nullptr) bind_copy = *bind;
  const uint64_t id = c->id_;
  std::weak_ptr<Reactor*> alive = alive_;
  network_.Resolve(
      host, [alive, id, port, bind_copy, name = std::string(host)](
                absl::StatusOr<std::vector<io::Address>> resolved) {
        std::shared_ptr<Reactor*> self = alive.lock();
        if (self == nullptr || *self == nullptr) return;
        Reactor* r = *self;
        r->StampDispatchTime();
        auto it = r->connections_.find(id);
        if (it == r->connections_.end()) return;
        Connection* c = it->second.get();
        if (c->state_ != Connection::Lifecycle::kResolving) return;
        r->trace_.Record(r->loop_time_, TraceKind::kResolved, id,
                         resolved.ok() ? resolved->size() : 0,
                         resolved.ok() ? TraceDigest(*resolved)
                                       : TraceDigest(resolved.status()));
        r->StartRace(c, name, port, std::move(resolved), bind_copy);
      });
  return c;
}

void Reactor::StartRace(Connection* c, const std::string& host, uint16_t port,
                        absl::StatusOr<std::vector<io::Address>> resolved,
                        const std::optional<io::Address>& bind) {
  const std::string what = absl::StrCat("connect \"", host, "\" port ", port);
  if (!resolved.ok()) {
    c->Fail(resolved.status());
    return;
  }
  std::vector<io::Address> candidates;
  for (const io::Address& a : *resolved) {
    if (!a.is_ip()) continue;
    // BindConnect: only addresses of the bound address's family can work.
    if (bind.has_value() && a.family() != bind->family()) continue;
    candidates.push_back(a.WithPort(port));
  }
  if (candidates.empty()) {
    c->Fail(resolved->empty()
                ? io::MakeError(io::ErrorKind::kNameNotFound, what,
                                "the name has no address")
                : io::MakeError(
                      io::ErrorKind::kUnreachable, what,
                      absl::StrCat("no address of the family of the bound "
                                   "address ",
                                   bind->ToString(), " among ",
                                   resolved->size(), " resolved")));
    return;
  }
  EMBER_CHECK(c->state_ == Connection::Lifecycle::kResolving &&
              c->socket_ == nullptr && c->race_ == nullptr);
  c->state_ = Connection::Lifecycle::kConnecting;
  c->race_ = std::make_unique<ConnectRace>(
      c, host, port, io::InterleaveFamilies(candidates), bind,
      options_.connection_attempt_delay);
  c->race_->Start();
}

absl::StatusOr<Connection*> Reactor::ConnectTo(
    const io::Address& address, std::unique_ptr<Connection> connection,
    const io::Address* bind) {
  if (connection == nullptr) {
    return absl::InvalidArgumentError("Connect needs a connection object");
  }
  io::ConnectOptions options;
  options.bind = bind;
  absl::StatusOr<std::unique_ptr<io::StreamSocket>> socket =
      network_.Connect(address, options);
  // Arguments that can never work are returned; nothing is called.
  if (!socket.ok() &&
      socket.status().code() == absl::StatusCode::kInvalidArgument) {
    return socket.status();
  }
  Connection* c = Adopt(std::move(connection));
  c->state_ = Connection::Lifecycle::kConnecting;
  if (socket.ok()) {
    c->socket_ = std::move(*socket);
    c->socket_->SetWatcher(c);
    c->UpdateInterest();
    c->ArmConnectTimer();
  }
  Guard(c, [c] { c->PostInit(); });
  // Anything else (refused at once, no descriptors) ends in Unbind, from the
  // loop, like a failure found later.
  if (!socket.ok() && c->state_ != Connection::Lifecycle::kClosed) {
    c->Fail(socket.status());
  }
  return c;
}

// ---------------------------------------------------------------- Datagrams

absl::StatusOr<DatagramConnection*> Reactor::OpenDatagramSocket(
    std::string_view host, uint16_t port,
    std::unique_ptr<DatagramConnection> connection) {
  if (connection == nullptr) {
    return absl::InvalidArgumentError(
        "OpenDatagramSocket needs a connection object");
  }
  EMBER_ASSIGN_OR_RETURN(io::Address address, LocalAddress(host, port));
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<io::DatagramSocket> socket,
                         network_.OpenDatagram(address));
  DatagramConnection* d = connection.get();
  EMBER_CHECK_MSG(d->reactor_ == nullptr,
                  "a connection can be handed to a reactor only once");
  d->reactor_ = this;
  d->id_ = next_id_++;
  d->socket_ = std::move(socket);
  d->socket_->SetWatcher(d);
  d->socket_->SetInterest(io::kReadable);
  datagrams_.emplace(d->id_, std::move(connection));
  GuardDatagram(d, [d] { d->PostInit(); });
  return d;
}

}  // namespace ember
